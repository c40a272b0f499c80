#!/usr/bin/env bash
# Sets up and runs the test suite on a fresh machine (README's test command; .ci/run
# calls exactly this). Two legs cover the numpy range panoseg supports:
#   1. numpy 1.23 (the oldest supported) + panopticapi, the reference of the golden tests;
#   2. the newest numpy 2.x (panopticapi-lite needs numpy < 2, so its golden tests skip there).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

run_leg() {  # venv-dir, extra pip requirements...
  local venv=$1; shift
  "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q ".[fast]" "$@"
  # `pytest`, not `python -m pytest`: the cwd must not shadow the installed, compiled package.
  (cd tests && "../$venv/bin/pytest" -q -p no:cacheprovider .)
}

echo "== leg 1: numpy 1.23 + panopticapi (golden tests) =="
run_leg .venv-test "numpy==1.23.5" "panopticapi-lite" "pytest>=7" "hypothesis>=6"
echo "== leg 2: newest numpy 2.x =="
run_leg .venv-test-np2 "numpy>=2" "pytest>=7" "hypothesis>=6"
