"""``_core.match_png_files`` (the core's PNG reader + zlib-ng + PngPairStream in one call)
against the Python reader it must agree with.

The invariant, for any two byte strings: ``match_png_files`` returns a dict only if the Python
reader (``panoseg.io.png.PngImageData`` + ``.chunks()`` consumed whole) accepts both files as
non-interlaced 8-bit RGB with the header checks (pixel cap, GT size == ``gt_size`` when given,
prediction size == GT size), and the dict is then what ``_core.PngPairMatcher`` returns fed the
Python-inflated data. Conversely, whenever the Python reader accepts both (non-interlaced RGB8)
and every id is in its table, ``match_png_files`` returns a dict (no needless fallback).
"""
import io
import math
import random
import struct
import zlib

import numpy as np
import pytest
from pngtools import encode as encode_other

from panoseg import _core
from panoseg.errors import PanopticFormatError
from panoseg.evaluation.matching import dilation_pixels
from panoseg.io import png as pngio

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 1 << 20
N_CAT = 5
RATIOS = (0.0, 0.02)


# -- building PNGs ----------------------------------------------------------------------------


def chunk(ctype: bytes, data: bytes, crc=None) -> bytes:
    crc = zlib.crc32(ctype + data) if crc is None else crc
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", crc)


def ihdr_data(w, h, depth=8, color=2, compression=0, filter_method=0, interlace=0) -> bytes:
    return struct.pack(">IIBBBBB", w, h, depth, color, compression, filter_method, interlace)


def rgb_of(ids: np.ndarray) -> np.ndarray:
    ids = ids.astype(np.uint32)
    return np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], -1).astype(np.uint8)


def scanlines(ids: np.ndarray, filter_type: int = 0) -> bytes:
    """Filter type 0 (None) scanlines of an id map; ``filter_type`` is written as each row's
    filter byte (only 0 gives back the map)."""
    return b"".join(bytes([filter_type]) + row.tobytes() for row in rgb_of(ids))


def png(w, h, stream: bytes, *, header=None, before=(), after=(), idat_split=None,
        end=None) -> bytes:
    """An RGB8 PNG of ``stream`` (the zlib stream), with ``before`` / ``after`` chunks around
    the IDATs, the stream in IDATs of ``idat_split`` bytes, ``end`` in place of the IEND."""
    header = ihdr_data(w, h) if header is None else header
    if idat_split:
        idats = [chunk(b"IDAT", stream[i:i + idat_split])
                 for i in range(0, len(stream), idat_split)]
    else:
        idats = [chunk(b"IDAT", stream)]
    tail = chunk(b"IEND", b"") if end is None else end
    return (SIGNATURE + chunk(b"IHDR", header) + b"".join(before) + b"".join(idats)
            + b"".join(after) + tail)


def chunk_spans(data: bytes):
    """(type, offset of the length field, length) of each chunk up to IEND or the end."""
    pos, out = 8, []
    while pos + 8 <= len(data):
        length, ctype = struct.unpack_from(">I4s", data, pos)
        out.append((ctype, pos, length))
        if ctype == b"IEND":
            break
        pos += 12 + length
    return out


def fix_crcs(data: bytes) -> bytes:
    """The same bytes with every complete chunk's CRC recomputed."""
    data = bytearray(data)
    for _, pos, length in chunk_spans(bytes(data)):
        end = pos + 8 + length
        if end + 4 <= len(data):
            data[end:end + 4] = struct.pack(">I", zlib.crc32(bytes(data[pos + 4:end])))
    return bytes(data)


def pillow_png(ids: np.ndarray, **options) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb_of(ids)).save(out, format="PNG", **options)
    return out.getvalue()


# A fixed-Huffman deflate writer: streams cut exactly after their last code.
_LEN_BASE = (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
             115, 131, 163, 195, 227, 258)
_LEN_EXTRA = (0,) * 8 + (1,) * 4 + (2,) * 4 + (3,) * 4 + (4,) * 4 + (5,) * 4 + (0,)


class _Bits:
    def __init__(self):
        self.acc = self.n = 0
        self.out = bytearray()

    def put(self, value, nbits):  # LSB first (header bits, extra bits)
        self.acc |= value << self.n
        self.n += nbits
        while self.n >= 8:
            self.out.append(self.acc & 255)
            self.acc >>= 8
            self.n -= 8

    def huff(self, code, nbits):  # Huffman codes: MSB first
        self.put(int(format(code, f"0{nbits}b")[::-1], 2), nbits)

    def sym(self, s):
        if s < 144:
            self.huff(0x30 + s, 8)
        elif s < 256:
            self.huff(0x190 + s - 144, 9)
        elif s < 280:
            self.huff(s - 256, 7)
        else:
            self.huff(0xC0 + s - 280, 8)

    def data(self) -> bytes:
        return bytes(self.out) + (bytes([self.acc]) if self.n else b"")


def fixed_huffman_stream(ops, eob=True, adler_of=None) -> bytes:
    """A zlib stream of one final fixed-Huffman block: ``ops`` are ``("lit", byte)`` or
    ``("match", length, distance 1..4)``; ``eob``: end-of-block code written; ``adler_of``:
    the data whose Adler-32 ends the stream (None: no checksum)."""
    b = _Bits()
    b.put(1, 1)
    b.put(1, 2)
    for op in ops:
        if op[0] == "lit":
            b.sym(op[1])
        else:
            length, dist = op[1], op[2]
            k = 28 if length == 258 else max(i for i in range(28) if _LEN_BASE[i] <= length)
            b.sym(257 + k)
            b.put(length - _LEN_BASE[k], _LEN_EXTRA[k])
            b.huff(dist - 1, 5)
    if eob:
        b.sym(256)
    tail = b"" if adler_of is None else struct.pack(">I", zlib.adler32(adler_of))
    return b"\x78\x01" + b.data() + tail


