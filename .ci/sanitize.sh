#!/usr/bin/env bash
# CI leg 3: the compiled core under AddressSanitizer + UndefinedBehaviorSanitizer, and the fuzz
# harnesses of fuzz/ (fuzz/README.md). Steps:
#   1. venv .venv-asan with panoseg installed, its core built -DPANOSEG_SANITIZE=ON (build dir
#      build/asan, apart from the other legs' CMake cache), + the [fast] extras, pytest,
#      hypothesis, atheris, and numpy >= 2: what a fresh install gets (leg 1 covers numpy 1.23
#      and the panopticapi golden tests, which need numpy < 2; the kernels those drive run here
#      through test_synthetic, test_matching_model, test_merge, ...);
#   2. the core-heavy tests under ASan + UBSan, while a plain build of the core for the fuzzer is
#      made alongside (build/fuzz-plain: atheris' Python coverage breaks with gcc's ASan runtime
#      preloaded, and without clang the core cannot be built for libFuzzer);
#   3. each harness under atheris for FUZZ_SECONDS (default 45), two at a time, on the plain core,
#      keeping new inputs in a temp dir;
#   4. the committed corpus + the new inputs + any crash files replayed on the sanitized core.
# Any sanitizer report aborts the process (halt_on_error, -fno-sanitize-recover=all) and fails
# the leg, as does a failed test or a harness failure (whose input is printed, base64).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
FUZZ_SECONDS=${FUZZ_SECONDS:-45}
VENV=.venv-asan
PLAIN=build/fuzz-plain
HARNESSES="png eval rle json merge paste png_files"
t0=$SECONDS
stamp() { echo "-- $1 ($((SECONDS - t0)) s)"; }

# 1.
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -Cbuild-dir=build/asan -Ccmake.define.PANOSEG_SANITIZE=ON \
    ".[fast]" "numpy>=2" "pytest>=7" "hypothesis>=6" atheris
stamp "venv + sanitized core ready"

LIBASAN=$(g++ -print-file-name=libasan.so)
# allocator_may_return_null: a huge allocation is a MemoryError, as without ASan (the tests and
# harnesses decide whether that is acceptable); PYTHONMALLOC=malloc: Python objects (the bytes
# handed to the core) get redzones too.
SAN_ENV=(env LD_PRELOAD="$LIBASAN"
         ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1
         UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
         PYTHONMALLOC=malloc)
