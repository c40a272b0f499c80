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
            **{key: percent(row.get(key)) for key in ("pq", "sq", "rq", "pq_dagger", "pc")},
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