def zero_runs(total: int, last: int):
    """Ops writing ``total`` zero bytes: a literal, then distance-1 matches, the last one of
    ``last`` bytes."""
    ops, left = [("lit", 0)], total - 1 - last
    while left > 0:
        n = min(258, left)
        if left - n in (1, 2):
            n -= 3
        ops.append(("match", n, 1))
        left -= n
    ops.append(("match", last, 1))
    return ops


# -- the invariant ----------------------------------------------------------------------------


def tables_of(ids: np.ndarray, drop=()):
    """GT and prediction tables listing every nonzero id of ``ids`` (areas: the map's pixel
    counts), but those in ``drop``."""
    u, counts = np.unique(ids, return_counts=True)
    keep = ~np.isin(u, [0, *drop])  # 0: VOID, never listed
    u, counts = u[keep].astype(np.uint32), counts[keep].astype(np.float64)
    category = (u % N_CAT).astype(np.int32)
    iscrowd = ((u % 7) == 3).astype(np.uint8)
    return (u, category, iscrowd, counts), (u.copy(), category.copy())


def reference(gt: bytes, pred: bytes, gt_tables, pred_tables, *, max_pixels=MAX_PIXELS,
              gt_size=None, ratio=0.0, isthing=None):
    """The Python reader's outcome: "reject", "interlaced", or what PngPairMatcher returns fed
    the Python-inflated data (None: an id missing from a table)."""

    def check_gt(h, w):
        if gt_size is not None and (h, w) != tuple(gt_size):
            raise PanopticFormatError("GT size")

    try:
        g = pngio.PngImageData(gt, "gt", max_pixels, check_gt)

        def check_pred(h, w):
            if (h, w) != (g.height, g.width):
                raise PanopticFormatError("prediction size")

        p = pngio.PngImageData(pred, "pred", max_pixels, check_pred)
        gt_raw = b"".join(g.chunks(1 << 16))
        pred_raw = b"".join(p.chunks(1 << 16))
    except PanopticFormatError:
        return "reject"
    if g.interlaced or p.interlaced:
        return "interlaced"
    d = _core.boundary_dilation_pixels(g.height, g.width, ratio) if ratio > 0 else 0
    matcher = _core.PngPairMatcher(g.height, g.width, *gt_tables, *pred_tables, N_CAT, isthing,
                                   dilation=d)
    try:
        matcher.feed(gt_raw, pred_raw)
        return matcher.finish()
    except _core.PngDataError:
        return "reject"


def same_dict(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k], equal_nan=np.asarray(a[k]).dtype.kind == "f") for k in a)


def check(gt: bytes, pred: bytes, gt_tables, pred_tables, *, ratios=RATIOS, **options):
    """Asserts the invariant for these inputs; returns the outcome of the last ratio:
    "dict", "none" (the core falls back, rightly) or the reference's reason."""
    max_pixels = options.get("max_pixels", MAX_PIXELS)
    gt_size = options.get("gt_size")
    isthing = options.get("isthing")
    outcome = None
    for ratio in ratios:
        ref = reference(gt, pred, gt_tables, pred_tables, ratio=ratio, **options)
        got = _core.match_png_files(gt, pred, max_pixels, gt_size, *gt_tables, *pred_tables,
                                    N_CAT, isthing, dilation_ratio=ratio)
        if isinstance(ref, dict):
            assert got is not None, f"needless fallback (ratio {ratio}): the Python reader " \
                                    "accepts both files and every id is in its table"
            assert same_dict(got, ref), f"result differs from PngPairMatcher's (ratio {ratio})"
            outcome = "dict"
        else:
            assert got is None, f"a dict where the Python path gives {ref!r} (ratio {ratio})"
            outcome = "none" if ref is None else ref
    return outcome


# -- fixtures: small id maps ------------------------------------------------------------------


def id_map(h, w, seed=0, n=6):
    rng = np.random.default_rng(seed)
    palette = np.array([0, 1, 2, 0x030201, 0xFFFFFE, 200 + 256 * 17][:n], np.uint32)
    ids = np.zeros((h, w), np.uint32)
    for _ in range(8):  # blocks: some segments large enough for the bands to matter
        y, x = rng.integers(0, h), rng.integers(0, w)
        ids[y:y + rng.integers(1, h + 1), x:x + rng.integers(1, w + 1)] = rng.choice(palette)
    return ids


GT_IDS = id_map(7, 9, seed=1)
PRED_IDS = id_map(7, 9, seed=2)
GT_T, _ = tables_of(GT_IDS)
_, PRED_T = tables_of(PRED_IDS)
GT_PNG = pngio.encode_ids(GT_IDS)
PRED_PNG = pngio.encode_ids(PRED_IDS)
GT_RAW = scanlines(GT_IDS)
PRED_RAW = scanlines(PRED_IDS)


def check_pred(pred: bytes, **options):
    """The invariant with ``pred`` as the prediction file, and as the GT file."""
    a = check(GT_PNG, pred, GT_T, PRED_T, **options)
    gt_t, _ = tables_of(PRED_IDS)
    _, pred_t = tables_of(GT_IDS)
    b = check(pred, GT_PNG, gt_t, pred_t, **options)
    assert a == b, (a, b)
    return a


def crafted(stream: bytes, w=9, h=7, **kw) -> bytes:
    return png(w, h, stream, **kw)


# -- valid files: a dict, always --------------------------------------------------------------


@pytest.mark.parametrize("level", range(10))
def test_encode_ids_levels(level):
    gt, pred = pngio.encode_ids(GT_IDS, level), pngio.encode_ids(PRED_IDS, level)
    assert check(gt, pred, GT_T, PRED_T) == "dict"


