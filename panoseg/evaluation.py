"""Panoptic Quality (Kirillov et al. 2019), computed exactly as COCO's panopticapi does.

Three layers, each usable alone:

* :class:`PQStats` -- per-category tp / fp / fn / IoU sums. They add across images, threads and
  processes (``+``, :meth:`PQStats.merge`, pickle) and turn into panopticapi's result dict.
* :class:`PQEvaluator` -- in-memory evaluation: feed id maps or RGB arrays plus segment lists,
  one image at a time, no PNG files needed.
* :func:`evaluate` / :func:`pq_compute` -- the COCO panoptic JSON + PNG folders workflow,
  thread-parallel and streaming.

Conventions that differ from panopticapi only where it would crash: a category group (All,
Things or Stuff) with no segment at all gets ``n = 0`` and ``pq = sq = rq = 0.0`` (panopticapi
raises ZeroDivisionError); every inconsistency between a PNG and its JSON is an error
(:class:`~panoseg.errors.PanopticFormatError`), on the GT side as well as the prediction side.
"""
from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence, Union

import numpy as np

from . import _core
from .categories import Categories
from .codec import as_id_map, rgb2id
from .errors import PanopticFormatError
from .fileio import is_dir, join
from .panoptic_json import SegmentTable, default_folder, load_panoptic_json
from .parallel import ordered_map
from .png import read_ids, read_inflated

GROUPS = (("All", None), ("Things", True), ("Stuff", False))


def _as_categories(categories) -> Categories:
    return categories if isinstance(categories, Categories) else Categories(categories)


def _class_average(tp, fp, fn, iou, isthing_flags, isthing):
    """panopticapi's ``PQStat.pq_average``, same loop order, so the floats come out identical.

    ``isthing``: None (all categories), True or False (one group). Returns the group summary
    and the per-category values keyed by dense index.
    """
    pq = sq = rq = 0.0
    n = 0
    per_class = {}
    for k in range(len(tp)):
        if isthing is not None and bool(isthing_flags[k]) != isthing:
            continue
        t, p, f, s = int(tp[k]), int(fp[k]), int(fn[k]), float(iou[k])
        if t + p + f == 0:
            per_class[k] = {"pq": 0.0, "sq": 0.0, "rq": 0.0}
            continue
        n += 1
        denom = t + 0.5 * p + 0.5 * f
        pq_c, sq_c, rq_c = s / denom, (s / t if t != 0 else 0.0), t / denom
        per_class[k] = {"pq": pq_c, "sq": sq_c, "rq": rq_c}
        pq += pq_c
        sq += sq_c
        rq += rq_c
    if n == 0:  # documented: panopticapi divides by zero here
        return {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}, per_class
    return {"pq": pq / n, "sq": sq / n, "rq": rq / n, "n": n}, per_class


def _pq_average(tp, fp, fn, iou, categories: Categories, isthing):
    """:func:`_class_average` with the per-category values keyed by category id."""
    summary, per_index = _class_average(tp, fp, fn, iou, categories.isthing, isthing)
    return summary, {categories.entries[k]["id"]: v for k, v in per_index.items()}


