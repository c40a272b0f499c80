"""The report page: the header, the sections in order, the footer, in ``report.html`` with
``report.css`` inlined."""
from __future__ import annotations

import datetime
from typing import Mapping, Sequence

from .._version import __version__
from .charts import STUFF_COLOR, THING_COLOR, bar_chart_section, histogram_section
from .pictures import render_worst, worst_section
from .rows import category_info, class_rows
from .summary import summary_section
from .tables import category_table_section, confusion_section, errors_section
from .templates import render
from .values import as_float, as_int, esc, lookup, plain, plural


def render_report_html(report: Mapping, worst: Sequence[Mapping], categories, *,
                       title: str = "panoseg evaluation") -> str:
    """The text of :func:`~panoseg.report.write_report`'s ``index.html``.

    Parameters
    ----------
    report, worst, categories, title
        As :func:`~panoseg.report.write_report` takes them.

    Returns
    -------
    str
        A complete HTML page (CSS inline, no external resources).
    """
    report = report if isinstance(report, Mapping) else {}
    cats = category_info(categories)
    rows = class_rows(report, cats)
    pictures = render_worst(list(worst or ()), categories)
    all_pq = None if as_int(lookup(report, "All", "n")) == 0 else \
        as_float(lookup(report, "All", "pq"))
    # With Boundary PQ, say so wherever "PQ" is Boundary PQ; the error types and the
    # pictures' marks stay on the mask matching.
    boundary = report.get("iou_type") == "boundary"
    pq = "Boundary PQ" if boundary else "PQ"
    worst_html = worst_section(worst or (), pictures)
    if boundary and worst_html is not None:
        worst_html = render("note.html", text=render("worst_note_boundary.html")) + worst_html
    sections = [
        ("summary", "Summary", summary_section(report)),
        ("per-class", f"Per-class {pq}", bar_chart_section(rows, all_pq)),
        ("categories", "Per-category results" + (" (PQ columns: Boundary PQ)" if boundary
                                                  else ""), category_table_section(rows)),
        ("confusion", "Confusion: missed ground-truth segments",
         confusion_section(report, cats, rows)),
        ("errors", "Where PQ is lost" + (" (mask PQ)" if boundary else ""),
         errors_section(report)),
        ("per-image", f"Per-image {pq}", histogram_section(report)),
        ("worst", "Worst images", worst_html),
    ]
    n_images = as_int(report.get("n_images"))
    if n_images is None and isinstance(report.get("per_image"), list):
        n_images = len(report["per_image"])
    counts = []
    n_classes = as_int(lookup(report, "All", "n"))
    if n_classes is not None:
        counts.append(render("header_categories.html", n=n_classes))
    return assemble_page(title, sections, header(title, n_images, counts, report.get("inputs")))


def assemble_page(title: str, sections, header_html: str, extra_style: str = "") -> str:
    """The page around ``sections`` (``(id, heading, content HTML or None)``, None left
    out): navigation, the inline stylesheet (+ ``extra_style``), header and footer."""
    sections = [s for s in sections if s[2] is not None]
    nav = " ".join(render("nav_link.html", id=sid, heading=esc(heading))
                   for sid, heading, _ in sections)
    body = "\n".join(render("section.html", id=sid, heading=esc(heading), content=content)
                     for sid, heading, content in sections)
    style = render("report.css", thing_color=THING_COLOR, stuff_color=STUFF_COLOR)
    if extra_style:
        style += "\n" + extra_style
    # Templates drop their files' final newline; the page file keeps one.
    return render("report.html", title=esc(title), style=style, header=header_html,
                  nav=nav, sections=body, footer=_footer()) + "\n"


def header(title: str, n_images, counts, inputs) -> str:
    """The title, the image count followed by ``counts`` (rendered HTML pieces) and the
    inputs table."""
    parts = [render("header_title.html", title=esc(title))]
    counts = list(counts)
    if n_images is not None:
        counts.insert(0, render("header_images.html", n=int(n_images),
                                images=plural(int(n_images), "image", "images")))
    if counts:
        parts.append(render("header_counts.html", counts=" &middot; ".join(counts)))
    if isinstance(inputs, Mapping) and inputs:
        rows = "".join(render("header_input_row.html", key=esc(k), value=esc(plain(v)))
                       for k, v in inputs.items())
        parts.append(render("header_inputs.html", rows=rows))
    return "\n".join(parts)


def _footer() -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return render("footer.html", version=esc(__version__), date=now)
