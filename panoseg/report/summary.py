"""The report's summary section: headline tiles and the PQ, PQ-dagger, Parsing Covering and
PQ-by-size cards (``summary_*`` templates).

A group that averages over no category (N = 0: no stuff in the data, no large thing...) shows
:data:`~panoseg.report.values.DASH`, not the 0.0 that panopticapi reports for it.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from .templates import render
from .values import DAGGER, DASH, as_float, as_int, count_text, esc, lookup, percent

_GROUPS = (("All", "All"), ("Things", "Things"), ("Stuff", "Stuff"))
_SIZES = (("small", "small"), ("medium", "medium"), ("large", "large"))


def _empty_group(group) -> bool:
    """Whether the group's N says it averages over nothing."""
    return as_int(lookup(group, "n")) == 0


def _cell(value, interval: Optional[str] = None) -> str:
    text = percent(value)
    if interval is not None:
        text += render("ci.html", interval=esc(interval))
    return render("num_cell.html", text=text)


def _interval(bounds) -> Optional[str]:
    """"lo-hi" in percent from [lo, hi] or {"lo", "hi"}, or None."""
    if isinstance(bounds, Mapping):
        bounds = (bounds.get("lo", bounds.get("low")), bounds.get("hi", bounds.get("high")))
    if not isinstance(bounds, (list, tuple, np.ndarray)) or len(bounds) != 2:
        return None
    lo, hi = as_float(bounds[0]), as_float(bounds[1])
    if lo is None or hi is None:
        return None
    return f"{100 * lo:.1f}-{100 * hi:.1f}"


def _card(caption: str, head: Sequence[str], rows: Sequence[str], note: str = "") -> str:
    """A card with a caption, a small table (``head``: its column names after the row
    labels; ``rows``: rendered ``summary_row.html``) and an optional note (HTML)."""
    return render("summary_card.html", caption=esc(caption),
                  head="".join(render("summary_head_cell.html", name=esc(n)) for n in head),
                  rows="".join(rows),
                  note=render("note.html", text=note) if note else "")


def _metric_card(caption: str, rows: Sequence[tuple], groups, names=("PQ", "SQ", "RQ"),
                 bootstrap: Optional[Mapping] = None, note: str = "") -> Optional[str]:
    """A PQ/SQ/RQ/N card over ``rows`` = (key in groups, label), or None when ``groups``
    has none of them. A column that no row has (other than PQ's) is left out."""
    present = [(label, groups[key], key) for key, label in rows
               if isinstance(groups, Mapping) and isinstance(groups.get(key), Mapping)]
    if not present:
        return None
    metrics = [(m, n) for m, n in zip(("pq", "sq", "rq"), names)
               if m == "pq" or any(as_float(g.get(m)) is not None for _, g, _ in present)]
    with_n = any(as_int(g.get("n")) is not None for _, g, _ in present)
    body = []
    for label, group, key in present:
        if _empty_group(group):
            cells = "".join(render("num_cell.html", text=DASH) for _ in metrics)
        else:
            cells = "".join(_cell(group.get(m), _interval(lookup(bootstrap, key, m)))
                            for m, _ in metrics)
        if with_n:
            cells += render("num_cell.html", text=count_text(group.get("n")))
        body.append(render("summary_row.html", label=esc(label), cells=cells))
    head = [n for _, n in metrics] + (["N"] if with_n else [])
    return _card(caption, head, body, note)


def _tiles(report: Mapping) -> str:
    """The headline numbers that the report has."""
    pq = "Boundary PQ" if report.get("iou_type") == "boundary" else "PQ"
    big = [(pq, report.get("All"), "pq"), (f"{pq} Things", report.get("Things"), "pq"),
           (f"{pq} Stuff", report.get("Stuff"), "pq"),
           (DAGGER, lookup(report, "pq_dagger", "All"), "pq"),
           ("Parsing Covering", report.get("parsing_covering"), "pc"),
           ("mIoU", report.get("semantic"), "mIoU")]
    tiles = []
    for label, group, key in big:
        value = lookup(group, key)
        if as_float(value) is None:
            continue
        tiles.append(render("summary_tile.html", label=esc(label),
                            value=DASH if _empty_group(group) else percent(value)))
    return "".join(tiles)


def _pq_note(bootstrap: Optional[Mapping]) -> str:
    small_print = ""
    if bootstrap is not None:
        conf = as_float(bootstrap.get("confidence"))
        details = []
        if as_int(bootstrap.get("n")) is not None:
            details.append(f"{as_int(bootstrap.get('n'))} resamples of the images")
        if as_int(bootstrap.get("seed")) is not None:
            details.append(f"seed {as_int(bootstrap.get('seed'))}")
        small_print = render(
            "summary_note_bootstrap.html",
            confidence=esc(f"{100 * conf:g}%" if conf is not None else "95%"),
            details=f" ({esc(', '.join(details))})" if details else "")
    return render("summary_note_pq.html", bootstrap=small_print)


def summary_section(report: Mapping) -> str:
    """The summary section: tiles, then a card per family of metrics the report has."""
    boot = report.get("bootstrap") if isinstance(report.get("bootstrap"), Mapping) else None
    boundary = report.get("iou_type") == "boundary"
    cards = [
        _metric_card("Boundary Panoptic Quality" if boundary else "Panoptic Quality", _GROUPS,
                     report, bootstrap=boot, note=_pq_note(boot)),
        _metric_card(DAGGER, _GROUPS, report.get("pq_dagger"),
                     names=(DAGGER, "SQ\u2020", "RQ\u2020"),
                     note=render("summary_note_dagger.html")),
    ]
    pc = report.get("parsing_covering")
    if isinstance(pc, Mapping) and as_float(pc.get("pc")) is not None:
        value = DASH if _empty_group(pc) else percent(pc.get("pc"))
        row = render("summary_row.html", label="All",
                     cells=render("num_cell.html", text=value)
                     + render("num_cell.html", text=count_text(pc.get("n"))))
        cards.append(_card("Parsing Covering", ("PC", "N"), [row],
                           render("summary_note_covering.html")))
    if boundary:
        ratio = as_float(report.get("dilation_ratio"))
        cards.append(_metric_card(
            "Mask PQ (same pass)", _GROUPS, report.get("segm"),
            note=render("summary_note_boundary.html",
                        ratio=esc(f"{ratio:g}" if ratio is not None else "?"))))
    sem = report.get("semantic")
    if isinstance(sem, Mapping) and as_float(sem.get("mIoU")) is not None:
        n = as_int(sem.get("n"))
        sem_boot = lookup(boot, "semantic")
        cells = "".join(render("num_cell.html", text=DASH) if n == 0 else _cell(sem.get(k), _interval(lookup(sem_boot, k)))
                        for k in ("mIoU", "fwIoU", "mAcc", "aAcc"))
        row = render("summary_row.html", label="All",
                     cells=cells + render("num_cell.html", text=count_text(n)))
        cards.append(_card("Semantic segmentation", ("mIoU", "fwIoU", "mAcc", "aAcc", "N"),
                           [row], render("summary_note_semantic.html")))
    cards.append(_metric_card("PQ by object size (things)", _SIZES, report.get("pq_by_size"),
                              note=render("summary_note_size.html")))
    cards = [c for c in cards if c is not None]
    tiles = _tiles(report)
    if not cards and not tiles:
        return render("empty.html", text="The report has no summary numbers.")
    return ((render("summary_tiles.html", tiles=tiles) if tiles else "")
            + render("summary_cards.html", cards="".join(cards)))
