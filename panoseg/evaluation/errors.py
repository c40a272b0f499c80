"""Where PQ is lost: each category's and the dataset's PQ gap split into error types, defined
on panopticapi's own matching, with TIDE-style oracles (Bolya et al. 2020) that fix one type
alone and re-score.

Nothing is re-matched: TPs, FPs, FNs and ignored predictions are those of
:func:`~panoseg.evaluation.matching.match_image` (so of panopticapi's ``pq_compute``). Every FP
and every FN gets exactly one type; TPs only lose segmentation quality.

Notation, per image: ``inter(g, p)`` pixels of GT segment g under prediction p; ``|g|`` the GT
area PQ uses (``SegmentTable.area``), ``|p|`` the prediction's pixel count, ``void(p)`` its
pixels on GT VOID, ``p° = |p| - void(p)``; ``IoU(g, p) = inter / (|p| + |g| - inter -
void(p))`` (panopticapi's formula). *p lies on g*: ``inter(g, p) > p°/2``; *g lies in p*:
``inter(g, p) > |g|/2``. Crowd GT segments and ignored predictions are never errors. The types,
assigned in this order, each taking only the FPs / FNs not yet taken:

``cls``
    An FN g and an FP p of another category with ``IoU(g, p) > 0.5`` (pairs by decreasing
    IoU, then ids). Oracle: p relabelled, one TP of g's category at that IoU, the FN and FP gone.
``split``
    A GT g (TP, or an FN not yet taken) on which >= 2 predictions of its category lie (the FPs
    not yet taken and the one matched to g), at least one an FP. Oracle: the parts merged into
    one prediction matched to g at ``IoU(g, union)`` (a TP's IoU rises to it, an FN becomes a
    TP at it), the FP parts gone.
``merge``
    A prediction p (TP, or an FP not yet taken) in which >= 2 non-crowd GTs of its category lie
    (the FNs not yet taken and the one p matches); its unmatched ones are merge FNs, p a merge
    FP if it matched none. Oracle: each merge FN becomes a TP at ``inter(g, p) / |g|`` (the
    piece of p on g), p's FP is gone, p's own match is unchanged.
``loc``
    An FN g and an FP p of the same category with ``IoU(g, p) >= 0.1`` (pairs by decreasing
    IoU). Oracle: p matched to g at its IoU, the FN and FP gone.
``missed`` / ``background``
    Every other FN / FP. Oracle: it is removed.
``sq``
    Every TP (counted when its IoU is below 1). Oracle: every TP's IoU set to 1.

``dPQ_type = PQ(fixed) - PQ`` with panopticapi's class averaging (All / Things / Stuff) and per
category. ``all`` applies every oracle at once: every FP and FN gone, every TP (created ones
included) at IoU 1, hence PQ = 1 for every group left with a category.

:func:`image_errors` does one image (its overlaps counted with numpy: an opt-in analysis);
:class:`ImageErrors` adds up like :class:`~panoseg.evaluation.stats.PQStats`; :func:`summarize`
and :func:`format_table` report.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from ..io.categories import Categories, as_categories
from ..io.panoptic_json import SegmentTable
from .stats import GROUPS, class_average

#: The error types, in assignment order, then the segmentation quality of the TPs.
TYPES = ("cls", "split", "merge", "loc", "missed", "background", "sq")
#: What each type means, one line each (the table's legend).
TYPE_HELP = {
    "cls": "FN + FP of another category with IoU > 0.5 (fix: relabel)",
    "split": "GT covered by >= 2 predictions of its category (fix: merge them)",
    "merge": "prediction over >= 2 GTs of its category (fix: cut it)",
    "loc": "FN + FP of its category with 0.1 <= IoU <= 0.5 (fix: accept the match)",
    "missed": "any other FN (fix: remove it)",
    "background": "any other FP (fix: remove it)",
    "sq": "matched segments' 1 - IoU (fix: IoU = 1)",
}
#: IoU from which an unmatched same-category pair is a localization error (TIDE's t_b).
LOC_IOU = 0.1
_T = {name: k for k, name in enumerate(TYPES)}
# Rows of ImageErrors.counts[type]: errors of the type, TPs the oracle adds, FPs and FNs it removes.
_COUNT, _TP, _FP, _FN = range(4)


@dataclass(eq=False)
class ImageErrors:
    """Additive error statistics, per category (dense index).

    ``tp, fp, fn, iou``: panopticapi's counts and IoU sum; ``counts[t, r, k]`` for type
    ``TYPES[t]``: ``r`` = 0 errors of the type, 1 TPs its oracle adds, 2 FPs and 3 FNs it
    removes; ``iou_add[t, k]``: what its oracle adds to the IoU sum. Adds with ``+`` and
    ``sum()``; pickles.
    """

    categories: Categories = field(repr=False)
    tp: np.ndarray = field(repr=False)
    fp: np.ndarray = field(repr=False)
    fn: np.ndarray = field(repr=False)
    iou: np.ndarray = field(repr=False)
    counts: np.ndarray = field(repr=False)
    iou_add: np.ndarray = field(repr=False)
    n_images: int = 0

    @classmethod
    def zeros(cls, categories) -> "ImageErrors":
        categories = as_categories(categories)
        n = len(categories)
        return cls(categories, np.zeros(n, np.int64), np.zeros(n, np.int64),
                   np.zeros(n, np.int64), np.zeros(n, np.float64),
                   np.zeros((len(TYPES), 4, n), np.int64), np.zeros((len(TYPES), n), np.float64))

    def copy(self) -> "ImageErrors":
        return ImageErrors(self.categories, self.tp.copy(), self.fp.copy(), self.fn.copy(),
                           self.iou.copy(), self.counts.copy(), self.iou_add.copy(),
                           self.n_images)

    def __iadd__(self, other: "ImageErrors") -> "ImageErrors":
        if not isinstance(other, ImageErrors):
            return NotImplemented
        if other.categories is not self.categories and other.categories != self.categories:
            raise ValueError("cannot add ImageErrors computed over different categories")
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.iou += other.iou
        self.counts += other.counts
        self.iou_add += other.iou_add
        self.n_images += other.n_images
        return self

    def __add__(self, other: "ImageErrors") -> "ImageErrors":
        if not isinstance(other, ImageErrors):
            return NotImplemented
        out = self.copy()
        out += other
        return out

    def __radd__(self, other):
        if isinstance(other, int) and other == 0:  # sum(list_of_errors)
            return self.copy()
        return NotImplemented

    def count(self, name: str) -> np.ndarray:
        """Errors of type ``name`` per category."""
        return self.counts[_T[name], _COUNT]

    def fixed(self, name: str):
        """``(tp, fp, fn, iou)`` per category once the oracle of ``name`` (a type, or
        ``"all"``) has fixed its errors."""
        if name == "all":
            tp = self.tp + self.counts[:, _TP].sum(axis=0)
            zero = np.zeros_like(self.fp)
            return tp, zero, zero.copy(), tp.astype(np.float64)
        t = _T[name]
        if name == "sq":
            return self.tp, self.fp, self.fn, self.tp.astype(np.float64)
        c = self.counts[t]
        return (self.tp + c[_TP], self.fp - c[_FP], self.fn - c[_FN], self.iou + self.iou_add[t])


@dataclass
class SegmentErrors:
    """One image's error type per segment (``""``: none), in table order, and for ``cls`` /
    ``loc`` pairs the row of the other segment (else -1)."""

    gt_type: list
    pred_type: list
    gt_partner: np.ndarray
    pred_partner: np.ndarray


def image_errors(gt_ids: np.ndarray, pred_ids: np.ndarray, result) -> ImageErrors:
    """The error statistics of one image.

    ``gt_ids`` / ``pred_ids``: the image's HxW id maps; ``result``: the
    :class:`~panoseg.evaluation.matching.ImageResult` of :func:`match_image` on them.
    """
    return _analyse(gt_ids, pred_ids, result)[0]


def segment_errors(gt_ids: np.ndarray, pred_ids: np.ndarray, result) -> SegmentErrors:
    """The error type of every segment of one image (for pictures)."""
    return _analyse(gt_ids, pred_ids, result)[1]


def _rows(ids: np.ndarray, table_ids: np.ndarray) -> np.ndarray:
    """Per pixel: the row of its id in the table, -1 for VOID (and ids not in the table)."""
    ids = np.asarray(ids)
    if not len(table_ids):
        return np.full(ids.shape, -1, np.int64)
    if ids.dtype != np.uint32:
        ids = ids.astype(np.int64)
    order = np.argsort(table_ids, kind="stable")
    # Searched in the map's own dtype: converting a whole map costs more than the search.
    sorted_ids = table_ids[order].astype(ids.dtype)
    pos = np.searchsorted(sorted_ids, ids)
    np.minimum(pos, len(sorted_ids) - 1, out=pos)
    found = sorted_ids[pos] == ids
    return np.where(found, order[pos], -1)


def _overlaps(gt_ids, pred_ids, gt_table: SegmentTable, pred_table: SegmentTable):
    """(gt rows, pred rows, pixels) of every nonzero overlap of the two maps; row -1: VOID.

    The maps are cut into runs of equal (GT id, prediction id) pixels first (a few thousand
    for a photo), so that only the runs' ids are looked up."""
    gt_ids, pred_ids = np.asarray(gt_ids), np.asarray(pred_ids)
    if gt_ids.shape != pred_ids.shape:
        raise ValueError(f"id maps differ in size: {gt_ids.shape} and {pred_ids.shape}")
    g_flat, p_flat = gt_ids.ravel(), pred_ids.ravel()
    if not g_flat.size:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    change = np.flatnonzero((g_flat[1:] != g_flat[:-1]) | (p_flat[1:] != p_flat[:-1])) + 1
    starts = np.r_[0, change]
    lengths = np.diff(np.r_[starts, g_flat.size])
    n_pred = len(pred_table)
    g = _rows(g_flat[starts], gt_table.ids) + 1
    p = _rows(p_flat[starts], pred_table.ids) + 1
    code = g * (n_pred + 1) + p
    cells, inverse = np.unique(code, return_inverse=True)
    areas = np.bincount(inverse, weights=lengths).astype(np.int64)
    return cells // (n_pred + 1) - 1, cells % (n_pred + 1) - 1, areas