def test_write_ids_files(tmp_path):
    pngio.write_ids(tmp_path / "gt.png", GT_IDS)
    pngio.write_ids(tmp_path / "pred.png", PRED_IDS, compress_level=9)
    gt, pred = (tmp_path / "gt.png").read_bytes(), (tmp_path / "pred.png").read_bytes()
    assert check(gt, pred, GT_T, PRED_T, isthing=np.array([1, 0, 1, 0, 1], np.uint8)) == "dict"


@pytest.mark.parametrize("options", [{"compress_level": k} for k in (0, 1, 6, 9)]
                         + [{"optimize": True}])
def test_pillow_files(options):
    assert check(pillow_png(GT_IDS, **options), pillow_png(PRED_IDS, **options),
                 GT_T, PRED_T) == "dict"


PIECE = _core.PNG_PIECE_BYTES  # the core inflates this many bytes per piece and PNG


@pytest.mark.parametrize("shape,level", [
    ((PIECE // 601 * 3 + 7, 200), 1),  # 3+ pieces of whole 601-byte rows
    ((PIECE // 61 + 1, 20), 6),  # the last row alone in the second piece
    ((PIECE // 3001 * 4, 1000), 0),
    ((3, PIECE // 3 + 10000), 2),  # rows longer than a piece: split
    ((PIECE // 4 * 3, 1), 9)])
def test_many_pieces(shape, level):
    """Images of several pieces (rows split between pieces or not), random ids."""
    rng = np.random.default_rng(shape[0])
    h, w = shape
    gt = np.repeat(rng.integers(0, 6, (h, 1)), w, 1).astype(np.uint32)
    gt[h // 3:, w // 4:] = 7
    pred = gt.copy()
    pred[: h // 2, : w // 2] = rng.integers(0, 9, (h // 2, w // 2))
    (gt_t, _), (_, pred_t) = tables_of(gt), tables_of(pred)
    assert check(pngio.encode_ids(gt, level), pngio.encode_ids(pred, level), gt_t, pred_t,
                 max_pixels=h * w, gt_size=(h, w)) == "dict"


VALID_CRAFTED = {
    "stored-blocks": lambda: crafted(zlib.compress(PRED_RAW, 0)),
    "idat-1-byte": lambda: crafted(zlib.compress(PRED_RAW), idat_split=1),
    "idat-7-bytes": lambda: crafted(zlib.compress(PRED_RAW, 0), idat_split=7),
    "zero-length-idats": lambda: (
        SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7)) + chunk(b"IDAT", b"")
        + b"".join(chunk(b"IDAT", b"") + chunk(b"IDAT", p) for p in
                   (lambda s: [s[:5], s[5:6], s[6:40], s[40:]])(zlib.compress(PRED_RAW)))
        + chunk(b"IDAT", b"") + chunk(b"IEND", b"")),
    "ancillary-around": lambda: crafted(
        zlib.compress(PRED_RAW), before=[chunk(b"gAMA", struct.pack(">I", 45455)),
                                         chunk(b"tEXt", b"k\0v"), chunk(b"PLTE", bytes(6))],
        after=[chunk(b"tEXt", b"after\0idat"), chunk(b"zzZz", b"x")]),
    "ancillary-bad-crc": lambda: crafted(
        zlib.compress(PRED_RAW), before=[chunk(b"tEXt", b"k\0v", crc=1)],
        after=[chunk(b"tIME", bytes(7), crc=0)]),
    "trailing-bytes": lambda: crafted(zlib.compress(PRED_RAW)) + b"garbage after IEND",
    "iend-with-data": lambda: crafted(zlib.compress(PRED_RAW), end=chunk(b"IEND", b"xy")),
    "no-adler32": lambda: crafted(zlib.compress(PRED_RAW)[:-4]),
    "half-adler32": lambda: crafted(zlib.compress(PRED_RAW)[:-2]),
    "sync-flush-no-final-block": lambda: crafted(
        (lambda c: c.compress(PRED_RAW) + c.flush(zlib.Z_SYNC_FLUSH))(zlib.compressobj(6))),
    "bytes-after-stream-end": lambda: crafted(zlib.compress(PRED_RAW) + b"\x00junk"),
    "small-window": lambda: crafted(
        (lambda c: c.compress(PRED_RAW) + c.flush())(zlib.compressobj(9, zlib.DEFLATED, 9))),
    "fixed-huffman": lambda: crafted(fixed_huffman_stream(
        [("lit", b) for b in PRED_RAW], adler_of=PRED_RAW)),
    "fixed-huffman-no-eob": lambda: crafted(fixed_huffman_stream(
        [("lit", b) for b in PRED_RAW], eob=False)),
}


@pytest.mark.parametrize("name", sorted(VALID_CRAFTED))
def test_valid_crafted(name):
    assert check_pred(VALID_CRAFTED[name]()) == "dict"


@pytest.mark.parametrize("eob,adler", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("last", [100, 61, 62, 258])
def test_stream_cut_after_last_code_across_pieces(eob, adler, last):
    """A 20-wide all-zero image whose last row alone is the core's last piece (the rows of 61
    bytes that fit fill the first: 4297 of them in 256 KB). The stream's last code is a match of ``last`` bytes that
    starts at or before that piece boundary (it straddles it when ``last`` > 61), and in the
    (False, False) case the stream ends right after that code (no end-of-block code, no
    Adler-32). The Python reader accepts every variant: its inflater, called again without
    input, writes the match's pending bytes. So must the core (KNOWN BUG in
    PngInflater::read: with all input consumed it returns false before letting zlib-ng
    drain the decoded but unwritten match: a needless fallback)."""
    w, h = 20, PIECE // 61 + 1
    total = h * (3 * w + 1)
    raw = bytes(total)
    stream = fixed_huffman_stream(zero_runs(total, last), eob=eob,
                                  adler_of=raw if adler else None)
    data = png(w, h, stream)
    tables = tables_of(np.zeros((h, w), np.uint32))
    assert check(data, pngio.encode_ids(np.zeros((h, w), np.uint32)), tables[0], tables[1],
                 max_pixels=h * w) == "dict"
    assert check(pngio.encode_ids(np.zeros((h, w), np.uint32)), data, tables[0], tables[1],
                 max_pixels=h * w) == "dict"


@pytest.mark.parametrize("eob", [True, False])
def test_stream_cut_after_last_literal_across_pieces(eob):
    """A PIECEx1 image: rows longer than a piece are cut in PIECE-byte pieces, so its
    3 * PIECE + 1 bytes end in a 1-byte piece. The stream's last code, a literal, is that byte;
    zlib-ng decodes it at the end of the previous piece (with no room left to write it). With
    the stream cut right after it (``eob`` False) that literal is pending with all input
    consumed (the same KNOWN BUG as above)."""
    w, h = PIECE, 1
    total = 3 * w + 1
    stream = fixed_huffman_stream(zero_runs(total - 1, 200) + [("lit", 0)], eob=eob)
    zeros = np.zeros((h, w), np.uint32)
    tables = tables_of(zeros)
    assert check(png(w, h, stream), pngio.encode_ids(zeros), *tables, max_pixels=h * w,
                 ratios=(0.0,)) == "dict"


# -- the stream: what Python rejects is None --------------------------------------------------


def _preset_dict_stream():
    body = zlib.compress(PRED_RAW)[2:]
    cmf, flg = 0x78, 0x20  # FDICT set
    flg += (31 - (cmf * 256 + flg) % 31) % 31
    return bytes([cmf, flg]) + struct.pack(">I", zlib.adler32(b"dict")) + body


BAD_STREAMS = {
    "wrong-adler32": lambda: (lambda s: s[:-1] + bytes([s[-1] ^ 1]))(zlib.compress(PRED_RAW)),
    "extra-data": lambda: zlib.compress(PRED_RAW + b"\x00"),
    "extra-row": lambda: zlib.compress(PRED_RAW + PRED_RAW[:28]),
    "too-little": lambda: zlib.compress(PRED_RAW[:-1]),
    "truncated-stream": lambda: zlib.compress(PRED_RAW)[:-9],
    "empty-stream": lambda: b"",
    "header-only": lambda: b"\x78\x9c",
    "preset-dictionary": _preset_dict_stream,
    "bad-header-check": lambda: b"\x78\x9d" + zlib.compress(PRED_RAW)[2:],
    "window-too-large": lambda: b"\x88" + bytes([(31 - (0x88 * 256) % 31) % 31])
    + zlib.compress(PRED_RAW)[2:],
    "not-deflate": lambda: b"\x79" + bytes([(31 - (0x79 * 256) % 31) % 31])
    + zlib.compress(PRED_RAW)[2:],
    "raw-deflate": lambda: (lambda c: c.compress(PRED_RAW) + c.flush())(
        zlib.compressobj(6, zlib.DEFLATED, -15)),
    "gzip": lambda: (lambda c: c.compress(PRED_RAW) + c.flush())(
        zlib.compressobj(6, zlib.DEFLATED, 31)),
    "bad-block-type": lambda: b"\x78\x01\x07" + bytes(40),
    "stored-length-mismatch": lambda: b"\x78\x01\x01\x05\x00\x00\x00" + bytes(5),
    "distance-too-far": lambda: fixed_huffman_stream([("match", 3, 4)] + [
        ("lit", b) for b in PRED_RAW[3:]], adler_of=PRED_RAW),
    "ends-early-fixed": lambda: fixed_huffman_stream([("lit", b) for b in PRED_RAW[:-1]]),
    "bad-filter-byte": lambda: zlib.compress(scanlines(PRED_IDS, 5)),
    "filter-255": lambda: zlib.compress(scanlines(PRED_IDS, 255)),
}


@pytest.mark.parametrize("name", sorted(BAD_STREAMS))
def test_bad_stream(name):
    assert check_pred(crafted(BAD_STREAMS[name]())) == "reject"


def test_bad_filter_byte_in_last_row():
    raw = bytearray(PRED_RAW)
    raw[6 * 28] = 9
    assert check_pred(crafted(zlib.compress(bytes(raw)))) == "reject"


# -- chunks and header: what Python rejects is None -------------------------------------------


def test_truncated_at_every_offset():
    outcomes = set()
    for data in (PRED_PNG, crafted(zlib.compress(PRED_RAW), idat_split=11)):
        for n in range(len(data)):
            outcomes.add(check(GT_PNG, data[:n], GT_T, PRED_T, ratios=(0.0,)))
            outcomes.add(check(data[:n], PRED_PNG, tables_of(PRED_IDS)[0], PRED_T,
                               ratios=(0.0,)))
    assert outcomes == {"reject"}


@pytest.mark.parametrize("flip", [0x01, 0x80, 0xFF])
def test_every_byte_flipped(flip):
    """Each byte of a file (every chunk: length, type, data, CRC) changed in turn."""
    outcomes = {}
    data = crafted(zlib.compress(PRED_RAW, 0), before=[chunk(b"tEXt", b"a\0b")],
                   after=[chunk(b"tEXt", b"c\0d")])
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= flip
        out = check(GT_PNG, bytes(bad), GT_T, PRED_T, ratios=(0.0,))
        outcomes[out] = outcomes.get(out, 0) + 1
    assert "reject" in outcomes


@pytest.mark.parametrize("flip", [0x01, 0x10, 0xFF])
def test_every_byte_flipped_crc_fixed(flip):
    """Each byte changed with the CRCs recomputed: the header fields, chunk types and the
    stream's bytes themselves are what is checked then."""
    outcomes = {}
    for data in (PRED_PNG, crafted(zlib.compress(PRED_RAW, 0))):
        for i in range(8, len(data)):
            bad = bytearray(data)
            bad[i] ^= flip
            bad = fix_crcs(bytes(bad))
            for ratio in RATIOS:
                out = check(GT_PNG, bad, GT_T, PRED_T, ratios=(ratio,))
                outcomes[out] = outcomes.get(out, 0) + 1
    assert "reject" in outcomes and "dict" in outcomes


@pytest.mark.parametrize("ctype", [b"IHDR", b"IDAT", b"IEND", b"PLTE"])
def test_bad_crc_of_critical_chunk(ctype):
    stream = zlib.compress(PRED_RAW)
    plte = [chunk(b"PLTE", bytes(6))]
    good = crafted(stream, before=plte)
    bad = bytearray(good)
    span = next(s for s in chunk_spans(good) if s[0] == ctype)
    crc_at = span[1] + 8 + span[2]
    bad[crc_at + 3] ^= 1
    assert check_pred(good) == "dict"
    assert check_pred(bytes(bad)) == "reject"


HEADERS = {
    "depth-1": dict(depth=1), "depth-2": dict(depth=2), "depth-4": dict(depth=4),
    "depth-16": dict(depth=16), "depth-0": dict(depth=0),
    "grey": dict(color=0), "palette": dict(color=3), "grey-alpha": dict(color=4),
    "rgba": dict(color=6), "color-7": dict(color=7),
    "compression-1": dict(compression=1), "filter-method-1": dict(filter_method=1),
    "interlace-2": dict(interlace=2), "interlace-255": dict(interlace=255),
}


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_bad_header_field(name):
    data = crafted(zlib.compress(PRED_RAW), header=ihdr_data(9, 7, **HEADERS[name]))
    assert check_pred(data) == "reject"


@pytest.mark.parametrize("w,h", [(0, 7), (9, 0), (0, 0), (2 ** 31, 7), (9, 2 ** 31),
                                 (2 ** 32 - 1, 1), (1, 2 ** 32 - 1)])
def test_bad_header_size(w, h):
    data = crafted(zlib.compress(PRED_RAW), header=ihdr_data(w, h))
    assert check(GT_PNG, data, GT_T, PRED_T, max_pixels=1 << 62) == "reject"
    assert check(data, PRED_PNG, GT_T, PRED_T, max_pixels=1 << 62) == "reject"


@pytest.mark.parametrize("length", [0, 12, 14, 17])
def test_ihdr_length(length):
    header = (ihdr_data(9, 7) + bytes(4))[:length]
    data = crafted(zlib.compress(PRED_RAW), header=header)
    assert check_pred(data) == "reject"


@pytest.mark.parametrize("kind", ["grey", "grey-alpha", "rgba", "rgb16", "palette", "grey16"])
def test_other_colour_types(kind):
    rng = np.random.default_rng(3)
    h, w = 7, 9
    if kind == "grey":
        data = encode_other(rng.integers(0, 256, (h, w), dtype=np.uint8))
    elif kind == "grey-alpha":
        data = encode_other(rng.integers(0, 256, (h, w, 2), dtype=np.uint8))
    elif kind == "rgba":
        data = encode_other(rng.integers(0, 256, (h, w, 4), dtype=np.uint8))
    elif kind == "rgb16":  # 16-bit RGB: 6 bytes per pixel
        data = encode_other(rng.integers(0, 256, (h, w, 6), dtype=np.uint8), color_type=2,
                            bit_depth=16)
    elif kind == "grey16":
        data = encode_other(rng.integers(0, 256, (h, w, 2), dtype=np.uint8), color_type=0,
                            bit_depth=16)
    else:
        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(rgb_of(PRED_IDS)).convert("P").save(out, format="PNG")
        data = out.getvalue()
    assert check_pred(data) == "reject"


def test_interlaced_rgb_is_none():
    """The Python reader decodes an interlaced PNG (through Pillow); the core hands it back."""
    data = encode_other(rgb_of(PRED_IDS), interlace=True)
    assert pngio.decode_ids(data).tolist() == PRED_IDS.tolist()
    assert check_pred(data) == "interlaced"
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb_of(PRED_IDS)).save(out, format="PNG", interlace=1)
    # Pillow may or may not write Adam7; either way the invariant holds.
    check_pred(out.getvalue())


STRUCTURES = {
    "idat-not-consecutive": lambda s: SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7))
    + chunk(b"IDAT", s[:10]) + chunk(b"tEXt", b"a\0b") + chunk(b"IDAT", s[10:])
    + chunk(b"IEND", b""),
    "idat-after-plte-after-idat": lambda s: SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7))
    + chunk(b"IDAT", s[:10]) + chunk(b"PLTE", bytes(6)) + chunk(b"IDAT", s[10:])
    + chunk(b"IEND", b""),
    "second-ihdr-before-idat": lambda s: SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7))
    + chunk(b"IHDR", ihdr_data(9, 7)) + chunk(b"IDAT", s) + chunk(b"IEND", b""),
    "second-ihdr-after-idat": lambda s: SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7))
    + chunk(b"IDAT", s) + chunk(b"IHDR", ihdr_data(9, 7)) + chunk(b"IEND", b""),
    "missing-iend": lambda s: SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7)) + chunk(b"IDAT", s),
    "missing-iend-trailing": lambda s: SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7))
    + chunk(b"IDAT", s) + b"\0\0\0",
    "iend-cut": lambda s: SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7)) + chunk(b"IDAT", s)
    + chunk(b"IEND", b"")[:-1],
    "no-idat": lambda s: SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7)) + chunk(b"IEND", b""),
    "only-empty-idat": lambda s: SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7))
    + chunk(b"IDAT", b"") + chunk(b"IEND", b""),
    "idat-before-ihdr": lambda s: SIGNATURE + chunk(b"IDAT", s)
    + chunk(b"IHDR", ihdr_data(9, 7)) + chunk(b"IEND", b""),
    "text-before-ihdr": lambda s: SIGNATURE + chunk(b"tEXt", b"a\0b")
    + chunk(b"IHDR", ihdr_data(9, 7)) + chunk(b"IDAT", s) + chunk(b"IEND", b""),
    "bad-signature": lambda s: b"\x89PNG\r\n\x1a\x0b" + chunk(b"IHDR", ihdr_data(9, 7))
    + chunk(b"IDAT", s) + chunk(b"IEND", b""),
    "chunk-length-huge": lambda s: SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7))
    + b"\xff\xff\xff\xf0IDAT" + s + chunk(b"IEND", b""),
    "idat-length-too-long": lambda s: SIGNATURE + chunk(b"IHDR", ihdr_data(9, 7))
    + struct.pack(">I", len(s) + 1) + b"IDAT" + s + struct.pack(">I", zlib.crc32(b"IDAT" + s))
    + chunk(b"IEND", b""),
    "empty": lambda s: b"",
    "signature-only": lambda s: SIGNATURE,
}


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_bad_structure(name):
    assert check_pred(STRUCTURES[name](zlib.compress(PRED_RAW))) == "reject"


