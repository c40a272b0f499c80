"""Panoptic categories: the id <-> dense index mapping the compiled core works with, and the
one colour rule for categories."""
from __future__ import annotations

import colorsys
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Tuple, Union

import numpy as np

from ..errors import PanopticFormatError


class Categories:
    """An ordered set of panoptic categories (COCO ``categories`` entries).

    The order is the JSON order, which is also the order panopticapi averages classes in.
    The core refers to a category by its position (dense index); ``index_of`` maps ids to it.

    Parameters
    ----------
    categories : iterable of dict
        Entries with at least ``id`` and ``isthing`` (0/1); ``name`` and ``color`` are kept.
    source : str, optional
        File the entries came from, used in error messages.
    """

    def __init__(self, categories: Iterable[Mapping], source=None):
        self.entries = []
        self.index_of = {}
        for k, entry in enumerate(categories):
            if not isinstance(entry, Mapping) or "id" not in entry:
                raise PanopticFormatError(f"categories[{k}] has no 'id'", file=source)
            cat_id = entry["id"]
            if not is_int(cat_id):
                raise PanopticFormatError(f"categories[{k}]: id {cat_id!r} is not an integer", file=source)
            if not -(1 << 63) <= cat_id < 1 << 63:
                raise PanopticFormatError(f"categories[{k}]: id {cat_id} is outside the signed "
                                          "64-bit range", file=source)
            if cat_id in self.index_of:
                raise PanopticFormatError(f"category id {cat_id} appears twice in 'categories'", file=source)
            isthing = entry.get("isthing")
            if isthing not in (0, 1, True, False):
                raise PanopticFormatError(
                    f"category {cat_id}: 'isthing' must be 0 or 1, got {isthing!r}", file=source)
            self.index_of[int(cat_id)] = len(self.entries)
            self.entries.append(dict(entry))
        if not self.entries:
            raise PanopticFormatError("'categories' is empty", file=source)
        self.ids = np.array([e["id"] for e in self.entries], dtype=np.int64)
        self.isthing = np.array([bool(e["isthing"]) for e in self.entries], dtype=bool)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, cat_id) -> bool:
        return cat_id in self.index_of

    def __eq__(self, other) -> bool:
        return isinstance(other, Categories) and self.entries == other.entries

    def name(self, cat_id) -> str:
        return str(self.entries[self.index_of[cat_id]].get("name", cat_id))

    def to_list(self) -> list:
        return [dict(e) for e in self.entries]

    def __getstate__(self):
        return {"entries": self.entries}

    def __setstate__(self, state):
        self.__init__(state["entries"])

    def __repr__(self) -> str:
        return f"Categories({len(self)} categories, {int(self.isthing.sum())} things)"


def as_categories(categories: Union["Categories", Iterable[Mapping], None], *, source=None,
                  default_coco: bool = False) -> "Categories":
    """The one way input becomes :class:`Categories`: a ``Categories`` is returned as is, a list
    of COCO ``categories`` entries is checked and wrapped; ``None`` gives COCO's 133 panoptic
    categories when ``default_coco`` is set (else an error)."""
    if isinstance(categories, Categories):
        return categories
    if categories is None:
        if default_coco:
            return coco_panoptic_categories()
        raise PanopticFormatError("no categories given", file=source)
    return Categories(categories, source=source)


#: Hue step between consecutive category ids without a colour: 1 / golden ratio, so any run of
#: ids spreads its hues evenly (ids 0..611 all get different colours).
_GOLDEN = 0.618033988749895


def category_color(entry: Mapping, source=None) -> Tuple[int, int, int]:
    """The colour of a category: its ``color`` if it has one, else one derived from its id.

    The derived colour is a stable, saturated, never-black hue walk (hue = id x 0.618... mod 1,
    saturation 0.65, value 0.9), the same in convert (where colours are segment ids), viz and
    anything else that needs a colour for a category without one.

    Parameters
    ----------
    entry : dict
        A COCO ``categories`` entry with ``id`` and, optionally, ``color``.
    source : str, optional
        The file the entry came from, named in the error.

    Returns
    -------
    tuple of 3 int
        ``(r, g, b)``, each in 0..255.

    Raises
    ------
    PanopticFormatError
        ``color`` is given but is not 3 integers in 0..255.
    """
    color = entry.get("color")
    if color is None:
        hue = (int(entry["id"]) * _GOLDEN) % 1.0
        return tuple(int(round(255 * v)) for v in colorsys.hsv_to_rgb(hue, 0.65, 0.9))
    if not (isinstance(color, (list, tuple)) and len(color) == 3
            and all(is_int(c) and 0 <= c <= 255 for c in color)):
        raise PanopticFormatError(f"category {entry.get('id')}: 'color' must be 3 ints in "
                                  f"0..255, got {color!r}", file=source)
    return tuple(int(c) for c in color)


def json_value(value, limit: int = 40) -> str:
    """A JSON value as an error message shows it: its repr, cut to ``limit`` characters. A
    float too large for 64 bits is said to be so, not shown: the fast JSON reader (orjson) turns
    integers beyond 64 bits into floats, and ``1.8446744073709552e+19`` is not what the file
    says."""
    if isinstance(value, float) and value == value and abs(value) >= 2.0 ** 63:
        return "<a number beyond the 64-bit range>"
    shown = repr(value)
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


def is_int(value) -> bool:
    """An integer that is not a bool (JSON ids and sizes)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def coco_panoptic_categories() -> Categories:
    """The 133 COCO panoptic categories (80 things, 53 stuff), with names and colours."""
    text = resources.files("panoseg").joinpath("data/coco_panoptic_categories.json").read_text()
    return Categories(json.loads(text), source="coco_panoptic_categories.json")
