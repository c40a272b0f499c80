"""The per-category rows the report's chart and tables are drawn from.

Evaluation output names categories by id in several places (``per_category``, panopticapi's
``per_class``, ``pq_dagger.per_class``, ``parsing_covering.per_class``); this module merges
them, with the categories' names and kinds, into one row per category.
"""
from __future__ import annotations

from typing import Iterable, List, Mapping

from .values import as_float, as_int, by_id, category_id, lookup


def category_info(categories) -> dict:
    """id -> {"name", "isthing"} from a Categories, a list of dicts or None."""
    entries = getattr(categories, "entries", categories)
    info = {}
    if isinstance(entries, Iterable) and not isinstance(entries, (str, bytes, Mapping)):
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            cat_id = category_id(entry.get("id"))
            if cat_id is None:
                continue
            isthing = entry.get("isthing")
            info[cat_id] = {"name": str(entry.get("name", cat_id)),
                            "isthing": None if isthing is None else bool(isthing)}
    return info


def class_rows(report: Mapping, cats: dict) -> List[dict]:
    """One dict per category: id, name, isthing, pq, sq, rq, tp, fp, fn, pq_dagger, pc,
    semantic_iou, present.

    ``per_category`` gives the order and counts; ``per_class``, ``pq_dagger.per_class`` and
    ``parsing_covering.per_class`` fill in what it lacks (or stand alone without it).
    ``present`` is whether the category has ground truth or predictions (tp + fp + fn > 0),
    None when the counts are unknown.
    """
    per_class = by_id(report.get("per_class"))
    dagger = by_id(lookup(report, "pq_dagger", "per_class"))
    covering = by_id(lookup(report, "parsing_covering", "per_class"))
    semantic = by_id(lookup(report, "semantic", "per_class"))
    rows, seen = [], set()
    per_category = report.get("per_category")
    for entry in per_category if isinstance(per_category, list) else ():
        if not isinstance(entry, Mapping):
            continue
        cat_id = category_id(entry.get("id"))
        if cat_id is None or cat_id in seen:
            continue
        seen.add(cat_id)
        rows.append(dict(entry, id=cat_id))
    extra = [c for c in cats if c in per_class and c not in seen]
    extra += sorted(c for c in per_class if c not in seen and c not in cats)
    rows += [{"id": c} for c in extra]
    for row in rows:
        cat_id = row["id"]
        info = cats.get(cat_id, {})
        if row.get("name") is None:
            row["name"] = info.get("name", f"category {cat_id}")
        row["name"] = str(row["name"])
        isthing = row.get("isthing")
        row["isthing"] = info.get("isthing") if isthing is None else bool(isthing)
        pqs = per_class.get(cat_id)
        for key in ("pq", "sq", "rq"):
            if as_float(row.get(key)) is None:
                row[key] = lookup(pqs, key)
        if as_float(row.get("pq_dagger")) is None:
            value = dagger.get(cat_id)
            row["pq_dagger"] = lookup(value, "pq") if isinstance(value, Mapping) else value
        if as_float(row.get("pc")) is None:
            row["pc"] = covering.get(cat_id)
        if as_float(row.get("semantic_iou")) is None:
            row["semantic_iou"] = lookup(semantic.get(cat_id), "IoU")
        counts = [as_int(row.get(k)) for k in ("tp", "fp", "fn")]
        row["present"] = None if None in counts else sum(counts) > 0
    return rows


def kind(isthing) -> str:
    """"thing", "stuff" or "?" (unknown)."""
    return "thing" if isthing else ("stuff" if isthing is not None else "?")