# -- tables and sizes --------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["gt", "pred", "both"])
def test_id_missing_from_table(side):
    gt_missing, pred_missing = int(GT_IDS.max()), int(PRED_IDS.max())
    assert gt_missing and pred_missing
    gt_t, _ = tables_of(GT_IDS, drop=[gt_missing] if side != "pred" else [])
    _, pred_t = tables_of(PRED_IDS, drop=[pred_missing] if side != "gt" else [])
    assert check(GT_PNG, PRED_PNG, gt_t, pred_t) == "none"


def test_max_pixels():
    assert check(GT_PNG, PRED_PNG, GT_T, PRED_T, max_pixels=63) == "dict"
    assert check(GT_PNG, PRED_PNG, GT_T, PRED_T, max_pixels=62) == "reject"
    assert check(GT_PNG, PRED_PNG, GT_T, PRED_T, max_pixels=0) == "reject"
    small = pngio.encode_ids(GT_IDS[:6])  # 54 pixels: only the prediction is too large
    gt_t, _ = tables_of(GT_IDS[:6])
    assert check(small, PRED_PNG, gt_t, PRED_T, max_pixels=60) == "reject"


@pytest.mark.parametrize("gt_size,expect", [((7, 9), "dict"), ((9, 7), "reject"),
                                            ((7, 8), "reject"), ((6, 9), "reject"),
                                            ((1, 63), "reject")])
