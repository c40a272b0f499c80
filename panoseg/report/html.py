"""A self-contained HTML error-analysis report of a panoptic evaluation (``panoseg eval --report``).

:func:`write_report` writes ``index.html`` and ``report.json`` into a folder. The page needs
nothing but itself: CSS is inline, the charts are inline SVG and the pictures of the worst images
(ground truth | prediction overlays from :mod:`panoseg.viz`) are embedded as base64 ``data:``
URIs, so it opens offline and can be mailed or archived as one file. No JavaScript.

The page shows, in order: the title, the inputs and the image count; the summary (PQ / SQ / RQ
for All / Things / Stuff with bootstrap intervals when given, PQ-dagger, Parsing Covering, PQ by
object size); a per-class PQ bar chart; the per-category table; the confusion table of missed
ground-truth segments; a histogram of per-image PQ; the worst images. Every optional part of the
report dict may be missing: its section is then left out or says so.

Only numpy, Pillow and the standard library are used.
"""
from __future__ import annotations

import base64
import datetime
import html
import io
import json
import math
import os
from typing import Iterable, List, Mapping, Optional, Sequence

import numpy as np

from ..util.atomic import atomic_open

#: Widest embedded picture (pixels): a GT | prediction pair is scaled down to fit.
MAX_IMAGE_WIDTH = 960
#: Rows of the confusion table.
CONFUSION_ROWS = 30
#: Colours of things and stuff in the charts.
THING_COLOR = "#3569b4"
STUFF_COLOR = "#e08a2c"
#: Label size (pixels, after scaling down) aimed at inside the embedded pictures.
_LABEL_PX = 12
_JPEG_QUALITY = 85
_DASH = "\u2013"  # shown for a missing number
_DAGGER = "PQ\u2020"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def write_report(folder, report: dict, worst: list, categories, *,
                 title: str = "panoseg evaluation") -> str:
    """Writes ``folder/index.html`` (the report page) and ``folder/report.json`` (every number).

    Parameters
    ----------
    folder : path
        Output folder, created if needed. Both files are written atomically.
    report : dict
        The evaluation: ``All`` / ``Things`` / ``Stuff`` (``pq``, ``sq``, ``rq``, ``n``) and
        ``per_class`` as panopticapi's ``pq_compute`` returns them, and optionally
        ``pq_dagger``, ``parsing_covering``, ``pq_by_size``, ``confusion``, ``per_category``,
        ``bootstrap``, ``n_images``, ``per_image`` and ``inputs`` (see the module's README
        section). Metric values lie in 0..1 and are shown in percent. Keys of per-class
        mappings may be ints or strings.
    worst : list of dict
        The images to show, worst first: ``image_id``, ``file_name``, ``pq``, ``tp``, ``fp``,
        ``fn``, ``gt_png``, ``pred_png``, ``gt_segments``, ``pred_segments`` and
        ``image_path`` (the photo, or None to draw on grey). An image that cannot be drawn
        (a missing file, ...) gets a placeholder saying why.
    categories : Categories or list of dict, or None
        The categories (``id``, ``name``, ``isthing``, ``color``): names in the tables and
        colours in the pictures.
    title : str
        Page title.

    Returns
    -------
    str
        The path of ``index.html``.

    Notes
    -----
    ``report.json`` is ``report`` as JSON (``indent=1``); numpy scalars and arrays become
    numbers and lists, and NaN / infinite values become ``null`` so that the file is strict
    JSON.
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    json_text = json.dumps(_jsonable(report), indent=1, allow_nan=False)
    page = render_report_html(report, worst, categories, title=title)
    with atomic_open(os.path.join(folder, "report.json"), "w", encoding="utf-8") as f:
        f.write(json_text + "\n")
    index = os.path.join(folder, "index.html")
    with atomic_open(index, "w", encoding="utf-8") as f:
        f.write(page)
    return index


def render_report_html(report: Mapping, worst: Sequence[Mapping], categories, *,
                       title: str = "panoseg evaluation") -> str:
    """The text of :func:`write_report`'s ``index.html``."""
    report = report if isinstance(report, Mapping) else {}
    cats = _category_info(categories)
    rows = _class_rows(report, cats)
    pictures = _render_worst(list(worst or ()), categories)
    sections = [
        ("summary", "Summary", _summary_section(report)),
        ("per-class", "Per-class PQ", _bar_chart_section(rows, report)),
        ("categories", "Per-category results", _category_table_section(rows)),
        ("confusion", "Confusion: missed ground-truth segments",
         _confusion_section(report, cats, rows)),
        ("per-image", "Per-image PQ", _histogram_section(report)),
        ("worst", "Worst images", _worst_section(worst or (), pictures)),
    ]
    sections = [s for s in sections if s[2] is not None]
    nav = " ".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name, _ in sections)
    body = "\n".join(f'<section id="{sid}">\n<h2>{_e(name)}</h2>\n{content}\n</section>'
                     for sid, name, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{_header(report, title)}\n<nav>{nav}</nav>\n{body}\n"
        f"<footer>{_footer()}</footer>\n</main>\n</body>\n</html>\n")


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _num(value) -> Optional[float]:
    """A finite float, or None for anything else (missing, NaN, not a number)."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _int(value) -> Optional[int]:
    v = _num(value)
    return None if v is None else int(round(v))


def _pct(value) -> str:
    v = _num(value)
    return _DASH if v is None else f"{100.0 * v:.1f}"


def _count(value) -> str:
    v = _int(value)
    return _DASH if v is None else str(v)


def _get(mapping, *keys):
    for key in keys:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def _by_id(mapping) -> dict:
    """A per-class mapping with int keys (JSON turns them into strings)."""
    out = {}
    if isinstance(mapping, Mapping):
        for key, value in mapping.items():
            cat_id = _category_id(key)
            if cat_id is not None:
                out[cat_id] = value
    return out


def _category_id(value) -> Optional[int]:
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _jsonable(obj):
    """``obj`` with numpy values as Python ones, tuples as lists and NaN / inf as None."""
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if isinstance(key, np.generic):
                key = key.item()
            out[key] = _jsonable(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def _category_info(categories) -> dict:
    """id -> {"name", "isthing"} from a Categories, a list of dicts or None."""
    entries = getattr(categories, "entries", categories)
    info = {}
    if isinstance(entries, Iterable) and not isinstance(entries, (str, bytes, Mapping)):
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            cat_id = _category_id(entry.get("id"))
            if cat_id is None:
                continue
            isthing = entry.get("isthing")
            info[cat_id] = {"name": str(entry.get("name", cat_id)),
                            "isthing": None if isthing is None else bool(isthing)}
    return info


def _name(cats: dict, cat_id) -> str:
    cid = _category_id(cat_id)
    if cid in cats:
        return cats[cid]["name"]
    return f"category {cat_id}"


def _class_rows(report: Mapping, cats: dict) -> List[dict]:
    """One dict per category: id, name, isthing, pq, sq, rq, tp, fp, fn, pq_dagger, pc, present.

    ``per_category`` gives the order and counts; ``per_class``, ``pq_dagger.per_class`` and
    ``parsing_covering.per_class`` fill in what it lacks (or stand alone without it).
    """
    per_class = _by_id(report.get("per_class"))
    dagger = _by_id(_get(report, "pq_dagger", "per_class"))
    covering = _by_id(_get(report, "parsing_covering", "per_class"))
    rows, seen = [], set()
    per_category = report.get("per_category")
    for entry in per_category if isinstance(per_category, list) else ():
        if not isinstance(entry, Mapping):
            continue
        cat_id = _category_id(entry.get("id"))
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
            if _num(row.get(key)) is None:
                row[key] = _get(pqs, key)
        if _num(row.get("pq_dagger")) is None:
            value = dagger.get(cat_id)
            row["pq_dagger"] = _get(value, "pq") if isinstance(value, Mapping) else value
        if _num(row.get("pc")) is None:
            row["pc"] = covering.get(cat_id)
        counts = [_int(row.get(k)) for k in ("tp", "fp", "fn")]
        row["present"] = None if None in counts else sum(counts) > 0
    return rows


def _kind(isthing) -> str:
    return "thing" if isthing else ("stuff" if isthing is not None else "?")


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------

def _header(report: Mapping, title: str) -> str:
    n_images = _int(report.get("n_images"))
    if n_images is None and isinstance(report.get("per_image"), list):
        n_images = len(report["per_image"])
    parts = [f"<h1>{_e(title)}</h1>"]
    sub = []
    if n_images is not None:
        sub.append(f"<strong>{n_images}</strong> image{'s' if n_images != 1 else ''} evaluated")
    n_classes = _int(_get(report, "All", "n"))
    if n_classes is not None:
        sub.append(f"<strong>{n_classes}</strong> categories with ground truth or predictions")
    if sub:
        parts.append(f'<p class="sub">{" &middot; ".join(sub)}</p>')
    inputs = report.get("inputs")
    if isinstance(inputs, Mapping) and inputs:
        items = "".join(f"<tr><th>{_e(k)}</th><td><code>{_e(_plain(v))}</code></td></tr>"
                        for k, v in inputs.items())
        parts.append(f'<table class="inputs"><tbody>{items}</tbody></table>')
    return "\n".join(parts)


def _plain(value) -> str:
    if isinstance(value, (Mapping, list, tuple)):
        try:
            return json.dumps(_jsonable(value))
        except (TypeError, ValueError):
            pass
    return str(value)


def _footer() -> str:
    from .._version import __version__

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"Written by panoseg {_e(__version__)} on {now}. Every number is also in "
            "<code>report.json</code> beside this page. Percent with one decimal, as "
            "panopticapi prints them.")


def _cell(value, ci=None) -> str:
    text = _pct(value)
    if ci is not None:
        text += f'<span class="ci">{_e(ci)}</span>'
    return f'<td class="num">{text}</td>'


def _interval(bounds) -> Optional[str]:
    if isinstance(bounds, Mapping):
        bounds = (bounds.get("lo", bounds.get("low")), bounds.get("hi", bounds.get("high")))
    if not isinstance(bounds, (list, tuple, np.ndarray)) or len(bounds) != 2:
        return None
    lo, hi = _num(bounds[0]), _num(bounds[1])
    if lo is None or hi is None:
        return None
    return f"{100 * lo:.1f}-{100 * hi:.1f}"


def _metric_table(caption: str, rows: Sequence[tuple], groups, names=("PQ", "SQ", "RQ"),
                  bootstrap: Optional[Mapping] = None, note: str = "") -> Optional[str]:
    """A small PQ/SQ/RQ/N table over ``rows`` = (key in groups, label); a column that no row
    has (other than PQ's) is left out."""
    present = [(label, groups[key], key) for key, label in rows
               if isinstance(groups, Mapping) and isinstance(groups.get(key), Mapping)]
    if not present:
        return None
    metrics = [(m, n) for m, n in zip(("pq", "sq", "rq"), names)
               if m == "pq" or any(_num(g.get(m)) is not None for _, g, _ in present)]
    with_n = any(_int(g.get("n")) is not None for _, g, _ in present)
    body = []
    for label, group, key in present:
        cells = "".join(_cell(group.get(m), _interval(_get(bootstrap, key, m)))
                        for m, _ in metrics)
        if with_n:
            cells += f'<td class="num">{_count(group.get("n"))}</td>'
        body.append(f"<tr><th>{_e(label)}</th>{cells}</tr>")
    head = "".join(f'<th class="num">{_e(n)}</th>' for _, n in metrics)
    if with_n:
        head += '<th class="num">N</th>'
    note_html = f'<p class="note">{note}</p>' if note else ""
    return (f'<div class="card"><h3>{_e(caption)}</h3><table class="metrics">'
            f"<thead><tr><th></th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{note_html}</div>")


def _summary_section(report: Mapping) -> str:
    groups = (("All", "All"), ("Things", "Things"), ("Stuff", "Stuff"))
    cards = []
    # Headline numbers.
    big = [("PQ", _get(report, "All", "pq")), ("PQ Things", _get(report, "Things", "pq")),
           ("PQ Stuff", _get(report, "Stuff", "pq")),
           (_DAGGER, _get(report, "pq_dagger", "All", "pq")),
           ("Parsing Covering", _get(report, "parsing_covering", "pc"))]
    tiles = "".join(f'<div class="tile"><div class="v">{_pct(v)}</div>'
                    f'<div class="k">{_e(k)}</div></div>'
                    for k, v in big if _num(v) is not None)
    boot = report.get("bootstrap") if isinstance(report.get("bootstrap"), Mapping) else None
    note = "N: categories averaged over."
    if boot is not None:
        conf = _num(boot.get("confidence"))
        conf_text = f"{100 * conf:g}%" if conf is not None else "95%"
        details = []
        if _int(boot.get("n")) is not None:
            details.append(f"{_int(boot.get('n'))} resamples of the images")
        if _int(boot.get("seed")) is not None:
            details.append(f"seed {_int(boot.get('seed'))}")
        note += (f" Small print under each value: its {_e(conf_text)} bootstrap interval"
                 + (f" ({_e(', '.join(details))})" if details else "") + ".")
    main = _metric_table("Panoptic Quality", groups, report, bootstrap=boot, note=note)
    if main is not None:
        cards.append(main)
    dagger = _metric_table(_DAGGER, groups,
                           report.get("pq_dagger"),
                           names=(_DAGGER, "SQ\u2020", "RQ\u2020"),
                           note="Porzi et al.: things as in PQ; a stuff category in an "
                                "image's ground truth scores the IoU of its pixels there, "
                                "without the 0.5 matching threshold.")
    if dagger is not None:
        cards.append(dagger)
    pc = report.get("parsing_covering")
    if isinstance(pc, Mapping) and _num(pc.get("pc")) is not None:
        cards.append('<div class="card"><h3>Parsing Covering</h3><table class="metrics">'
                     '<thead><tr><th></th><th class="num">PC</th><th class="num">N</th></tr>'
                     f'</thead><tbody><tr><th>All</th>{_cell(pc.get("pc"))}'
                     f'<td class="num">{_count(pc.get("n"))}</td></tr></tbody></table>'
                     '<p class="note">Yang et al. (DeeperLab): per category, the '
                     "area-weighted best IoU of its ground-truth segments; N: categories with "
                     'ground truth.</p></div>')
    size = _metric_table("PQ by object size (things)",
                         (("small", "small"), ("medium", "medium"), ("large", "large")),
                         report.get("pq_by_size"),
                         note="Things only; COCO's area ranges: small &lt; 32&sup2; &le; medium "
                              "&lt; 96&sup2; &le; large (pixels).")
    if size is not None:
        cards.append(size)
    if not cards and not tiles:
        return '<p class="empty">The report has no summary numbers.</p>'
    return (f'<div class="tiles">{tiles}</div>' if tiles else "") + \
        f'<div class="cards">{"".join(cards)}</div>'


def _tooltip(row: Mapping) -> str:
    counts = ""
    if row.get("present") is not None:
        counts = (f"; TP {_count(row.get('tp'))}, FP {_count(row.get('fp'))}, "
                  f"FN {_count(row.get('fn'))}")
    return (f"{row['name']} ({_kind(row['isthing'])}, id {row['id']}): PQ {_pct(row.get('pq'))}, "
            f"SQ {_pct(row.get('sq'))}, RQ {_pct(row.get('rq'))}; "
            f"{_DAGGER} {_pct(row.get('pq_dagger'))}; PC {_pct(row.get('pc'))}{counts}")


def _short(name: str, limit: int = 30) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def _bar_chart_section(rows: Sequence[dict], report: Mapping) -> str:
    bars = [r for r in rows if r["present"] is not False and _num(r.get("pq")) is not None]
    if not bars:
        return '<p class="empty">The report has no per-class results.</p>'
    bars.sort(key=lambda r: (-_num(r["pq"]), r["name"]))
    width, left, right = 1000, 220, 48
    top, bottom, row_h, bar_h = 30, 30, 17, 12
    plot = width - left - right
    height = top + row_h * len(bars) + bottom
    out = [f'<svg class="chart" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="PQ per category">']
    for tick in range(0, 101, 10):
        x = left + plot * tick / 100
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" '
                   f'y2="{height - bottom + 4}"/>')
        for y in (top - 10, height - bottom + 18):
            out.append(f'<text class="tick" x="{x:.1f}" y="{y}" text-anchor="middle">'
                       f"{tick}</text>")
    # The overall PQ under the bars, so that their value labels stay readable.
    overall = _num(_get(report, "All", "pq"))
    if overall is not None:
        x = left + plot * min(1.0, max(0.0, overall))
        out.append(f'<line class="mean" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" '
                   f'y2="{height - bottom + 4}"><title>PQ All {_pct(overall)}</title></line>')
    for i, row in enumerate(bars):
        y = top + i * row_h
        pq = min(1.0, max(0.0, _num(row["pq"])))
        colour = THING_COLOR if row["isthing"] else STUFF_COLOR
        if row["isthing"] is None:
            colour = "#888888"
        out.append(
            f'<g class="bar"><title>{_e(_tooltip(row))}</title>'
            f'<rect class="hit" x="0" y="{y}" width="{width}" height="{row_h}"/>'
            f'<text class="name" x="{left - 8}" y="{y + row_h / 2:.1f}" text-anchor="end" '
            f'dominant-baseline="central">{_e(_short(row["name"]))}</text>'
            f'<rect x="{left}" y="{y + (row_h - bar_h) / 2:.1f}" width="{plot * pq:.1f}" '
            f'height="{bar_h}" fill="{colour}"/>'
            f'<text class="val" x="{left + plot * pq + 4:.1f}" y="{y + row_h / 2:.1f}" '
            f'dominant-baseline="central">{_pct(pq)}</text></g>')
    out.append("</svg>")
    legend = (f'<div class="legend"><span><i style="background:{THING_COLOR}"></i>things</span>'
              f'<span><i style="background:{STUFF_COLOR}"></i>stuff</span>'
              + (f'<span><i class="dash"></i>PQ All ({_pct(overall)})</span>'
                 if overall is not None else "")
              + f"<span class=\"muted\">{len(bars)} categories with ground truth or "
              f"predictions, best first; hover a bar for SQ, RQ, {_DAGGER}, PC and "
              "counts.</span></div>")
    return legend + '<div class="scroll">' + "".join(out) + "</div>"