def _analyse(gt_ids, pred_ids, result):
    if getattr(result, "segm", None) is not None:
        raise ValueError("the error analysis needs the mask PQ's matching, not Boundary PQ's "
                         "(match_image without dilation)")
    cats = result.categories
    n = len(cats)
    gt, pred = result.gt_segments, result.pred_segments
    out = ImageErrors.zeros(cats)
    out.tp[:], out.fp[:], out.fn[:] = result.tp, result.fp, result.fn
    out.iou[:] = result.iou
    out.n_images = 1
    counts, iou_add = out.counts, out.iou_add

    ng, npred = len(gt), len(pred)
    gcat = np.asarray(gt.category, np.int64)
    pcat = np.asarray(pred.category, np.int64)
    crowd = np.asarray(gt.iscrowd, bool)
    garea = np.asarray(gt.area, np.float64)
    parea = np.asarray(result.pred_area, np.float64)
    gt_match = np.asarray(result.gt_match, np.int64)
    pred_match = np.asarray(result.pred_match, np.int64)
    ignored = np.asarray(result.pred_ignored, bool)
    gt_iou = np.asarray(result.gt_match_iou, np.float64)
    gid = np.asarray(gt.ids, np.int64)
    pid = np.asarray(pred.ids, np.int64)

    rg, rp, ra = _overlaps(gt_ids, pred_ids, gt, pred)
    counted = np.bincount(rp[rp >= 0], weights=ra[rp >= 0], minlength=npred)
    if not np.array_equal(counted, parea):
        raise ValueError("the id maps are not those `result` was matched on (the prediction's "
                         "pixel counts differ)")
    void = np.zeros(npred, np.float64)
    on_void = (rg < 0) & (rp >= 0)
    np.add.at(void, rp[on_void], ra[on_void])
    both = (rg >= 0) & (rp >= 0)
    inter = {}
    for a, b, c in zip(rg[both].tolist(), rp[both].tolist(), ra[both].tolist()):
        inter[(a, b)] = c

    def iou_of(a, b, i):
        u = parea[b] + garea[a] - i - void[b]
        return i / u if u > 0 else 0.0

    open_fn = {a for a in range(ng) if not crowd[a] and gt_match[a] < 0}
    open_fp = {b for b in range(npred) if pred_match[b] < 0 and not ignored[b]}
    gt_type = [""] * ng
    pred_type = [""] * npred
    gt_partner = np.full(ng, -1, np.int64)
    pred_partner = np.full(npred, -1, np.int64)

    def pair_up(name, same_category, keep):
        cands = []
        for (a, b), i in inter.items():
            if a in open_fn and b in open_fp and (gcat[a] == pcat[b]) == same_category:
                v = iou_of(a, b, i)
                if keep(v):
                    cands.append((-v, int(gid[a]), int(pid[b]), a, b))
        t = counts[_T[name]]
        for neg, _, _, a, b in sorted(cands):
            if a not in open_fn or b not in open_fp:
                continue
            open_fn.discard(a)
            open_fp.discard(b)
            gt_type[a], pred_type[b] = name, name
            gt_partner[a], pred_partner[b] = b, a
            t[_COUNT, gcat[a]] += 1
            t[_TP, gcat[a]] += 1
            t[_FN, gcat[a]] += 1
            t[_FP, pcat[b]] += 1
            iou_add[_T[name], gcat[a]] += -neg

    # 1. classification
    pair_up("cls", False, lambda v: v > 0.5)

    # 2. split: the predictions of g's category lying on g (open FPs or g's match)
    parts_of = {}
    for (a, b), i in inter.items():
        if gcat[a] == pcat[b] and not crowd[a] and i > 0.5 * (parea[b] - void[b]):
            parts_of.setdefault(a, []).append(b)
    t = counts[_T["split"]]
    for a in sorted(parts_of):
        if not (a in open_fn or gt_match[a] >= 0):
            continue
        parts = [b for b in parts_of[a] if b in open_fp or pred_match[b] == a]
        fps = [b for b in parts if b in open_fp]
        if len(parts) < 2 or not fps:
            continue
        s_inter = sum(inter[(a, b)] for b in parts)
        union = sum(parea[b] - void[b] for b in parts) + garea[a] - s_inter
        v = s_inter / union if union > 0 else 0.0
        c = gcat[a]
        t[_COUNT, c] += 1
        t[_FP, c] += len(fps)
        for b in fps:
            open_fp.discard(b)
            pred_type[b] = "split"
        if a in open_fn:
            open_fn.discard(a)
            gt_type[a] = "split"
            t[_TP, c] += 1
            t[_FN, c] += 1
            iou_add[_T["split"], c] += v
        else:
            iou_add[_T["split"], c] += v - gt_iou[a]

    # 3. merge: the GTs of p's category lying in p (open FNs or p's match)
    covered_by = {}
    for (a, b), i in inter.items():
        if gcat[a] == pcat[b] and not crowd[a] and i > 0.5 * garea[a]:
            covered_by.setdefault(b, []).append(a)
    t = counts[_T["merge"]]
    for b in sorted(covered_by):
        if not (b in open_fp or pred_match[b] >= 0):
            continue
        covered = [a for a in covered_by[b] if a in open_fn or gt_match[a] == b]
        fns = [a for a in covered if a in open_fn]
        if len(covered) < 2 or not fns:
            continue
        c = pcat[b]
        t[_COUNT, c] += 1
        for a in fns:
            open_fn.discard(a)
            gt_type[a] = "merge"
            t[_TP, c] += 1
            t[_FN, c] += 1
            iou_add[_T["merge"], c] += inter[(a, b)] / garea[a]
        if b in open_fp:
            open_fp.discard(b)
            pred_type[b] = "merge"
            t[_FP, c] += 1

    # 4. localization
    pair_up("loc", True, lambda v: v >= LOC_IOU)

    # 5. the rest
    t = counts[_T["missed"]]
    for a in open_fn:
        gt_type[a] = "missed"
        t[_COUNT, gcat[a]] += 1
        t[_FN, gcat[a]] += 1
    t = counts[_T["background"]]
    for b in open_fp:
        pred_type[b] = "background"
        t[_COUNT, pcat[b]] += 1
        t[_FP, pcat[b]] += 1

    # 6. segmentation quality of the TPs
    tps = np.flatnonzero(gt_match >= 0)
    t = _T["sq"]
    np.add.at(counts[t, _COUNT], gcat[tps], (gt_iou[tps] < 1.0).astype(np.int64))
    np.add.at(iou_add[t], gcat[tps], 1.0 - gt_iou[tps])
    assert counts.shape[2] == n
    return out, SegmentErrors(gt_type, pred_type, gt_partner, pred_partner)


