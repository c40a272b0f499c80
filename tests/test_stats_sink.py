"""Statistics summed in the core (``_core.StatsSink``, csrc/eval/stats_sink.cpp) for the images
nobody needs one by one: the same bits as every image's arrays added with
``PQStats.add_image``, for mask and Boundary PQ, with and without the extra metrics; the images
the core cannot sum (something to report or count) still come back one by one."""
import json
import pickle

import numpy as np
import pytest

from panoseg import _core
from panoseg.evaluation import EvaluationJob, PQStats
from panoseg.evaluation import job as job_module
from panoseg.evaluation.extra_metrics import extra_results
from panoseg.testing.synthetic import make_dataset

FIELDS = ("tp", "fp", "fn", "n_images", "n_images_extra", "n_area_mismatch") + \
    PQStats._FLOAT + PQStats._EXTRA


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("sink"), n_images=23, height=48, width=64,
                        seed=11)


def _same_stats(a: PQStats, b: PQStats):
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, name
            assert x.tobytes() == y.tobytes(), name
        else:
            assert x == y, name
    assert pickle.dumps(a.summarize()) == pickle.dumps(b.summarize())
    assert pickle.dumps(a.summarize_segm()) == pickle.dumps(b.summarize_segm())


def _add_calls(monkeypatch):
    calls = []
    real = PQStats.add_image

    def counted(self, result):
        calls.append(result.image_id)
        real(self, result)
    monkeypatch.setattr(PQStats, "add_image", counted)
    return calls


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("options", [{}, {"extra": False}, {"iou_type": "boundary"},
                                     {"iou_type": "boundary", "extra": False,
                                      "dilation_ratio": 0.05}])
def test_summed_in_the_core_equals_added_one_by_one(dataset, monkeypatch, options, workers):
    job = EvaluationJob(dataset.gt_json, dataset.pred_json, **options)
    one_by_one = job.evaluate_chunk(workers=1, keep=True).stats  # keep: no sink
    monkeypatch.setattr(job_module, "SINK_DRAIN", 5)  # drained several times, with a remainder
    calls = _add_calls(monkeypatch)
    summed = job.evaluate_chunk(workers=workers, keep=False).stats
    assert calls == []  # every image of this set was summed by the core
    _same_stats(pickle.loads(pickle.dumps(summed)), one_by_one)
    if job.extra:
        assert pickle.dumps(extra_results(summed)) == pickle.dumps(extra_results(one_by_one))


def test_images_with_something_to_count_come_back_one_by_one(dataset, tmp_path, monkeypatch):
    # gt_area="json": an image whose JSON areas disagree with its PNG is counted in
    # n_area_mismatch, which only the Python side does; the others are summed by the core.
    gt = json.loads(open(dataset.gt_json).read())
    wrong = [gt["annotations"][k]["image_id"] for k in (2, 9)]
    for k in (2, 9):
        gt["annotations"][k]["segments_info"][0]["area"] += 1
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    job = EvaluationJob(path, dataset.pred_json, gt_folder=dataset.gt_json[:-5],
                        gt_area="json")
    one_by_one = job.evaluate_chunk(workers=1, keep=True).stats
    calls = _add_calls(monkeypatch)
    summed = job.evaluate_chunk(workers=2, keep=False).stats
    assert sorted(calls) == sorted(wrong)
    assert summed.n_area_mismatch == one_by_one.n_area_mismatch == 2
    _same_stats(summed, one_by_one)


def test_per_image_output_and_errors_take_every_image(dataset, monkeypatch):
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    calls = _add_calls(monkeypatch)
    seen = []
    job.evaluate_chunk(workers=2, keep=False, on_image=seen.append)
    assert len(calls) == len(seen) == len(job.pairs)


def test_the_sink_refuses_other_categories_or_iou_type(dataset):
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    pair = job.pairs[0]
    (gt_table,), (pred_table,) = (
        job_module.SegmentTable.for_annotations([pair[0]], job.categories, is_gt=True),
        job_module.SegmentTable.for_annotations([pair[1]], job.categories, is_gt=False))
    n = len(job.categories)
    for sink in (_core.StatsSink(n + 1, False), _core.StatsSink(n, True)):
        with pytest.raises(ValueError, match="sink is for other"):
            job.evaluate_image(pair, (gt_table, pred_table), sink=sink)
    sink = _core.StatsSink(n, False)
    assert job.evaluate_image(pair, (gt_table, pred_table), sink=sink) is None
    with pytest.raises(ValueError, match="iou_type"):
        PQStats(job.categories, "boundary").add_sink(sink)
    with pytest.raises(ValueError, match="categories"):
        PQStats(job.categories.entries[:-1]).add_sink(sink)
    stats = PQStats(job.categories)
    stats.add_sink(sink)
    assert stats.n_images == 1 and stats.tp.sum() + stats.fn.sum() > 0
    stats.add_sink(sink)  # drained: adds nothing
    assert stats.n_images == 1
    for bad in (0, -1, 1 << 40):
        with pytest.raises(ValueError):
            _core.StatsSink(bad, False)


def test_a_drained_sink_is_empty(dataset):
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    sink = _core.StatsSink(len(job.categories), False)
    for item in job._with_tables(job.pairs[:4]):
        assert job._evaluate_with_tables(item, sink=sink) is None
    n_images, n_extra, ints, confusion_gt, confusion_pred, cells, values = sink.drain()
    n = len(job.categories)
    assert (n_images, n_extra) == (4, 4)
    assert ints.dtype == np.int64 and ints.shape == (19 * n,)
    assert confusion_gt.dtype == confusion_pred.dtype == np.int32
    assert len(confusion_gt) == len(confusion_pred) > 0
    assert np.all((confusion_gt >= 0) & (confusion_gt < n))
    assert np.all((confusion_pred >= -1) & (confusion_pred < n))
    assert cells.dtype == np.int64 and len(cells) == len(values)
    assert np.all(values != 0) and np.all((cells >= 0) & (cells < 8 * n))
    n_images, n_extra, ints, confusion_gt, _, cells, values = sink.drain()
    assert (n_images, n_extra, ints.any(), len(confusion_gt), len(cells)) == (0, 0, False, 0, 0)