def _category_table_section(rows: Sequence[dict]) -> str:
    if not rows:
        return '<p class="empty">The report has no per-category results.</p>'
    head = ("<tr><th class=\"num\">id</th><th>name</th><th>kind</th><th class=\"num\">PQ</th>"
            "<th class=\"num\">SQ</th><th class=\"num\">RQ</th><th class=\"num\">TP</th>"
            "<th class=\"num\">FP</th><th class=\"num\">FN</th>"
            f"<th class=\"num\">{_DAGGER}</th><th class=\"num\">PC</th></tr>")
    shown = [r for r in rows if r["present"] is not False]
    absent = [r for r in rows if r["present"] is False]
    body = []
    for row in shown:
        kind = _kind(row["isthing"])
        body.append(
            f"<tr><td class=\"num\">{_e(row['id'])}</td><td>{_e(row['name'])}</td>"
            f'<td><span class="kind {kind if kind != "?" else ""}">{kind}</span></td>'
            + "".join(_cell(row.get(k)) for k in ("pq", "sq", "rq"))
            + "".join(f'<td class="num">{_count(row.get(k))}</td>' for k in ("tp", "fp", "fn"))
            + "".join(_cell(row.get(k)) for k in ("pq_dagger", "pc")) + "</tr>")
    out = []
    if body:
        out.append(f'<table class="wide"><thead>{head}</thead>'
                   f"<tbody>{''.join(body)}</tbody></table>")
    if absent:
        names = ", ".join(f"{_e(r['name'])} ({_e(r['id'])})" for r in absent)
        out.append(f'<details class="absent"><summary>{len(absent)} '
                   f"categor{'y' if len(absent) == 1 else 'ies'} with neither ground truth nor "
                   "predictions in these images (left out of panopticapi's averages)</summary>"
                   f"<p>{names}</p></details>")
    return "\n".join(out)


