"""The evaluator's one-call path: ``_core.match_png_files`` (the core's PNG chunk parser and
header checks, zlib-ng inflating both files a piece at a time, PngPairStream, PQ matching) on
two arbitrary files, against the Python reader it falls back to.

Input layout (short inputs read as zeros past their end)::

    u8 flags: bit 0 Boundary PQ (ratio from the next byte), bit 1 pass gt_size, bit 2 gt_size
              off by one (height or width, bit 3 says which), bit 4 max_pixels one below the
              GT header's pixels, bit 5 drop the largest id from the GT table, bit 6 from the
              prediction's, bit 7 pass category_isthing
    u8 ratio: dilation_ratio = (ratio + 1) / 256 with bit 0, else 0
    u8 fix: bit 0 (bit 1) the GT's (prediction's) chunk CRCs recomputed before anything reads
            it (so that mutations reach the header fields and the zlib stream)
    u16 len(gt), the GT PNG's bytes, the prediction PNG's bytes (the rest)

The tables list every nonzero id of the maps the Python reader decodes (but the dropped ones).
Clean outcome: a dict or None. Invariant: a dict only where the Python reader
(``PngImageData`` + ``chunks()``) accepts both files as non-interlaced 8-bit RGB with the
header checks (pixel cap, GT size, prediction size == GT size) and ``PngPairMatcher`` fed the
Python-inflated data gives that dict; where it gives a dict, so must ``match_png_files`` (no
needless fallback).
"""
import struct
import zlib

import _common

with _common.instrument(__name__ == "__main__"):
    import numpy as np

    from panoseg import _core
    from panoseg.errors import PanopticFormatError
    from panoseg.io import png

# Small enough that no input makes the harness allocate much (the check is on the header).
MAX_PIXELS = 1 << 20
N_CAT = 4
ISTHING = np.array([1, 0, 1, 0], np.uint8)

_OUT = _common.Outcomes(["reject:gt", "reject:pred", "reject:data", "interlaced", "unknown",
                         "ok", "ok-boundary", "ok-tp", "gt-size", "cap"])


def encode(gt: bytes, pred: bytes, flags: int = 0, ratio: int = 4, fix: int = 3) -> bytes:
    """The input bytes of one case (seeds)."""
    return bytes([flags, ratio, fix]) + struct.pack("<H", len(gt)) + gt + pred


def fix_crcs(data: bytes) -> bytes:
    """The bytes with the CRC of every complete chunk after the signature recomputed."""
    out = bytearray(data)
    pos = 8
    while pos + 8 <= len(out):
        length = struct.unpack_from(">I", out, pos)[0]
        end = pos + 8 + length
        if end + 4 > len(out):
            break
        out[end:end + 4] = struct.pack(">I", zlib.crc32(bytes(out[pos + 4:end])))
        if out[pos + 4:pos + 8] == b"IEND":
            break
        pos = end + 4
    return bytes(out)


def decode(data: bytes):
    r = _common.Reader(data)
    flags, ratio, fix = r.u8(), r.u8(), r.u8()
    gt, pred = r.bytes(r.u16()), r.rest()
    gt = fix_crcs(gt) if fix & 1 else gt
    pred = fix_crcs(pred) if fix & 2 else pred
    return flags, ((ratio + 1) / 256 if flags & 1 else 0.0), gt, pred


def _tables(raw, header, drop: bool):
    """Table rows for every nonzero id of the map in ``raw`` (unfiltered by the core), but
    the largest with ``drop``; empty where it does not unfilter."""
    ids = np.zeros(0, np.uint32)
    counts = np.zeros(0, np.int64)
    if raw is not None:
        try:
            ids, counts = np.unique(_core.png_unfilter_ids(raw, header.height, header.width),
                                    return_counts=True)
        except ValueError:
            pass
    keep = ids != 0
    if drop and keep.any():
        keep[np.flatnonzero(keep)[-1]] = False
    ids, counts = ids[keep].astype(np.uint32), counts[keep].astype(np.float64)
    category = (ids % N_CAT).astype(np.int32)
    return ids, category, ((ids % 5) == 2).astype(np.uint8), counts


