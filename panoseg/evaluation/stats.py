"""Panoptic Quality arithmetic (Kirillov et al. 2019), exactly as COCO's panopticapi.

:class:`PQStats` holds per-category tp / fp / fn / IoU sums (plus the additive statistics of
the metrics beyond PQ, :mod:`panoseg.evaluation.extra_metrics`). They add across images,
threads and processes (``+``, :meth:`PQStats.merge`, pickle) and turn into panopticapi's result
dict. :func:`class_average` is panopticapi's ``pq_average``, the one averaging rule every
metric family here uses.

A category group (All, Things or Stuff) with no segment at all gets ``n = 0`` and
``pq = sq = rq = 0.0`` (panopticapi raises ZeroDivisionError).

**Exact sums.** The float statistics (IoU sums and the like) are accumulated exactly: every
nonzero cell keeps a few floats whose exact sum is the exact sum of everything added to it
(folded with :func:`math.fsum`, in batches, when an array is read), and the visible array holds
its correctly rounded value. Adding images, adding statistics (``+``, :meth:`PQStats.merge`) and
pickling keep those floats, so the result is the same, bit for bit, whatever the order and
grouping of the additions: one thread or many, one process or Dask chunks of any size. It
differs from panopticapi's left-to-right float sum by a few units in the last place at most
(far below the 1e-9 the golden tests allow). A cell written directly into an array (rather
than through these methods) is taken at its written value.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..io.categories import Categories, as_categories

#: The category groups of panopticapi's table: name and ``isthing`` filter (None: all).
GROUPS = (("All", None), ("Things", True), ("Stuff", False))

#: What a match's IoU is: the mask IoU (panopticapi) or min(mask IoU, boundary IoU)
#: (Boundary PQ, boundary-iou-api).
IOU_TYPES = ("segm", "boundary")


def check_iou_type(iou_type: str) -> str:
    """Returns ``iou_type`` if it is ``"segm"`` or ``"boundary"``, else raises ValueError."""
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be 'segm' or 'boundary', not {iou_type!r}")
    return iou_type


def class_average(tp, fp, fn, iou, isthing_flags, isthing):
    """panopticapi's ``PQStat.pq_average``, same loop order, so the floats come out identical.

    ``isthing``: None (all categories), True or False (one group). Returns the group summary
    and the per-category values keyed by dense index.
    """
    pq = sq = rq = 0.0
    n = 0
    per_class = {}
    # Python numbers read from lists: indexing a numpy array per cell costs more than the loop.
    tp, fp, fn, iou = (np.asarray(a).tolist() for a in (tp, fp, fn, iou))
    if isthing is not None:
        isthing_flags = np.asarray(isthing_flags).tolist()
    for k in range(len(tp)):
        if isthing is not None and bool(isthing_flags[k]) != isthing:
            continue
        values = _class_values(int(tp[k]), int(fp[k]), int(fn[k]), float(iou[k]))
        if values is None:
            per_class[k] = {"pq": 0.0, "sq": 0.0, "rq": 0.0}
            continue
        pq_c, sq_c, rq_c = values
        n += 1
        per_class[k] = {"pq": pq_c, "sq": sq_c, "rq": rq_c}
        pq += pq_c
        sq += sq_c
        rq += rq_c
    return _group_average(pq, sq, rq, n), per_class


def _class_values(t: int, p: int, f: int, s: float):
    """panopticapi's pq, sq, rq of one category, or None when it has no segment at all."""
    if t + p + f == 0:
        return None
    denom = t + 0.5 * p + 0.5 * f
    return s / denom, (s / t if t != 0 else 0.0), t / denom


def _group_average(pq: float, sq: float, rq: float, n: int) -> dict:
    """A group's summary from its categories' sums and count."""
    if n == 0:  # documented: panopticapi divides by zero here
        return {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}
    return {"pq": pq / n, "sq": sq / n, "rq": rq / n, "n": n}


def pq_average(tp, fp, fn, iou, categories: Categories, isthing):
    """:func:`class_average` with the per-category values keyed by category id."""
    summary, per_index = class_average(tp, fp, fn, iou, categories.isthing, isthing)
    return summary, {categories.entries[k]["id"]: v for k, v in per_index.items()}