def test_gt_size(gt_size, expect):
    assert check(GT_PNG, PRED_PNG, GT_T, PRED_T, gt_size=gt_size) == expect


@pytest.mark.parametrize("shape", [(9, 7), (7, 8), (6, 9), (7, 10), (1, 63), (63, 1)])
def test_pred_size_differs(shape):
    pred = np.resize(PRED_IDS, shape)
    _, pred_t = tables_of(pred)
    assert check(GT_PNG, pngio.encode_ids(pred), GT_T, pred_t) == "reject"
    assert check(GT_PNG, pngio.encode_ids(pred), GT_T, pred_t, gt_size=(7, 9)) == "reject"


def test_tiny_images_and_wide_bands():
    """1x1 up to bands wider than the image (ratio 1)."""
    for h, w in ((1, 1), (1, 5), (5, 1), (2, 3), (3, 3)):
        gt, pred = id_map(h, w, seed=h), id_map(h, w, seed=w + 7)
        (gt_t, _), (_, pred_t) = tables_of(gt), tables_of(pred)
        assert check(pngio.encode_ids(gt), pngio.encode_ids(pred), gt_t, pred_t,
                     ratios=(0.0, 0.02, 0.5, 1.0)) == "dict"


# -- the seeded random differential loop ------------------------------------------------------


