"""The HTML report of a comparison of predictions (``panoseg compare --report DIR``).

:func:`write_compare_report` writes ``index.html`` and ``report.json`` (the comparison's
results) into a folder. Like the evaluation report (:mod:`panoseg.report`), the page needs
nothing but itself: CSS inline (the report's stylesheet plus ``compare.css``), charts as inline
SVG, pictures as ``data:`` URIs, no JavaScript. It shows: each model's PQ / SQ / RQ; for each
model against the first, the PQ differences with their intervals and p-values; a per-class
chart of the PQ differences with their intervals; the images whose PQ changes most, drawn as
ground truth | model | model ... with :mod:`panoseg.viz`.
"""
from __future__ import annotations

import io
import json
import math
import os
from typing import Callable, List, Mapping, Optional, Sequence

import numpy as np

from ..evaluation.compare import MIN_IMAGES
from ..util.atomic import atomic_open
from .page import assemble_page, header
from .pictures import _data_uri, _problem
from .tables import errors_section
from .templates import render
from .values import as_float, by_id, esc, jsonable, plural
from .writer import write_page_and_json

#: Colours of a gain and a loss of the compared model (green / red).
GAIN_COLOR = "#2e8b57"
LOSS_COLOR = "#c0392b"
#: Widest embedded picture (pixels): the page's content width.
MAX_PICTURE_WIDTH = 1020
_LABEL_PX = 11


def _points(value, signed: bool = False) -> str:
    v = as_float(value)
    if v is None:
        return "\u2013"
    return f"{100 * v:+.1f}" if signed else f"{100 * v:.1f}"


def _sign(delta, ci, p=None, alpha: float = 0.05) -> str:
    """``gain`` / ``loss`` when the interval excludes 0 and the test agrees (p < ``alpha``, or
    no test); ``mixed`` when only one of them calls it; else ``none``."""
    if ci is None or as_float(delta) is None:
        return "none"
    lo, hi = as_float(ci[0]), as_float(ci[1])
    side = "gain" if lo is not None and lo > 0 else (
        "loss" if hi is not None and hi < 0 else "none")
    significant = p is None or p < alpha
    if side != "none" and significant:
        return side
    if side != "none" or (p is not None and p < alpha):
        return "mixed"
    return "none"


def models_section(results: Mapping) -> str:
    """Each model's PQ / SQ / RQ / N for All, Things and Stuff, and each comparison's deltas."""
    names = list(results.get("models") or [])
    rows = []
    for group in ("All", "Things", "Stuff"):
        g = results.get(group) or {}
        for k, name in enumerate(names):
            n = (g.get("n") or [None] * len(names))[k]
            empty = n == 0
            rows.append(render(
                "compare_models_row.html", cls=' class="first"' if k == 0 else "",
                group=esc(group) if k == 0 else "", model=esc(name),
                pq="\u2013" if empty else _points(g["pq"][k]),
                sq="\u2013" if empty else _points(g["sq"][k]),
                rq="\u2013" if empty else _points(g["rq"][k]),
                n="\u2013" if n is None else str(n)))
    parts = [render("compare_models.html", rows="".join(rows))]
    method = results.get("method") or {}
    confidence = f"{100 * float(method.get('confidence', 0.95)):.0f}%"
    index = {name: k for k, name in enumerate(names)}
    for item in results.get("comparisons") or []:
        a, b = index.get(item["baseline"], 0), index.get(item["model"], 1)
        delta_rows = []
        for group in ("All", "Things", "Stuff"):
            c = item.get(group) or {}
            g = results.get(group) or {}
            sign = _sign(c.get("delta_pq"), c.get("ci"), as_float(c.get("p_value")),
                         1 - float(method.get("confidence", 0.95)))
            verdict = {"gain": f"{item['model']} better", "loss": f"{item['baseline']} better",
                       "mixed": "uncertain: interval and test disagree",
                       "none": "no clear difference"}[sign]
            sign = "none" if sign == "mixed" else sign
            if c.get("delta_pq") is None:
                verdict = "no categories"
            ci = c.get("ci")
            p = as_float(c.get("p_value"))
            delta_rows.append(render(
                "compare_delta_row.html", group=esc(group), pq_a=_points(g["pq"][a]),
                pq_b=_points(g["pq"][b]), delta=_points(c.get("delta_pq"), True), sign=sign,
                interval="\u2013" if ci is None else
                f"{_points(ci[0], True)} to {_points(ci[1], True)}",
                p="\u2013" if p is None else f"{p:.4f}", verdict=esc(verdict)))
        parts.append(render("compare_delta.html", model=esc(item["model"]),
                            baseline=esc(item["baseline"]), confidence=confidence,
                            rows="".join(delta_rows)))
    n_images = results.get("n_images")
    if isinstance(n_images, int) and n_images < MIN_IMAGES:
        parts.append(render("compare_note_few_images.html", n_images=n_images,
                            minimum=MIN_IMAGES))
    parts.append(render(
        "compare_note_method.html", n_images=esc(results.get("n_images", "?")),
        baseline=esc(names[0] if names else "?"), confidence=confidence,
        n_resamples=esc(method.get("n_resamples", "?")),
        n_permutations=esc(method.get("n_permutations", "?"))))
    return "\n".join(parts)


