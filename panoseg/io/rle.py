"""COCO RLE, encoded, decoded and validated by the core (``csrc/io/rle.cpp``), in one module.

The core's form of a mask set is CSR interval masks: ``offsets`` (n + 1) and ``intervals``, the
sorted, disjoint [begin, end) runs of ones of each mask in COCO's column-major pixel order.
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np

from .. import _core


def intervals_to_rles(offsets: np.ndarray, intervals: np.ndarray, height: int,
                      width: int) -> List[dict]:
    """Interval masks in COCO's column-major pixel order -> compressed COCO RLE dicts.

    Mask k is ``intervals[2 * offsets[k]:2 * offsets[k + 1]]``: sorted, disjoint [begin, end)
    runs of ones, as ``_core.paste_intervals(..., column_major=True)`` and
    ``_core.label_intervals`` on a transposed map produce. Returns ``{"size": [h, w],
    "counts": str}`` dicts (the JSON form), the strings ``pycocotools.mask.encode`` makes,
    encoded by the core.
    """
    strings = _core.runs_to_rle_strings(np.ascontiguousarray(offsets, dtype=np.int64),
                                        np.ascontiguousarray(intervals, dtype=np.int64),
                                        int(height) * int(width))
    size = [int(height), int(width)]
    return [{"size": list(size), "counts": s} for s in strings]


def _rle_parts(rle, height: int, width: int, what: str, k: int):
    if not isinstance(rle, dict) or "counts" not in rle or "size" not in rle:
        raise ValueError(f"{what} {k}: segmentation must be an RLE dict with 'size' and 'counts'")
    size = rle["size"]
    if list(size) != [height, width]:
        raise ValueError(f"{what} {k}: RLE size {list(size)} differs from the image's "
                         f"[height, width] = [{height}, {width}]")
    counts = rle["counts"]
    if isinstance(counts, list):
        return np.asarray(counts, dtype=np.int64).astype(np.uint32)
    return counts


def rle_intervals(rles: Sequence, height: int, width: int, what: str = "RLE"):
    """COCO RLE dicts (compressed string or uncompressed list ``counts``) of one image ->
    ``(offsets, intervals)``; every RLE's size must be ``[height, width]``. A bad RLE raises
    ``ValueError`` naming ``what`` and its index."""
    parts = [_rle_parts(r, height, width, what, k) for k, r in enumerate(rles)]
    try:
        return _core.rle_intervals(parts, height, width)
    except _core.RleError as e:
        raise ValueError(f"{what} {e.index}: undecodable RLE ({e})") from None


def rle_to_mask(rle, height: int, width: int) -> np.ndarray:
    """A COCO RLE dict -> (H, W) uint8 mask, decoded by the core (pycocotools-compatible)."""
    offsets, intervals = rle_intervals([rle], height, width, "RLE")
    flat = np.zeros(height * width, np.uint8)
    for b, e in intervals.reshape(-1, 2):
        flat[b:e] = 1
    return np.ascontiguousarray(flat.reshape(width, height).T)
