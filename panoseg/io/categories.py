"""Panoptic categories: the id <-> dense index mapping the compiled core works with."""
from __future__ import annotations

import json
from importlib import resources
from typing import Iterable, Mapping, Union

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


def is_int(value) -> bool:
    """An integer that is not a bool (JSON ids and sizes)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def coco_panoptic_categories() -> Categories:
    """The 133 COCO panoptic categories (80 things, 53 stuff), with names and colours."""
    text = resources.files("panoseg").joinpath("data/coco_panoptic_categories.json").read_text()
    return Categories(json.loads(text), source="coco_panoptic_categories.json")
