"""The row-run decoding of the evaluator (panoseg._core.match_png): a row's runs come from the
row above's runs and the positions of its nonzero residuals (Sub, Up and Paeth; csrc/io/
png_row_runs.cpp), rows that repeat their predecessor (an Up row of zeros) repeat its runs, and
None and Average rows are reconstructed and scanned. Checked against the plain per-pixel path
(read_ids + match_image) on piecewise-constant maps, the case those shortcuts target, and on
noise, with every filter type per row."""
import numpy as np
import pytest
from pngtools import encode

from panoseg import _core
from panoseg.io.categories import as_categories
from panoseg.io.panoptic_json import SegmentTable
from panoseg.io.png import decode_ids, inflate

CATS = as_categories([{"id": c, "name": str(c), "isthing": c % 2, "color": [c, c, c]}
                      for c in range(1, 6)])


def _blocky(rng, h, w, n_ids, noise):
    """Rectangles of a few ids over a few ids' background, plus isolated pixels."""
    ids = rng.choice(n_ids, size=(1 + h // 7, 1 + w // 9)) + 1
    img = np.kron(ids, np.ones((7, 9), np.int64))[:h, :w]
    for _ in range(rng.integers(0, 6)):
        y, x = rng.integers(0, h), rng.integers(0, w)
        img[y:y + rng.integers(1, h + 1), x:x + rng.integers(1, w + 1)] = rng.integers(1, n_ids + 1)
    mask = rng.random((h, w)) < noise
    img[mask] = rng.integers(0, n_ids + 1, mask.sum())
    return (img * 0x010203 + 7 * (img > 0)).astype(np.uint32) * (img > 0)


def _png(ids, filters):
    rgb = np.stack([ids & 255, (ids >> 8) & 255, ids >> 16], -1).astype(np.uint8)
    return encode(rgb, filters=filters)


def _table(ids):
    present = np.unique(ids)
    present = present[present > 0]
    segs = [{"id": int(i), "category_id": int(k % 5) + 1, "area": int((ids == i).sum())}
            for k, i in enumerate(present)]
    return SegmentTable.from_segments_info(segs, CATS, is_gt=True), segs


def _assert_matches_per_pixel(gt, pred, gt_filters, pred_filters, same_categories=False):
    """match_png on PNGs of the two maps (these filters per row) equals match_image on the maps
    decoded by the Python reader. ``same_categories``: every other predicted segment takes the
    first GT segment's category (so that some pairs can match)."""
    h, w = gt.shape
    pngs = [_png(gt, gt_filters), _png(pred, pred_filters)]
    (gt_t, _), (pred_t, _) = _table(gt), _table(pred)
    if same_categories and len(gt_t):
        pred_t.category[::2] = gt_t.category[0]
    g, p = inflate(pngs[0]), inflate(pngs[1])
    fast = _core.match_png(g[2], p[2], h, w, gt_t.ids, gt_t.category, gt_t.iscrowd, gt_t.area,
                           pred_t.ids, pred_t.category, len(CATS), None)
    gt_ids, pred_ids = decode_ids(pngs[0]), decode_ids(pngs[1])
    assert (gt_ids == gt).all() and (pred_ids == pred).all()
    slow = _core.match_image(gt_ids, pred_ids, gt_t.ids, gt_t.category, gt_t.iscrowd,
                             gt_t.area, pred_t.ids, pred_t.category, len(CATS), None)
    assert fast is not None and slow is not None and fast.keys() == slow.keys()
    for key in fast:
        assert np.array_equal(np.asarray(fast[key]), np.asarray(slow[key])), key


# Widths whose rows end inside, at and just past the blocks of the nonzero-residual scan: 64
# bytes in the SSE2 and AVX2 scans (a pixel is 3 bytes: pixel 21 straddles bytes 63 and 64), 63
# bytes (21 whole pixels, the last step a masked load) in the AVX-512 one; and wide rows.
@pytest.mark.parametrize("width", [1, 2, 20, 21, 22, 42, 43, 63, 64, 84, 85, 86, 107, 300, 641])
@pytest.mark.parametrize("filters", ["none", "sub", "up", "average", "paeth", "mixed"])
def test_row_runs_at_scan_block_edges(width, filters):
    """Isolated changed pixels and ids differing in one channel only, at the pixels whose
    bytes straddle the scan's blocks, and runs that continue, end or shift under the row
    above (the starts of the runs above are where Paeth is computed)."""
    rng = np.random.default_rng(width * 7 + len(filters))
    h = 24
    base = np.array([0x000001, 0x000100, 0x010000, 0xFFFFFF, 0x800080, 0x7F7F7F], np.uint32)
    gt = np.zeros((h, width), np.uint32)
    for y in range(h):
        edges = np.sort(rng.choice(width + 1, size=min(width + 1, 4), replace=False))
        row = np.repeat(base[rng.integers(0, len(base), len(edges) + 1)],
                        np.diff(np.concatenate([[0], edges, [width]])))
        gt[y] = row if y % 3 else (gt[y - 1] if y else row)
        for x in (20, 21, 22, 41, 42, 43, 62, 63, 64, 83, 84, width - 1):
            if x < width and rng.random() < 0.5:
                gt[y, x] = base[rng.integers(0, len(base))] ^ (1 << int(rng.integers(0, 24)))
    pred = gt.copy()
    pred[::2] = np.roll(gt[::2], 1, axis=1)
    kinds = {"none": 0, "sub": 1, "up": 2, "average": 3, "paeth": 4}
    if filters == "mixed":
        gt_filters = [int(f) for f in rng.integers(0, 5, h)]
        pred_filters = [int(f) for f in rng.integers(0, 5, h)]
    else:
        gt_filters = pred_filters = [kinds[filters]] * h
    _assert_matches_per_pixel(gt, pred, gt_filters, pred_filters)


@pytest.mark.parametrize("seed", range(40))
def test_match_png_equals_the_per_pixel_path(seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 60)), int(rng.integers(1, 80))
    noise = [0.0, 0.0, 0.002, 0.05, 0.5][seed % 5]
    gt = _blocky(rng, h, w, 4, noise)
    pred = _blocky(rng, h, w, 5, noise)
    if seed % 4 == 0:
        pred[: h // 2] = gt[: h // 2]  # identical rows in both (repeated runs)
    filters = []
    for _ in (gt, pred):
        mode = rng.integers(0, 3)
        filters.append([int(f) for f in rng.integers(0, 5, h)] if mode == 0 else
                       [int(mode) * 2] * h if mode == 1 else [1 + 3 * (y % 2) for y in range(h)])
    _assert_matches_per_pixel(gt, pred, *filters, same_categories=True)


def _split(data, rng, max_piece):
    out, pos = [], 0
    while pos < len(data):
        n = int(rng.integers(1, max_piece + 1))
        out.append(data[pos:pos + n])
        pos += n
    return out


@pytest.mark.parametrize("seed", range(12))
def test_png_pair_matcher_any_chunking_equals_match_png(seed):
    """The evaluator feeds both PNGs' image data in chunks as it inflates them: rows split
    between chunks, and chunks of the two images of different sizes, count the same."""
    rng = np.random.default_rng(100 + seed)
    h, w = int(rng.integers(1, 40)), int(rng.integers(1, 50))
    gt, pred = _blocky(rng, h, w, 4, 0.01), _blocky(rng, h, w, 5, 0.01)
    g = inflate(_png(gt, [int(f) for f in rng.integers(0, 5, h)]))[2]
    p = inflate(_png(pred, [int(f) for f in rng.integers(0, 5, h)]))[2]
    (gt_t, _), (pred_t, _) = _table(gt), _table(pred)
    args = (gt_t.ids, gt_t.category, gt_t.iscrowd, gt_t.area, pred_t.ids, pred_t.category,
            len(CATS), np.array([c % 2 for c in range(1, 6)], np.uint8))
    whole = _core.match_png(g, p, h, w, *args)
    gs = _split(g, rng, [1, 7, 3 * w + 1, 500][seed % 4])
    ps = _split(p, rng, [3, 1, 2 * (3 * w + 1), 64][seed % 4])
    m = _core.PngPairMatcher(h, w, *args)
    for k in range(max(len(gs), len(ps))):
        m.feed(gs[k] if k < len(gs) else b"", ps[k] if k < len(ps) else b"")
    chunked = m.finish()
    assert chunked.keys() == whole.keys()
    for key in whole:
        assert np.array_equal(np.asarray(chunked[key]), np.asarray(whole[key])), key


def test_png_pair_matcher_too_much_or_too_little_data():
    gt = np.ones((4, 5), np.uint32)
    raw = inflate(_png(gt, [0, 1, 2, 4]))[2]
    (t, _) = _table(gt)
    args = (t.ids, t.category, t.iscrowd, t.area, t.ids, t.category, len(CATS))
    m = _core.PngPairMatcher(4, 5, *args)
    with pytest.raises(_core.PngDataError, match="image data has 65 bytes") as e:
        m.feed(raw + b"\0", raw)
    assert e.value.side == "gt"
    m = _core.PngPairMatcher(4, 5, *args)
    m.feed(raw, raw[:-1])
    with pytest.raises(_core.PngDataError, match="image data has 63 bytes") as e:
        m.finish()
    assert e.value.side == "pred"
    # A claimed 2^31 - 1 wide image allocates nothing until a row's bytes exist.
    m = _core.PngPairMatcher(1, 2 ** 31 - 1, *args)
    m.feed(b"\0" * 100, b"\0" * 100)
    with pytest.raises(_core.PngDataError, match="image data has 100 bytes"):
        m.finish()


@pytest.mark.parametrize("size", [1, 7, 100, 4096, 1 << 20])
def test_chunks_of_any_size_hold_exactly_the_image_data(size):
    import zlib

    from pngtools import chunk

    from panoseg import PanopticFormatError
    from panoseg.io.png import PngImageData

    rng = np.random.default_rng(size)
    ids = _blocky(rng, 23, 31, 4, 0.05)
    good = _png(ids, [int(f) for f in rng.integers(0, 5, 23)])
    whole = inflate(good)[2]
    assert b"".join(PngImageData(good, "g.png").chunks(size)) == whole
    header = good[8:33]

    def png(stream):
        return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", stream) + chunk(b"IEND", b"")

    assert b"".join(PngImageData(png(zlib.compress(whole, 0)), "s.png").chunks(size)) == whole
    assert b"".join(PngImageData(png(zlib.compress(whole) + b"junk"), "t.png").chunks(size)) \
        == whole  # bytes after the stream's end are ignored, as Pillow does
    for bad, message in ((zlib.compress(whole + b"\0"), "more than the 31x23"),
                         (zlib.compress(whole[:-1]), "truncated or corrupt"),
                         (zlib.compress(whole)[:-9], "truncated or corrupt")):
        with pytest.raises(PanopticFormatError, match=message):
            for _ in PngImageData(png(bad), "b.png").chunks(size):
                pass
    with pytest.raises(ValueError, match="chunk size"):
        next(PngImageData(good, "g.png").chunks(0))


def test_two_images_compressed_very_differently_evaluate_alike(tmp_path):
    """A stored (level 0) GT and a level 9 prediction inflate in chunks of different sizes: the
    evaluator pulls from whichever is behind, and the result is that of the per-pixel path."""
    import json

    from panoseg.evaluation import evaluate
    from panoseg.io.png import write_ids

    rng = np.random.default_rng(5)
    gt, pred = _blocky(rng, 700, 900, 4, 0.001), _blocky(rng, 700, 900, 4, 0.001)
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    write_ids(tmp_path / "gt" / "a.png", gt, compress_level=0)
    write_ids(tmp_path / "pred" / "a.png", pred, compress_level=9)
    cats = [{"id": c, "name": str(c), "isthing": c % 2, "color": [c, c, c]} for c in range(1, 6)]
    for name, ids in (("gt", gt), ("pred", pred)):
        present = [int(i) for i in np.unique(ids) if i]
        segs = [{"id": i, "category_id": 1 + k % 5, "area": int((ids == i).sum()), "iscrowd": 0}
                for k, i in enumerate(present)]
        (tmp_path / f"{name}.json").write_text(json.dumps({
            "annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": segs}],
            "images": [{"id": 1, "file_name": "a.jpg", "height": 700, "width": 900}],
            "categories": cats}))
    chunked = evaluate(tmp_path / "gt.json", tmp_path / "pred.json", workers=1).results
    from panoseg.evaluation.matching import match_image
    from panoseg.evaluation.stats import PQStats
    from panoseg.io.categories import as_categories
    from panoseg.io.panoptic_json import load_panoptic_json
    c = as_categories(cats)
    g_ann = load_panoptic_json(tmp_path / "gt.json")["annotations"][0]
    p_ann = load_panoptic_json(tmp_path / "pred.json")["annotations"][0]
    stats = PQStats(c)
    stats.add_image(match_image(
        gt, SegmentTable.from_segments_info(g_ann["segments_info"], c, is_gt=True),
        pred, SegmentTable.from_segments_info(p_ann["segments_info"], c, is_gt=False), c))
    assert chunked == stats.summarize()