class PQStats:
    """Additive Panoptic Quality statistics, one row per category.

    Attributes
    ----------
    categories : Categories
    tp, fp, fn : numpy.ndarray of int64, shape (n_categories,)
    iou : numpy.ndarray of float64, shape (n_categories,)
        Sum of the IoUs of the true positives.
    n_images : int
    """

    def __init__(self, categories):
        self.categories = _as_categories(categories)
        n = len(self.categories)
        self.tp = np.zeros(n, np.int64)
        self.fp = np.zeros(n, np.int64)
        self.fn = np.zeros(n, np.int64)
        self.iou = np.zeros(n, np.float64)
        self.n_images = 0
        # The additive statistics of the metrics beyond PQ (see panoseg.extra_metrics); they
        # stay zero for images evaluated without them (n_images_extra counts those with).
        self.dagger_iou = np.zeros(n, np.float64)
        self.dagger_count = np.zeros(n, np.int64)
        self.cover_iou = np.zeros(n, np.float64)
        self.cover_area = np.zeros(n, np.float64)
        self.size_tp = np.zeros((n, 3), np.int64)
        self.size_fp = np.zeros((n, 3), np.int64)
        self.size_fn = np.zeros((n, 3), np.int64)
        self.size_iou = np.zeros((n, 3), np.float64)
        # confusion[g, p]: missed GT segments of category g whose most-overlapping prediction
        # has category p; column n: no prediction overlaps them.
        self.confusion = np.zeros((n, n + 1), np.int64)
        self.n_images_extra = 0

    _EXTRA = ("dagger_iou", "dagger_count", "cover_iou", "cover_area", "size_tp", "size_fp",
              "size_fn", "size_iou", "confusion")

    def _check_compatible(self, other: "PQStats"):
        if not isinstance(other, PQStats):
            return NotImplemented
        if other.categories is not self.categories and other.categories != self.categories:
            raise ValueError("cannot add PQStats computed over different categories")
        return None

    def __iadd__(self, other: "PQStats") -> "PQStats":
        if self._check_compatible(other) is NotImplemented:
            return NotImplemented
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.iou += other.iou
        self.n_images += other.n_images
        for name in self._EXTRA:
            getattr(self, name).__iadd__(getattr(other, name))
        self.n_images_extra += other.n_images_extra
        return self

    def __add__(self, other: "PQStats") -> "PQStats":
        if self._check_compatible(other) is NotImplemented:
            return NotImplemented
        out = self.copy()
        out += other
        return out

    def __radd__(self, other):
        # Lets sum(list_of_stats) work.
        if isinstance(other, int) and other == 0:
            return self.copy()
        return NotImplemented

    def merge(self, *others: "PQStats") -> "PQStats":
        """Adds other statistics into this one, in place, and returns it."""
        for other in others:
            self += other
        return self

    def copy(self) -> "PQStats":
        out = PQStats(self.categories)
        out.tp[:], out.fp[:], out.fn[:], out.iou[:] = self.tp, self.fp, self.fn, self.iou
        out.n_images = self.n_images
        for name in self._EXTRA:
            getattr(out, name)[...] = getattr(self, name)
        out.n_images_extra = self.n_images_extra
        return out

    def add_image(self, result: "ImageResult") -> None:
        """Adds one image's counts."""
        self.tp += result.tp
        self.fp += result.fp
        self.fn += result.fn
        self.iou += result.iou
        self.n_images += 1
        e = result.extra
        if e is not None:
            for name in ("dagger_iou", "dagger_count", "cover_iou", "cover_area", "size_tp",
                         "size_fp", "size_fn", "size_iou"):
                getattr(self, name).__iadd__(e[name])
            if len(e["confusion_gt"]):
                np.add.at(self.confusion, (e["confusion_gt"], np.where(
                    e["confusion_pred"] < 0, len(self.categories), e["confusion_pred"])), 1)
            self.n_images_extra += 1

    def summarize(self) -> dict:
        """panopticapi's result dict.

        ``{"All": {"pq", "sq", "rq", "n"}, "Things": {...}, "Stuff": {...},
        "per_class": {category_id: {"pq", "sq", "rq"}}}`` with values in 0..1.
        """
        results = {}
        for name, isthing in GROUPS:
            results[name], per_class = _pq_average(self.tp, self.fp, self.fn, self.iou,
                                                   self.categories, isthing)
            if name == "All":
                results["per_class"] = per_class
        return results

    def per_category(self) -> list:
        """One dict per category: id, name, isthing, tp, fp, fn, iou_sum, pq, sq, rq."""
        _, per_class = _pq_average(self.tp, self.fp, self.fn, self.iou, self.categories, None)
        rows = []
        for k, entry in enumerate(self.categories.entries):
            rows.append({"id": entry["id"], "name": entry.get("name", str(entry["id"])),
                         "isthing": int(entry["isthing"]), "tp": int(self.tp[k]),
                         "fp": int(self.fp[k]), "fn": int(self.fn[k]),
                         "iou_sum": float(self.iou[k]), **per_class[entry["id"]]})
        return rows

    def __repr__(self) -> str:
        return (f"PQStats({self.n_images} images, tp={int(self.tp.sum())}, "
                f"fp={int(self.fp.sum())}, fn={int(self.fn.sum())})")


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

    @property
    def summary(self) -> dict:
        return _pq_average(self.tp, self.fp, self.fn, self.iou, self.categories, None)[0]

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
        """A JSON-ready summary (one line of ``--per-image``)."""
        s = self.summary
        return {"image_id": self.image_id, "file_name": self.file_name,
                "pq": s["pq"], "sq": s["sq"], "rq": s["rq"], "n": s["n"],
                "tp": int(self.tp.sum()), "fp": int(self.fp.sum()), "fn": int(self.fn.sum()),
                "iou_sum": float(self.iou.sum())}


