"""RLE decoding: ``panoseg.io.rle`` (form checks of COCO RLE dicts, the core's decoder of
compressed strings and uncompressed counts) and the encoder on what was decoded.

Input: a JSON document: one RLE dict or a list of them (``{"size": [h, w], "counts": str or
list}``); the image size is the first RLE's ``size`` when that is two integers (as a loader that
trusts it would pass it), else 16 x 16. Input that is not JSON is one compressed counts string:
first byte height, second width, the rest the counts bytes, straight to ``_core.rle_intervals``.

Clean outcome: intervals, or ``ValueError`` (documented; ``RleError`` is one). Invariants: the
runs are sorted, disjoint, non-empty and inside the image; encoding them and decoding the
strings gives the same runs; ``rle_to_mask`` has exactly those pixels.
"""
import json

import _common

with _common.instrument(__name__ == "__main__"):
    import numpy as np

    from panoseg import _core
    from panoseg.io import rle as rle_io


def _check_runs(offsets, intervals, n_masks, n_pixels):
    assert offsets.dtype == np.int64 and intervals.dtype == np.int64
    assert len(offsets) == n_masks + 1 and offsets[0] == 0 and 2 * offsets[-1] == len(intervals)
    assert np.all(np.diff(offsets) >= 0)
    for k in range(n_masks):
        runs = intervals[2 * offsets[k]:2 * offsets[k + 1]]
        if len(runs):
            assert runs[0] >= 0 and runs[-1] <= n_pixels, (runs[0], runs[-1], n_pixels)
            pairs = runs.reshape(-1, 2)
            assert np.all(pairs[:, 1] > pairs[:, 0]), "empty or reversed run"
            assert np.all(pairs[1:, 0] >= pairs[:-1, 1]), "runs overlap or are unsorted"


def _roundtrip(offsets, intervals, height, width):
    n_pixels = height * width
    if n_pixels > 1 << 22:  # encoding costs the image's size in the worst case
        return
    rles = rle_io.intervals_to_rles(offsets, intervals, height, width)
    o2, i2 = _core.rle_intervals([r["counts"] for r in rles], height, width)
    assert _common.same_masks((offsets, intervals), (o2, i2)), "encode/decode differs"


def _one_json(doc) -> None:
    rles = doc if isinstance(doc, list) else [doc]
    size = rles[0].get("size") if rles and isinstance(rles[0], dict) else None
    height, width = 16, 16
    if isinstance(size, list) and len(size) == 2 and all(type(v) is int for v in size) \
            and all(-2 ** 63 <= v < 2 ** 63 for v in size):
        height, width = size
    try:
        offsets, intervals = rle_io.rle_intervals(rles, height, width)
    except ValueError:
        return
    _check_runs(offsets, intervals, len(rles), height * width)
    _roundtrip(offsets, intervals, height, width)
    if rles and height * width <= 1 << 22:
        mask = rle_io.rle_to_mask(rles[0], height, width)
        assert mask.shape == (height, width)
        flat = np.flatnonzero(mask.T)
        runs = intervals[:2 * offsets[1]].reshape(-1, 2)
        expect = np.concatenate([np.arange(b, e) for b, e in runs]) if len(runs) else flat[:0]
        assert np.array_equal(flat, expect), "rle_to_mask differs from rle_intervals"


_OUT = _common.Outcomes([f"raw:{x}" for x in _common.CORE_LABELS + ["ValueError"]]
                        + ["raw:ok", "raw:empty"])


def _one_raw(data: bytes) -> None:
    height, width = data[0], data[1] if len(data) > 1 else 0
    try:
        offsets, intervals = _core.rle_intervals([data[2:]], height, width)
    except ValueError as e:
        _OUT.note("raw:" + _common.core_label(e))
        return
    _OUT.note("raw:ok" if len(intervals) else "raw:empty")
    _check_runs(offsets, intervals, 1, height * width)
    _roundtrip(offsets, intervals, height, width)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        _one_raw(data)
        return
    _one_json(doc)


if __name__ == "__main__":
    _common.main("rle", test_one_input)