def summarize(total: ImageErrors, categories=None) -> dict:
    """The error breakdown, JSON-ready.

    ``{"n_images", "pq": {group: {"pq", "sq", "rq", "n"}}, "types": {type: {"count", "fp",
    "fn", "dpq": {"All", "Things", "Stuff"}, "per_class": {category id: {"count", "fp", "fn",
    "dpq"}}}}}`` for every type of :data:`TYPES` and ``"all"`` (every oracle at once).
    ``per_class`` lists the categories with a segment; a category the oracle empties (e.g.
    one with only background FPs) has ``dpq`` None, as it leaves panopticapi's average.
    Values are fractions (0..1), as in panopticapi's result dict.
    """
    cats = total.categories if categories is None else as_categories(categories)
    isthing = cats.isthing
    ids = [int(e["id"]) for e in cats.entries]
    base = {}
    base_pc = None
    for name, group in GROUPS:
        base[name], pc = class_average(total.tp, total.fp, total.fn, total.iou, isthing, group)
        if group is None:
            base_pc = pc
    present = (total.tp + total.fp + total.fn) > 0
    types = {}
    for name in TYPES + ("all",):
        tp, fp, fn, iou = total.fixed(name)
        dpq = {}
        fixed_pc = None
        for gname, group in GROUPS:
            s, pc = class_average(tp, fp, fn, iou, isthing, group)
            dpq[gname] = s["pq"] - base[gname]["pq"]
            if group is None:
                fixed_pc = pc
        if name == "all":
            cnt = (total.fp + total.fn)
            fps, fns = total.fp, total.fn
        else:
            c = total.counts[_T[name]]
            cnt, fps, fns = c[_COUNT], c[_FP], c[_FN]
        left = (tp + fp + fn) > 0
        per_class = {}
        for k in np.flatnonzero(present).tolist():
            per_class[ids[k]] = {
                "count": int(cnt[k]), "fp": int(fps[k]), "fn": int(fns[k]),
                "dpq": (fixed_pc[k]["pq"] - base_pc[k]["pq"]) if left[k] else None}
        types[name] = {"count": int(cnt.sum()), "fp": int(fps.sum()), "fn": int(fns.sum()),
                       "dpq": dpq, "per_class": per_class}
    return {"n_images": int(total.n_images), "pq": base, "types": types}


