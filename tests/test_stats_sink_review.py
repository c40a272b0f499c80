"""Review of the core-summed statistics (``_core.StatsSink``, ``PQStats.add_sink``, 06413cb), the
vectorized ``PQStats._push_images`` and ``ordered_map(total=)`` (0937c19): the same bits as the
per-image path in the cases the original tests leave out (gt_area="json" with mismatches under
Boundary PQ, several drains per chunk, chunks pickled and re-added, a sink shared by threads
while it is drained), the same error messages, and the review's findings, fixed."""
import copy
import json
import pickle
import threading

import numpy as np
import pytest

from panoseg import _core
from panoseg.evaluation import EvaluationJob, PQStats
from panoseg.evaluation import job as job_module
from panoseg.evaluation.extra_metrics import extra_results
from panoseg.evaluation.semantic import semantic_results
from panoseg.testing.synthetic import make_dataset
from panoseg.util.parallel import ordered_map

FIELDS = ("tp", "fp", "fn", "n_images", "n_images_extra", "n_area_mismatch") + \
    PQStats._FLOAT + PQStats._EXTRA


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("sink_review")
    ds = make_dataset(root, n_images=29, height=(20, 50), width=(20, 60), seed=23,
                      crowd_prob=0.4, void_frac=0.2)
    gt = json.loads(open(ds.gt_json).read())
    for k in (3, 17, 28):  # counted in n_area_mismatch with gt_area="json"
        gt["annotations"][k]["segments_info"][-1]["area"] += 2
    bad_area = root / "gt_area.json"
    bad_area.write_text(json.dumps(gt))
    return ds, str(bad_area)


def _same(a: PQStats, b: PQStats, tag=None):
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, (tag, name)
            assert x.tobytes() == y.tobytes(), (tag, name)
        else:
            assert x == y, (tag, name)
    assert pickle.dumps(a.summarize()) == pickle.dumps(b.summarize()), tag
    if a.iou_type == "boundary":
        assert pickle.dumps(a.summarize_segm()) == pickle.dumps(b.summarize_segm()), tag
    if a.n_images_extra:
        assert pickle.dumps(extra_results(a)) == pickle.dumps(extra_results(b)), tag
        assert pickle.dumps(semantic_results(a)) == pickle.dumps(semantic_results(b)), tag


OPTIONS = [{}, {"extra": False}, {"iou_type": "boundary"},
           {"iou_type": "boundary", "extra": False, "dilation_ratio": 0.1},
           {"gt_area": "json", "bad_area": True},
           {"gt_area": "json", "bad_area": True, "iou_type": "boundary"}]


def _job(dataset, options):
    ds, bad_area = dataset
    options = dict(options)
    gt_json = bad_area if options.pop("bad_area", False) else ds.gt_json
    return EvaluationJob(gt_json, ds.pred_json, gt_folder=ds.gt_json[:-5], **options)


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("workers,drain", [(1, 1), (2, 3), (3, 256)])
def test_sink_equals_per_image(dataset, monkeypatch, options, workers, drain):
    job = _job(dataset, options)
    ref = job.evaluate_chunk(workers=1, keep=True).stats
    monkeypatch.setattr(job_module, "SINK_DRAIN", drain)
    got = job.evaluate_chunk(workers=workers, keep=False).stats
    _same(pickle.loads(pickle.dumps(got)), ref, (options, workers, drain))
    if options.get("bad_area"):
        assert got.n_area_mismatch == 3


@pytest.mark.parametrize("options", OPTIONS)
def test_sink_chunks_pickled_and_drained_midway(dataset, options):
    job = _job(dataset, options)
    ref = job.evaluate_chunk(workers=1, keep=True).stats
    # Dask-like: chunks evaluated with the sink, pickled, added in order.
    total = PQStats(job.categories, job.iou_type)
    for a, b in [(0, 5), (5, 6), (6, 20), (20, None)]:
        total += pickle.loads(pickle.dumps(job.subset(a, b).evaluate_chunk(workers=2,
                                                                            keep=False).stats))
    _same(total, ref, "chunks")
    # One PQStats fed by the sink and by add_image, drained, pickled and copied between images.
    stats = PQStats(job.categories, job.iou_type)
    sink = _core.StatsSink(len(job.categories), job.iou_type == "boundary")
    for i, item in enumerate(job._with_tables(job.pairs)):
        result = job._evaluate_with_tables(item, sink=sink)
        if result is not None:
            stats.add_image(result)
        if i % 7 == 3:
            stats.add_sink(sink)
            stats = pickle.loads(pickle.dumps(stats))
        if i % 11 == 5:
            stats = stats.copy()
    stats.add_sink(sink)
    _same(stats, ref, "midway")


