"""Panoptic Quality arithmetic (Kirillov et al. 2019), exactly as COCO's panopticapi.

:class:`PQStats` holds per-category tp / fp / fn / IoU sums (plus the additive statistics of
the metrics beyond PQ, :mod:`panoseg.evaluation.extra_metrics`). They add across images,
threads and processes (``+``, :meth:`PQStats.merge`, pickle) and turn into panopticapi's result
dict. :func:`class_average` is panopticapi's ``pq_average``, the one averaging rule every
metric family here uses.

A category group (All, Things or Stuff) with no segment at all gets ``n = 0`` and
``pq = sq = rq = 0.0`` (panopticapi raises ZeroDivisionError).
"""
from __future__ import annotations

import numpy as np

from ..io.categories import Categories, as_categories

#: The category groups of panopticapi's table: name and ``isthing`` filter (None: all).
GROUPS = (("All", None), ("Things", True), ("Stuff", False))


def class_average(tp, fp, fn, iou, isthing_flags, isthing):
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


def pq_average(tp, fp, fn, iou, categories: Categories, isthing):
    """:func:`class_average` with the per-category values keyed by category id."""
    summary, per_index = class_average(tp, fp, fn, iou, categories.isthing, isthing)
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
        self.categories = as_categories(categories)
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

    def add_image(self, result) -> None:
        """Adds one image's counts (an :class:`~panoseg.evaluation.matching.ImageResult`)."""
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
            results[name], per_class = pq_average(self.tp, self.fp, self.fn, self.iou,
                                                   self.categories, isthing)
            if name == "All":
                results["per_class"] = per_class
        return results

    def per_category(self) -> list:
        """One dict per category: id, name, isthing, tp, fp, fn, iou_sum, pq, sq, rq."""
        _, per_class = pq_average(self.tp, self.fp, self.fn, self.iou, self.categories, None)
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
