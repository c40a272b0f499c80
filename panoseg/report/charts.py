"""The report's two charts, inline SVG: PQ per category (bars) and per-image PQ (histogram).

This module computes the geometry; the markup is in the ``bar_chart*`` and ``histogram*``
templates.
"""
from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np

from .rows import kind
from .templates import render
from .values import DAGGER, as_float, count_text, esc, lookup, percent, plural

#: Colours of things and stuff in the charts (and the stylesheet's --thing / --stuff).
THING_COLOR = "#3569b4"
STUFF_COLOR = "#e08a2c"
#: Bars of categories whose kind is unknown.
UNKNOWN_COLOR = "#888888"


def _tooltip(row: Mapping) -> str:
    counts = ""
    if row.get("present") is not None:
        counts = (f"; TP {count_text(row.get('tp'))}, FP {count_text(row.get('fp'))}, "
                  f"FN {count_text(row.get('fn'))}")
    return (f"{row['name']} ({kind(row['isthing'])}, id {row['id']}): "
            f"PQ {percent(row.get('pq'))}, SQ {percent(row.get('sq'))}, "
            f"RQ {percent(row.get('rq'))}; {DAGGER} {percent(row.get('pq_dagger'))}; "
            f"PC {percent(row.get('pc'))}{counts}")


def _short(name: str, limit: int = 30) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def bar_chart_section(rows: Sequence[dict], overall: Optional[float]) -> str:
    """The per-class PQ section: a legend and one bar per category with ground truth or
    predictions, best first.

    Parameters
    ----------
    rows : sequence of dict
        :func:`panoseg.report.rows.class_rows`.
    overall : float or None
        PQ of All, drawn as a dashed line under the bars.
    """
    bars = [r for r in rows if r["present"] is not False and as_float(r.get("pq")) is not None]
    if not bars:
        return render("empty.html", text="The report has no per-class results.")
    bars.sort(key=lambda r: (-as_float(r["pq"]), r["name"]))
    width, left, right = 1000, 220, 48
    top, bottom, row_h, bar_h = 30, 30, 17, 12
    plot = width - left - right
    height = top + row_h * len(bars) + bottom
    ticks = []
    for tick in range(0, 101, 10):
        x = f"{left + plot * tick / 100:.1f}"
        ticks.append(render("bar_chart_tick.svg", x=x, y1=top - 4, y2=height - bottom + 4,
                            top_y=top - 10, bottom_y=height - bottom + 18, tick=tick))
    # The overall PQ goes under the bars, so that their value labels stay readable.
    mean = ""
    if overall is not None:
        x = left + plot * min(1.0, max(0.0, overall))
        mean = render("bar_chart_mean.svg", x=f"{x:.1f}", y1=top - 4, y2=height - bottom + 4,
                      pq=percent(overall))
    drawn = []
    for i, row in enumerate(bars):
        y = top + i * row_h
        pq = min(1.0, max(0.0, as_float(row["pq"])))
        colour = (UNKNOWN_COLOR if row["isthing"] is None
                  else THING_COLOR if row["isthing"] else STUFF_COLOR)
        drawn.append(render(
            "bar_chart_bar.svg", tooltip=esc(_tooltip(row)), y=y, width=width, row_h=row_h,
            name_x=left - 8, mid_y=f"{y + row_h / 2:.1f}", name=esc(_short(row["name"])),
            bar_x=left, bar_y=f"{y + (row_h - bar_h) / 2:.1f}", bar_w=f"{plot * pq:.1f}",
            bar_h=bar_h, colour=colour, value_x=f"{left + plot * pq + 4:.1f}",
            value=percent(pq)))
    chart = render("bar_chart.svg", width=width, height=height, ticks="".join(ticks),
                   mean=mean, bars="".join(drawn))
    legend_mean = ("" if overall is None
                   else render("bar_chart_legend_mean.html", pq=percent(overall)))
    return render("bar_chart.html", thing_color=THING_COLOR, stuff_color=STUFF_COLOR,
                  mean=legend_mean, n=len(bars), chart=chart)


def histogram_section(report: Mapping) -> Optional[str]:
    """The per-image PQ section (ten bins of 10 points), or None without ``per_image``."""
    per_image = report.get("per_image")
    if not isinstance(per_image, list):
        return None
    values = [as_float(lookup(entry, "pq")) for entry in per_image]
    pqs = np.clip(np.array([v for v in values if v is not None], np.float64), 0.0, 1.0)
    skipped = len(values) - len(pqs)
    if not len(pqs):
        return render("empty.html", text="No image has a per-image PQ.")
    counts, _ = np.histogram(pqs, bins=10, range=(0.0, 1.0))
    width, height, left, right, top, bottom = 640, 240, 48, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    base = top + plot_h
    step = nice_step(max(1, int(counts.max())))
    peak = step * int(math.ceil(max(1, int(counts.max())) / step))
    ticks = [render("histogram_tick.svg", left=left, right=width - right, label_x=left - 6,
                    y=f"{top + plot_h * (1 - c / peak):.1f}", count=c)
             for c in range(0, peak + 1, step)]
    bin_w = plot_w / 10
    bins = []
    for k, count in enumerate(counts):
        h = plot_h * count / peak
        x = left + k * bin_w
        value = ("" if not count else
                 render("histogram_bin_value.svg", x=f"{x + bin_w / 2:.1f}",
                        y=f"{base - h - 4:.1f}", count=count))
        bins.append(render("histogram_bin.svg", lo=10 * k, hi=10 * (k + 1), count=count,
                           images=plural(count, "image", "images"), x=f"{x + 2:.1f}",
                           y=f"{base - h:.1f}", width=f"{bin_w - 4:.1f}", height=f"{h:.1f}",
                           colour=THING_COLOR, value=value))
    x_ticks = [render("histogram_x_tick.svg", x=f"{left + k * bin_w:.1f}", y=base + 16,
                      pq=10 * k) for k in range(11)]
    chart = render("histogram.svg", width=width, height=height, ticks="".join(ticks),
                   bins="".join(bins), x_ticks="".join(x_ticks), left=left,
                   right=width - right, base_y=base, label_x=f"{left + plot_w / 2:.1f}",
                   label_y=height - 4)
    note = (f"{len(pqs)} images; mean {100 * pqs.mean():.1f}, median "
            f"{100 * np.median(pqs):.1f}"
            + (f"; {skipped} images without a PQ (no segments) left out" if skipped else "")
            + ".")
    return render("histogram.html", note=render("note.html", text=note), chart=chart)


def nice_step(peak: int, ticks: int = 5) -> int:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``ticks`` ticks up to peak."""
    raw = max(1.0, peak / ticks)
    power = 10 ** int(math.floor(math.log10(raw)))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return int(m * power)
    return int(10 * power)  # pragma: no cover