def pq_summary(tp, fp, fn, iou, categories: Categories) -> dict:
    """panopticapi's result dict (``All``, ``per_class``, ``Things``, ``Stuff``, in that order):
    :func:`pq_average` of the three groups of :data:`GROUPS` from one pass over the categories,
    each group summing its categories' values in category order, so the floats are the same.
    (It is what is left serial at the end of an evaluation: one pass, not three.)"""
    tp, fp, fn, iou = (np.asarray(a).tolist() for a in (tp, fp, fn, iou))
    flags = np.asarray(categories.isthing).tolist()
    sums = {None: [0.0, 0.0, 0.0, 0], True: [0.0, 0.0, 0.0, 0], False: [0.0, 0.0, 0.0, 0]}
    per_class = {}
    for k, entry in enumerate(categories.entries):
        values = _class_values(int(tp[k]), int(fp[k]), int(fn[k]), float(iou[k]))
        if values is None:
            per_class[entry["id"]] = {"pq": 0.0, "sq": 0.0, "rq": 0.0}
            continue
        pq_c, sq_c, rq_c = values
        per_class[entry["id"]] = {"pq": pq_c, "sq": sq_c, "rq": rq_c}
        for group in (sums[None], sums[bool(flags[k])]):
            group[0] += pq_c
            group[1] += sq_c
            group[2] += rq_c
            group[3] += 1
    results = {}
    for name, isthing in GROUPS:
        results[name] = _group_average(*sums[isthing])
        if name == "All":
            results["per_class"] = per_class
    return results


def _exact_terms(terms: list) -> list:
    """Few floats, largest first, whose exact sum equals that of ``terms`` (the first is the
    correctly rounded sum): repeated :func:`math.fsum` of the remainder, each step exact."""
    if len(terms) == 1:  # common in a flush, and already in that form
        return [terms[0]] if terms[0] != 0.0 else []
    out = []
    rest = list(terms)
    for _ in range(64):  # each step removes >= 52 bits; 2-3 steps in practice
        total = math.fsum(rest)
        if total == 0.0:
            break
        out.append(total)
        if not math.isfinite(total):
            break
        rest.append(-total)
    return out


#: The float fields of PQStats, summed exactly, in cell order (see PQStats._raw_flats).
_FLOAT_FIELDS = ("iou", "dagger_iou", "cover_iou", "cover_area", "segm_iou", "size_iou")


def _float_field(name: str, doc: str) -> property:
    """A float statistic: a numpy array, with the exact sums of its pending additions folded
    in when it is read (those of the other fields wait until they are read)."""
    key = "_f_" + name
    field = _FLOAT_FIELDS.index(name)

    def get(self):
        if self._pending_images or field in self._pending:
            self._flush(field)
        return self.__dict__[key]

    def set(self, value):
        if self._pending_images or field in self._pending:
            self._flush(field)
        self.__dict__[key] = value

    return property(get, set, doc=doc)


def _int_shape(name: str, n: int) -> tuple:
    """The shape of PQStats' integer field ``name`` over n categories."""
    if name.startswith("size_"):
        return (n, 3)
    return (n, n + 1) if name == "confusion" else (n,)


def _int_field(name: str, doc: str) -> property:
    """An integer statistic: a numpy array, with the images queued by ``add_image`` added in
    when it is read (or replaced)."""
    key = "_i_" + name

    def get(self):
        if self._pending_images:
            self._push_images()
        return self.__dict__[key]

    def set(self, value):
        if self._pending_images:
            self._push_images()
        self.__dict__[key] = value

    return property(get, set, doc=doc)


