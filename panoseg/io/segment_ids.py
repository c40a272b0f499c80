"""panoseg's one segment-id scheme: the ids a segment of an image gets, in convert and in merge.

The scheme is the compiled core's ``SegmentIdAssigner`` (``csrc/merge/panoptic_merge.hpp``),
panopticapi's ``IdGenerator`` without its global randomness:

- the colours of all stuff categories are reserved for stuff up front;
- a stuff segment's id is its category colour (``rgb2id``); a stuff category listed a second
  time for the same image gets a fresh id drawn as for a thing (the merge instead makes one
  segment of it, so it never asks twice);
- a thing gets its category colour if still free in the image, else the colour jittered by up
  to +-30 per channel by a splitmix64 stream of its own colour, seeded with
  :func:`image_seed` ``(seed, image_id)``.

So a segment's id depends on the image, the seed and its rank among the segments of its own
category: the same on every run, in every process, whatever order the images are processed in,
and however the categories interleave (:func:`panoseg.merge.merge_panoptic` asks for its things
by descending score, a 2-channel file lists them by category and instance number). Only a
jittered id that another category's segment already took (colours within +-30 of each other)
makes one category's ids depend on another's.
"""
from __future__ import annotations

import zlib
from typing import Mapping

import numpy as np

from .. import _core
from .categories import Categories, as_categories, category_color


def image_seed(seed: int, image_id) -> int:
    """The per-image PRNG seed: depends on the image, not on the order images are processed.
    An integral id counts as its value (``7``, ``np.int64(7)`` and ``np.uint32(7)`` seed alike,
    whatever numpy's repr), any other as its ``repr`` (``'7'`` is another image)."""
    if isinstance(image_id, (int, np.integer)) and not isinstance(image_id, bool):
        image_id = int(image_id)
    return (int(seed) * 0x9E3779B97F4A7C15 + zlib.crc32(repr(image_id).encode())) % (1 << 64)


def category_colour_id(entry: Mapping, source=None) -> int:
    """``rgb2id`` of a category's colour (:func:`~panoseg.io.categories.category_color`: its
    ``color``, or the one derived from its id): the base of its segments' ids."""
    r, g, b = category_color(entry, source)
    return r + 256 * g + 256 * 256 * b


def category_colour_ids(categories: Categories, source=None) -> np.ndarray:
    """uint32 colour id of each category, in dense-index order (cached on ``categories``)."""
    cached = getattr(categories, "_colour_ids", None)
    if cached is None:
        cached = np.array([category_colour_id(e, source) for e in categories.entries],
                          dtype=np.uint32)
        categories._colour_ids = cached
    return cached


class SegmentIds:
    """Segment ids for one image, segment by segment.

    Parameters
    ----------
    categories : Categories or list of dict
        COCO panoptic categories with ``id``, ``isthing`` and, optionally, ``color``.
    image_id :
        The image's id (as in the JSON); with ``seed`` it seeds the thing-id jitter.
    seed : int
        As ``merge --seed``; the default 0 is what ``merge`` uses by default.
    expected_segments : int
        A size hint only.
    source : str, optional
        The file the categories came from, named when a ``color`` is invalid.
    """

    def __init__(self, categories, image_id, seed: int = 0, expected_segments: int = 0,
                 source=None):
        self.categories = as_categories(categories, source=source)
        colours = category_colour_ids(self.categories, source)
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