@pytest.mark.parametrize("iou_type", ["segm", "boundary"])
def test_one_sink_two_threads_while_drained(dataset, iou_type):
    job = _job(dataset, {"iou_type": iou_type})
    ref = job.evaluate_chunk(workers=1, keep=True).stats
    items = list(job._with_tables(job.pairs))
    sink = _core.StatsSink(len(job.categories), iou_type == "boundary")
    stats = PQStats(job.categories, iou_type)
    rounds = 3

    def work(k):
        for _ in range(rounds):
            for item in items[k::2]:
                assert job._evaluate_with_tables(item, sink=sink) is None

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        stats.add_sink(sink)
    for t in threads:
        t.join()
    stats.add_sink(sink)
    expected = PQStats(job.categories, iou_type)
    for _ in range(rounds):
        expected += ref
    _same(stats, expected, iou_type)


def _variant(tmp_path, dataset, edit_gt=None, edit_pred=None):
    ds, _ = dataset
    gt = json.loads(open(ds.gt_json).read())
    pred = json.loads(open(ds.pred_json).read())
    if edit_gt:
        edit_gt(gt)
    if edit_pred:
        edit_pred(pred)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    return str(tmp_path / "gt.json"), str(tmp_path / "pred.json")


def _extra_segment(ann):
    ann["segments_info"].append(dict(ann["segments_info"][0], id=12345))


EDITS = {
    "area": (lambda gt: [gt["annotations"][k]["segments_info"][0].__setitem__(
        "area", gt["annotations"][k]["segments_info"][0]["area"] + 1) for k in (12, 20)], None),
    "pred_without_pixels": (None, lambda pred: _extra_segment(pred["annotations"][15])),
    "gt_without_pixels": (lambda gt: _extra_segment(gt["annotations"][9]), None),
    "unknown_pred_id": (None, lambda pred: pred["annotations"][8]["segments_info"].pop(0)),
    "unknown_gt_id": (lambda gt: gt["annotations"][11]["segments_info"].pop(), None),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("iou_type", ["segm", "boundary"])
def test_inconsistent_images_fail_with_the_same_message(dataset, tmp_path, edit, iou_type):
    ds, _ = dataset
    gt_json, pred_json = _variant(tmp_path, dataset, *EDITS[edit])
    messages = set()
    for keep in (True, False):
        for workers in (1, 2):
            job = EvaluationJob(gt_json, pred_json, gt_folder=ds.gt_json[:-5],
                                pred_folder=ds.pred_json[:-5], iou_type=iou_type)
            with pytest.raises(Exception) as info:
                job.evaluate_chunk(workers=workers, keep=keep)
            messages.add(f"{type(info.value).__name__}: {info.value}")
    assert len(messages) == 1, messages


def test_sink_refuses_to_be_pickled_or_copied():
    sink = _core.StatsSink(3, False)
    for fn in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError):
            fn(sink)


@pytest.mark.parametrize("total", [None, 0, -3, 1, 40, 41, 10 ** 6])
def test_ordered_map_total_keeps_the_first_exception_in_order(total):
    def fn(x):
        if x in (17, 18, 33):
            raise ValueError(x)
        return x

    got = []
    with pytest.raises(ValueError, match="^17$"):
        for value in ordered_map(fn, iter(range(41)), 3, 4, total=total):
            got.append(value)
    assert got == list(range(17))


def test_push_images_accepts_what_the_previous_version_did():
    # uint8 / bool / int16 arrays and float32 IoUs: the same as the per-field sums of 0937c19^.
    categories = [{"id": k + 1, "name": str(k), "isthing": k % 2} for k in range(4)]
    rng = np.random.default_rng(3)

    class Result:
        segm = None
        n_area_mismatch = 0
        extra = None

    def result(int_dtype, float_dtype):
        r = Result()
        r.tp, r.fp, r.fn = (rng.integers(0, 3, 4).astype(int_dtype) for _ in range(3))
        r.iou = (rng.random(4) * (rng.random(4) < 0.5)).astype(float_dtype)
        return r

    for int_dtype in (np.int16, np.int32, np.uint8, np.bool_):
        results = [result(int_dtype, np.float32) for _ in range(20)]
        stats = PQStats(categories)
        for r in results:
            stats.add_image(r)
        for name in ("tp", "fp", "fn"):
            expected = np.sum([getattr(r, name).astype(np.int64) for r in results], axis=0)
            assert np.array_equal(getattr(stats, name), expected), (int_dtype, name)
        iou = PQStats(categories)
        for r in results:
            iou.add_image(r)
        assert iou.iou.dtype == np.float64


