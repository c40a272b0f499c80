"""Boundary PQ streamed from the PNGs' image data (panoseg._core.PngPairMatcher with a dilation:
the bands are computed from the rows as they are decoded, the last 2d + 1 rows' runs kept):
the same dict as match_image(..., dilation=d) on the decoded maps, for any chunking of the
data, any dilation (also one that leaves no pixel interior), rows repeating their predecessor
in one map or both, and counts above one byte (2d + 1 > 255); corrupt data is refused."""
import numpy as np
import pytest
from pngtools import encode

from panoseg import _core
from panoseg.io.png import decode_ids, inflate
from panoseg.testing.synthetic import default_categories, make_dataset, make_image_pair

N_CAT = 4
ISTHING = np.array([1, 0, 1, 0], np.uint8)


def _blocky(rng, h, w, k):
    """Blocks of random sizes of k labels, thin strips and dots; sometimes noise."""
    bh, bw = int(rng.integers(1, max(2, h // 2 + 1))), int(rng.integers(1, max(2, w // 2 + 1)))
    small = rng.integers(0, k, (-(-h // bh), -(-w // bw)))
    m = np.kron(small, np.ones((bh, bw), np.int64))[:h, :w].copy()
    for _ in range(int(rng.integers(0, 4))):
        if rng.random() < 0.5:
            m[int(rng.integers(0, h)), :] = rng.integers(0, k)
        else:
            m[:, int(rng.integers(0, w))] = rng.integers(0, k)
    if rng.random() < 0.15:
        m = rng.integers(0, k, (h, w))
    return m


def _ids(labels, rng):
    """Labels -> ids spread over all three RGB bytes (label 0 stays VOID)."""
    lut = np.concatenate([[0], rng.choice(np.arange(1, 1 << 24), 64, replace=False)])
    return lut[labels].astype(np.uint32)


def _tables(rng, gt, pred, n_cat=N_CAT):
    """Segment tables of the two maps' ids (random categories, 20% crowd, exact GT areas)."""
    gt_ids = np.array([i for i in np.unique(gt) if i], np.uint32)
    pred_ids = np.array([i for i in np.unique(pred) if i], np.uint32)
    return (gt_ids, rng.integers(0, n_cat, len(gt_ids)).astype(np.int32),
            (rng.random(len(gt_ids)) < 0.2).astype(np.uint8),
            np.array([(gt == i).sum() for i in gt_ids], np.float64),
            pred_ids, rng.integers(0, n_cat, len(pred_ids)).astype(np.int32), n_cat)


def _raw(ids, rng, filters=None):
    """The inflated image data of a PNG of the map, each row with a random filter type."""
    h = ids.shape[0]
    rgb = np.stack([ids & 255, (ids >> 8) & 255, ids >> 16], -1).astype(np.uint8)
    png = encode(rgb, filters=filters or [int(f) for f in rng.integers(0, 5, h)])
    assert (decode_ids(png) == ids).all()
    return inflate(png)[2]


def _stream(g, p, h, w, args, d, gstep, pstep, isthing=ISTHING):
    m = _core.PngPairMatcher(h, w, *args, isthing, dilation=d)
    gs = [g[k:k + gstep] for k in range(0, len(g), gstep)]
    ps = [p[k:k + pstep] for k in range(0, len(p), pstep)]
    for k in range(max(len(gs), len(ps))):
        m.feed(gs[k] if k < len(gs) else b"", ps[k] if k < len(ps) else b"")
    return m.finish()


def _same(a, b):
    assert a is not None and b is not None
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def _pair(rng, h, w):
    gt_l = _blocky(rng, h, w, int(rng.integers(2, 7)))
    pred_l = gt_l.copy()
    if rng.random() < 0.6:
        pred_l = np.roll(pred_l, int(rng.integers(-2, 3)), axis=int(rng.integers(0, 2)))
    noise = rng.random((h, w)) < rng.choice([0.0, 0.01, 0.1])
    pred_l[noise] = rng.integers(0, 7, int(noise.sum()))
    return _ids(gt_l, rng), _ids(pred_l, rng)


@pytest.mark.parametrize("seed", range(30))
def test_stream_equals_match_image_on_random_maps(seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 70, 2))
    gt, pred = _pair(rng, h, w)
    if seed % 3 == 0:  # runs of identical rows: in the GT alone, in both
        gt[h // 3: 2 * h // 3] = gt[h // 3]
        pred[h // 2:] = pred[h // 2]
    args = _tables(rng, gt, pred)
    g, p = _raw(gt, rng), _raw(pred, rng)
    line = 3 * w + 1
    for d in sorted({1, 2, 3, 5, int(rng.integers(1, 40)), (min(h, w) - 1) // 2 or 1,
                     min(h, w) // 2 + 1, max(h, w) + 5}):
        want = _core.match_image(gt, pred, *args, ISTHING, dilation=d)
        for gstep, pstep in ((len(g), len(p)), (1, 1), (1, 5000), (7, line), (line, 2 * line + 3),
                             tuple(int(v) for v in rng.integers(1, 4 * line, 2))):
            _same(_stream(g, p, h, w, args, d, gstep, pstep), want)
        # without the extra statistics: the same keys as match_image's
        _same(_stream(g, p, h, w, args, d, 4096, 4096, None),
              _core.match_image(gt, pred, *args, None, dilation=d))


def test_stream_with_every_row_repeated_and_up_rows_of_zeros():
    """Maps whose rows all repeat (vertical stripes), written with Up filters: every row after
    the first is an Up row of zeros, in one map or both."""
    rng = np.random.default_rng(3)
    h, w = 40, 57
    gt = np.repeat(_ids(rng.integers(0, 4, (1, w)) * (np.arange(w) // 9 % 2), rng), h, 0)
    pred = _ids(_blocky(rng, h, w, 3), rng)
    args = _tables(rng, gt, pred)
    up = [0] + [2] * (h - 1)
    for p_map, p_filters in ((pred, None), (gt.copy(), up)):
        args = _tables(rng, gt, p_map)
        g, p = _raw(gt, rng, up), _raw(p_map, rng, p_filters)
        for d in (1, 4, 9, 19, 20):
            _same(_stream(g, p, h, w, args, d, 100, 77),
                  _core.match_image(gt, p_map, *args, ISTHING, dilation=d))


@pytest.mark.parametrize("d", [126, 127, 128, 131])
def test_stream_counts_beyond_one_byte(d):
    """2d + 1 = 253 .. 263: counts in bytes up to d = 127, in 32-bit words beyond."""
    rng = np.random.default_rng(d)
    h, w = 400, 390
    labels = np.ones((h, w), np.int64)
    labels[:20, :30] = 2
    labels[380:, 350:] = 3
    labels[5:8, 40:200] = 4
    gt = _ids(labels, rng)
    pred = np.roll(gt, 1, axis=0)
    pred[0] = 0
    args = _tables(rng, gt, pred)
    g, p = _raw(gt, rng), _raw(pred, rng)
    want = _core.match_image(gt, pred, *args, ISTHING, dilation=d)
    band = _core.boundary_band(gt, d).astype(bool)
    assert not band.all()  # some pixel interior: the band path, not the whole-map shortcut
    _same(_stream(g, p, h, w, args, d, 10000, 9999), want)


def test_stream_equals_match_image_on_generated_images():
    rng = np.random.default_rng(11)
    categories = default_categories()
    index = {c["id"]: k for k, c in enumerate(categories)}
    isthing = np.array([c["isthing"] for c in categories], np.uint8)
    for _ in range(4):
        gt, gt_segs, pred, pred_segs = make_image_pair(rng, 96, 128)
        gt, pred = np.asarray(gt, np.uint32), np.asarray(pred, np.uint32)
        args = (np.array([s["id"] for s in gt_segs], np.uint32),
                np.array([index[s["category_id"]] for s in gt_segs], np.int32),
                np.array([s.get("iscrowd", 0) for s in gt_segs], np.uint8),
                np.array([s["area"] for s in gt_segs], np.float64),
                np.array([s["id"] for s in pred_segs], np.uint32),
                np.array([index[s["category_id"]] for s in pred_segs], np.int32),
                len(categories))
        g, p = _raw(gt, rng), _raw(pred, rng)
        for d in (1, 2, 3, 10):
            _same(_stream(g, p, 96, 128, args, d, 3000, 2000, isthing),
                  _core.match_image(gt, pred, *args, isthing, dilation=d))


def test_unknown_ids_return_none():
    rng = np.random.default_rng(4)
    gt, pred = _pair(rng, 30, 40)
    args = list(_tables(rng, gt, pred))
    g, p = _raw(gt, rng), _raw(pred, rng)
    for k in (0, 4):  # an id missing from the GT table, then from the prediction's
        a = list(args)
        a[k:k + 2] = [a[k][1:], a[k + 1][1:]]
        if k == 0:
            a[2:4] = [a[2][1:], a[3][1:]]
        assert _stream(g, p, 30, 40, a, 3, 500, 500) is None


def test_corrupt_data_and_bad_arguments():
    rng = np.random.default_rng(5)
    h, w = 12, 20
    gt, pred = _pair(rng, h, w)
    args = _tables(rng, gt, pred)
    g, p = _raw(gt, rng), _raw(pred, rng)
    line = 3 * w + 1
    bad = bytearray(p)
    bad[5 * line] = 9  # scanline 5: filter type 9
    with pytest.raises(_core.PngDataError, match="scanline 5") as e:
        _stream(g, bytes(bad), h, w, args, 2, 100, 100)
    assert (e.value.side, e.value.index) == ("pred", 5)
    m = _core.PngPairMatcher(h, w, *args, dilation=2)
    with pytest.raises(_core.PngDataError) as e:
        m.feed(g + b"\0", p)  # more than h rows
    assert e.value.side == "gt" and e.value.code == "kPngSizeMismatch"
    for short_gt in (True, False):
        m = _core.PngPairMatcher(h, w, *args, dilation=3)
        m.feed(g[:-1] if short_gt else g, p if short_gt else p[:-line])
        with pytest.raises(_core.PngDataError, match="image data has") as e:
            m.finish()
        assert e.value.side == ("gt" if short_gt else "pred")
    for d in (-1, _core.MAX_SIDE + 1, 2 ** 70):
        with pytest.raises(ValueError, match="dilation"):
            _core.PngPairMatcher(h, w, *args, dilation=d)
    # A claimed 2^31 - 1 wide image allocates nothing until a row's bytes exist.
    m = _core.PngPairMatcher(1, 2 ** 31 - 1, *args, dilation=5)
    m.feed(b"\0" * 100, b"\0" * 100)
    with pytest.raises(_core.PngDataError, match="image data has 100 bytes"):
        m.finish()
    # a 3 x 2^20 image: a band window of 2d + 1 = 3 rows, rows of 2^20 pixels
    big = np.zeros((3, 1 << 20), np.uint32)
    big[1, 5:] = 7
    args = _tables(rng, big, big)
    raw = _raw(big, rng, [0, 1, 2])
    _same(_stream(raw, raw, 3, 1 << 20, args, 1, 1 << 16, 1 << 17),
          _core.match_image(big, big, *args, ISTHING, dilation=1))


def test_stream_with_sparse_tables():
    """Over 2^20 (GT x prediction) cells both tables are hash maps: same results."""
    rng = np.random.default_rng(1)
    h, w = 64, 80
    labels = np.arange(h * w).reshape(h, w) // 3 % 1500 + 1
    lut = np.concatenate([[0], rng.choice(np.arange(1, 1 << 24), 1500, replace=False)])
    gt = lut[labels].astype(np.uint32)
    pred = np.roll(gt, 1, axis=1)
    args = _tables(rng, gt, pred)
    g, p = _raw(gt, rng), _raw(pred, rng)
    for d in (1, 2, 5):
        _same(_stream(g, p, h, w, args, d, 999, 777),
              _core.match_image(gt, pred, *args, ISTHING, dilation=d))


def test_evaluation_streams_boundary_pq_as_the_whole_maps_do(tmp_path, monkeypatch):
    """EvaluationJob streams Boundary PQ (no map is decoded whole); with ``errors`` it decodes
    the maps whole and calls match_image: the same per-image results and summary."""
    from pathlib import Path

    from panoseg.evaluation import job as job_module
    from panoseg.io.png import read_image_data

    ds = make_dataset(tmp_path, n_images=4, height=90, width=120, seed=3)
    assert not read_image_data(Path(ds.gt_folder) / "000000000001.png").interlaced
    kw = dict(iou_type="boundary", dilation_ratio=0.05)
    read = job_module._read
    with monkeypatch.context() as m:
        m.setattr(job_module, "_read", lambda *a: pytest.fail("a map was decoded whole"))
        streamed = job_module.EvaluationJob(ds.gt_json, ds.pred_json, **kw).evaluate_chunk()
    assert job_module._read is read
    whole = job_module.EvaluationJob(ds.gt_json, ds.pred_json, errors=True,
                                     **kw).evaluate_chunk()
    assert streamed.stats.summarize() == whole.stats.summarize()
    assert streamed.stats.summarize_segm() == whole.stats.summarize_segm()
    for a, b in zip(streamed.arrays, whole.arrays):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_finish_is_called_once():
    # The band tables are final after finish(): a second call would count the last rows again.
    ids = np.arange(1, 4, dtype=np.uint32)
    m = _core.PngPairMatcher(1, 1, ids[:1], np.zeros(1, np.int32), np.zeros(1, np.uint8),
                             np.ones(1), ids[:1], np.zeros(1, np.int32), 1, dilation=1)
    m.feed(b"\x00\x01\x00\x00", b"\x00\x01\x00\x00")
    assert m.finish() is not None
    with pytest.raises(RuntimeError, match="already called"):
        m.finish()