def format_table(summary: dict) -> str:
    """The breakdown as a text table: per type its count, FPs, FNs and dPQ (points)."""
    head = f"{'error type':<12}{'count':>8}{'FP':>8}{'FN':>8}{'dPQ All':>10}{'Things':>9}" \
           f"{'Stuff':>9}"
    pq = summary["pq"]
    lines = [f"Where PQ is lost ({summary['n_images']} images; mask PQ All "
             f"{100 * pq['All']['pq']:.2f}, Things {100 * pq['Things']['pq']:.2f}, Stuff "
             f"{100 * pq['Stuff']['pq']:.2f}; dPQ = PQ gained by fixing that type alone)",
             head, "-" * len(head)]
    for name in TYPES + ("all",):
        row = summary["types"][name]
        if name == "all":
            lines.append("-" * len(head))
        d = row["dpq"]
        count = "" if name == "all" else row["count"]
        lines.append(f"{name:<12}{count:>8}{row['fp']:>8}{row['fn']:>8}"
                     f"{100 * d['All']:>10.2f}{100 * d['Things']:>9.2f}{100 * d['Stuff']:>9.2f}")
    lines.append("")
    lines.extend(f"  {name:<11} {TYPE_HELP[name]}" for name in TYPES)
    return "\n".join(lines)


