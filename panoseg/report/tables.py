"""The report's per-category table and confusion table (``categories_*`` and ``confusion*``
templates)."""
from __future__ import annotations

from typing import Mapping, Sequence

from .rows import kind
from .templates import render
from .values import as_int, category_id, count_text, esc, percent, plural

#: Rows of the confusion table.
CONFUSION_ROWS = 30


def category_table_section(rows: Sequence[dict]) -> str:
    """One row per category with ground truth or predictions; the others named below."""
    if not rows:
        return render("empty.html", text="The report has no per-category results.")
    shown = [r for r in rows if r["present"] is not False]
    absent = [r for r in rows if r["present"] is False]
    body = []
    for row in shown:
        k = kind(row["isthing"])
        body.append(render(
            "categories_row.html", id=esc(row["id"]), name=esc(row["name"]), kind=k,
            kind_class=k if k != "?" else "",
            **{key: percent(row.get(key)) for key in ("pq", "sq", "rq", "pq_dagger", "pc", "semantic_iou")},
            **{key: count_text(row.get(key)) for key in ("tp", "fp", "fn")}))
    out = []
    if body:
        out.append(render("categories_table.html", rows="".join(body)))
    if absent:
        out.append(render("categories_absent.html", n=len(absent),
                          categories=plural(len(absent), "category", "categories"),
                          names=", ".join(f"{esc(r['name'])} ({esc(r['id'])})"
                                          for r in absent)))
    return "\n".join(out)


def confusion_section(report: Mapping, cats: dict, rows: Sequence[dict]) -> str:
    """The most frequent (ground-truth category, predicted category) pairs of missed
    ground-truth segments, :data:`CONFUSION_ROWS` at most."""
    entries = report.get("confusion")
    if not isinstance(entries, list):
        return render("empty.html", text="The report has no confusion data.")
    clean = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        count = as_int(entry.get("count"))
        gt = category_id(entry.get("gt_category_id"))
        if count is None or gt is None:
            continue
        pred = entry.get("pred_category_id")
        clean.append((gt, None if pred is None else category_id(pred), count))
    if not clean:
        return render("empty.html", text="No missed ground-truth segments.")
    clean.sort(key=lambda t: -t[2])  # stable: keeps the report's order among ties
    misses = {}
    for gt, _, count in clean:
        misses[gt] = misses.get(gt, 0) + count
    # The list may be cut short: the category's false negatives are its misses when known.
    for row in rows:
        fn = as_int(row.get("fn"))
        if fn is not None and row["id"] in misses:
            misses[row["id"]] = max(misses[row["id"]], fn)
    names = {r["id"]: r["name"] for r in rows}
    names.update({k: v["name"] for k, v in cats.items() if k not in names})

    def name(cat_id):
        return esc(names.get(cat_id, f"category {cat_id}"))

    body = []
    for gt, pred, count in clean[:CONFUSION_ROWS]:
        share = count / misses[gt] if misses[gt] else 0.0
        if pred is None:
            predicted = render("confusion_nothing.html")
        elif pred == gt:
            predicted = render("confusion_same.html", name=name(pred))
        else:
            predicted = name(pred)
        body.append(render("confusion_row.html", gt=name(gt), predicted=predicted,
                           count=count, share=f"{100 * share:.1f}"))
    return render("confusion.html", shown=min(len(clean), CONFUSION_ROWS), total=len(clean),
                  rows="".join(body))


#: The error types in the order of the breakdown (panoseg.evaluation.errors.TYPES), and "all".
ERROR_TYPES = ("cls", "split", "merge", "loc", "missed", "background", "sq", "all")


def errors_section(report: Mapping):
    """The ``--errors`` breakdown: per error type its count and the PQ a fix of it alone
    would gain (All / Things / Stuff), or None when the report has none."""
    errors = report.get("errors")
    types = errors.get("types") if isinstance(errors, Mapping) else None
    if not isinstance(types, Mapping):
        return None
    body = []
    for name in ERROR_TYPES:
        row = types.get(name)
        if not isinstance(row, Mapping):
            continue
        dpq = row.get("dpq") if isinstance(row.get("dpq"), Mapping) else {}
        body.append(render(
            "errors_row.html", name=esc(name), cls="total" if name == "all" else "",
            count="" if name == "all" else count_text(row.get("count")),
            fp=count_text(row.get("fp")), fn=count_text(row.get("fn")),
            **{g.lower(): _points(dpq.get(g)) for g in ("All", "Things", "Stuff")}))
    return render("errors.html", rows="".join(body))


def _points(value) -> str:
    """A PQ difference in points with its sign, e.g. +1.25."""
    try:
        return f"{100 * float(value):+.2f}"
    except (TypeError, ValueError):
        return "-"