def _header(data: bytes):
    try:
        return png.PngImageData(data, "<size>", 1 << 62)
    except PanopticFormatError:
        return None


def _inflated(img):
    try:
        return b"".join(img.chunks(1 << 16))
    except PanopticFormatError:
        return None


def test_one_input(data: bytes) -> None:
    flags, ratio, gt, pred = decode(data)
    head = _header(gt)
    gt_size = None
    max_pixels = MAX_PIXELS
    if head is not None:
        if flags & 2:
            gt_size = (head.height + bool(flags & 4 and flags & 8),
                       head.width + bool(flags & 4 and not flags & 8))
        if flags & 16:
            max_pixels = max(head.height * head.width - 1, 0)
            _OUT.note("cap")
    isthing = ISTHING if flags & 128 else None

    # The Python reader, as the evaluator's fallback runs it.
    def check_gt(h, w):
        if gt_size is not None and (h, w) != gt_size:
            raise PanopticFormatError("GT size")

    ref = None
    gt_tables = pred_tables = None
    try:
        g = png.PngImageData(gt, "gt", max_pixels, check_gt)
    except PanopticFormatError:
        ref, g = "reject", None
        _OUT.note("reject:gt")
    if g is not None:
        def check_pred(h, w):
            if (h, w) != (g.height, g.width):
                raise PanopticFormatError("prediction size")

        try:
            p = png.PngImageData(pred, "pred", max_pixels, check_pred)
        except PanopticFormatError:
            ref = "reject"
            _OUT.note("reject:pred")
        else:
            gt_raw, pred_raw = _inflated(g), _inflated(p)
            if gt_raw is None or pred_raw is None:
                ref = "reject"
                _OUT.note("reject:data")
            elif g.interlaced or p.interlaced:
                ref = "interlaced"
                _OUT.note("interlaced")
            else:
                gt_tables = _tables(gt_raw, g, bool(flags & 32))
                pred_tables = _tables(pred_raw, p, bool(flags & 64))[:2]
                d = _core.boundary_dilation_pixels(g.height, g.width, ratio) if ratio else 0
                matcher = _core.PngPairMatcher(g.height, g.width, *gt_tables, *pred_tables,
                                               N_CAT, isthing, dilation=d)
                try:
                    matcher.feed(gt_raw, pred_raw)
                    ref = matcher.finish()
                except _core.PngDataError:
                    ref = "reject"
                    _OUT.note("reject:data")
                if ref is None:
                    _OUT.note("unknown")
    if gt_tables is None:  # any valid tables: the core must return None whatever they hold
        ids = np.array([1, 2], np.uint32)
        gt_tables = (ids, np.zeros(2, np.int32), np.zeros(2, np.uint8), np.ones(2))
        pred_tables = (ids, np.zeros(2, np.int32))

    got = _core.match_png_files(gt, pred, max_pixels, gt_size, *gt_tables, *pred_tables, N_CAT,
                                isthing, dilation_ratio=ratio)
    if not isinstance(ref, dict):
        assert got is None, f"match_png_files gave a dict where the Python path gives {ref!r}"
        return
    assert got is not None, "needless fallback: the Python reader accepts both files and " \
                            "every id is in its table"
    assert got.keys() == ref.keys(), (sorted(got), sorted(ref))
    for k in ref:
        assert np.array_equal(got[k], ref[k], equal_nan=np.asarray(ref[k]).dtype.kind == "f"), \
            f"match_png_files and PngPairMatcher disagree on {k!r}"
    _OUT.note("ok-boundary" if ratio else "ok")
    if gt_size is not None:
        _OUT.note("gt-size")
    if ref["tp"].any():
        _OUT.note("ok-tp")


if __name__ == "__main__":
    _common.main("png_files", test_one_input)