def _confusion_section(report: Mapping, cats: dict, rows: Sequence[dict]) -> str:
    entries = report.get("confusion")
    if not isinstance(entries, list):
        return '<p class="empty">The report has no confusion data.</p>'
    clean = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        count = _int(entry.get("count"))
        gt = _category_id(entry.get("gt_category_id"))
        if count is None or gt is None:
            continue
        pred = entry.get("pred_category_id")
        clean.append((gt, None if pred is None else _category_id(pred), count))
    if not clean:
        return '<p class="empty">No missed ground-truth segments.</p>'
    clean.sort(key=lambda t: -t[2])  # stable: keeps the report's order among ties
    misses = {}
    for gt, _, count in clean:
        misses[gt] = misses.get(gt, 0) + count
    # The list may be cut short: the category's false negatives are its misses when known.
    for row in rows:
        fn = _int(row.get("fn"))
        if fn is not None and row["id"] in misses:
            misses[row["id"]] = max(misses[row["id"]], fn)
    names = {r["id"]: r["name"] for r in rows}
    names.update({k: v["name"] for k, v in cats.items() if k not in names})

    def name(cat_id):
        return names.get(cat_id, f"category {cat_id}")

    body = []
    for gt, pred, count in clean[:CONFUSION_ROWS]:
        share = count / misses[gt] if misses[gt] else 0.0
        if pred is None:
            predicted = '<span class="nothing">(nothing)</span>'
        elif pred == gt:
            predicted = f'{_e(name(pred))} <span class="muted">(same class, IoU &le; 0.5)</span>'
        else:
            predicted = _e(name(pred))
        body.append(
            f"<tr><td>{_e(name(gt))}</td><td class=\"arrow\">&rarr;</td><td>{predicted}</td>"
            f'<td class="num">{count}</td><td class="num">{100 * share:.1f}%</td>'
            f'<td class="sharebar"><span style="width:{100 * share:.1f}%"></span></td></tr>')
    shown = min(len(clean), CONFUSION_ROWS)
    note = (f'<p class="note">Missed ground-truth segments (false negatives) by their category '
            "and the category of the prediction overlapping them most; <em>(nothing)</em>: "
            "no predicted segment overlaps them. Share: of that ground-truth category's misses. "
            f"{shown} of {len(clean)} pairs shown, most frequent first.</p>")
    return (note + '<table><thead><tr><th>ground truth</th><th></th><th>predicted as</th>'
            '<th class="num">count</th><th class="num" colspan="2">share of misses</th></tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>")


def _histogram_section(report: Mapping) -> Optional[str]:
    per_image = report.get("per_image")
    if not isinstance(per_image, list):
        return None
    values = [_num(_get(entry, "pq")) for entry in per_image]
    pqs = np.clip(np.array([v for v in values if v is not None], np.float64), 0.0, 1.0)
    skipped = len(values) - len(pqs)
    if not len(pqs):
        return '<p class="empty">No image has a per-image PQ.</p>'
    counts, _ = np.histogram(pqs, bins=10, range=(0.0, 1.0))
    width, height, left, right, top, bottom = 640, 240, 48, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    step = _nice_step(max(1, int(counts.max())))
    peak = step * int(math.ceil(max(1, int(counts.max())) / step))
    out = [f'<svg class="chart" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="Histogram of per-image PQ">']
    for c in range(0, peak + 1, step):
        y = top + plot_h * (1 - c / peak)
        out.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" '
                   f'y2="{y:.1f}"/><text class="tick" x="{left - 6}" y="{y:.1f}" '
                   f'text-anchor="end" dominant-baseline="central">{c}</text>')
    bin_w = plot_w / 10
    for k, count in enumerate(counts):
        h = plot_h * count / peak
        x = left + k * bin_w
        out.append(f'<g><title>PQ {10 * k}-{10 * (k + 1)}: {count} image'
                   f'{"s" if count != 1 else ""}</title>'
                   f'<rect x="{x + 2:.1f}" y="{top + plot_h - h:.1f}" width="{bin_w - 4:.1f}" '
                   f'height="{h:.1f}" fill="{THING_COLOR}"/>')
        if count:
            out.append(f'<text class="val" x="{x + bin_w / 2:.1f}" y="{top + plot_h - h - 4:.1f}" '
                       f'text-anchor="middle">{count}</text>')
        out.append("</g>")
    for k in range(11):
        x = left + k * bin_w
        out.append(f'<text class="tick" x="{x:.1f}" y="{top + plot_h + 16}" '
                   f'text-anchor="middle">{10 * k}</text>')
    out.append(f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
               f'y2="{top + plot_h}"/>')
    out.append(f'<text class="tick" x="{left + plot_w / 2:.1f}" y="{height - 4}" '
               'text-anchor="middle">per-image PQ (%)</text></svg>')
    note = (f'<p class="note">{len(pqs)} images; mean {100 * pqs.mean():.1f}, median '
            f"{100 * np.median(pqs):.1f}"
            + (f"; {skipped} images without a PQ (no segments) left out" if skipped else "")
            + ".</p>")
    return note + '<div class="scroll">' + "".join(out) + "</div>"


