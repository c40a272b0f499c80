"""The eval kernel: ``_core.match_png`` (row-by-row unfilter of two PNGs' inflated image data +
overlap counting + PQ matching + extra metrics) and ``_core.match_image`` on the same maps.

Input layout (``encode`` writes it; short inputs read as zeros past their end)::

    u8 height-1, u8 width-1, u8 n_categories-1, u8 flags (bit 0: pass category_isthing),
    u8 n_gt, u8 n_pred,
    n_gt  x (u32 id, i32 category, u8 iscrowd, f64 area),
    n_pred x (u32 id, i32 category),
    n_categories x u8 isthing,
    u32 len(gt_raw), gt_raw, pred_raw (the rest)

``gt_raw`` / ``pred_raw`` are the inflated, filtered scanlines of an 8-bit RGB PNG (any bytes:
wrong lengths and filter types must be clean errors). Clean outcome: a result dict, None (an id
not in its table), ``CoreError`` (and its subclasses) or ``ValueError`` (argument checks).
Invariant: when both PNGs unfilter, ``match_png`` and ``match_image`` on the unfiltered maps
agree (same dict; None only where match_image reports unknown ids or rejects the tables), and
``PngPairMatcher`` fed the same data in chunks of sizes drawn from the input agrees with
``match_png`` wherever that accepts the input.
"""
import struct

import _common

with _common.instrument(__name__ == "__main__"):
    import numpy as np

    from panoseg import _core


def encode(height, width, n_categories, gt, pred, gt_raw, pred_raw, isthing=None) -> bytes:
    """The input bytes of one case (seeds): gt rows (id, category, iscrowd, area), pred rows
    (id, category), isthing a list of 0/1 per category or None."""
    out = [struct.pack("<6B", height - 1, width - 1, n_categories - 1, isthing is not None,
                       len(gt), len(pred))]
    out += [struct.pack("<IiBd", *row) for row in gt]
    out += [struct.pack("<Ii", *row) for row in pred]
    out.append(bytes(isthing or [0] * n_categories))
    out.append(struct.pack("<I", len(gt_raw)))
    return b"".join(out) + bytes(gt_raw) + bytes(pred_raw)


def decode(data: bytes):
    r = _common.Reader(data)
    height, width, n_cat, flags, n_gt, n_pred = (v + (k < 3) for k, v in enumerate(r.unpack("6B")))
    gt = [r.unpack("IiBd") for _ in range(n_gt)]
    pred = [r.unpack("Ii") for _ in range(n_pred)]
    isthing = np.frombuffer(r.take(n_cat), np.uint8).copy() if flags & 1 else None
    gt_raw = np.frombuffer(r.bytes(r.u32()), np.uint8)
    pred_raw = np.frombuffer(r.rest(), np.uint8)
    tables = (np.array([g[0] for g in gt], np.uint32), np.array([g[1] for g in gt], np.int32),
              np.array([g[2] for g in gt], np.uint8), np.array([g[3] for g in gt], np.float64),
              np.array([p[0] for p in pred], np.uint32), np.array([p[1] for p in pred], np.int32))
    return height, width, n_cat, isthing, tables, gt_raw, pred_raw


_OUT = _common.Outcomes(
    [f"png:{x}" for x in _common.CORE_LABELS + ["ValueError"]]
    + [f"map:{x}" for x in _common.CORE_LABELS + ["ValueError"]]
    + ["none", "ok", "tp", "fp", "fn", "ignored", "crowd", "thing", "unfilter-error",
       "boundary-tp"]
    + [f"filter:{t}" for t in range(6)])


def _note_result(m: dict) -> None:
    _OUT.note("ok")
    for key in ("tp", "fp", "fn"):
        if m[key].any():
            _OUT.note(key)
    if m["pred_ignored"].any():
        _OUT.note("ignored")
    if "dagger_iou" in m:
        _OUT.note("thing")


def _same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    return all(np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a)


