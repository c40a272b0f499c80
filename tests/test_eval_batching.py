"""The per-image work of an evaluation done in batches: segment tables made for many
annotations in one core call, the core's consistency flag, and PQStats' queued image arrays
give exactly what the per-image paths give."""
import json
import pickle

import numpy as np
import pytest

from panoseg import _core
from panoseg.evaluation import EvaluationJob, PQStats
from panoseg.evaluation import job as job_module
from panoseg.evaluation.extra_metrics import extra_results
from panoseg.io.categories import Categories
from panoseg.io.panoptic_json import SegmentTable
from panoseg.testing.synthetic import make_dataset

CATEGORIES = Categories([{"id": 1, "isthing": 1}, {"id": 2, "isthing": 0}])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("batching"), n_images=12, height=40, width=56,
                        seed=5)


def _same_table(a: SegmentTable, b: SegmentTable):
    for name in ("ids", "category", "iscrowd", "area"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.flags.c_contiguous, name
        np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("is_gt", [True, False])
def test_tables_of_many_annotations_equal_one_at_a_time(is_gt):
    good = [{"id": 5, "category_id": 2, "area": 3}, {"id": 1, "category_id": 1, "iscrowd": 1,
                                                     "area": 2.5}]
    annotations = [
        {"segments_info": good},
        {"segments_info": []},
        {"segments_info": good + [{"id": 5, "category_id": 1, "area": 1}]},  # duplicate id
        {"segments_info": [{"id": 7, "category_id": 3, "area": 1}]},  # unknown category
        {"segments_info": ({"id": 7, "category_id": 1, "area": 1},)},  # not a list
        {"segments_info": [{"id": 9, "category_id": 1, "area": 4}] + good[:1]},
    ]
    tables = SegmentTable.for_annotations(annotations, CATEGORIES, is_gt=is_gt)
    assert [t is None for t in tables] == [False, False, True, True, True, False]
    for ann, table in zip(annotations, tables):
        if table is not None:
            _same_table(table, SegmentTable.from_segments_info(ann["segments_info"], CATEGORIES,
                                                               is_gt=is_gt))
    assert SegmentTable.for_annotations([], CATEGORIES, is_gt=is_gt) == []


def test_a_bad_annotation_still_fails_with_its_own_message(dataset, tmp_path):
    gt = json.loads(open(dataset.gt_json).read())
    gt["annotations"][3]["segments_info"][0]["category_id"] = 987654
    bad = tmp_path / "gt.json"
    bad.write_text(json.dumps(gt))
    job = EvaluationJob(bad, dataset.pred_json, gt_folder=dataset.gt_json[:-5])
    with pytest.raises(Exception, match="unknown category_id 987654") as caught:
        job.evaluate_chunk(workers=1)
    assert caught.value.image_id == gt["annotations"][3]["image_id"]


def test_the_consistency_flag_matches_the_checks(dataset):
    ids = np.array([1, 2], np.uint32)
    gt_map = np.array([[1, 1, 2]], np.uint32)
    common = dict(gt_ids=ids, gt_category=np.zeros(2, np.int32),
                  gt_iscrowd=np.zeros(2, np.uint8), pred_ids=ids,
                  pred_category=np.zeros(2, np.int32), n_categories=1)
    for area, pred_map, consistent in (([2, 1], [[1, 2, 2]], True),
                                       ([2, 2], [[1, 2, 2]], False),  # area != pixels
                                       ([2, 1], [[1, 1, 1]], False),  # prediction 2 has none
                                       ([2, 1], [[1, 3, 2]], False)):  # 3 is not listed
        m = _core.match_image(gt_map, np.array(pred_map, np.uint32),
                              gt_area=np.array(area, np.float64), **common)
        assert m["consistent"] == consistent and m["consistent"].dtype == np.bool_


@pytest.mark.parametrize("options", [{}, {"extra": False}, {"iou_type": "boundary"}])
def test_queued_images_sum_as_added_one_by_one(dataset, monkeypatch, options):
    job = EvaluationJob(dataset.gt_json, dataset.pred_json, **options)
    results = [job.evaluate_image(pair) for pair in job.pairs] * 5
    one_by_one = PQStats(job.categories, job.iou_type)
    for r in results:
        one_by_one.add_image(r)
        one_by_one._flush()
    monkeypatch.setattr(PQStats, "_IMAGE_BATCH", 7)  # a few batches and a queued remainder
    batched = PQStats(job.categories, job.iou_type)
    for r in results:
        batched.add_image(r)
    batched = pickle.loads(pickle.dumps(batched))
    for stats in (one_by_one, batched):
        assert stats.n_images == len(results)
    assert pickle.dumps(batched.summarize()) == pickle.dumps(one_by_one.summarize())
    if job.extra:
        assert pickle.dumps(extra_results(batched)) == pickle.dumps(extra_results(one_by_one))
    for name in ("tp", "fp", "fn") + PQStats._FLOAT + PQStats._EXTRA:
        assert getattr(batched, name).tobytes() == getattr(one_by_one, name).tobytes(), name


@pytest.mark.parametrize("first,block", [(8, 5), (3, 5), (1, 4), (2, 2)])
def test_chunks_smaller_than_a_table_block(dataset, monkeypatch, first, block):
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    expected = job.evaluate_chunk(workers=1)
    monkeypatch.setattr(job_module, "TABLE_BLOCK", block)
    monkeypatch.setattr(job_module, "FIRST_TABLE_BLOCK", first)
    # Every pair once, in order, each with its own tables (blocks of first, 2 * first, ...).
    items = list(job._with_tables(job.pairs))
    assert [pair for pair, _ in items] == job.pairs
    assert [gt.ids.tolist() for _, (gt, _) in items] == \
        [[s["id"] for s in gt["segments_info"]] for gt, _ in job.pairs]
    got = job.evaluate_chunk(workers=2)
    assert got.rows == expected.rows
    assert pickle.dumps(got.stats.summarize()) == pickle.dumps(expected.stats.summarize())


def test_queued_statistics_pickle_under_their_names(dataset):
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    stats = PQStats(job.categories)
    stats.add_image(job.evaluate_image(job.pairs[0]))
    state = stats.__getstate__()
    assert not stats._pending_images
    for name in PQStats._INT + ("confusion",):
        assert name in state and "_i_" + name not in state
    assert state["tp"].tobytes() == stats.tp.tobytes()
    loaded = pickle.loads(pickle.dumps(stats))
    assert loaded.tp is not stats.tp and loaded.tp.tobytes() == stats.tp.tobytes()


def test_fields_folded_as_they_are_read_equal_all_at_once(dataset, monkeypatch):
    job = EvaluationJob(dataset.gt_json, dataset.pred_json, iou_type="boundary")
    results = [job.evaluate_image(pair) for pair in job.pairs] * 3
    monkeypatch.setattr(PQStats, "_IMAGE_BATCH", 5)
    reference = PQStats(job.categories, job.iou_type)
    for r in results:
        reference.add_image(r)
    reference._flush()
    stats = PQStats(job.categories, job.iou_type)
    for k, r in enumerate(results):
        stats.add_image(r)
        if k % 4 == 0:
            stats.iou  # folds this field only
        if k % 7 == 0:
            stats.size_iou
    stats.iou
    assert stats._pending and 0 not in stats._pending  # the other fields still wait
    for name in ("tp", "fp", "fn") + PQStats._FLOAT + PQStats._EXTRA:
        assert getattr(stats, name).tobytes() == getattr(reference, name).tobytes(), name
    assert stats._exact == reference._exact


def test_a_copy_shares_no_queue_with_its_original(dataset):
    """copy.copy pickles the state: the copy must get a queue of its own, or images queued on
    the original after the copy are summed twice once the copy reads a field."""
    import copy

    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    results = [job.evaluate_image(pair) for pair in job.pairs]
    expected = PQStats(job.categories)
    for r in results:
        expected.add_image(r)
    stats = PQStats(job.categories)
    for r in results[:3]:
        stats.add_image(r)
    copied = copy.copy(stats)
    for r in results[3:]:
        stats.add_image(r)
    copied.tp  # the copy sums its own queue (empty)
    for name in PQStats._INT + ("confusion",) + PQStats._FLOAT:
        assert getattr(stats, name).tobytes() == getattr(expected, name).tobytes(), name


def test_a_result_over_other_categories_is_refused_when_added(dataset):
    """Queued arrays would only fail when summed, losing the batch: the size is checked first."""
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    result = job.evaluate_image(job.pairs[0])
    stats = PQStats(Categories(job.categories.entries[:-1]))
    with pytest.raises(ValueError, match="categories added to PQStats over"):
        stats.add_image(result)
    assert stats.n_images == 0


def _forcing_settle(real):
    """ordered_map calling on_last_wait after its first result, whatever the threads' timing
    (the evaluation's sums are then folded in two parts)."""
    def forced(*args, on_last_wait=None, **kw):
        for k, result in enumerate(real(*args, **kw)):
            yield result
            if k == 0 and on_last_wait is not None:
                on_last_wait()
    return forced


@pytest.mark.parametrize("iou_type", ["segm", "boundary"])
def test_sums_settled_while_waiting_are_the_same_bits(dataset, monkeypatch, iou_type):
    job = EvaluationJob(dataset.gt_json, dataset.pred_json, iou_type=iou_type)
    ref = job.evaluate_chunk(workers=1, keep=True).stats
    monkeypatch.setattr(job_module, "ordered_map", _forcing_settle(job_module.ordered_map))
    for workers in (1, 2):
        stats = job.evaluate_chunk(workers=workers, keep=False).stats
        assert pickle.dumps(stats.summarize()) == pickle.dumps(ref.summarize())
        for name in PQStats._FLOAT + PQStats._INT:
            assert np.array_equal(getattr(stats, name), getattr(ref, name)), name
        assert np.array_equal(stats.tp, ref.tp) and np.array_equal(stats.fn, ref.fn)


def test_an_image_error_comes_before_an_error_settling_the_sums(dataset, tmp_path,
                                                                 monkeypatch):
    gt = json.loads(open(dataset.gt_json).read())
    gt["annotations"][7]["segments_info"][0]["area"] += 1  # disagrees with the PNG: an error
    bad = tmp_path / "gt.json"
    bad.write_text(json.dumps(gt))
    job = EvaluationJob(bad, dataset.pred_json, gt_folder=dataset.gt_json[:-5])
    monkeypatch.setattr(job_module, "ordered_map", _forcing_settle(job_module.ordered_map))

    def failing_add_sink(self, sink):
        raise MemoryError("while settling")
    monkeypatch.setattr(PQStats, "add_sink", failing_add_sink)
    with pytest.raises(Exception) as e:
        job.evaluate_chunk(workers=2, keep=False)
    assert "area" in str(e.value) and not isinstance(e.value, MemoryError)
