"""Boundary PQ and semantic metrics: what they cost over mask PQ, and boundary-iou-api's time.

Same generated data, same run, all cores (the reference: one process per core; panoseg: one
thread per core). The three panoseg variants run in turn, round after round, ``ROUNDS`` rounds
(default 15), and each keeps its best: they then see the same spells of this machine, whose speed
drifts by +-20% from one second to the next, and a 30-50 ms timing needs many rounds to find its
floor. The reference takes the best of ``REF_ROUNDS`` (default 2; ~2 s each at 640x480):

* panoseg mask PQ without the extra statistics (``extra=False``: plain PQ);
* panoseg mask PQ with them (PQ-dagger, covering, sizes, confusion and the semantic counts, what
  ``panoseg eval`` computes);
* panoseg Boundary PQ (dilation ratio 0.02; the mask PQ and the extra statistics ride along);
* boundary-iou-api's ``pq_compute(..., iou_type="boundary")``.

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

ROUNDS = int(os.environ.get("PANOSEG_BENCH_ROUNDS", "15"))
REF_ROUNDS = int(os.environ.get("PANOSEG_BENCH_REF_ROUNDS", "2"))
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


def best_of_interleaved(fns, rounds=ROUNDS):
    """The best time of each function, the functions called in turn, round after round."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - start)
    return best


@pytest.mark.parametrize("name", list(SETS))
def test_boundary_and_semantic_cost(tmp_path_factory, name):
    height, width, n = SETS[name]
    ds = make_dataset(tmp_path_factory.mktemp(name), n_images=n, height=height, width=width,
                      seed=0)
    workers = default_workers()
    args = (ds.gt_json, ds.pred_json)
    plain, full, boundary = best_of_interleaved([
        lambda: evaluate(*args, workers=workers, extra=False),
        lambda: evaluate(*args, workers=workers),
        lambda: evaluate(*args, workers=workers, iou_type="boundary")])
    ref = None
    try:
        import cv2  # noqa: F401
        sys.path.insert(0, str(REFERENCE))
        from boundary_iou.coco_panoptic_api import evaluation

        def run_reference():
            with contextlib.redirect_stdout(io.StringIO()):
                evaluation.pq_compute(str(ds.gt_json), str(ds.pred_json), iou_type="boundary",
                                      dilation_ratio=0.02)
        ref = best_of(run_reference, rounds=REF_ROUNDS)
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
    report(f"Boundary PQ and semantic metrics ({workers} workers, best of {ROUNDS} interleaved "
           f"rounds; the reference best of {REF_ROUNDS})", lines)