def _check_chunked(data, m, height, width, n_cat, isthing, tables, gt_raw, pred_raw) -> None:
    """The evaluator's chunked form (_core.PngPairMatcher, fed as the PNGs are inflated) must
    agree with match_png, for chunk sizes drawn from the input (rows split between chunks,
    chunks of the two images of different sizes)."""
    if m == "error":
        return  # the error may come from either side first; match_png's order is not promised
    sizes = [1 + b % 97 for b in data[-8:]] or [1]
    try:
        matcher = _core.PngPairMatcher(height, width, *tables, n_cat, isthing)
        g = p = 0
        k = 0
        while g < len(gt_raw) or p < len(pred_raw):
            ng, np_ = sizes[k % len(sizes)], sizes[(k + 3) % len(sizes)] * 2
            matcher.feed(gt_raw[g:g + ng].tobytes(), pred_raw[p:p + np_].tobytes())
            g, p, k = g + ng, p + np_, k + 1
        chunked = matcher.finish()
    except ValueError as e:
        raise AssertionError(f"PngPairMatcher rejected what match_png accepted: {e}") from None
    if m is None:
        assert chunked is None, "match_png found unknown ids, PngPairMatcher none"
    else:
        assert chunked is not None and _same(m, chunked), "PngPairMatcher and match_png disagree"


def test_one_input(data: bytes) -> None:
    height, width, n_cat, isthing, tables, gt_raw, pred_raw = decode(data)
    stride = 1 + 3 * width
    for t in set(gt_raw[::stride][:height].tolist()) | set(pred_raw[::stride][:height].tolist()):
        _OUT.note(f"filter:{min(t, 5)}")
    if tables[2].any():
        _OUT.note("crowd")
    try:
        m = _core.match_png(gt_raw, pred_raw, height, width, *tables, n_cat, isthing)
    except ValueError as e:  # CoreError (TableError, PngDataError, ...) or an argument check
        _OUT.note("png:" + _common.core_label(e))
        m = "error"
    if m is None:
        _OUT.note("none")
    elif m != "error":
        _note_result(m)
    _check_chunked(data, m, height, width, n_cat, isthing, tables, gt_raw, pred_raw)
    try:
        gt_map = _core.png_unfilter_ids(gt_raw, height, width)
        pred_map = _core.png_unfilter_ids(pred_raw, height, width)
    except _core.PngDataError:
        _OUT.note("unfilter-error")
        assert m == "error", "match_png accepted image data png_unfilter_ids rejects"
        return
    try:
        full = _core.match_image(gt_map, pred_map, *tables, n_cat, isthing)
    except ValueError as e:
        _OUT.note("map:" + _common.core_label(e))
        # match_png returns None on an id missing from its table before it looks at the
        # categories; match_image checks them either way.
        assert m is None or m == "error", "match_png accepted tables match_image rejects"
        return
    unknown = len(full["unknown_gt"]) or len(full["unknown_pred"])
    if m is None:
        assert unknown, "match_png found unknown ids, match_image none"
    elif m == "error":
        raise AssertionError("match_image accepted what match_png rejected")
    else:
        assert not unknown and _same(m, full), "match_png and match_image disagree"
    _check_boundary(data, full, gt_map, pred_map, n_cat, isthing, tables)


def _check_boundary(data, full, gt_map, pred_map, n_cat, isthing, tables) -> None:
    """match_image with a dilation drawn from the input: the plain keys unchanged, band pixel
    counts those of boundary_band's flags, every boundary match a mask match."""
    d = 1 + (data[-1] % 7 if data else 0)
    b = _core.match_image(gt_map, pred_map, *tables, n_cat, isthing, dilation=d)
    assert _same({k: b[k] for k in full}, full), "dilation changed the plain keys"
    for ids, id_map, key in ((tables[0], gt_map, "gt_band_pixels"),
                             (tables[4], pred_map, "pred_band_pixels")):
        band = _core.boundary_band(id_map, d).astype(bool)
        expected = [int((band & (id_map == i)).sum()) for i in ids]
        assert b[key].tolist() == expected, f"{key} differs from boundary_band"
    assert (b["b_tp"] <= b["tp"]).all(), "a boundary match that is no mask match"
    matched = b["b_gt_match"] >= 0
    assert (b["gt_match"][matched] == b["b_gt_match"][matched]).all()
    if b["b_tp"].any():
        _OUT.note("boundary-tp")

if __name__ == "__main__":
    _common.main("eval", test_one_input)
