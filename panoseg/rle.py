"""COCO RLEs from the core's interval masks (column-major [begin, end) pixel runs)."""
from __future__ import annotations

from typing import List

import numpy as np

from . import _core


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