def match_image(gt_ids: np.ndarray, gt_segments: SegmentTable, pred_ids: np.ndarray,
                pred_segments: SegmentTable, categories: Categories, *, image_id=None,
                file_name=None, gt_file=None, pred_file=None, gt_json=None,
                pred_json=None, extra: bool = True) -> ImageResult:
    """Runs the compiled matching kernel on one image and checks PNG/JSON consistency.

    ``gt_ids`` / ``pred_ids`` are HxW uint32 maps; the ``*_file`` / ``*_json`` names only feed
    error messages. ``extra``: also the statistics of the metrics beyond PQ (same pass).
    """
    where = _Where(image_id, file_name, gt_file, pred_file, gt_json, pred_json)
    where.check_same_size(gt_ids.shape, pred_ids.shape)
    m = _core.match_image(np.ascontiguousarray(gt_ids), np.ascontiguousarray(pred_ids),
                          gt_segments.ids, gt_segments.category, gt_segments.iscrowd,
                          gt_segments.area, pred_segments.ids, pred_segments.category,
                          len(categories), _isthing(categories) if extra else None)
    return _checked_result(m, gt_segments, pred_segments, categories, where)


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
                    categories: Categories, where: _Where) -> ImageResult:
    """The kernel's output as an ImageResult, once every PNG id is listed and vice versa."""
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
    extra = {k: m[k] for k in _EXTRA_KEYS} if "dagger_iou" in m else None
    return ImageResult(where.image_id, where.file_name, categories, m["tp"], m["fp"], m["fn"],
                       m["iou_sum"], gt_segments, pred_segments, m["gt_match"],
                       m["gt_match_iou"], m["pred_match"], m["pred_ignored"], m["pred_pixels"],
                       extra)


_EXTRA_KEYS = ("dagger_iou", "dagger_count", "cover_iou", "cover_area", "size_tp", "size_fp",
               "size_fn", "size_iou", "confusion_gt", "confusion_pred")


def _isthing(categories: Categories) -> np.ndarray:
    """uint8 flag per category, cached on the Categories object (read by every image)."""
    flags = getattr(categories, "_isthing_u8", None)
    if flags is None:
        flags = np.ascontiguousarray(categories.isthing, dtype=np.uint8)
        categories._isthing_u8 = flags
    return flags


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

    Examples
    --------
    >>> ev = PQEvaluator(categories)
    >>> for gt, gt_segs, pred, pred_segs in dataset:      # id maps or RGB arrays
    ...     ev.add(gt, gt_segs, pred, pred_segs)
    >>> ev.summarize()["All"]["pq"]

    ``add`` is thread-safe; evaluators (or their :attr:`stats`) from several threads or processes
    combine with :meth:`merge`.
    """

    def __init__(self, categories):
        self.categories = _as_categories(categories)
        self.stats = PQStats(self.categories)
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
            ``area``. Prediction areas are counted from ``pred``.
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
        return match_image(_to_id_map(gt, "gt"), gt_table, _to_id_map(pred, "pred"), pred_table,
                           self.categories, image_id=image_id, gt_file="gt", pred_file="pred")

    def merge(self, *others: Union["PQEvaluator", PQStats]) -> "PQEvaluator":
        """Adds other evaluators' (or raw :class:`PQStats`) statistics into this one."""
        with self._lock:
            for other in others:
                self.stats += other.stats if isinstance(other, PQEvaluator) else other
        return self

    def summarize(self) -> dict:
        """panopticapi's result dict (see :meth:`PQStats.summarize`)."""
        return self.stats.summarize()

    def __getstate__(self):
        return {"categories": self.categories, "stats": self.stats}

    def __setstate__(self, state):
        self.categories = state["categories"]
        self.stats = state["stats"]
        self._lock = threading.Lock()


@dataclass
class Evaluation:
    """What :func:`evaluate` returns: the statistics and panopticapi's result dict.

    ``per_image``: with ``keep_per_image``, the per-image per-category statistics
    (:class:`panoseg.bootstrap.PerImageStats`, evaluation order) for bootstrap intervals.
    """

    stats: PQStats
    results: dict
    per_image: Optional[object] = None