def test_push_images_accepts_lists():
    # (A review finding: the rewrite read .size on every field.)
    categories = [{"id": k + 1, "name": str(k), "isthing": k % 2} for k in range(3)]

    class Result:
        segm = None
        n_area_mismatch = 0
        extra = None
        tp, fp, fn, iou = [1, 0, 2], [0, 1, 0], [1, 1, 0], [0.5, 0.0, 1.25]

    stats = PQStats(categories)
    stats.add_image(Result())
    assert stats.tp.tolist() == [1, 0, 2] and stats.iou.tolist() == [0.5, 0.0, 1.25]


def test_many_categories_without_per_image_output(tmp_path):
    # (A review finding: the sink's confusion was a dense n x (n + 1) matrix.)
    n = 16384
    categories = [{"id": k + 1, "name": f"c{k}", "isthing": k % 2,
                   "color": [k % 256, (k // 256) % 256, 7]} for k in range(n)]
    ds = make_dataset(tmp_path, n_images=2, height=20, width=30, seed=1, categories=categories)
    job = EvaluationJob(ds.gt_json, ds.pred_json, extra=False)
    ref = job.evaluate_chunk(workers=1, keep=True).stats
    got = job.evaluate_chunk(workers=1, keep=False).stats
    assert got.tp.tobytes() == ref.tp.tobytes() and got.iou.tobytes() == ref.iou.tobytes()


def test_statistics_pickled_before_the_extra_metrics_take_a_sink(tmp_path):
    # (A review finding: such a pickle got size_* and confusion fields of shape (n,), and
    # add_sink then shifted every block after size_tp before failing on the confusion.)
    ds = make_dataset(tmp_path, n_images=3, height=30, width=40, seed=5)
    job = EvaluationJob(ds.gt_json, ds.pred_json)
    sink = _core.StatsSink(len(job.categories), False)
    for item in job._with_tables(job.pairs):
        assert job._evaluate_with_tables(item, sink=sink) is None
    state = PQStats(job.categories).__getstate__()
    for name in PQStats._EXTRA:
        state.pop(name, None)
        state.pop("_f_" + name, None)
    old = PQStats.__new__(PQStats)
    old.__setstate__(state)
    n = len(job.categories)
    assert old.size_tp.shape == (n, 3) and old.confusion.shape == (n, n + 1)
    old.add_sink(sink)
    expected = job.evaluate_chunk(workers=1, keep=True).stats
    for name in FIELDS:
        got, want = getattr(old, name), getattr(expected, name)
        assert (got.tobytes() == want.tobytes()) if isinstance(got, np.ndarray) else got == want, name


def test_a_sink_refused_by_add_sink_keeps_its_images(tmp_path):
    ds = make_dataset(tmp_path, n_images=2, height=30, width=40, seed=6)
    job = EvaluationJob(ds.gt_json, ds.pred_json)
    sink = _core.StatsSink(len(job.categories), False)
    for item in job._with_tables(job.pairs):
        job._evaluate_with_tables(item, sink=sink)
    broken = PQStats(job.categories)
    broken.__dict__["_i_size_fp"] = np.zeros(len(job.categories), np.int64)  # a wrong shape
    with pytest.raises(ValueError, match="size_fp"):
        broken.add_sink(sink)
    stats = PQStats(job.categories)
    stats.add_sink(sink)  # nothing was drained by the refusal
    assert stats.n_images == 2


def test_the_summary_of_one_pass_equals_three_group_averages():
    # PQStats.summarize computes All / Things / Stuff in one pass over the categories
    # (stats.pq_summary): the same floats, keys and key order as pq_average per group.
    from panoseg.evaluation.stats import GROUPS, pq_average, pq_summary

    rng = np.random.default_rng(7)
    categories = [{"id": 3 * k + 1, "name": str(k), "isthing": int(rng.random() < 0.5)}
                  for k in range(40)]
    stats = PQStats(categories)
    for trial in range(200):
        n = len(categories)
        tp, fp, fn = (rng.integers(0, 4, n) * (rng.random(n) < 0.6) for _ in range(3))
        iou = rng.random(n) * tp
        if trial % 40 == 0:  # a group with no category counted
            tp[:] = fp[:] = fn[:] = 0
        expected = {}
        for name, isthing in GROUPS:
            expected[name], per_class = pq_average(tp, fp, fn, iou, stats.categories, isthing)
            if name == "All":
                expected["per_class"] = per_class
        got = pq_summary(tp, fp, fn, iou, stats.categories)
        assert pickle.dumps(got) == pickle.dumps(expected)
        assert list(got) == list(expected) == ["All", "per_class", "Things", "Stuff"]


def _block_args(job, items):
    sizes = [job.sizes.get(gt["image_id"]) for (gt, _), _ in items]
    gt_pngs = [f"{job.gt_folder}/{gt['file_name']}" for (gt, _), _ in items]
    pred_pngs = [f"{job.pred_folder}/{pred['file_name']}" for (_, pred), _ in items]
    return (gt_pngs, pred_pngs, sizes, [t[0] for _, t in items], [t[1] for _, t in items],
            job.max_pixels, len(job.categories), job_module._isthing(job.categories))


@pytest.mark.parametrize("iou_type", ["segm", "boundary"])
def test_the_block_call_stops_at_each_image_it_cannot_sum(dataset, tmp_path, iou_type):
    # gt_area="json" with three GT areas off (images 3, 17, 28): those have something to
    # report, so the core stops there and says how many it summed before.
    job = _job(dataset, {"gt_area": "json", "bad_area": True, "iou_type": iou_type})
    items = list(job._with_tables(job.pairs))
    ratio = job.dilation_ratio if iou_type == "boundary" else 0.0
    sink = _core.StatsSink(len(job.categories), iou_type == "boundary")

    def block(start, edit=None):
        args = list(_block_args(job, items[start:]))
        if edit:
            edit(args)
        return _core.match_png_files_into_sink(*args, dilation_ratio=ratio, sink=sink)

    assert block(0) == 3 and block(4) == 13 and block(18) == 10 and block(29) == 0
    # Summed, with the three evaluated one by one, it is the per-image evaluation.
    stats = PQStats(job.categories, iou_type)
    for k in (3, 17, 28):
        stats.add_image(job._evaluate_with_tables(items[k]))
    stats.add_sink(sink)
    _same(stats, job.evaluate_chunk(workers=1, keep=True).stats, iou_type)
    # What the kernels cannot take as given stops the block there, unread.
    missing = str(tmp_path / "missing.png")
    assert block(0, lambda a: a[0].__setitem__(1, missing)) == 1
    assert block(0, lambda a: a[1].__setitem__(2, missing)) == 2
    assert block(0, lambda a: a[0].__setitem__(1, a[0][1].encode())) == 1  # bytes: not a path
    assert block(0, lambda a: a[0].__setitem__(2, a[0][2] + "\0")) == 2
    assert block(0, lambda a: a[1].__setitem__(2, a[1][2] + "\ud800")) == 2  # no file name
    assert block(0, lambda a: a[2].__setitem__(1, (0, 5))) == 1  # no PNG has that size
    assert block(0, lambda a: a[2].__setitem__(1, (2 ** 70, 5))) == 1
    assert block(0, lambda a: a[2].__setitem__(1, (2.5, 5))) == 1
    h, w = job.sizes[items[2][0][0]["image_id"]]
    assert block(0, lambda a: a[2].__setitem__(2, (h + 1, w))) == 2  # not the PNG's size
    assert block(0, lambda a: [a[2].__setitem__(k, None) for k in range(3)]) == 3
    stats = PQStats(job.categories, iou_type)
    stats.add_sink(sink)  # what those calls summed: the images before each stop
    assert stats.n_images == 1 + 2 + 1 + 2 + 2 + 1 + 1 + 1 + 2 + 3


class _FreshArrays:
    """A table whose arrays are made anew at each read (kept alive by nobody else)."""

    def __init__(self, table):
        self._table = table

    def __getattr__(self, name):
        return getattr(self._table, name).copy()


def test_the_block_call_keeps_the_arrays_it_reads_alive(dataset):
    job = _job(dataset, {})
    items = list(job._with_tables(job.pairs))
    args = list(_block_args(job, items))
    sinks = [_core.StatsSink(len(job.categories), False) for _ in range(2)]
    assert _core.match_png_files_into_sink(*args, sink=sinks[0]) == len(items)
    args[3] = [_FreshArrays(t) for t in args[3]]
    args[4] = [_FreshArrays(t) for t in args[4]]
    assert _core.match_png_files_into_sink(*args, sink=sinks[1]) == len(items)
    totals = []
    for sink in sinks:
        stats = PQStats(job.categories, "segm")
        stats.add_sink(sink)
        totals.append(stats)
    _same(totals[1], totals[0])


def test_the_block_call_checks_its_arguments(dataset):
    job = _job(dataset, {})
    items = list(job._with_tables(job.pairs[:4]))
    args = _block_args(job, items)
    sink = _core.StatsSink(len(job.categories), False)
    with pytest.raises(ValueError, match="differ in length"):
        _core.match_png_files_into_sink(args[0][:3], *args[1:], sink=sink)
    with pytest.raises(ValueError, match="sink is needed"):
        _core.match_png_files_into_sink(*args)
    with pytest.raises(ValueError, match="another iou_type"):
        _core.match_png_files_into_sink(*args, sink=_core.StatsSink(len(job.categories), True))
    with pytest.raises(ValueError, match="dilation_ratio"):
        _core.match_png_files_into_sink(*args, dilation_ratio=2.0, sink=sink)
    assert _core.match_png_files_into_sink(*args, sink=sink) == 4