class PQStats:
    """Additive Panoptic Quality statistics, one row per category.

    Attributes
    ----------
    categories : Categories
    tp, fp, fn : numpy.ndarray of int64, shape (n_categories,)
    iou : numpy.ndarray of float64, shape (n_categories,)
        Sum of the IoUs of the true positives (exactly summed, see the module docstring).
    n_images : int
    n_area_mismatch : int
        GT segments whose JSON ``area`` differs from their pixel count in the PNG, counted when
        evaluating with ``gt_area="json"`` (with ``"png"``, such a segment is an error).
    """

    #: The float fields, summed exactly.
    _FLOAT = _FLOAT_FIELDS
    iou = _float_field("iou", "Sum of the IoUs of the true positives, per category.")
    dagger_iou = _float_field("dagger_iou", "PQ-dagger IoU sums (see extra_metrics).")
    cover_iou = _float_field("cover_iou", "Parsing Covering: sum of area * best IoU.")
    cover_area = _float_field("cover_area", "Parsing Covering: sum of GT areas.")
    segm_iou = _float_field("segm_iou", "Mask IoU sums when ``iou_type`` is 'boundary'.")
    size_iou = _float_field("size_iou", "IoU sums per COCO size range, shape (n, 3).")

    #: The integer fields summed from queued images (stored as ``_i_<name>``, pickled as
    #: ``<name>``), in the order of an image's queue entry (see add_image).
    _INT = ("tp", "fp", "fn", "segm_tp", "segm_fp", "segm_fn", "dagger_count", "size_tp",
            "size_fp", "size_fn", "sem_inter", "sem_gt", "sem_pred")
    tp = _int_field("tp", "True positives per category.")
    fp = _int_field("fp", "False positives per category.")
    fn = _int_field("fn", "False negatives per category.")
    segm_tp = _int_field("segm_tp", "Mask PQ's true positives when ``iou_type`` is 'boundary'.")
    segm_fp = _int_field("segm_fp", "Mask PQ's false positives when ``iou_type`` is 'boundary'.")
    segm_fn = _int_field("segm_fn", "Mask PQ's false negatives when ``iou_type`` is 'boundary'.")
    dagger_count = _int_field("dagger_count", "PQ-dagger counts (see extra_metrics).")
    size_tp = _int_field("size_tp", "True positives per COCO size range, shape (n, 3).")
    size_fp = _int_field("size_fp", "False positives per COCO size range, shape (n, 3).")
    size_fn = _int_field("size_fn", "False negatives per COCO size range, shape (n, 3).")
    sem_inter = _int_field("sem_inter", "Semantic pixel counts: GT and prediction agree.")
    sem_gt = _int_field("sem_gt", "Semantic pixel counts: GT pixels.")
    sem_pred = _int_field("sem_pred", "Semantic pixel counts: predicted on labelled GT.")
    confusion = _int_field("confusion", "Missed GT segments by category and that of their "
                                        "most-overlapping prediction, shape (n, n + 1).")

    #: Defaults for statistics pickled before these attributes existed.
    n_area_mismatch = 0
    iou_type = "segm"
    _exact = None
    _pending = ()
    _n_pending = 0
    _pending_images = ()
    #: Pending terms folded into the arrays once there are this many (bounds memory).
    _MAX_PENDING = 1 << 16
    #: Images whose arrays are queued as they are, then summed (integers) or turned into
    #: nonzero cells (floats) together: a few numpy calls per field for the batch instead of
    #: a dozen or two per image. Small enough that the batches are summed while the threads
    #: evaluate the next images, not all at the end (at 60 images, a batch of 64 left 2 ms of
    #: sums for after the last image).
    _IMAGE_BATCH = 16

    def __init__(self, categories, iou_type: str = "segm"):
        self.categories = as_categories(categories)
        self.iou_type = check_iou_type(iou_type)
        n = len(self.categories)
        # The exact sums of the float fields' nonzero cells, {cell g: [rounded value, terms]}
        # (cell numbering: see _raw_flats), and the (cells, values) added since, not yet folded,
        # by field; the arrays of the images added since, not yet summed (see add_image).
        self._exact = {}
        self._pending = {}
        self._n_pending = 0
        self._pending_images = []
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
        # Semantic segmentation pixel counts per category (hotcoco's conventions, see
        # panoseg.evaluation.semantic): GT pixels, predicted pixels on labelled GT, and both.
        self.sem_inter = np.zeros(n, np.int64)
        self.sem_gt = np.zeros(n, np.int64)
        self.sem_pred = np.zeros(n, np.int64)
        # With iou_type "boundary", tp / fp / fn / iou are Boundary PQ's and these the mask PQ
        # of the same pass.
        self.segm_tp = np.zeros(n, np.int64)
        self.segm_fp = np.zeros(n, np.int64)
        self.segm_fn = np.zeros(n, np.int64)
        self.segm_iou = np.zeros(n, np.float64)
        self.n_images_extra = 0
        self.n_area_mismatch = 0

    _EXTRA = ("dagger_iou", "dagger_count", "cover_iou", "cover_area", "size_tp", "size_fp",
              "size_fn", "size_iou", "confusion", "sem_inter", "sem_gt", "sem_pred", "segm_tp",
              "segm_fp", "segm_fn", "segm_iou")

    def _raw_flats(self) -> list:
        """Flat views of the float fields' arrays (pending terms not folded in); cell ``g`` of
        their concatenation is cell ``g - f * n`` of field ``f = min(g // n, 5)``."""
        n = len(self.categories)
        for name in self._FLOAT:  # pickled before a field existed
            if "_f_" + name not in self.__dict__:
                self.__dict__["_f_" + name] = np.zeros((n, 3) if name == "size_iou" else n)
        return [self.__dict__["_f_" + name].reshape(-1) for name in self._FLOAT]

    def _terms(self, g: int, value: float) -> list:
        """The exact terms of float cell ``g`` whose array value is ``value`` (a cell written
        directly into the array is taken at its written value)."""
        cell = (self._exact or {}).get(g)
        if cell is not None and cell[0] == value:
            return list(cell[1])
        return [value] if value else []

    def _push(self, cells: np.ndarray, values: np.ndarray) -> None:
        """Queues exact additions: ``values[i]`` to float cell ``cells[i]``."""
        if not isinstance(self._pending, dict):
            self._pending = {}
        fields = np.minimum(cells // len(self.categories), len(self._FLOAT) - 1)
        for f in np.unique(fields).tolist():
            chosen = fields == f
            self._pending.setdefault(f, []).append((cells[chosen], values[chosen]))
        self._n_pending += len(cells)
        if self._n_pending >= self._MAX_PENDING:
            self._flush()

    def _queue_image(self, arrays: tuple) -> None:
        """Queues an image's arrays: those of ``_INT``, then of ``_FLOAT`` (None where not
        computed), then the confusion's (GT categories, prediction categories) or None."""
        if not isinstance(self._pending_images, list):
            self._pending_images = []
        self._pending_images.append(arrays)
        if len(self._pending_images) >= self._IMAGE_BATCH:
            self._push_images()

    def _push_images(self) -> None:
        """Adds the queued images' integer arrays and queues the nonzero cells of their float
        arrays: images with the same fields (all of them, in a run) in one concatenation per
        kind, so a batch costs a dozen numpy calls, not a few per field (the summing holds the
        GIL while the threads wait to hand back their images)."""
        images, self._pending_images = self._pending_images, []
        n = len(self.categories)
        n_int = len(self._INT)
        layouts: dict = {}  # the sizes of an image's arrays (None: absent) -> its images
        for arrays in images:
            key = tuple(None if a is None else np.size(a) for a in arrays[:-1])
            layouts.setdefault(key, []).append(arrays)
        for key, group in layouts.items():
            ints = [k for k in range(n_int) if key[k] is not None]
            if ints:
                block = np.concatenate([arrays[k] for arrays in group for k in ints],
                                       axis=None, dtype=np.int64, casting="same_kind")
                sums = block.reshape(len(group), -1).sum(axis=0)
                start = 0
                for k in ints:
                    field = self.__dict__["_i_" + self._INT[k]]
                    field += sums[start:start + key[k]].reshape(field.shape)
                    start += key[k]
            floats = [k for k in range(n_int, len(key)) if key[k] is not None]
            if floats:
                block = np.concatenate([arrays[k] for arrays in group for k in floats],
                                       axis=None, dtype=np.float64)
                # (A float array's nonzero() is several times slower than a bool array's.)
                nonzero = np.flatnonzero(block != 0)
                if len(nonzero):
                    # Position in an image's floats -> cell (field f's cells start at f * n).
                    cells = np.concatenate([(k - n_int) * n + np.arange(key[k], dtype=np.int64)
                                            for k in floats])
                    self._push(cells[nonzero % len(cells)], block[nonzero])
        confusions = [arrays[-1] for arrays in images if arrays[-1] is not None]
        if confusions:
            self._add_confusion(np.concatenate([g for g, _ in confusions]),
                                np.concatenate([p for _, p in confusions]))

    def _add_confusion(self, gt: np.ndarray, pred: np.ndarray) -> None:
        """Counts unmatched GT segments: categories ``gt`` and of their most-overlapping
        prediction ``pred`` (-1: none, column n)."""
        n = len(self.categories)
        np.add.at(self.__dict__["_i_confusion"], (gt, np.where(pred < 0, n, pred)), 1)

    def _flush(self, field: Optional[int] = None) -> None:
        """Folds the pending additions (of float field ``field`` only, if given) into the exact
        terms and the arrays. (Folding costs about a microsecond per cell: PQ reads only the
        IoU sums.)"""
        if self._pending_images:
            self._push_images()
        if not self._pending:
            return
        pending = []
        for f in (list(self._pending) if field is None else [field]):
            pending += self._pending.pop(f, [])
        if not pending:
            return
        self._n_pending -= sum(len(c) for c, _ in pending)
        cells = np.concatenate([c for c, _ in pending])
        values = np.concatenate([v for _, v in pending])
        order = np.argsort(cells, kind="stable")
        cells = cells[order]
        values = values[order].tolist()
        starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
        ends = np.r_[starts[1:], len(cells)].tolist()
        if self._exact is None:
            self._exact = {}
        flats = self._raw_flats()
        current = np.concatenate(flats)
        touched = cells[starts]
        folded = []
        exact = self._exact
        for g, value, a, b in zip(touched.tolist(), current[touched].tolist(), starts.tolist(),
                                  ends):
            terms = self._terms(g, value)
            terms += values[a:b]
            terms = _exact_terms(terms)
            value = terms[0] if terms else 0.0
            exact[g] = [value, terms]
            folded.append(value)
        # Written back in one go: cell g of ``current`` is cell g of the flats' concatenation.
        current[touched] = folded
        start = 0
        for flat in flats:
            flat[:] = current[start:start + len(flat)]
            start += len(flat)

    def __getstate__(self):
        self._flush()
        state = self.__dict__.copy()
        for name in self._INT + ("confusion",):  # under their names, as before the queue
            if "_i_" + name in state:
                state[name] = state.pop("_i_" + name)
        return state

    def __setstate__(self, state):
        for name in self._FLOAT:  # pickled before the float fields became properties
            if name in state:
                state["_f_" + name] = state.pop(name)
        state["_pending"] = {}  # flushed when pickled (an empty list before)
        state["_pending_images"] = []  # never the list of the object copied (copy.copy)
        state.setdefault("_n_pending", 0)
        n = len(state["categories"])
        if "_f_segm_iou" not in state:
            # Pickled before segm_iou (float field 4, before size_iou): its cells are zero, and
            # the exact terms of size_iou's cells move up by n.
            state["_f_segm_iou"] = np.zeros(n, np.float64)
            state["_exact"] = {(g + n if g >= 4 * n else g): cell
                               for g, cell in (state.get("_exact") or {}).items()}
        for name in self._EXTRA:  # pickled before the field existed
            if name not in self._FLOAT:
                state.setdefault(name, np.zeros(_int_shape(name, n), np.int64))
        for name in self._INT + ("confusion",):
            state["_i_" + name] = state.pop(name)
        self.__dict__.update(state)

    def _check_compatible(self, other: "PQStats"):
        if not isinstance(other, PQStats):
            return NotImplemented
        if other.categories is not self.categories and other.categories != self.categories:
            raise ValueError("cannot add PQStats computed over different categories")
        if other.iou_type != self.iou_type:
            raise ValueError(f"cannot add PQStats of iou_type {other.iou_type!r} to "
                             f"{self.iou_type!r}")
        return None

    def __iadd__(self, other: "PQStats") -> "PQStats":
        if self._check_compatible(other) is NotImplemented:
            return NotImplemented
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.n_images += other.n_images
        for name in self._EXTRA:
            if name not in self._FLOAT:
                getattr(self, name).__iadd__(getattr(other, name))
        other._flush()
        flat = np.concatenate(other._raw_flats())
        cells, values = [], []
        for g in np.flatnonzero(flat).tolist():
            terms = other._terms(g, float(flat[g]))
            cells.extend([g] * len(terms))
            values.extend(terms)
        if cells:
            self._push(np.array(cells, np.int64), np.array(values, np.float64))
        self.n_images_extra += other.n_images_extra
        self.n_area_mismatch += other.n_area_mismatch
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
        out = PQStats(self.categories, self.iou_type)
        out.tp[:], out.fp[:], out.fn[:], out.iou[:] = self.tp, self.fp, self.fn, self.iou
        out.n_images = self.n_images
        for name in self._EXTRA:
            getattr(out, name)[...] = getattr(self, name)
        out.n_images_extra = self.n_images_extra
        out.n_area_mismatch = self.n_area_mismatch
        out._exact = {g: [v, list(p)] for g, (v, p) in (self._exact or {}).items()}  # flushed
        return out

    def add_image(self, result) -> None:
        """Adds one image's counts (an :class:`~panoseg.evaluation.matching.ImageResult`).

        Its arrays are queued and added up with those of other images when a statistic is
        read (or a batch is full), so they must not change afterwards."""
        segm = getattr(result, "segm", None)
        if (segm is not None) != (self.iou_type == "boundary"):
            raise ValueError(f"an image evaluated with iou_type "
                             f"{'boundary' if segm is not None else 'segm'!r} added to "
                             f"PQStats of iou_type {self.iou_type!r}")
        if len(result.tp) != len(self.categories):  # queued: no broadcast error later
            raise ValueError(f"an image evaluated over {len(result.tp)} categories added to "
                             f"PQStats over {len(self.categories)}")
        self.n_images += 1
        self.n_area_mismatch += int(getattr(result, "n_area_mismatch", 0))
        if segm is None:
            segm = (None, None, None, None)
        e = result.extra
        if e is None:
            self._queue_image((result.tp, result.fp, result.fn, segm[0], segm[1], segm[2],
                               None, None, None, None, None, None, None,
                               result.iou, None, None, None, segm[3], None, None))
        else:
            self._queue_image((result.tp, result.fp, result.fn, segm[0], segm[1], segm[2],
                               e["dagger_count"], e["size_tp"], e["size_fp"], e["size_fn"],
                               e["sem_inter"], e["sem_gt"], e["sem_pred"],
                               result.iou, e["dagger_iou"], e["cover_iou"], e["cover_area"],
                               segm[3], e["size_iou"],
                               (e["confusion_gt"], e["confusion_pred"])))
            self.n_images_extra += 1

    def add_sink(self, sink) -> None:
        """Adds what a :class:`panoseg._core.StatsSink` summed (and empties it): the images
        evaluated into it, as if each had been given to :meth:`add_image` (same bits)."""
        if sink.n_categories != len(self.categories):
            raise ValueError(f"a sink over {sink.n_categories} categories added to PQStats over "
                             f"{len(self.categories)}")
        if sink.boundary != (self.iou_type == "boundary"):
            raise ValueError(f"a sink of {'boundary' if sink.boundary else 'segm'!r} images "
                             f"added to PQStats of iou_type {self.iou_type!r}")
        n = len(self.categories)
        fields = [self.__dict__["_i_" + name] for name in self._INT]
        shapes = [_int_shape(name, n) for name in self._INT]
        for name, field, shape in zip(self._INT, fields, shapes):  # before anything changes
            if field.shape != shape:
                raise ValueError(f"PQStats.{name} has shape {field.shape}, not {shape}")
        n_images, n_images_extra, ints, confusion_gt, confusion_pred, cells, values = sink.drain()
        if not n_images:
            return
        start = 0
        for field, shape in zip(fields, shapes):  # blocks in _INT order (stats_sink.hpp)
            size = math.prod(shape)  # (np.prod costs ~8 us a call: a tenth of a small add)
            field += ints[start:start + size].reshape(shape)
            start += size
        if len(confusion_gt):
            self._add_confusion(confusion_gt, confusion_pred)
        if len(cells):
            self._push(cells, values)
        self.n_images += n_images
        self.n_images_extra += n_images_extra

    def summarize(self) -> dict:
        """panopticapi's result dict.

        ``{"All": {"pq", "sq", "rq", "n"}, "Things": {...}, "Stuff": {...},
        "per_class": {category_id: {"pq", "sq", "rq"}}}`` with values in 0..1.
        """
        return pq_summary(self.tp, self.fp, self.fn, self.iou, self.categories)

    def summarize_segm(self) -> dict:
        """With ``iou_type="boundary"``: the mask PQ of the same pass, as :meth:`summarize`."""
        if self.iou_type != "boundary":
            return self.summarize()
        return pq_summary(self.segm_tp, self.segm_fp, self.segm_fn, self.segm_iou,
                          self.categories)

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