def _mutate(rng: random.Random, data: bytes, raw: bytes) -> bytes:
    kind = rng.randrange(12)
    b = bytearray(data)
    if kind == 0:  # flip bytes anywhere
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == 1:  # flip bytes, CRCs fixed
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(8, len(b))] ^= rng.randrange(1, 256)
        return fix_crcs(bytes(b))
    if kind == 2:  # truncate
        return data[:rng.randrange(len(data))]
    if kind == 3:  # insert or delete bytes in the IDAT data, CRCs fixed
        span = next(s for s in chunk_spans(data) if s[0] == b"IDAT")
        at = span[1] + 8 + rng.randrange(span[2] + 1)
        if rng.random() < 0.5:
            b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        else:
            del b[at:at + rng.randint(1, 4)]
        # the IDAT's length field follows the change
        new_len = span[2] + len(b) - len(data)
        b[span[1]:span[1] + 4] = struct.pack(">I", max(new_len, 0))
        return fix_crcs(bytes(b))
    if kind == 4:  # raw data changed (filter bytes, length) and recompressed
        r = bytearray(raw)
        for _ in range(rng.randint(1, 2)):
            r[rng.randrange(len(r))] = rng.choice([0, 1, 2, 3, 4, 5, 6, 255, rng.randrange(256)])
        if rng.random() < 0.3:
            r = r[:-1] if rng.random() < 0.5 else r + b"\0"
        w, h = struct.unpack_from(">II", data, 16)
        return png(w, h, zlib.compress(bytes(r), rng.randrange(10)),
                   idat_split=rng.choice([None, 3, 17]))
    if kind == 5:  # stream cut at any point, CRCs right
        w, h = struct.unpack_from(">II", data, 16)
        s = zlib.compress(raw, rng.randrange(10))
        return png(w, h, s[:rng.randrange(len(s) + 1)])
    if kind == 6:  # IHDR field changed, CRC fixed
        b[16 + rng.randrange(13)] = rng.choice([0, 1, 2, 3, 4, 6, 7, 8, 16, 255])
        return fix_crcs(bytes(b))
    if kind == 7:  # IDAT split at random places, with empty IDATs
        w, h = struct.unpack_from(">II", data, 16)
        s = zlib.compress(raw, rng.randrange(10))
        cuts = sorted({0, len(s), *(rng.randrange(len(s) + 1) for _ in range(rng.randint(1, 5)))})
        parts = [s[a:z] for a, z in zip(cuts, cuts[1:])] + [b""] * rng.randint(0, 2)
        rng.shuffle(parts) if rng.random() < 0.1 else None
        return (SIGNATURE + chunk(b"IHDR", ihdr_data(w, h))
                + b"".join(chunk(b"IDAT", p) for p in parts) + chunk(b"IEND", b""))
    if kind == 8:  # a chunk duplicated or dropped
        spans = chunk_spans(data)
        ctype, pos, length = rng.choice(spans)
        piece = data[pos:pos + 12 + length]
        if rng.random() < 0.5:
            return data[:pos] + piece + data[pos:]
        return data[:pos] + data[pos + 12 + length:]
    if kind == 9:  # an ancillary chunk inserted somewhere
        spans = chunk_spans(data)
        pos = rng.choice([s[1] for s in spans] + [len(data)])
        return data[:pos] + chunk(rng.choice([b"tEXt", b"PLTE", b"IDAT", b"IEND"]),
                                  bytes(rng.randrange(4))) + data[pos:]
    if kind == 10:  # the Adler-32 damaged or removed
        w, h = struct.unpack_from(">II", data, 16)
        s = zlib.compress(raw, rng.randrange(10))
        k = rng.randrange(5)
        s = s[:-k] if k else s[:-1] + bytes([s[-1] ^ 0x40])
        return png(w, h, s)
    # trailing bytes after the stream or the file
    w, h = struct.unpack_from(">II", data, 16)
    s = zlib.compress(raw, rng.randrange(10)) + bytes(rng.randrange(256) for _ in range(3))
    return png(w, h, s) + (b"x" if rng.random() < 0.5 else b"")


