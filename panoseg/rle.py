"""COCO RLEs from the core's interval masks (column-major [begin, end) pixel runs)."""
from __future__ import annotations

from typing import List

import numpy as np
from pycocotools import mask as mask_utils


def intervals_to_rles(offsets: np.ndarray, intervals: np.ndarray, height: int,
                      width: int) -> List[dict]:
    """Interval masks in COCO's column-major pixel order -> compressed COCO RLE dicts.

    Mask k is ``intervals[2 * offsets[k]:2 * offsets[k + 1]]``: sorted, disjoint [begin, end)
    runs of ones, as ``_core.paste_intervals(..., column_major=True)`` and
    ``_core.label_intervals`` on a transposed map produce. Returns ``{"size": [h, w],
    "counts": str}`` dicts (the JSON form; pycocotools encodes the run lengths).
    """
    n_pixels = int(height) * int(width)
    objs = []
    for k in range(len(offsets) - 1):
        runs = np.asarray(intervals[2 * offsets[k]:2 * offsets[k + 1]], dtype=np.int64)
        # Boundaries 0, b0, e0, b1, e1, ..., n: their differences alternate zeros and ones.
        edges = np.concatenate(([0], runs, [n_pixels]))
        counts = np.diff(edges)
        if len(counts) > 1 and counts[-1] == 0:
            counts = counts[:-1]  # a mask ending on its last pixel: as pycocotools.encode
        objs.append({"size": [int(height), int(width)], "counts": counts.tolist()})
    if not objs:
        return []
    rles = mask_utils.frPyObjects(objs, int(height), int(width))
    return [{"size": r["size"], "counts": r["counts"].decode("ascii")} for r in rles]
