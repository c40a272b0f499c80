"""Boundary PQ and semantic metrics: what they cost over mask PQ, and boundary-iou-api's time.

Same generated data, same run, all cores (the reference: one process per core; panoseg: one
thread per core), best of ``ROUNDS``:

* panoseg mask PQ without the extra statistics (``extra=False``: plain PQ);
* panoseg mask PQ with them (PQ-dagger, covering, sizes, confusion and the semantic counts, what
  ``panoseg eval`` computes);
* panoseg Boundary PQ (dilation ratio 0.02; the mask PQ and the extra statistics ride along);
* boundary-iou-api's ``pq_compute(..., iou_type="boundary")`` (once: it is slow).

Run:  pytest benchmarks/test_boundary_speed.py -p no:cacheprovider -s
"""
import contextlib
import io
import os
import sys
import time
from pathlib import Path

import pytest

from panoseg.evaluation import evaluate
from panoseg.testing.synthetic import make_dataset
from panoseg.util.parallel import default_workers

from conftest import report

ROUNDS = int(os.environ.get("PANOSEG_BENCH_ROUNDS", "3"))
SETS = {"640x480": (480, 640, int(os.environ.get("PANOSEG_BENCH_BOUNDARY_SMALL", "60"))),
        "2048x1024": (1024, 2048, int(os.environ.get("PANOSEG_BENCH_BOUNDARY_LARGE", "20")))}
REFERENCE = Path(__file__).parents[1] / "tests" / "reference" / "boundary-iou-api"
ROWS = []


def best_of(fn, rounds=ROUNDS):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.mark.parametrize("name", list(SETS))
def test_boundary_and_semantic_cost(tmp_path_factory, name):
    height, width, n = SETS[name]
    ds = make_dataset(tmp_path_factory.mktemp(name), n_images=n, height=height, width=width,
                      seed=0)
    workers = default_workers()
    args = (ds.gt_json, ds.pred_json)
    plain = best_of(lambda: evaluate(*args, workers=workers, extra=False))
    full = best_of(lambda: evaluate(*args, workers=workers))
    boundary = best_of(lambda: evaluate(*args, workers=workers, iou_type="boundary"))
    ref = None
    try:
        import cv2  # noqa: F401
        sys.path.insert(0, str(REFERENCE))
        from boundary_iou.coco_panoptic_api import evaluation

        def run_reference():
            with contextlib.redirect_stdout(io.StringIO()):
                evaluation.pq_compute(str(ds.gt_json), str(ds.pred_json), iou_type="boundary",
                                      dilation_ratio=0.02)
        ref = best_of(run_reference, rounds=1)
    except ImportError as e:
        print(f"boundary-iou-api not runnable here: {e}")
    ROWS.append((name, n, plain, full, boundary, ref))
    lines = ["| images | plain PQ | PQ + extra + semantic | Boundary PQ | boundary-iou-api | "
             "extra / plain | boundary / mask | reference / boundary |",
             "|---|---|---|---|---|---|---|---|"]
    for nm, k, p, f, b, r in ROWS:
        lines.append(f"| {k} x {nm} | {p:.3f} s | {f:.3f} s | {b:.3f} s | "
                     f"{'-' if r is None else f'{r:.2f} s'} | {f / p:.2f}x | {b / f:.2f}x | "
                     f"{'-' if r is None else f'{r / b:.0f}x'} |")
    report(f"Boundary PQ and semantic metrics ({workers} workers, best of {ROUNDS})", lines)