def test_random_mutations():
    rng = random.Random(20240611)
    bases = []
    for k, (h, w) in enumerate(((7, 9), (1, 1), (3, 17), (12, 4))):
        ids = id_map(h, w, seed=10 + k)
        bases.append((ids, pngio.encode_ids(ids, k * 3), scanlines(ids)))
    outcomes = {}
    for i in range(400):
        ids, data, raw = rng.choice(bases)
        other_ids = id_map(*ids.shape, seed=100 + i)
        other = pngio.encode_ids(other_ids, rng.randrange(10))
        bad = _mutate(rng, data, raw)
        drop = [int(ids.flat[0])] if rng.random() < 0.1 else []
        ratio = rng.choice([0.0, 0.02, 0.3])
        gt_size = ids.shape if rng.random() < 0.3 else None
        if rng.random() < 0.5:
            (gt_t, _), (_, pred_t) = tables_of(ids, drop), tables_of(other_ids)
            out = check(bad, other, gt_t, pred_t, ratios=(ratio,), gt_size=gt_size)
        else:
            (gt_t, _), (_, pred_t) = tables_of(other_ids), tables_of(ids, drop)
            out = check(other, bad, gt_t, pred_t, ratios=(ratio,), gt_size=gt_size)
        outcomes[out] = outcomes.get(out, 0) + 1
    assert outcomes.get("dict", 0) > 40 and outcomes.get("reject", 0) > 40, outcomes


# -- Boundary PQ's band width -----------------------------------------------------------------


def _python_dilation(h, w, r):
    return max(1, int(round(r * math.sqrt(h * h + w * w))))


