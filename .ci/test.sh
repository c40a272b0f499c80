#!/usr/bin/env bash
# Sets up and runs the test suite on a fresh machine (README's test command; .ci/run
# calls exactly this). Two legs cover the numpy range panoseg supports:
#   1. numpy 1.23 (the oldest supported) + panopticapi, the reference of the golden tests, + the
#      [mxnet] extra (MXNet 1.9.1 needs numpy < 1.24) for the inference and training tests, with
#      Pillow replaced by Pillow-SIMD built from source (users of the inference pipeline often
#      run it; the GluonCV-exact mask pasting must hold with it too);
#   2. the newest numpy 2.x with stock Pillow (panopticapi-lite needs numpy < 2 and MXNet
#      numpy < 1.24, so their tests skip there).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

run_leg() {  # venv-dir, pillow-simd|pillow, pip requirements...
  local venv=$1 pillow=$2; shift 2
  "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "$@"
  if [ "$pillow" = pillow-simd ]; then
    "$venv/bin/python" -m pip uninstall -q -y Pillow
    "$venv/bin/python" -m pip install -q --no-binary pillow-simd "pillow-simd"
    "$venv/bin/python" -c "import PIL; assert 'post' in PIL.__version__, PIL.__version__; print('Pillow-SIMD', PIL.__version__)"
  fi
  # `pytest`, not `python -m pytest`: the cwd must not shadow the installed, compiled package.
  # The MXNet inference / training tests run in a process of their own: GluonCV 0.10's Mask
  # R-CNN on MXNet 1.9 can return garbage boxes in a process whose heap earlier tests have
  # churned (it reads uninitialized memory; a fresh process, as the CLI is, is not affected).
  local mxnet_tests="test_infer.py test_train_semantic.py"
  (cd tests && "../$venv/bin/pytest" -q -p no:cacheprovider --ignore=test_infer.py \
      --ignore=test_train_semantic.py .)
  if "$venv/bin/python" -c "import mxnet, gluoncv" 2>/dev/null; then
    (cd tests && "../$venv/bin/pytest" -q -p no:cacheprovider $mxnet_tests)
  else
    echo "(no MXNet in this leg: $mxnet_tests skipped)"
  fi
}

echo "== leg 1: numpy 1.23 + panopticapi (golden tests) =="
run_leg .venv-test pillow-simd ".[fast,mxnet,dask]" "numpy==1.23.5" "panopticapi-lite" "hotcoco>=1.3" "pytest>=7" "hypothesis>=6"
echo "== leg 2: newest numpy 2.x =="
run_leg .venv-test-np2 pillow ".[fast,dask]" "numpy>=2" "hotcoco>=1.3" "pytest>=7" "hypothesis>=6"
echo "== leg 3: the core under ASan + UBSan, fuzz harnesses (bounded) =="
bash .ci/sanitize.sh