class EvaluationJob:
    """One evaluation's inputs, loaded and checked once: the (GT, prediction) annotation pairs
    and what evaluating an image needs. Picklable, so chunks of images can be evaluated in other
    processes or on a cluster (:mod:`panoseg.distributed`) and their statistics added up."""

    def __init__(self, gt_json_file, pred_json_file, gt_folder=None, pred_folder=None, *,
                 extra: bool = True):
        self.extra = extra  # also the statistics of PQ-dagger, covering, ... (same pass)
        # Paths may be fsspec URLs (s3://...): everything here only reads (panoseg.fileio).
        gt_json_file, pred_json_file = os.fspath(gt_json_file), os.fspath(pred_json_file)
        gt_json = load_panoptic_json(gt_json_file, need_categories=True)
        pred_json = load_panoptic_json(pred_json_file)
        gt_folder = default_folder(gt_json_file) if gt_folder is None else os.fspath(gt_folder)
        pred_folder = default_folder(pred_json_file) if pred_folder is None else os.fspath(pred_folder)
        for folder, what in ((gt_folder, "ground truth"), (pred_folder, "prediction")):
            if not is_dir(folder):
                raise PanopticFormatError(f"folder with {what} segmentations does not exist",
                                          file=folder)
        self.gt_json_file, self.pred_json_file = gt_json_file, pred_json_file
        self.gt_folder, self.pred_folder = gt_folder, pred_folder
        self.categories = Categories(gt_json["categories"], source=gt_json_file)
        self.sizes = {}
        for img in gt_json.get("images") or ():
            if isinstance(img, Mapping) and "id" in img and "height" in img and "width" in img:
                self.sizes[img["id"]] = (img["height"], img["width"])
        pred_by_image = {}
        for ann in pred_json["annotations"]:
            if ann["image_id"] in pred_by_image:
                raise PanopticFormatError("image has more than one annotation",
                                          file=pred_json_file, image_id=ann["image_id"])
            pred_by_image[ann["image_id"]] = ann
        self.pairs = []
        seen_gt = set()
        for gt_ann in gt_json["annotations"]:
            image_id = gt_ann["image_id"]
            if image_id in seen_gt:
                raise PanopticFormatError("image has more than one annotation", file=gt_json_file,
                                          image_id=image_id)
            seen_gt.add(image_id)
            if image_id not in pred_by_image:
                raise PanopticFormatError("no prediction for this ground-truth image",
                                          file=pred_json_file, image_id=image_id,
                                          file_name=gt_ann["file_name"])
            self.pairs.append((gt_ann, pred_by_image[image_id]))

    def evaluate_image(self, pair) -> ImageResult:
        """Matches one (GT annotation, predicted annotation) pair, reading its two PNGs."""
        gt_ann, pred_ann = pair
        categories = self.categories
        gt_json_file, pred_json_file = self.gt_json_file, self.pred_json_file
        image_id = gt_ann["image_id"]
        gt_png = join(self.gt_folder, gt_ann["file_name"])
        pred_png = join(self.pred_folder, pred_ann["file_name"])
        gt_table = SegmentTable.from_segments_info(
            gt_ann["segments_info"], categories, is_gt=True, file=gt_json_file,
            image_id=image_id, file_name=gt_ann["file_name"])
        pred_table = SegmentTable.from_segments_info(
            pred_ann["segments_info"], categories, is_gt=False, file=pred_json_file,
            image_id=image_id, file_name=pred_ann["file_name"])
        where = _Where(image_id, gt_ann["file_name"], gt_png, pred_png, gt_json_file,
                       pred_json_file)
        gt_img, pred_img = _inflated(gt_png, image_id), _inflated(pred_png, image_id)
        if gt_img is not None and pred_img is not None:
            # The common case: the core decodes both PNGs row by row while it counts overlaps.
            self._check_size(gt_img[:2], gt_png, image_id)
            where.check_same_size(gt_img[:2], pred_img[:2])
            try:
                m = _core.match_png(gt_img[2], pred_img[2], gt_img[0], gt_img[1], gt_table.ids,
                                    gt_table.category, gt_table.iscrowd, gt_table.area,
                                    pred_table.ids, pred_table.category, len(categories),
                                    _isthing(categories) if self.extra else None)
            except _core.PngDataError as e:
                raise PanopticFormatError(str(e), file=gt_png if e.side == "gt" else pred_png,
                                          image_id=image_id) from None
            if m is not None:
                return _checked_result(m, gt_table, pred_table, categories, where)
        # Interlaced PNGs, or ids missing from segments_info (to list them): decode the maps.
        gt_ids = _read(gt_png, image_id)
        pred_ids = _read(pred_png, image_id)
        self._check_size(gt_ids.shape, gt_png, image_id)
        return match_image(gt_ids, gt_table, pred_ids, pred_table, categories,
                           image_id=image_id, file_name=gt_ann["file_name"], gt_file=gt_png,
                           pred_file=pred_png, gt_json=gt_json_file, pred_json=pred_json_file,
                           extra=self.extra)

    def _check_size(self, shape, gt_png, image_id):
        if image_id in self.sizes and tuple(shape) != tuple(self.sizes[image_id]):
            h, w = self.sizes[image_id]
            raise PanopticFormatError(f"GT PNG is {shape[1]}x{shape[0]} (WxH) but "
                                      f"'images' in {self.gt_json_file} says {w}x{h}", file=gt_png,
                                      image_id=image_id)

    def subset(self, start: int, stop: int) -> "EvaluationJob":
        """The same job restricted to pairs [start, stop) (what one cluster task is sent)."""
        import copy

        out = copy.copy(self)
        out.pairs = self.pairs[start:stop]
        return out

    def evaluate_chunk(self, start: int = 0, stop: Optional[int] = None,
                       workers: Optional[int] = 1, keep: bool = True, progress: bool = False,
                       on_image: Optional[Callable[[ImageResult], None]] = None
                       ) -> "ChunkResult":
        """Evaluates pairs [start, stop) (all by default) on ``workers`` threads: their summed
        statistics and, with ``keep``, compact per-image rows and statistics. ``on_image`` is
        called with each :class:`ImageResult`, in order."""
        pairs = self.pairs[start:stop]
        stats = PQStats(self.categories)
        rows, arrays = [], []
        bar = _progress(len(pairs), progress)
        try:
            for result in ordered_map(self.evaluate_image, pairs, workers):
                stats.add_image(result)
                if keep:
                    rows.append(result.to_dict())
                    arrays.append((result.tp, result.fp, result.fn, result.iou))
                if on_image is not None:
                    on_image(result)
                bar.update(1)
        finally:
            bar.close()
        return ChunkResult(stats, rows, arrays)