def _nice_step(peak: int, ticks: int = 5) -> int:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``ticks`` ticks up to peak."""
    raw = max(1.0, peak / ticks)
    power = 10 ** int(math.floor(math.log10(raw)))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return int(m * power)
    return int(10 * power)  # pragma: no cover


def _worst_section(worst: Sequence[Mapping], pictures: Sequence[tuple]) -> str:
    if not worst:
        return '<p class="empty">No images to show.</p>'
    items = []
    for rank, (item, (uri, size, problem, warning)) in enumerate(zip(worst, pictures), 1):
        item = item if isinstance(item, Mapping) else {}
        stats = (f'<span class="chip">PQ {_pct(item.get("pq"))}</span>'
                 f'<span class="chip">TP {_count(item.get("tp"))}</span>'
                 f'<span class="chip">FP {_count(item.get("fp"))}</span>'
                 f'<span class="chip">FN {_count(item.get("fn"))}</span>')
        caption = (f'<figcaption><span class="rank">#{rank}</span> image '
                   f'<strong>{_e(item.get("image_id", "?"))}</strong> '
                   f'<code>{_e(item.get("file_name", ""))}</code> {stats}</figcaption>')
        if uri is not None:
            alt = f"ground truth and prediction of image {item.get('image_id', '?')}"
            picture = (f'<img src="{uri}" width="{size[0]}" height="{size[1]}" '
                       f'alt="{_e(alt)}" loading="lazy">')
            if warning:
                picture += f'<p class="note">{_e(warning)}</p>'
        else:
            picture = (f'<div class="placeholder">Could not draw this image: '
                       f"{_e(problem)}</div>")
        items.append(f'<figure class="worst">{caption}{picture}</figure>')
    return (f'<p class="note">{len(worst)} images with the lowest PQ, worst first; left: '
            "ground truth, right: prediction.</p>" + "\n".join(items))


# --------------------------------------------------------------------------------------------
# Pictures
# --------------------------------------------------------------------------------------------

def _render_worst(worst: list, categories) -> List[tuple]:
    """(data URI or None, (w, h), problem, warning) per image, drawn by a few threads."""
    if not worst:
        return []
    from ..util.parallel import default_workers, ordered_map

    cats = None
    cat_problem = None
    try:
        from ..io.categories import as_categories

        cats = as_categories(categories)
    except Exception as e:  # noqa: BLE001 - no categories: every picture gets a placeholder
        cat_problem = f"no usable categories ({e})"

    def one(item):
        if cat_problem is not None:
            return None, None, cat_problem, None
        try:
            return _render_pair(item, cats)
        except Exception as e:  # noqa: BLE001 - one bad image must not sink the report
            return None, None, _problem(e), None

    workers = max(1, min(len(worst), default_workers(), 8))
    return list(ordered_map(one, worst, workers))


def _problem(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) < 400 else text[:397] + "..."


def _render_pair(item, categories):
    from PIL import Image

    from ..viz import render_panoptic, side_by_side

    if not isinstance(item, Mapping):
        raise ValueError(f"not an image entry: {item!r}")
    missing = [k for k in ("gt_png", "pred_png") if not item.get(k)]
    if missing:
        raise ValueError("no " + " / ".join(missing) + " path given")
    image_id = item.get("image_id")
    for key in ("gt_png", "pred_png"):
        if not os.path.isfile(item[key]):
            what = "ground-truth" if key == "gt_png" else "prediction"
            raise FileNotFoundError(f"{what} PNG not found: {os.fspath(item[key])}")
    with Image.open(item["gt_png"]) as im:
        width, height = im.size
    photo, warning = item.get("image_path"), None
    if photo is not None:
        try:
            with Image.open(photo) as im:
                if im.size != (width, height):
                    raise ValueError(f"it is {im.size[0]}x{im.size[1]}, the PNG "
                                     f"{width}x{height}")
        except (OSError, ValueError) as e:
            warning = f"Photo {os.fspath(photo)} not usable ({_problem(e)}): drawn on grey."
            photo = None
    # Label size chosen so that it reads after the pair is scaled down to MAX_IMAGE_WIDTH.
    scale = min(1.0, MAX_IMAGE_WIDTH / max(1, 2 * width + 8))
    short = min(width, height)
    font = int(min(48, max(11, round(0.035 * short))))
    font = max(font, int(math.ceil(_LABEL_PX / scale)))
    font = min(font, max(11, short // 5))
    panels = [render_panoptic(photo, item[png], item.get(seg) or [], categories,
                              font_size=font, image_id=image_id)
              for png, seg in (("gt_png", "gt_segments"), ("pred_png", "pred_segments"))]
    pair = Image.fromarray(side_by_side(panels[0], panels[1], ("ground truth", "prediction"),
                                        font_size=font + 2))
    if pair.width > MAX_IMAGE_WIDTH:
        new_h = max(1, int(round(pair.height * MAX_IMAGE_WIDTH / pair.width)))
        pair = pair.resize((MAX_IMAGE_WIDTH, new_h), Image.LANCZOS)
    uri = _data_uri(pair, photo is not None)
    return uri, pair.size, None, warning


def _data_uri(picture, is_photo: bool) -> str:
    """JPEG for photos; for grey backgrounds the smaller of PNG and JPEG."""
    encoded = []
    buf = io.BytesIO()
    picture.save(buf, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    encoded.append(("image/jpeg", buf.getvalue()))
    if not is_photo:
        buf = io.BytesIO()
        picture.save(buf, format="PNG", optimize=True)
        encoded.append(("image/png", buf.getvalue()))
    mime, data = min(encoded, key=lambda e: len(e[1]))
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# --------------------------------------------------------------------------------------------
# Style
# --------------------------------------------------------------------------------------------

_CSS = f"""
:root {{ --fg:#1c2230; --muted:#667085; --line:#e2e5ea; --zebra:#f5f7fa; --head:#eceff4;
  --thing:{THING_COLOR}; --stuff:{STUFF_COLOR}; --accent:#3569b4; }}
* {{ box-sizing:border-box; }}
html {{ background:#eef0f3; }}
body {{ margin:0; color:var(--fg); font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
  "Helvetica Neue","Noto Sans","DejaVu Sans",Arial,sans-serif; }}
main {{ max-width:1100px; margin:0 auto; padding:28px 36px 56px; background:#fff;
  min-height:100vh; box-shadow:0 0 0 1px var(--line); }}
h1 {{ font-size:26px; margin:0 0 4px; letter-spacing:-0.01em; }}
h2 {{ font-size:19px; margin:34px 0 12px; padding-bottom:6px; border-bottom:2px solid var(--line); }}
h3 {{ font-size:14px; margin:0 0 8px; color:#344054; }}
p.sub {{ margin:0 0 12px; color:var(--muted); }}
p.note {{ color:var(--muted); font-size:12.5px; margin:6px 0 10px; max-width:80ch; }}
p.empty {{ color:var(--muted); font-style:italic; }}
code {{ font:12.5px/1.4 ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;
  word-break:break-all; }}
nav {{ position:sticky; top:0; z-index:1; background:rgba(255,255,255,.95); margin:14px -36px 0;
  padding:8px 36px; border-bottom:1px solid var(--line); font-size:13px; }}
nav a {{ color:var(--accent); text-decoration:none; margin-right:16px; }}
nav a:hover {{ text-decoration:underline; }}
table {{ border-collapse:collapse; font-variant-numeric:tabular-nums; }}
th, td {{ padding:3px 10px; text-align:left; border-bottom:1px solid var(--line);
  vertical-align:top; }}
thead th {{ background:var(--head); font-weight:600; font-size:12.5px; color:#344054;
  border-bottom:1px solid #cfd4dc; }}
tbody tr:nth-child(even) {{ background:var(--zebra); }}
tbody th {{ font-weight:600; }}
.num {{ text-align:right; white-space:nowrap; }}
table.wide {{ width:100%; }}
table.inputs th {{ font-weight:500; color:var(--muted); white-space:nowrap; background:none; }}
table.inputs td, table.inputs th {{ border:0; padding:1px 12px 1px 0; }}
table.inputs tbody tr {{ background:none; }}
.ci {{ display:block; font-size:11px; color:var(--muted); }}
.tiles {{ display:flex; flex-wrap:wrap; gap:12px; margin:4px 0 16px; }}
.tile {{ flex:1 1 130px; border:1px solid var(--line); border-radius:8px; padding:10px 14px;
  background:linear-gradient(#fbfcfd,#f3f5f8); }}
.tile .v {{ font-size:26px; font-weight:650; font-variant-numeric:tabular-nums; }}
.tile .k {{ color:var(--muted); font-size:12.5px; }}
.cards {{ display:grid; grid-template-columns:repeat(auto-fill, minmax(420px, 1fr)); gap:16px;
  align-items:start; }}
.card {{ border:1px solid var(--line); border-radius:8px; padding:12px 16px; min-width:0; }}
.card table {{ min-width:60%; }}
.card p.note {{ max-width:60ch; margin-bottom:0; }}
.legend {{ display:flex; flex-wrap:wrap; gap:18px; align-items:center; font-size:13px;
  margin:0 0 6px; }}
.legend i {{ display:inline-block; width:14px; height:14px; border-radius:3px;
  vertical-align:-2px; margin-right:6px; }}
.legend i.dash {{ width:18px; height:0; border-top:2px dashed #c0392b; border-radius:0;
  vertical-align:4px; }}
.muted {{ color:var(--muted); }}
.scroll {{ overflow-x:auto; }}
svg.chart {{ display:block; max-width:none; }}
svg.chart text {{ font-family:inherit; fill:#1c2230; }}
svg.chart text.name {{ font-size:12px; }}
svg.chart text.val {{ font-size:10.5px; fill:#475467; }}
svg.chart text.tick {{ font-size:11px; fill:#667085; }}
svg.chart line.grid {{ stroke:#e6e8ec; stroke-width:1; }}
svg.chart line.axis {{ stroke:#98a2b3; stroke-width:1; }}
svg.chart line.mean {{ stroke:#c0392b; stroke-width:1.5; stroke-dasharray:5 4; }}
svg.chart rect.hit {{ fill:transparent; }}
svg.chart g.bar:hover rect.hit {{ fill:rgba(53,105,180,.09); }}
.kind {{ display:inline-block; padding:0 7px; border-radius:9px; font-size:11.5px;
  background:#eee; }}
.kind.thing {{ background:#e3ebf7; color:#23497f; }}
.kind.stuff {{ background:#fbeedd; color:#8a4b0c; }}
details.absent {{ margin:10px 0 0; color:var(--muted); font-size:13px; }}
details.absent summary {{ cursor:pointer; }}
details.absent p {{ margin:6px 0 0 16px; }}
td.arrow {{ color:var(--muted); padding:4px 2px; }}
.nothing {{ color:var(--muted); font-style:italic; }}
td.sharebar {{ width:140px; padding-left:0; }}
td.sharebar span {{ display:block; height:10px; margin-top:5px; background:#c9d6ea;
  border-radius:2px; }}
figure.worst {{ margin:0 0 26px; }}
figure.worst figcaption {{ margin:0 0 6px; display:flex; flex-wrap:wrap; gap:8px;
  align-items:baseline; }}
figure.worst img {{ display:block; max-width:100%; height:auto; border-radius:4px;
  border:1px solid var(--line); }}
.rank {{ font-weight:700; color:var(--accent); }}
.chip {{ display:inline-block; padding:1px 8px; border-radius:10px; background:var(--head);
  font-size:12px; font-variant-numeric:tabular-nums; }}
.placeholder {{ border:2px dashed #d0a0a0; background:#fdf4f4; color:#8a1f1f; padding:28px 20px;
  border-radius:6px; max-width:960px; }}
footer {{ margin-top:40px; padding-top:10px; border-top:1px solid var(--line);
  color:var(--muted); font-size:12px; }}
@media print {{ nav {{ position:static; }} html {{ background:#fff; }} }}
"""

__all__ = ["write_report", "render_report_html", "MAX_IMAGE_WIDTH", "CONFUSION_ROWS"]