# The sanitized core must be the one imported, and really sanitized.
SITE_CORE=$(cd tests && "${SAN_ENV[@]}" "../$VENV/bin/python" -c "import panoseg._core as c; print(c.__file__)")
case "$SITE_CORE" in "$PWD/$VENV"/*) ;; *) echo "wrong core imported: $SITE_CORE"; exit 1;; esac
# (ldd's output is taken whole first: `ldd | grep -q` under pipefail failed when grep, done at
# the first match, closed the pipe while ldd still wrote: SIGPIPE, a CI run lost.)
LDD_OUT=$(ldd "$SITE_CORE")
case "$LDD_OUT" in *libasan*) ;; *) echo "$SITE_CORE is not built with ASan"; exit 1;; esac

# 2. The plain core (background), the core-heavy tests meanwhile. Tests that need panopticapi,
# MXNet, torch or dask skip. Not here: test_core_overflow.py (it caps RLIMIT_AS, which ASan's
# shadow memory cannot live with) and test_hostile_input.py (it bounds the peak RSS of its
# subprocesses, which ASan's shadow, redzones and quarantine inflate; legs 1 and 2 run both).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/panoseg-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
rm -rf "$PLAIN/tree"
"$VENV/bin/python" -m pip install -q --no-deps --target "$PLAIN/tree" -Cbuild-dir="$PLAIN/cmake" . \
    > "$WORK/plain-build.log" 2>&1 &
plain_pid=$!
CORE_TESTS="test_png.py test_png_strict.py test_core_sizes.py test_core_stubs.py test_rle.py
  test_eval_sizes.py test_golden.py test_merge.py test_merge_bad_input.py test_segment_ids.py
  test_exact_reduction.py test_codec.py test_extra_metrics.py test_matching_model.py
  test_label_maps.py test_labels.py test_convert.py test_convert_merge_ids.py test_bad_input.py
  test_synthetic.py test_gt_area.py test_json_types.py test_size_caps.py test_png_runs.py
  test_boundary_core.py test_boundary_stream.py test_semantic.py test_png_read_core.py
  test_boundary_band_speedup.py test_stats_sink.py test_stats_sink_review.py test_eval_batching.py
  test_json_scan.py test_merge_direct.py test_results_scan.py"
present=""
for t in $CORE_TESTS; do [ -e "tests/$t" ] && present="$present $t"; done
tests_rc=0
(cd tests && "${SAN_ENV[@]}" "../$VENV/bin/pytest" -q -p no:cacheprovider $present) || tests_rc=$?
stamp "core tests under ASan + UBSan: exit $tests_rc"
wait "$plain_pid" || { cat "$WORK/plain-build.log"; echo "plain core build failed"; exit 1; }
stamp "plain core built"
[ "$tests_rc" = 0 ] || { echo "FAILED: core tests under ASan + UBSan"; exit 1; }

# 3. Fuzz, two harnesses at a time (CI has 2 cores).
fuzz_one() {
  local h=$1
  mkdir -p "$WORK/$h" "$WORK/crash-$h"
  PYTHONPATH="$PWD/$PLAIN/tree" timeout $((FUZZ_SECONDS + 120)) "$VENV/bin/python" \
      "fuzz/fuzz_$h.py" "$WORK/$h" "fuzz/corpus/$h" -max_total_time="$FUZZ_SECONDS" \
      -rss_limit_mb=3072 -timeout=20 -artifact_prefix="$WORK/crash-$h/" > "$WORK/$h.log" 2>&1
}
fuzz_failed=""
set -- $HARNESSES
while [ $# -gt 0 ]; do
  a=$1; shift; b=${1:-}; [ $# -gt 0 ] && shift
  fuzz_one "$a" & pa=$!
  pb=""; [ -n "$b" ] && { fuzz_one "$b" & pb=$!; }
  wait "$pa" || fuzz_failed="$fuzz_failed $a"
  [ -z "$pb" ] || wait "$pb" || fuzz_failed="$fuzz_failed $b"
done
for h in $HARNESSES; do
  case " $fuzz_failed " in *" $h "*) tail -n 60 "$WORK/$h.log";; esac
  echo "[$h] $(grep -E '^#[0-9]+' "$WORK/$h.log" | tail -n 1 || true)" \
       "-- $(ls "$WORK/$h" | wc -l) new inputs"
done
stamp "fuzzing done (${FUZZ_SECONDS} s per harness)"

# 4. Replay seeds + new inputs + crash files against the sanitized core.
replay_failed=""
for h in $HARNESSES; do
  "${SAN_ENV[@]}" "$VENV/bin/python" fuzz/replay.py "$h" "fuzz/corpus/$h" "$WORK/$h" \
      "$WORK/crash-$h" || replay_failed="$replay_failed $h"
done
stamp "corpus replayed under ASan + UBSan"
if [ -n "$fuzz_failed$replay_failed" ]; then
  for h in $(printf '%s\n' $fuzz_failed $replay_failed | sort -u); do
    for f in "$WORK/crash-$h"/*; do
      [ -e "$f" ] && echo "input of $h, $(basename "$f") (base64): $(head -c 8192 "$f" | base64 -w0)"
    done
  done
  echo "FAILED: fuzzing:${fuzz_failed:- none}; replay under ASan + UBSan:${replay_failed:- none}"
  exit 1
fi
echo "sanitizer leg passed in $((SECONDS - t0)) s"
