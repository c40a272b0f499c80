"""Pictures of a prediction's errors: ground truth | prediction side by side, matched segments
green and labelled with their IoU, false negatives orange and false positives magenta labelled
with their error type, crowd regions and ignored predictions grey, and a legend under the
panels (never over them).

What each segment is comes in ``marks`` (:func:`panoseg.evaluation.errors.viz_marks` makes
them; this package does not match segments itself): ``{"gt": [...], "pred": [...]}``, one dict
per segment in ``segments_info`` order with ``kind`` (``tp``, ``fn``, ``crowd`` / ``tp``,
``fp``, ``ignored``), ``iou`` (of a match, else None) and ``error`` (the error type or ""),
and optionally the image's ``tp``, ``fp``, ``fn`` counts for the legend.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from ..io.categories import as_categories
from .labels import default_font_size, display_name, load_font
from .render import _overlay, png_where, read_checked_ids, side_by_side

#: Colours of the segment kinds (Okabe-Ito's bluish green and orange, a magenta, grey: told
#: apart with the common colour-vision deficiencies too).
ERROR_COLORS = {
    "tp": (0, 158, 115),
    "fn": (230, 159, 0),
    "fp": (214, 40, 160),
    "crowd": (150, 150, 150),
    "ignored": (150, 150, 150),
}
#: How an error type reads in a label.
ERROR_WORDS = {"cls": "wrong class", "split": "split", "merge": "merged", "loc": "low IoU",
               "missed": "missed", "background": "background"}
_KINDS = {"gt": ("tp", "fn", "crowd"), "pred": ("tp", "fp", "ignored")}
#: Errors are painted this much more opaque than matched segments, so they stand out.
ERROR_ALPHA_BOOST = 0.2
_LEGEND_BG = (30, 30, 30)
_LEGEND_FG = (255, 255, 255)


def _label(categories, category_index: int, mark: Mapping) -> str:
    name = display_name(categories, category_index, 0)
    kind = mark.get("kind")
    if kind == "tp" and mark.get("iou") is not None:
        return f"{name} {float(mark['iou']):.2f}"
    if kind in ("fn", "fp"):
        error = mark.get("error") or ""
        return f"{name}: {ERROR_WORDS.get(error, error)}" if error else name
    if kind == "crowd":
        return f"{name} (crowd)"
    if kind == "ignored":
        return f"{name} (ignored)"
    return name


def error_overlay(image, id_map, segments_info: Sequence[Mapping], categories,
                  marks: Sequence[Mapping], side: str, alpha: float = 0.5,
                  boundaries: bool = True, labels: bool = True, *,
                  font_size: Optional[int] = None, where=None, png_path=None) -> np.ndarray:
    """One panel: the segments of ``id_map`` painted by kind (:data:`ERROR_COLORS`; FPs and FNs
    :data:`ERROR_ALPHA_BOOST` more opaque) over the photo, labelled with their category and IoU (matched) or error type (FP / FN).

    ``side``: ``"gt"`` or ``"pred"``; ``marks``: that side's list (see the module docstring).
    Other parameters as for :func:`~panoseg.viz.overlay`.
    """
    if side not in _KINDS:
        raise ValueError(f"side must be 'gt' or 'pred', not {side!r}")
    categories = as_categories(categories)
    if len(marks) != len(segments_info):
        raise ValueError(f"{len(marks)} marks for {len(segments_info)} segments")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in 0..1, got {alpha}")
    colours, texts, alphas = [], [], []
    for seg, mark in zip(segments_info, marks):
        kind = mark.get("kind")
        if kind not in _KINDS[side]:
            raise ValueError(f"unknown {side} segment kind {kind!r}")
        colours.append(ERROR_COLORS[kind])
        alphas.append(min(1.0, alpha + ERROR_ALPHA_BOOST) if kind in ("fn", "fp") else alpha)
        texts.append(_label(categories, categories.index_of.get(seg.get("category_id"), 0),
                            mark))
    return _overlay(image, id_map, segments_info, categories, alpha, boundaries, labels,
                    font_size, where=where or {}, png_path=png_path,
                    colours=np.array(colours, np.float64).reshape(-1, 3), texts=texts,
                    alphas=alphas)


def legend_entries(marks: Optional[Mapping] = None) -> list:
    """(colour, text) of the legend; with the image's counts when ``marks`` has them."""

    def n(key):
        return f" ({marks[key]})" if marks is not None and key in marks else ""

    return [(ERROR_COLORS["tp"], f"matched{n('tp')}: label = IoU"),
            (ERROR_COLORS["fn"], f"false negative{n('fn')}: label = error type"),
            (ERROR_COLORS["fp"], f"false positive{n('fp')}: label = error type"),
            (ERROR_COLORS["crowd"], "crowd / ignored (not counted)")]


