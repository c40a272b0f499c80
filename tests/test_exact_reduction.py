"""Issue 11, point 7: eval's numbers are bit-identical for any number of threads and any
chunking (what ``--dask`` does): the float statistics are summed exactly, so the JSON of
``summarize()`` and of the extra metrics is byte-identical, not just close."""
import json
import math
import pickle
import random

import numpy as np
import pytest

from panoseg.evaluation import EvaluationJob, PQStats, evaluate
from panoseg.evaluation.extra_metrics import extra_results
from panoseg.testing.synthetic import make_dataset

N_IMAGES = 30
SPLITS = ([(0, N_IMAGES)], [(0, 15), (15, 30)], [(0, 7), (7, 8), (8, 23), (23, 30)],
          [(k, k + 1) for k in range(N_IMAGES)], [(0, 11), (11, 22), (22, 30)])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("exact"), n_images=N_IMAGES, height=72,
                        width=96, seed=11)


def as_json(stats: PQStats) -> str:
    """What eval --json-out writes: panopticapi's dict plus the extra metrics."""
    return json.dumps({**stats.summarize(), **extra_results(stats)}, sort_keys=True)


def chunked(job: EvaluationJob, bounds, pickled=True) -> PQStats:
    """Mimics evaluate_on_dask: each chunk evaluated alone (pickled, as sent back by a worker),
    the chunk statistics added up in order."""
    total = PQStats(job.categories)
    for a, b in bounds:
        chunk = job.subset(a, b).evaluate_chunk(workers=1, keep=False)
        stats = pickle.loads(pickle.dumps(chunk.stats)) if pickled else chunk.stats
        total += stats
    return total


def test_workers_and_chunking_give_byte_identical_json(dataset):
    reference = evaluate(dataset.gt_json, dataset.pred_json, workers=1)
    expected = as_json(reference.stats)
    for workers in (2, 3):
        assert as_json(evaluate(dataset.gt_json, dataset.pred_json,
                                workers=workers).stats) == expected, workers
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    for bounds in SPLITS:
        stats = chunked(job, bounds, pickled=len(bounds) % 2 == 0)
        assert as_json(stats) == expected, bounds
        for name in PQStats._FLOAT:
            assert np.array_equal(getattr(stats, name), getattr(reference.stats, name)), name
        assert stats.n_images == N_IMAGES


def test_the_dataset_would_expose_a_naive_reduction(dataset):
    """A plain float sum per chunk, then over chunks, differs in the last bit here (so the test
    above has teeth), while the exact sums equal math.fsum over the images."""
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    results = [job.evaluate_image(p) for p in job.pairs]
    fields = [n for n in PQStats._FLOAT[1:] if n != "segm_iou"]  # segm_iou: Boundary PQ only
    per_image = np.stack([np.concatenate([r.iou] + [r.extra[n].reshape(-1) for n in fields])
                          for r in results])
    sequential = np.zeros(per_image.shape[1])
    for row in per_image:
        sequential += row
    differs = False
    for bounds in SPLITS[1:]:
        grouped = np.zeros(per_image.shape[1])
        for a, b in bounds:
            part = np.zeros(per_image.shape[1])
            for row in per_image[a:b]:
                part += row
            grouped += part
        differs |= not np.array_equal(grouped, sequential)
    assert differs
    stats = PQStats(job.categories)
    for r in results:
        stats.add_image(r)
    exact = np.concatenate([getattr(stats, n).reshape(-1) for n in ["iou"] + fields])
    assert exact.tolist() == [math.fsum(col) for col in per_image.T.tolist()]


def test_stats_sums_do_not_depend_on_order_grouping_copy_or_pickle(dataset):
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    results = [job.evaluate_image(p) for p in job.pairs]
    reference = PQStats(job.categories)
    for r in results:
        reference.add_image(r)
    rng = random.Random(5)
    for trial in range(10):
        order = list(range(N_IMAGES))
        rng.shuffle(order)
        cuts = [0] + sorted(rng.sample(range(1, N_IMAGES), 3)) + [N_IMAGES]
        parts = []
        for a, b in zip(cuts, cuts[1:]):
            part = PQStats(job.categories)
            for i in order[a:b]:
                part.add_image(results[i])
            parts.append(pickle.loads(pickle.dumps(part)) if trial % 2 else part.copy())
        rng.shuffle(parts)
        total = sum(parts) if trial % 3 else PQStats(job.categories).merge(*parts)
        assert as_json(total) == as_json(reference)
    doubled = reference.copy()
    doubled += doubled
    assert as_json(doubled) == as_json(reference + reference)


def test_direct_writes_into_the_arrays_are_respected():
    stats = PQStats([{"id": 1, "isthing": 1}, {"id": 2, "isthing": 0}])
    stats.iou[:] = [0.1, 0.2]
    other = PQStats(stats.categories)
    other.iou[0] = 0.3
    total = stats + other
    assert total.iou.tolist() == [math.fsum([0.1, 0.3]), 0.2]
    # Old pickles (before the exact sums) still load.
    state = {k[3:] if k.startswith("_f_") else k: v for k, v in stats.__getstate__().items()
             if k not in ("_exact", "_pending", "_n_pending", "n_area_mismatch")}
    old = PQStats.__new__(PQStats)
    old.__setstate__(state)
    assert old.iou.tolist() == [0.1, 0.2] and old.n_area_mismatch == 0
    assert (old + other).iou.tolist() == total.iou.tolist()


def test_dask_is_byte_identical_to_a_local_run(dataset):
    pytest.importorskip("distributed")
    from panoseg.evaluation import evaluate_on_dask
    from panoseg.util.cluster import dask_client, local_cluster

    local = evaluate(dataset.gt_json, dataset.pred_json, workers=2, keep_per_image=True)
    rows_local = []
    evaluate(dataset.gt_json, dataset.pred_json, workers=3,
             on_image=lambda r: rows_local.append(r.to_dict()))
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    cluster = local_cluster(2, 1)
    try:
        with dask_client(cluster.scheduler_address) as client:
            for chunk_size in (4, 7):
                stats, rows, _ = evaluate_on_dask(job, client, chunk_size=chunk_size)
                assert as_json(stats) == as_json(local.stats), chunk_size
                assert json.dumps(rows) == json.dumps(rows_local)
    finally:
        cluster.close()


def test_statistics_pickled_before_the_boundary_fields_still_load(dataset):
    """A PQStats pickled before segm_iou / sem_* / iou_type existed (simulated by dropping
    them): it loads, copies and adds, and its exact size_iou terms keep their cells."""
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    reference = PQStats(job.categories)
    for p in job.pairs:
        reference.add_image(job.evaluate_image(p))
    state = reference.__getstate__()
    n = len(job.categories)
    # The old numbering: size_iou's cells right after cover_area's (no segm_iou field).
    state["_exact"] = {(g - n if g >= 5 * n else g): cell for g, cell in state["_exact"].items()}
    for key in ("_f_segm_iou", "sem_inter", "sem_gt", "sem_pred", "segm_tp", "segm_fp",
                "segm_fn", "iou_type"):
        state.pop(key, None)
    old = PQStats.__new__(PQStats)
    old.__setstate__(state)
    assert old.iou_type == "segm" and not old.segm_iou.any() and not old.sem_gt.any()
    total = old.copy()
    total += reference
    assert np.array_equal(total.size_iou, (reference + reference).size_iou)
    assert as_json(old) == as_json(reference)
