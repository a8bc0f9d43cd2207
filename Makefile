# The two commands of the README. Both install what they need first.
.PHONY: demo test lint bench

demo:
	bash scripts/setup.sh
	.venv/bin/kaizen demo --workdir kaizen-demo

test:
	bash scripts/setup.sh --test
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/python -m pytest

bench:
	bash scripts/setup.sh --test
	.venv/bin/python -m benchmarks.run
