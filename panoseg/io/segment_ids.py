"""panoseg's one segment-id scheme: the ids a segment of an image gets, in convert and in merge.

The scheme is the compiled core's ``SegmentIdAssigner`` (``csrc/merge/panoptic_merge.hpp``),
panopticapi's ``IdGenerator`` without its global randomness:

- the colours of all stuff categories are reserved for stuff up front;
- a stuff segment's id is its category colour (``rgb2id``); a stuff category listed a second
  time for the same image gets a fresh id drawn as for a thing (the merge instead makes one
  segment of it, so it never asks twice);
- a thing gets its category colour if still free in the image, else the colour jittered by up
  to +-30 per channel by splitmix64 seeded with :func:`image_seed` ``(seed, image_id)``.

So the same segments asked for in the same order give the same ids on every run, in every
process and whatever order the images are processed in; :func:`panoseg.merge.merge_panoptic`
asks for its things by descending score, then its stuff.
"""
from __future__ import annotations

import zlib
from typing import Mapping

import numpy as np

from .. import _core
from .categories import Categories, as_categories


def image_seed(seed: int, image_id) -> int:
    """The per-image PRNG seed: depends on the image, not on the order images are processed."""
    return (int(seed) * 0x9E3779B97F4A7C15 + zlib.crc32(repr(image_id).encode())) % (1 << 64)


def category_colour_id(entry: Mapping) -> int:
    """``rgb2id`` of a category's colour: the base of its segments' ids."""
    colour = entry.get("color")
    if colour is None or len(colour) != 3:
        raise ValueError(f"category {entry['id']} has no 'color' [r, g, b]; segment ids are "
                         "derived from category colours")
    r, g, b = (int(v) for v in colour)
    if not all(0 <= v <= 255 for v in (r, g, b)):
        raise ValueError(f"category {entry['id']}: 'color' {list(colour)} is not in 0..255")
    return r + 256 * g + 256 * 256 * b


def category_colour_ids(categories: Categories) -> np.ndarray:
    """uint32 colour id of each category, in dense-index order."""
    return np.array([category_colour_id(e) for e in categories.entries], dtype=np.uint32)


class SegmentIds:
    """Segment ids for one image, segment by segment.

    Parameters
    ----------
    categories : Categories or list of dict
        COCO panoptic categories with ``id``, ``isthing`` and ``color``.
    image_id :
        The image's id (as in the JSON); with ``seed`` it seeds the thing-id jitter.
    seed : int
        As ``merge --seed``; the default 0 is what ``merge`` uses by default.
    expected_segments : int
        A size hint only.
    """

    def __init__(self, categories, image_id, seed: int = 0, expected_segments: int = 0):
        self.categories = as_categories(categories)
        colours = category_colour_ids(self.categories)
        self._colour = dict(zip(self.categories.ids.tolist(), colours.tolist()))
        self._isthing = dict(zip(self.categories.ids.tolist(), self.categories.isthing.tolist()))
        self._ids = _core.SegmentIdAssigner(colours[~self.categories.isthing],
                                            image_seed(seed, image_id), int(expected_segments))

    def new_id(self, category_id) -> int:
        """The id of the next segment of ``category_id`` in this image."""
        try:
            colour = self._colour[category_id]
        except (KeyError, TypeError):
            raise ValueError(f"unknown category_id {category_id!r}") from None
        if self._isthing[category_id]:
            return self._ids.thing_id(colour)
        return self._ids.stuff_id(colour)
