"""In-memory PQ evaluation: id maps or RGB arrays plus ``segments_info``, no PNG files."""
from __future__ import annotations

import threading
from typing import Mapping, Sequence, Union

import numpy as np

from ..io.categories import as_categories
from ..io.codec import as_id_map, rgb2id
from ..io.panoptic_json import SegmentTable
from .matching import (
    DILATION_RATIO,
    ImageResult,
    check_dilation_ratio,
    check_gt_area_mode,
    dilation_pixels,
    match_image,
)
from .stats import PQStats, check_iou_type


def _to_id_map(image, what: str) -> np.ndarray:
    arr = np.asarray(image)
    try:
        if arr.ndim == 3:
            return rgb2id(arr)
        return as_id_map(arr)
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None


class PQEvaluator:
    """In-memory PQ evaluation, one image at a time (no PNG files needed).

    Parameters
    ----------
    categories : Categories or list of dict
        COCO ``categories`` entries (``id``, ``isthing``, optionally ``name``).
    gt_area : {"png", "json"}
        ``"png"`` (default): a GT segment whose ``area`` differs from its pixel count in ``gt``
        is a :class:`~panoseg.errors.PanopticFormatError`. ``"json"``: panopticapi's behaviour,
        the given areas are used and the disagreeing segments counted
        (``stats.n_area_mismatch``).
    iou_type : {"segm", "boundary"}
        ``"boundary"``: Boundary PQ (Cheng et al. 2021; a match's IoU is min(mask IoU, boundary
        IoU)); :meth:`summarize` gives it and ``stats.summarize_segm()`` the mask PQ.
    dilation_ratio : float
        Boundary band width as a fraction of each image's diagonal (``"boundary"`` only).

    Examples
    --------
    >>> ev = PQEvaluator(categories)
    >>> for gt, gt_segs, pred, pred_segs in dataset:      # id maps or RGB arrays
    ...     ev.add(gt, gt_segs, pred, pred_segs)
    >>> ev.summarize()["All"]["pq"]

    ``add`` is thread-safe; evaluators (or their :attr:`stats`) from several threads or processes
    combine with :meth:`merge`.
    """

    def __init__(self, categories, *, gt_area: str = "png", iou_type: str = "segm",
                 dilation_ratio: float = DILATION_RATIO):
        self.categories = as_categories(categories)
        self.gt_area = check_gt_area_mode(gt_area)
        self.iou_type = check_iou_type(iou_type)
        self.dilation_ratio = check_dilation_ratio(dilation_ratio)
        self.stats = PQStats(self.categories, self.iou_type)
        self._lock = threading.Lock()

    def add(self, gt, gt_segments: Sequence[Mapping], pred, pred_segments: Sequence[Mapping],
            image_id=None) -> ImageResult:
        """Evaluates one image and adds it to the running statistics.

        Parameters
        ----------
        gt, pred : array_like
            HxW integer id maps, or HxWx3 uint8 RGB panoptic images.
        gt_segments, pred_segments : list of dict
            COCO ``segments_info``: ``id``, ``category_id``; for the GT also ``iscrowd`` and
            ``area`` (checked against ``gt``, see ``gt_area``). Prediction areas are counted
            from ``pred``; an ``area`` given for a prediction is ignored, as by panopticapi.
        image_id : optional
            Used in error messages and in the result.

        Returns
        -------
        ImageResult
        """
        result = self.evaluate(gt, gt_segments, pred, pred_segments, image_id)
        with self._lock:
            self.stats.add_image(result)
        return result

    def evaluate(self, gt, gt_segments, pred, pred_segments, image_id=None) -> ImageResult:
        """Like :meth:`add` but leaves the running statistics alone."""
        gt_table = SegmentTable.from_segments_info(gt_segments, self.categories, is_gt=True,
                                                   file="gt_segments", image_id=image_id)
        pred_table = SegmentTable.from_segments_info(pred_segments, self.categories, is_gt=False,
                                                     file="pred_segments", image_id=image_id)
        gt_ids = _to_id_map(gt, "gt")
        dilation = 0
        if self.iou_type == "boundary":
            dilation = dilation_pixels(gt_ids.shape[0], gt_ids.shape[1], self.dilation_ratio)
        return match_image(gt_ids, gt_table, _to_id_map(pred, "pred"), pred_table,
                           self.categories, image_id=image_id, gt_file="gt", pred_file="pred",
                           gt_area=self.gt_area, dilation=dilation)

    def merge(self, *others: Union["PQEvaluator", PQStats]) -> "PQEvaluator":
        """Adds other evaluators' (or raw :class:`PQStats`) statistics into this one."""
        snapshots = []
        for other in others:  # one lock at a time (two evaluators merging each other: no deadlock)
            if isinstance(other, PQEvaluator):
                with other._lock:  # reading its statistics sums the images it has queued
                    snapshots.append(other.stats.copy())
            else:
                snapshots.append(other)
        with self._lock:
            for stats in snapshots:
                self.stats += stats
        return self

    def summarize(self) -> dict:
        """panopticapi's result dict (see :meth:`PQStats.summarize`)."""
        with self._lock:
            return self.stats.summarize()

    def __getstate__(self):
        return {"categories": self.categories, "stats": self.stats, "gt_area": self.gt_area,
                "iou_type": self.iou_type, "dilation_ratio": self.dilation_ratio}

    def __setstate__(self, state):
        self.categories = state["categories"]
        self.stats = state["stats"]
        self.gt_area = state.get("gt_area", "png")
        self.iou_type = state.get("iou_type", "segm")
        self.dilation_ratio = state.get("dilation_ratio", DILATION_RATIO)
        self._lock = threading.Lock()