def _short(name: str, limit: int = 30) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def delta_chart_section(results: Mapping, item: Mapping) -> str:
    """Per category: a bar from 0 to the PQ difference and its interval as a whisker, largest
    gain first."""
    per_class = by_id(results.get("per_class"))
    names = list(results.get("models") or [])
    a = names.index(item["baseline"]) if item["baseline"] in names else 0
    b = names.index(item["model"]) if item["model"] in names else 1
    bars, unchanged = [], []
    for cat_id, v in by_id(item.get("per_class")).items():
        delta, ci = as_float(v.get("delta_pq")), v.get("ci")
        if delta is None:
            continue
        info = per_class.get(cat_id, {})
        lo = as_float(ci[0]) if ci else delta
        hi = as_float(ci[1]) if ci else delta
        lo = lo if lo is not None else delta
        hi = hi if hi is not None else delta
        name = str(info.get("name", cat_id))
        if delta == 0 and lo == 0 and hi == 0:  # the same PQ in every resample: not drawn
            unchanged.append(name)
            continue
        bars.append((delta, cat_id, name, info.get("isthing"), lo, hi, info.get("pq")))
    note = ""
    if unchanged:
        note = render("note.html", text=esc(
            f"{len(unchanged)} {plural(len(unchanged), 'category', 'categories')} with the "
            f"same PQ for both models in every resample (\u0394PQ 0, interval [0, 0]) not "
            f"drawn: {', '.join(sorted(unchanged))}."))
    if not bars:
        return note or render("empty.html", text="The comparison has no per-class results.")
    bars.sort(key=lambda r: (-r[0], r[2]))
    span = max(0.05, max(max(abs(r[4]), abs(r[5]), abs(r[0])) for r in bars))
    step = 0.05 if span <= 0.25 else 0.1 if span <= 0.5 else 0.25
    span = step * math.ceil(span / step - 1e-9)
    width, left, right = 1000, 220, 70
    top, bottom, row_h, bar_h = 30, 30, 17, 10
    plot = width - left - right
    zero = left + plot / 2
    height = top + row_h * len(bars) + bottom

    def x_of(value):
        return zero + plot / 2 * max(-1.0, min(1.0, value / span))

    ticks = []
    for k in range(-int(round(span / step)), int(round(span / step)) + 1):
        x = f"{x_of(k * step):.1f}"
        label = f"{100 * k * step:+.0f}" if k else "0"
        ticks.append(render("compare_chart_tick.svg", x=x, y1=top - 4, y2=height - bottom + 4,
                            top_y=top - 10, bottom_y=height - bottom + 18, tick=label))
    drawn = []
    for i, (delta, cat_id, name, isthing, lo, hi, pqs) in enumerate(bars):
        y = top + i * row_h
        mid = y + row_h / 2
        x0, x1 = sorted((zero, x_of(delta)))
        colour = GAIN_COLOR if delta > 0 else LOSS_COLOR
        kind = "thing" if isthing else "stuff" if isthing is not None else "?"
        pq_text = ""
        if isinstance(pqs, list) and len(pqs) > max(a, b):
            pq_text = (f"; PQ {item['baseline']} {_points(pqs[a])}, "
                       f"{item['model']} {_points(pqs[b])}")
        tooltip = (f"{name} ({kind}, id {cat_id}): \u0394PQ {_points(delta, True)}, interval "
                   f"{_points(lo, True)} to {_points(hi, True)}{pq_text}")
        # The values in a column right of the plot: whiskers reach anywhere inside it.
        anchor, value_x = "end", width - 6
        drawn.append(render(
            "compare_chart_bar.svg", tooltip=esc(tooltip), y=y, width=width, row_h=row_h,
            name_x=left - 8, mid_y=f"{mid:.1f}",
            name=esc(_short(name)) + ("" if isthing is None else
                                      (" \u25cf" if isthing else " \u25cb")),
            bar_x=f"{x0:.1f}", bar_y=f"{y + (row_h - bar_h) / 2:.1f}",
            bar_w=f"{max(x1 - x0, 0.0):.1f}", bar_h=bar_h, colour=colour,
            lo_x=f"{x_of(lo):.1f}", hi_x=f"{x_of(hi):.1f}", cap_y1=f"{mid - 4:.1f}",
            cap_y2=f"{mid + 4:.1f}", value_x=f"{value_x:.1f}", anchor=anchor,
            value=_points(delta, True)))
    chart = render("compare_chart.svg", width=width, height=height, ticks="".join(ticks),
                   zero_x=f"{zero:.1f}", y1=top - 4, y2=height - bottom + 4,
                   bars="".join(drawn))
    method = results.get("method") or {}
    confidence = f"{100 * float(method.get('confidence', 0.95)):.0f}%"
    return render("compare_chart.html", gain_color=GAIN_COLOR, loss_color=LOSS_COLOR,
                  model=esc(item["model"]), baseline=esc(item["baseline"]),
                  confidence=confidence, n=len(bars), chart=chart) + note


