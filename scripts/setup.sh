#!/usr/bin/env bash
# Installs what kaizenflow needs on a Debian/Ubuntu machine: system packages and a virtualenv.
# Usage: scripts/setup.sh [--test]   (--test adds the test tools and headless Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

packages=()
command -v dot >/dev/null 2>&1 || packages+=(graphviz)
if [ "$with_tests" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || packages+=(chromium)
fi
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing system packages: ${packages[*]}"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${packages[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
extras=""
[ "$with_tests" = 1 ] && extras="[test]"
# constraints.txt pins the exact versions this repository is tested with (Prefect, FastAPI, pm4py).
.venv/bin/python -m pip install -q -c constraints.txt -e ".${extras}"