def add_legend(picture: np.ndarray, entries: Sequence[tuple], font_size: int) -> np.ndarray:
    """``picture`` with a legend strip appended below it: a swatch and a text per entry, left
    to right, wrapped onto more lines when the picture is narrow."""
    from PIL import Image, ImageDraw

    picture = np.asarray(picture)
    width = picture.shape[1]
    font = load_font(font_size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    pad = max(4, font_size // 2)
    swatch = font_size
    gap = font_size
    line_h = int(round(font_size * 1.6))
    items, x, y = [], pad, pad
    for colour, text in entries:
        left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
        w = swatch + pad // 2 + (right - left)
        if x > pad and x + w > width - pad:
            x, y = pad, y + line_h
        items.append((x, y, colour, text, left, top, bottom))
        x += w + gap
    strip_h = y + line_h + pad // 2
    strip = Image.new("RGB", (width, strip_h), _LEGEND_BG)
    draw = ImageDraw.Draw(strip)
    for x, y, colour, text, left, top, bottom in items:
        sy = y + (line_h - swatch) // 2
        draw.rectangle([x, sy, x + swatch - 1, sy + swatch - 1], fill=tuple(colour),
                       outline=_LEGEND_FG)
        ty = y + (line_h - (bottom - top)) // 2 - top
        draw.text((x + swatch + pad // 2 - left, ty), text, font=font, fill=_LEGEND_FG)
    return np.concatenate([picture, np.asarray(strip)], axis=0)


def render_errors(image, gt_ids, gt_segments_info, pred_ids, pred_segments_info, categories,
                  marks: Mapping, titles: Optional[Sequence[str]] = ("ground truth",
                                                                      "prediction"), *,
                  alpha: float = 0.5, boundaries: bool = True, labels: bool = True,
                  font_size: Optional[int] = None, gt_where=None, pred_where=None,
                  gt_png=None, pred_png=None) -> np.ndarray:
    """Ground truth | prediction, each painted by :func:`error_overlay`, titled, with the
    legend below. ``marks``: ``{"gt": [...], "pred": [...]}`` (see the module docstring)."""
    categories = as_categories(categories)
    size = font_size or default_font_size(min(np.asarray(gt_ids).shape[:2]))
    left = error_overlay(image, gt_ids, gt_segments_info, categories, marks["gt"], "gt", alpha,
                         boundaries, labels, font_size=size, where=gt_where, png_path=gt_png)
    right = error_overlay(image, pred_ids, pred_segments_info, categories, marks["pred"],
                          "pred", alpha, boundaries, labels, font_size=size, where=pred_where,
                          png_path=pred_png)
    pair = side_by_side(left, right, titles, font_size=size + 2)
    return add_legend(pair, legend_entries(marks), size)


def render_errors_on_photo(image, image_path, gt_png, gt_segments_info, pred_png,
                           pred_segments_info, categories, image_id, gt_json, pred_json,
                           mark, *, titles=("ground truth", "prediction"), alpha=0.5,
                           boundaries=True, labels=True, font_size=None, max_pixels=None,
                           expected_size=None) -> np.ndarray:
    """Reads both panoptic PNGs (sizes checked as :func:`~panoseg.viz.render.render_on_photo`
    does), gets the marks from ``mark(gt_ids, gt_segments_info, pred_ids, pred_segments_info,
    categories, image_id=, file_name=, gt_file=, pred_file=, gt_json=, pred_json=)`` (e.g.
    :func:`panoseg.evaluation.errors.viz_marks`) and draws :func:`render_errors`."""
    extra = {} if max_pixels is None else {"max_pixels": max_pixels}
    gt_ids = read_checked_ids(image, image_path, gt_png, image_id, gt_json,
                              expected_size=expected_size, **extra)
    pred_ids = read_checked_ids(image, image_path, pred_png, image_id, pred_json,
                                expected_size=expected_size, size_source=gt_json, **extra)
    gt_where = png_where(gt_png, image_id, gt_json)
    marks = mark(gt_ids, gt_segments_info, pred_ids, pred_segments_info, categories,
                 image_id=image_id, file_name=gt_where["file_name"], gt_file=gt_png,
                 pred_file=pred_png, gt_json=gt_json, pred_json=pred_json)
    return render_errors(image, gt_ids, gt_segments_info, pred_ids, pred_segments_info,
                         categories, marks, titles, alpha=alpha, boundaries=boundaries,
                         labels=labels, font_size=font_size, gt_where=gt_where,
                         pred_where=png_where(pred_png, image_id, pred_json), gt_png=gt_png,
                         pred_png=pred_png)
