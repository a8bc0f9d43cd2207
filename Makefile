# The README's commands. Each installs what it needs first.
.PHONY: demo test lint bench

demo:
	bash scripts/setup.sh
	.venv/bin/kaizen demo --workdir kaizen-demo

# lint, then the whole test suite: what CI runs (.ci/run)
test: lint
	.venv/bin/python -m pytest

# ruff (style, import order, bugbear), mypy (strict on the package), import-linter (the layers of
# ARCHITECTURE.md and no import cycles)
lint:
	bash scripts/setup.sh --test
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports

bench:
	bash scripts/setup.sh --test
	.venv/bin/python -m benchmarks.run