def test_dilation_pixels_random():
    rng = random.Random(7)
    for _ in range(20000):
        h = rng.choice([rng.randint(1, 50), rng.randint(1, 5000), rng.randint(1, 2 ** 20)])
        w = rng.choice([rng.randint(1, 50), rng.randint(1, 5000), rng.randint(1, 2 ** 20)])
        if h * w > 400_000_000:
            w = max(1, 400_000_000 // h)
        r = rng.choice([rng.random(), rng.uniform(0, 0.05), 0.02, 0.01, 1.0,
                        rng.randint(1, 1000) / 1000])
        if r <= 0:
            continue
        assert dilation_pixels(h, w, r) == _python_dilation(h, w, r), (h, w, r)


def test_dilation_pixels_halves():
    """Exact .5 products (Pythagorean sizes, ratios of few bits): halves round to even."""
    triples = [(3, 4), (6, 8), (5, 12), (8, 15), (7, 24), (20, 21), (9, 40), (12, 35), (1, 0)]
    seen_half = 0
    for a, b in triples:
        for scale in (1, 2, 3, 5, 7, 11, 13, 100, 1001):
            h, w = a * scale, b * scale
            if h == 0 or w == 0:
                h, w = scale, 1  # not a triple: irrational diagonal
            diag = math.sqrt(h * h + w * w)
            for num in range(1, 64):
                for den in (2, 4, 8, 16, 32, 64, 1024, 4096):
                    r = num / den
                    if not 0 < r <= 1:
                        continue
                    x = r * diag
                    seen_half += x == math.floor(x) + 0.5
                    assert dilation_pixels(h, w, r) == _python_dilation(h, w, r), (h, w, r)
    assert seen_half > 100
    assert dilation_pixels(3, 4, 0.5) == 2  # 2.5 -> 2
    assert dilation_pixels(3, 4, 0.7) == _python_dilation(3, 4, 0.7)
    assert dilation_pixels(3, 4, 0.3) == 2  # 1.5 -> 2
    assert dilation_pixels(3, 4, 0.1) == 1  # 0.5 -> 0 -> at least 1
    assert dilation_pixels(6, 8, 0.25) == 2  # 2.5 -> 2
    assert dilation_pixels(6, 8, 0.35) == _python_dilation(6, 8, 0.35)


def test_dilation_pixels_match_files_agree():
    """match_png_files' band width is dilation_pixels' (its band keys count that band)."""
    for ratio in (0.01, 0.02, 0.1, 0.25, 0.5):
        ref = reference(GT_PNG, PRED_PNG, GT_T, PRED_T, ratio=ratio)
        got = _core.match_png_files(GT_PNG, PRED_PNG, MAX_PIXELS, None, *GT_T, *PRED_T, N_CAT,
                                    dilation_ratio=ratio)
        assert same_dict(got, ref)


# -- files read by the core (paths), and arguments outside the kernels' range (review) --------


def test_paths_equal_bytes(tmp_path):
    gt, pred = tmp_path / "gt.png", tmp_path / "pred.png"
    gt.write_bytes(GT_PNG)
    pred.write_bytes(PRED_PNG)
    for ratio in RATIOS:
        by_path = _core.match_png_files(str(gt), str(pred), MAX_PIXELS, None, *GT_T, *PRED_T,
                                        N_CAT, dilation_ratio=ratio)
        by_bytes = _core.match_png_files(GT_PNG, PRED_PNG, MAX_PIXELS, None, *GT_T, *PRED_T,
                                         N_CAT, dilation_ratio=ratio)
        assert by_path is not None and same_dict(by_path, by_bytes)


def test_paths_the_core_does_not_read(tmp_path):
    """Missing files, folders, empty files, NUL bytes, a FIFO (never opened blocking: no hang)
    and device files come back as None, for the caller's reader to explain."""
    import os
    import threading

    good = tmp_path / "good.png"
    good.write_bytes(GT_PNG)
    (tmp_path / "empty.png").write_bytes(b"")
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    for bad in (tmp_path / "missing.png", tmp_path, tmp_path / "empty.png", "a\0b.png", fifo,
                "/dev/zero"):
        for args in ((str(bad), str(good)), (str(good), str(bad))):
            out = []
            t = threading.Thread(target=lambda: out.append(_core.match_png_files(
                *args, MAX_PIXELS, None, *GT_T, *PRED_T, N_CAT)), daemon=True)
            t.start()
            t.join(10)
            assert not t.is_alive(), f"blocked on {bad}"
            assert out == [None], bad
    with pytest.raises(TypeError):
        _core.match_png_files(str(good), GT_PNG, MAX_PIXELS, None, *GT_T, *PRED_T, N_CAT)


def test_limits_beyond_the_kernels_fall_back_or_clamp():
    # A pixel cap above int64 is the kernels' own (no PNG has more pixels).
    got = _core.match_png_files(GT_PNG, PRED_PNG, 10 ** 19, None, *GT_T, *PRED_T, N_CAT)
    assert same_dict(got, reference(GT_PNG, PRED_PNG, GT_T, PRED_T))
    # An 'images' size no PNG can have: the caller's reader names the mismatch.
    for size in ((3_000_000_000, 1), (1, 2 ** 31), (0, 5), (-1, 5)):
        assert _core.match_png_files(GT_PNG, PRED_PNG, 10 ** 19, size, *GT_T, *PRED_T,
                                     N_CAT) is None


def _write_pair(tmp_path, images_size=None):
    import json

    from panoseg.io.png import write_ids

    for side in ("gt", "pred"):
        (tmp_path / side).mkdir()
        write_ids(tmp_path / side / "a.png", GT_IDS)
    cats = [{"id": k + 1, "name": f"c{k}", "isthing": k % 2} for k in range(N_CAT)]
    u, counts = np.unique(GT_IDS[GT_IDS > 0], return_counts=True)
    segs = [{"id": int(i), "category_id": int(i % N_CAT) + 1, "iscrowd": 0, "area": int(c)}
            for i, c in zip(u, counts)]
    h, w = images_size or GT_IDS.shape
    for side in ("gt", "pred"):
        doc = {"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": segs}],
               "categories": cats, "images": [{"id": 1, "file_name": "a.jpg", "height": h,
                                               "width": w}]}
        (tmp_path / f"{side}.json").write_text(json.dumps(doc))
    return str(tmp_path / "gt.json"), str(tmp_path / "pred.json")


def test_evaluate_with_a_pixel_cap_beyond_int64(tmp_path):
    from panoseg.evaluation.job import evaluate

    gt, pred = _write_pair(tmp_path)
    assert evaluate(gt, pred, max_pixels=10 ** 19, workers=1).results["All"]["pq"] == 1.0


def test_images_size_beyond_png_limits_names_the_file(tmp_path):
    from panoseg.evaluation.job import evaluate

    gt, pred = _write_pair(tmp_path, images_size=(3_000_000_000, 1))
    with pytest.raises(PanopticFormatError, match="'images' in .* says 1x3000000000"):
        evaluate(gt, pred, max_pixels=10 ** 10, workers=1)