@dataclass
class ChunkResult:
    """What evaluating a chunk of images returns (small, to send back from a worker)."""

    stats: PQStats
    rows: list  # ImageResult.to_dict() per image
    arrays: list  # (tp, fp, fn, iou) per image


def evaluate(gt_json_file, pred_json_file, gt_folder=None, pred_folder=None, *,
             workers: Optional[int] = None, progress: bool = False,
             on_image: Optional[Callable[[ImageResult], None]] = None,
             keep_per_image: bool = False, extra: bool = True) -> Evaluation:
    """Evaluates a COCO panoptic prediction against its ground truth.

    Parameters
    ----------
    gt_json_file, pred_json_file : path
        COCO panoptic JSON files. Categories come from the GT file.
    gt_folder, pred_folder : path, optional
        PNG folders; default: the JSON path without ``.json`` (as panopticapi).
    workers : int, optional
        Threads; default: all cores available to this process.
    progress : bool
        Show a progress bar on stderr.
    on_image : callable, optional
        Called with each :class:`ImageResult`, in GT order (e.g. to write per-image results).
    keep_per_image : bool
        Keep every image's per-category statistics (``Evaluation.per_image``, for bootstrap).
    extra : bool
        Also gather the statistics of the metrics beyond PQ (:mod:`panoseg.extra_metrics`).

    Raises
    ------
    PanopticFormatError
        For any inconsistency, naming the file, image and segment.
    """
    job = EvaluationJob(gt_json_file, pred_json_file, gt_folder, pred_folder, extra=extra)
    chunk = job.evaluate_chunk(workers=workers, keep=keep_per_image, progress=progress,
                               on_image=on_image)
    stats = chunk.stats
    per_image = None
    if keep_per_image and chunk.arrays:
        from .bootstrap import PerImageStats

        per_image = PerImageStats.from_arrays(chunk.arrays)
    return Evaluation(stats, stats.summarize(), per_image)


def _with_image(fn, path, image_id):
    """fn(path), with the image id added to a PanopticFormatError's message."""
    try:
        return fn(path)
    except PanopticFormatError as e:
        if e.image_id is None:
            raise PanopticFormatError(e.problem, file=e.file, image_id=image_id) from None
        raise


def _read(path, image_id) -> np.ndarray:
    return _with_image(read_ids, path, image_id)


def _inflated(path, image_id):
    return _with_image(read_inflated, path, image_id)


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, file=sys.stderr, unit="img",
                desc="panoseg eval", dynamic_ncols=True)


def pq_compute(gt_json_file, pred_json_file, gt_folder=None, pred_folder=None,
               workers: Optional[int] = None) -> dict:
    """Drop-in replacement for ``panopticapi.evaluation.pq_compute``.

    Same arguments (plus ``workers``), same returned dict: ``All`` / ``Things`` / ``Stuff`` with
    ``pq, sq, rq, n`` and ``per_class`` keyed by category id. Prints nothing.
    """
    return evaluate(gt_json_file, pred_json_file, gt_folder, pred_folder, workers=workers).results
