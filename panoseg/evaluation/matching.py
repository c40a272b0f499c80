"""Matching one image: the compiled kernel's (GT, prediction) overlap counts turned into PQ's
true positives, false positives and false negatives, with every PNG/JSON inconsistency checked
(on the GT side as well as the prediction side, where panopticapi checks only predictions).

What is checked against the PNGs (each a :class:`PanopticFormatError` naming file, image and
segment):

* every id in a PNG is listed in ``segments_info`` and every listed segment has a pixel (both
  sides; the GT PNG's size is also checked against ``images``, see :mod:`.job`);
* a GT segment's ``area`` equals its pixel count in the GT PNG (``gt_area="png"``, the
  default). panopticapi silently computes the IoU's union with the JSON area, so a wrong area
  gives IoUs above 1; ``gt_area="json"`` keeps panopticapi's behaviour (the JSON area is used)
  and only counts the disagreeing segments (``ImageResult.n_area_mismatch``,
  ``PQStats.n_area_mismatch``). With matching areas both modes compute the same numbers.

A prediction's ``area``, when present, is ignored, as panopticapi ignores it: prediction areas
are always counted from the PNG, so a wrong one cannot change any number. GT ``bbox`` is not
checked (panopticapi ignores it, and the core does not compute boxes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .. import _core
from ..errors import PanopticFormatError
from ..io.categories import Categories
from ..io.panoptic_json import SegmentTable
from .semantic import image_miou
from .stats import pq_average

#: Boundary IoU's default band width, a fraction of the image diagonal (boundary-iou-api's).
DILATION_RATIO = 0.02

#: The ``gt_area`` modes: where a GT segment's area comes from and what a disagreement does.
GT_AREA_MODES = ("png", "json")


def check_gt_area_mode(gt_area: str) -> str:
    """Returns ``gt_area`` if it is ``"png"`` or ``"json"``, else raises ValueError."""
    if gt_area not in GT_AREA_MODES:
        raise ValueError(f"gt_area must be 'png' or 'json', not {gt_area!r}")
    return gt_area


@dataclass
class ImageResult:
    """The PQ statistics of one image and how its segments matched.

    ``tp, fp, fn, iou`` are per category (dense index, as in :class:`PQStats`). Per GT segment
    (``gt_segments`` order): ``gt_match`` (index of the matched prediction or -1) and
    ``gt_match_iou``; per prediction: ``pred_match`` and ``pred_ignored`` (unmatched but mostly
    on VOID / crowd, so not a false positive). ``pq``, ``sq``, ``rq`` apply panopticapi's
    class-averaged formula to this image alone.
    """

    image_id: object
    file_name: Optional[str]
    categories: Categories = field(repr=False)
    tp: np.ndarray = field(repr=False)
    fp: np.ndarray = field(repr=False)
    fn: np.ndarray = field(repr=False)
    iou: np.ndarray = field(repr=False)
    gt_segments: SegmentTable = field(repr=False)
    pred_segments: SegmentTable = field(repr=False)
    gt_match: np.ndarray = field(repr=False)
    gt_match_iou: np.ndarray = field(repr=False)
    pred_match: np.ndarray = field(repr=False)
    pred_ignored: np.ndarray = field(repr=False)
    pred_area: np.ndarray = field(repr=False)
    #: The image's statistics of PQ-dagger, Parsing Covering, PQ by size and confusion (the
    #: core's arrays, see ``_core.match_image``), or None when not computed.
    extra: Optional[dict] = field(default=None, repr=False)
    #: GT segments whose JSON ``area`` differs from their PNG pixel count (``gt_area="json"``).
    n_area_mismatch: int = 0
    #: Evaluated as Boundary PQ (``dilation`` > 0): then ``tp, fp, fn, iou`` and the matches are
    #: Boundary PQ's and this is the mask PQ's ``(tp, fp, fn, iou)`` of the same pass; else None.
    segm: Optional[tuple] = field(default=None, repr=False)
    #: Where the image's PQ is lost (:func:`panoseg.evaluation.errors.image_errors`), when
    #: asked for (``EvaluationJob(errors=True)``); else None.
    errors: Optional[object] = field(default=None, repr=False)

    @property
    def summary(self) -> dict:
        return pq_average(self.tp, self.fp, self.fn, self.iou, self.categories, None)[0]

    @property
    def pq(self) -> float:
        return self.summary["pq"]

    @property
    def sq(self) -> float:
        return self.summary["sq"]

    @property
    def rq(self) -> float:
        return self.summary["rq"]

    def to_dict(self) -> dict:
        """A JSON-ready summary (one line of ``--per-image``). An image whose GT and
        prediction have no segment to count (``n`` = 0: all VOID, say) has no PQ: ``pq``,
        ``sq``, ``rq`` (and ``segm_pq``) are None, as ``miou`` without labelled or predicted
        pixels, rather than a 0 that would rank it with the worst images."""
        s = self.summary
        defined = s["n"] > 0
        row = {"image_id": self.image_id, "file_name": self.file_name,
               "pq": s["pq"] if defined else None, "sq": s["sq"] if defined else None,
               "rq": s["rq"] if defined else None, "n": s["n"],
               "tp": int(self.tp.sum()), "fp": int(self.fp.sum()), "fn": int(self.fn.sum()),
               "iou_sum": float(self.iou.sum())}
        if self.segm is not None:  # pq & co. above are Boundary PQ's
            segm = pq_average(*self.segm, self.categories, None)[0]
            row["segm_pq"] = segm["pq"] if segm["n"] > 0 else None
        if self.extra is not None:
            row["miou"] = image_miou(self.extra)
        return row


def match_image(gt_ids: np.ndarray, gt_segments: SegmentTable, pred_ids: np.ndarray,
                pred_segments: SegmentTable, categories: Categories, *, image_id=None,
                file_name=None, gt_file=None, pred_file=None, gt_json=None,
                pred_json=None, extra: bool = True, gt_area: str = "png",
                dilation: int = 0) -> ImageResult:
    """Runs the compiled matching kernel on one image and checks PNG/JSON consistency.

    ``gt_ids`` / ``pred_ids`` are HxW uint32 maps; the ``*_file`` / ``*_json`` names only feed
    error messages. ``extra``: also the statistics of the metrics beyond PQ (same pass).
    ``gt_area``: ``"png"`` (a GT ``area`` differing from the PNG is an error) or ``"json"``
    (panopticapi's behaviour: the JSON area is used, disagreements are only counted).
    ``dilation`` >= 1: Boundary PQ with bands of that many pixels (:func:`dilation_pixels`);
    the result's ``segm`` holds the mask PQ of the same pass.
    """
    check_gt_area_mode(gt_area)
    where = _Where(image_id, file_name, gt_file, pred_file, gt_json, pred_json)
    where.check_same_size(gt_ids.shape, pred_ids.shape)
    m = _core.match_image(np.ascontiguousarray(gt_ids), np.ascontiguousarray(pred_ids),
                          gt_segments.ids, gt_segments.category, gt_segments.iscrowd,
                          gt_segments.area, pred_segments.ids, pred_segments.category,
                          len(categories), _isthing(categories) if extra else None,
                          dilation=int(dilation))
    return _checked_result(m, gt_segments, pred_segments, categories, where, gt_area)


def dilation_pixels(height: int, width: int, dilation_ratio: float) -> int:
    """Boundary IoU's band width d for an image: ``max(1, round(ratio * diagonal))`` pixels,
    rounded as boundary-iou-api does (Python's round: halves to even). Computed by the core,
    which evaluates straight from the PNG files with the same rule."""
    return _core.boundary_dilation_pixels(height, width, dilation_ratio)


def check_dilation_ratio(dilation_ratio) -> float:
    """Returns the ratio as a float if it is finite and in (0, 1], else raises ValueError."""
    try:
        ratio = float(dilation_ratio)
    except (TypeError, ValueError):
        raise ValueError(f"dilation_ratio must be a number, not {dilation_ratio!r}") from None
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"dilation_ratio must lie in (0, 1], got {dilation_ratio!r}")
    return ratio


@dataclass
class _Where:
    """Names of the image and files being matched, for error messages."""

    image_id: object
    file_name: Optional[str]
    gt_file: object
    pred_file: object
    gt_json: object
    pred_json: object

    def fail(self, problem, file, segment_id=None):
        raise PanopticFormatError(problem, file=file, image_id=self.image_id,
                                  file_name=self.file_name, segment_id=segment_id)

    def check_same_size(self, gt_shape, pred_shape):
        if tuple(gt_shape) != tuple(pred_shape):
            self.fail(f"prediction is {pred_shape[1]}x{pred_shape[0]} (WxH) but the ground truth "
                      f"is {gt_shape[1]}x{gt_shape[0]}", self.pred_file)


def _checked_result(m: dict, gt_segments: SegmentTable, pred_segments: SegmentTable,
                    categories: Categories, where: _Where, gt_area: str = "png") -> ImageResult:
    """The kernel's output as an ImageResult, once every PNG id is listed and vice versa and the
    GT areas are checked against the PNG (``gt_area``, see :func:`match_image`)."""
    if m["consistent"]:  # the core found nothing below to report or count
        return _image_result(m, gt_segments, pred_segments, categories, where, 0)
    for side, unknown, file, json_file in (
            ("GT", m["unknown_gt"], where.gt_file, where.gt_json),
            ("prediction", m["unknown_pred"], where.pred_file, where.pred_json)):
        if len(unknown):
            shown = ", ".join(str(int(i)) for i in unknown[:10]) + (", ..." if len(unknown) > 10 else "")
            where.fail(f"{side} PNG holds segment id(s) {shown} that are not in segments_info"
                       + (f" of {json_file}" if json_file else ""), file, int(unknown[0]))
    for side, table, pixels, json_file in (
            ("GT", gt_segments, m["gt_pixels"], where.gt_json),
            ("prediction", pred_segments, m["pred_pixels"], where.pred_json)):
        missing = np.flatnonzero(pixels == 0)
        if len(missing):
            where.fail(f"{side} segment is listed in segments_info but has no pixel in the PNG",
                       json_file, int(table.ids[missing[0]]))
    # Areas are integers (or floats) from the JSON; the pixel counts are exact integers.
    wrong = np.flatnonzero(gt_segments.area != m["gt_pixels"])
    if len(wrong) and gt_area != "json":
        k = int(wrong[0])
        area = gt_segments.area[k]
        shown = int(area) if float(area).is_integer() else float(area)
        more = f" ({len(wrong) - 1} more segment(s) of this image disagree too)" if len(wrong) > 1 else ""
        png = f" {where.gt_file}" if where.gt_json is not None and where.gt_file else ""
        where.fail(f"area is {shown} in segments_info but the GT PNG{png} has "
                   f"{int(m['gt_pixels'][k])} pixels of this segment{more}; use gt_area='json' "
                   "(--gt-area json) to compute with the JSON areas as panopticapi does",
                   where.gt_json if where.gt_json is not None else "gt_segments",
                   int(gt_segments.ids[k]))
    return _image_result(m, gt_segments, pred_segments, categories, where, int(len(wrong)))


def _image_result(m: dict, gt_segments: SegmentTable, pred_segments: SegmentTable,
                  categories: Categories, where: _Where, n_area_mismatch: int) -> ImageResult:
    extra = {k: m[k] for k in _EXTRA_KEYS} if "dagger_iou" in m else None
    if "b_tp" in m:  # Boundary PQ: its matching is the result, the mask PQ rides along
        return ImageResult(where.image_id, where.file_name, categories, m["b_tp"], m["b_fp"],
                           m["b_fn"], m["b_iou_sum"], gt_segments, pred_segments,
                           m["b_gt_match"], m["b_gt_match_iou"], m["b_pred_match"],
                           m["b_pred_ignored"], m["pred_pixels"], extra, n_area_mismatch,
                           (m["tp"], m["fp"], m["fn"], m["iou_sum"]))
    return ImageResult(where.image_id, where.file_name, categories, m["tp"], m["fp"], m["fn"],
                       m["iou_sum"], gt_segments, pred_segments, m["gt_match"],
                       m["gt_match_iou"], m["pred_match"], m["pred_ignored"], m["pred_pixels"],
                       extra, n_area_mismatch)


_EXTRA_KEYS = ("dagger_iou", "dagger_count", "cover_iou", "cover_area", "size_tp", "size_fp",
               "size_fn", "size_iou", "confusion_gt", "confusion_pred", "sem_inter", "sem_gt",
               "sem_pred")


def _isthing(categories: Categories) -> np.ndarray:
    """uint8 flag per category, cached on the Categories object (read by every image)."""
    flags = getattr(categories, "_isthing_u8", None)
    if flags is None:
        flags = np.ascontiguousarray(categories.isthing, dtype=np.uint8)
        categories._isthing_u8 = flags
    return flags
