"""Reading the report dict's values and writing them as page text.

The report dict may come straight from the evaluation (numpy scalars, int category ids) or back
from JSON (string ids, ``None`` for NaN), and any part of it may be missing or malformed: these
helpers turn every value into a number or ``None`` and every number into the text the page
shows, with :data:`DASH` for what is missing.
"""
from __future__ import annotations

import html
import json
import math
import os
from typing import Mapping, Optional

import numpy as np

#: Shown for a missing number (and for a group that averages over no category).
DASH = "\u2013"
#: Name of Porzi et al.'s PQ variant.
DAGGER = "PQ\u2020"


def esc(text) -> str:
    """``str(text)`` HTML-escaped, quotes included (safe in text and attribute values)."""
    return html.escape(str(text), quote=True)


def as_float(value) -> Optional[float]:
    """A finite float, or None for anything else (missing, NaN, not a number)."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def as_int(value) -> Optional[int]:
    """:func:`as_float` rounded to an int."""
    v = as_float(value)
    return None if v is None else int(round(v))


def percent(value) -> str:
    """A 0..1 value in percent with one decimal, as panopticapi prints it."""
    v = as_float(value)
    return DASH if v is None else f"{100.0 * v:.1f}"


def count_text(value) -> str:
    """A count, or :data:`DASH`."""
    v = as_int(value)
    return DASH if v is None else str(v)


def lookup(mapping, *keys):
    """``mapping[k1][k2]...``, or None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def category_id(value) -> Optional[int]:
    """A category id from an int or its string (JSON keys), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def by_id(mapping) -> dict:
    """A per-class mapping with int keys (JSON turns them into strings)."""
    out = {}
    if isinstance(mapping, Mapping):
        for key, value in mapping.items():
            cat_id = category_id(key)
            if cat_id is not None:
                out[cat_id] = value
    return out


def jsonable(obj):
    """``obj`` with numpy values as Python ones, tuples as lists and NaN / inf as None."""
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if isinstance(key, np.generic):
                key = key.item()
            out[key] = jsonable(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def plain(value) -> str:
    """A value of the ``inputs`` mapping as one line of text (containers as JSON)."""
    if isinstance(value, (Mapping, list, tuple)):
        try:
            return json.dumps(jsonable(value))
        except (TypeError, ValueError):
            pass
    return str(value)


def plural(n: int, one: str, many: str) -> str:
    """``one`` for n == 1, else ``many``."""
    return one if n == 1 else many