def print_table(summary: dict, file=None) -> None:
    """Prints :func:`format_table` (default: to stdout)."""
    print(format_table(summary), file=file or sys.stdout)


def viz_marks(gt_ids, gt_segments_info, pred_ids, pred_segments_info, categories, *,
              image_id=None, file_name=None, gt_file=None, pred_file=None, gt_json=None,
              pred_json=None) -> dict:
    """What :mod:`panoseg.viz` needs to draw one image's errors: per segment (``segments_info``
    order) of each side its ``kind`` (GT: ``tp``, ``fn``, ``crowd``; prediction: ``tp``,
    ``fp``, ``ignored``), ``iou`` (of a match, else None) and ``error`` (the error type or "").

    The GT areas are counted from its PNG (the JSON's are not needed); with consistent areas
    this is the matching of :func:`~panoseg.evaluation.job.evaluate`.
    """
    from .matching import match_image

    cats = as_categories(categories)
    where = dict(image_id=image_id, file_name=file_name)
    gt_table = SegmentTable.from_segments_info(gt_segments_info, cats, is_gt=False,
                                               file=gt_json, **where)
    pred_table = SegmentTable.from_segments_info(pred_segments_info, cats, is_gt=False,
                                                 file=pred_json, **where)
    gt_ids, pred_ids = np.asarray(gt_ids), np.asarray(pred_ids)
    rows = _rows(gt_ids, gt_table.ids)
    gt_table.area = np.bincount(rows[rows >= 0].ravel(), minlength=len(gt_table)).astype(
        np.float64)
    result = match_image(gt_ids, gt_table, pred_ids, pred_table, cats, image_id=image_id,
                         file_name=file_name, gt_file=gt_file, pred_file=pred_file,
                         gt_json=gt_json, pred_json=pred_json, extra=False)
    seg = segment_errors(gt_ids, pred_ids, result)
    gt_marks = []
    for a in range(len(gt_table)):
        if gt_table.iscrowd[a]:
            gt_marks.append({"kind": "crowd", "iou": None, "error": ""})
        elif result.gt_match[a] >= 0:
            gt_marks.append({"kind": "tp", "iou": float(result.gt_match_iou[a]), "error": ""})
        else:
            gt_marks.append({"kind": "fn", "iou": None, "error": seg.gt_type[a]})
    pred_marks = []
    for b in range(len(pred_table)):
        m = int(result.pred_match[b])
        if m >= 0:
            pred_marks.append({"kind": "tp", "iou": float(result.gt_match_iou[m]), "error": ""})
        elif result.pred_ignored[b]:
            pred_marks.append({"kind": "ignored", "iou": None, "error": ""})
        else:
            pred_marks.append({"kind": "fp", "iou": None, "error": seg.pred_type[b]})
    return {"gt": gt_marks, "pred": pred_marks,
            "tp": int(result.tp.sum()), "fp": int(result.fp.sum()), "fn": int(result.fn.sum())}


__all__ = ["TYPES", "ImageErrors", "SegmentErrors", "image_errors", "segment_errors",
           "summarize", "format_table", "print_table", "viz_marks"]