# -------------------------------------------------------------------------------- pictures

def shown_images(comparison, top: int) -> List[dict]:
    """The images with the largest |delta PQ| against the baseline (the largest over the
    models), with what drawing them needs."""
    rows = comparison.rows
    job = comparison.job

    def change(row):
        pqs = row["pq"]
        return max(abs(p - pqs[0]) for p in pqs[1:])

    chosen = sorted(range(len(rows)), key=lambda i: (-change(rows[i]), i))[:top]
    out = []
    for i in chosen:
        row = rows[i]
        if change(row) == 0:
            break
        entry = {"image_id": row["image_id"], "file_name": row["file_name"], "pq": row["pq"]}
        if job is not None:
            gt_ann, pred_anns = job.items[i]
            entry.update(gt_png=os.path.join(job.gt_folder, gt_ann["file_name"]),
                         gt_segments=gt_ann["segments_info"],
                         pred_pngs=[os.path.join(m.folder, ann["file_name"])
                                    for m, ann in zip(job.models, pred_anns)],
                         pred_segments=[ann["segments_info"] for ann in pred_anns])
        out.append(entry)
    return out


def panels_in_a_row(panels: Sequence[np.ndarray], titles: Sequence[str],
                    font_size: int) -> np.ndarray:
    """Pictures side by side, each under a title bar (the style of
    :func:`panoseg.viz.side_by_side`, for any number of panels)."""
    from PIL import Image, ImageDraw

    from ..viz.labels import load_font

    height = max(p.shape[0] for p in panels)
    gap = max(4, font_size // 3)
    bar = int(round(font_size * 1.8))
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    canvas = np.empty((bar + height, width, 3), np.uint8)
    canvas[:] = (30, 30, 30)
    x = 0
    for panel in panels:
        canvas[bar:bar + panel.shape[0], x:x + panel.shape[1]] = panel[:, :, :3]
        x += panel.shape[1] + gap
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    font = load_font(font_size)
    x = 0
    for panel, title in zip(panels, titles):
        text = str(title)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        while right - left > panel.shape[1] - 4 and len(text) > 2:  # too wide: shorten
            text = text[:-2] + "\u2026"
            left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tx = x + max(0, (panel.shape[1] - (right - left)) // 2) - left
        ty = (bar - (bottom - top)) // 2 - top
        draw.text((tx, ty), text, font=font, fill=(255, 255, 255))
        x += panel.shape[1] + gap
    return np.asarray(picture).copy()


def render_row(entry: Mapping, names: Sequence[str], categories, images_folder=None):
    """The picture of one image: ground truth and each model's prediction, as a PIL image.
    Returns ``(picture, warning)``."""
    from PIL import Image

    from ..io.paths import find_photo
    from ..viz.render import read_photo

    with Image.open(entry["gt_png"]) as im:
        width, height = im.size
    photo, warning = None, None
    if images_folder is not None:
        path = find_photo(images_folder,
                              entry.get("file_name") or os.path.basename(entry["gt_png"]))
        if path is None:
            warning = f"No photo in {os.fspath(images_folder)}: drawn on grey."
        else:
            try:
                photo = read_photo(path, entry["image_id"])
                if photo.shape[:2] != (height, width):
                    raise ValueError(f"it is {photo.shape[1]}x{photo.shape[0]}, the PNG "
                                     f"{width}x{height}")
            except (OSError, ValueError) as e:
                warning = f"Photo {os.fspath(path)} not usable ({_problem(e)}): drawn on grey."
                photo = None
    n = 1 + len(names)
    scale = min(1.0, MAX_PICTURE_WIDTH / max(1, n * width + 8 * (n - 1)))
    short = min(width, height)
    font = int(min(48, max(11, round(0.035 * short))))
    font = max(font, int(math.ceil(_LABEL_PX / scale)))
    font = min(font, max(11, short // 5))
    paths = [entry["gt_png"]] + list(entry["pred_pngs"])
    segments = [entry["gt_segments"]] + list(entry["pred_segments"])
    panels = [_panel(photo, path, segs, categories, font, entry["image_id"])
              for path, segs in zip(paths, segments)]
    titles = ["ground truth"] + [f"{name} (PQ {_points(pq)})"
                                 for name, pq in zip(names, entry["pq"])]
    picture = Image.fromarray(panels_in_a_row(panels, titles, font + 2))
    if picture.width > MAX_PICTURE_WIDTH:
        new_h = max(1, int(round(picture.height * MAX_PICTURE_WIDTH / picture.width)))
        picture = picture.resize((MAX_PICTURE_WIDTH, new_h), Image.LANCZOS)
    return picture, warning


def _panel(photo, png, segments, categories, font, image_id):
    from ..viz.render import render_on_photo

    return render_on_photo(photo, None, png, segments or [], categories, image_id, None,
                           font_size=font)


def images_section(entries: Sequence[Mapping], names: Sequence[str], categories,
                   images_folder=None, *, panel_files: Optional[str] = None) -> str:
    """A figure per image (largest change first): ids, each model's PQ and the picture.
    ``panel_files``: a folder where each picture is also written as a PNG."""
    if not entries:
        return render("empty.html", text="No image changes its PQ between the models.")
    from ..util.parallel import default_workers, ordered_map

    def one(item):
        k, entry = item
        try:
            picture, warning = render_row(entry, names, categories, images_folder)
        except Exception as e:  # noqa: BLE001 - one bad image must not sink the report
            return None, None, _problem(e), None
        if panel_files is not None:
            buf = io.BytesIO()
            picture.save(buf, format="PNG", optimize=True)
            name = f"{k + 1:02d}_{_safe(entry['image_id'])}.png"
            with atomic_open(os.path.join(panel_files, name), "wb") as f:
                f.write(buf.getvalue())
        return _data_uri(picture, images_folder is not None and warning is None), \
            picture.size, None, warning

    workers = max(1, min(len(entries), default_workers(), 8))
    pictures = list(ordered_map(one, list(enumerate(entries)), workers))
    figures = []
    for rank, (entry, (uri, size, problem, warning)) in enumerate(zip(entries, pictures), 1):
        if uri is not None:
            picture = render("worst_image.html", src=uri, width=size[0], height=size[1],
                             alt=esc(f"ground truth and predictions of image "
                                     f"{entry['image_id']}"),
                             warning=render("note.html", text=esc(warning)) if warning else "")
        else:
            picture = render("worst_placeholder.html", problem=esc(problem))
        pqs = entry["pq"]
        chips = [render("compare_chip.html", cls="", text=esc(f"{names[0]} PQ "
                                                               f"{_points(pqs[0])}"))]
        for name, pq in zip(names[1:], pqs[1:]):
            delta = pq - pqs[0]
            chips.append(render("compare_chip.html",
                                cls=" gain" if delta > 0 else " loss" if delta < 0 else "",
                                text=esc(f"{name} PQ {_points(pq)} "
                                         f"(\u0394 {_points(delta, True)})")))
        figures.append(render("compare_figure.html", rank=rank,
                              image_id=esc(entry["image_id"]),
                              file_name=esc(entry.get("file_name") or ""),
                              chips="".join(chips), picture=picture))
    what = (f"{names[1]} against {names[0]}" if len(names) == 2
            else f"the largest of each model against {names[0]}")
    return render("compare_images.html", n=len(entries), what=esc(what),
                  panels=esc(", ".join(["ground truth"] + list(names))),
                  figures="\n".join(figures))


def _safe(value) -> str:
    text = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(value))
    return text[:60] or "image"


# ------------------------------------------------------------------------------------ page

def render_compare_html(results: Mapping, entries: Sequence[Mapping], categories, *,
                        images_folder=None, title: str = "panoseg comparison",
                        panel_files: Optional[str] = None) -> str:
    """The text of :func:`write_compare_report`'s ``index.html``."""
    names = list(results.get("models") or [])
    sections = [("summary", "Summary", models_section(results))]
    for k, item in enumerate(results.get("comparisons") or []):
        heading = f"Per-class \u0394PQ: {item['model']} vs {item['baseline']}"
        sections.append((f"per-class-{k + 1}", heading, delta_chart_section(results, item)))
    errors = results.get("errors")
    if isinstance(errors, Mapping):  # compare --errors: each model's breakdown
        for k, (name, summary) in enumerate(errors.items()):
            sections.append((f"errors-{k + 1}", f"Where PQ is lost: {name}",
                             errors_section({"errors": summary})))
    sections.append(("images", "Images that change most",
                     images_section(entries, names, categories, images_folder,
                                    panel_files=panel_files)))
    style = render("compare.css", gain_color=GAIN_COLOR, loss_color=LOSS_COLOR)
    names = list(results.get("models") or [])
    models = render("compare_header_models.html", n=len(names),
                    names=", ".join(esc(n) for n in names))
    n_images = results.get("n_images")
    inputs = dict(results.get("inputs") or {})
    predictions = inputs.pop("predictions", None)
    if isinstance(predictions, Mapping):  # a row per model in the header
        inputs.update({f"prediction: {name}": path for name, path in predictions.items()})
    return assemble_page(title, sections,
                         header(title, None if n_images is None else int(n_images), [models],
                                inputs), style)


def write_compare_report(folder, comparison, *, top: int = 10, images_folder=None,
                         title: str = "panoseg comparison", panels: bool = True,
                         on_warning: Optional[Callable[[str], None]] = None) -> str:
    """Writes ``folder/index.html`` (the comparison page) and ``folder/report.json`` (the
    results); with ``panels``, also each picture as ``folder/images/NN_<image id>.png``.

    Parameters
    ----------
    folder : path
        Created if needed; files written atomically.
    comparison : panoseg.evaluation.compare.Comparison
        What :func:`~panoseg.evaluation.compare.compare` returns.
    top : int
        Images shown: those whose PQ changes most against the baseline.
    images_folder : path, optional
        The photos to draw on (default: grey).
    on_warning : callable, optional
        Called with a line when pictures could not be drawn.

    Returns
    -------
    str
        The path of ``index.html``.
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    results = comparison.results
    json_text = json.dumps(jsonable(results), indent=1, allow_nan=False)
    entries = shown_images(comparison, top)
    panel_files = None
    if panels and entries:
        panel_files = os.path.join(folder, "images")
        os.makedirs(panel_files, exist_ok=True)
    categories = comparison.job.categories if comparison.job is not None else None
    page = render_compare_html(results, entries, categories, images_folder=images_folder,
                               title=title, panel_files=panel_files)
    failed = page.count('class="placeholder"')
    if failed and on_warning is not None:
        on_warning(f"{failed} of the report's {len(entries)} pictures could not be drawn "
                   "(the page says why)")
    return write_page_and_json(folder, page, json_text)
