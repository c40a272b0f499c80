"""Segment colours: category colours (:func:`panoseg.io.categories.category_color`), a
well-separated shade per thing instance, and the dark label-box shade of a colour."""
from __future__ import annotations

import colorsys

import numpy as np

from ..io.categories import Categories, category_color
from ..io.panoptic_json import SegmentTable


def segment_palette(table: SegmentTable, categories: Categories, cx, cy) -> np.ndarray:
    """An (N, 3) float array: the colour of each segment of ``table``."""
    n = len(table)
    palette = np.zeros((n, 3), np.float64)
    base = [category_color(entry) for entry in categories.entries]
    # Instances of a category, left to right (then top to bottom, then by id): neighbours get
    # consecutive ranks, and consecutive ranks get far-apart shades.
    rank = np.zeros(n, np.int64)
    by_cat = {}
    for k in range(n):
        by_cat.setdefault(int(table.category[k]), []).append(k)
    for members in by_cat.values():
        key = sorted(members, key=lambda k: (np.nan_to_num(cx[k], nan=np.inf),
                                             np.nan_to_num(cy[k], nan=np.inf), int(table.ids[k])))
        for r, k in enumerate(key):
            rank[k] = r
    for k in range(n):
        c = int(table.category[k])
        colour = base[c]
        if categories.isthing[c]:
            colour = instance_shade(colour, int(rank[k]))
        palette[k] = colour
    return palette


def _van_der_corput(k: int) -> float:
    """0, 1/2, 1/4, 3/4, 1/8, ...: each new value lands far from the previous one."""
    x, denom = 0.0, 1.0
    while k:
        denom *= 2
        x += (k & 1) / denom
        k >>= 1
    return x


def instance_shade(rgb, rank: int):
    """The ``rank``-th shade of a category colour; rank 0 is the colour itself."""
    if rank == 0:
        return rgb
    h, l, s = colorsys.rgb_to_hls(*(v / 255.0 for v in rgb))
    lo, hi = 0.22, 0.82
    span = hi - lo
    l0 = min(max(l, lo), hi)
    l = lo + ((l0 - lo) + _van_der_corput(rank) * span) % span
    # A small hue wobble separates shades that happen to land on similar lightness.
    h = (h + 0.16 * ((rank * 0.618033988749895) % 1.0 - 0.5)) % 1.0
    s = max(s, 0.35)
    return tuple(int(round(255 * v)) for v in colorsys.hls_to_rgb(h, l, s))


def label_box_color(rgb):
    """A dark shade of the segment colour for the label box, so white text always reads."""
    r, g, b = (v / 255.0 for v in rgb)
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    f = min(1.0, 0.24 / max(luma, 1e-6))
    return tuple(int(round(255 * v * f)) for v in (r, g, b))

