"""Metrics beyond panopticapi's PQ, from the additive statistics the core gathers in the same
pass over each image (``PQStats.dagger_*``, ``cover_*``, ``size_*``, ``confusion``).

Conventions (stated precisely because papers and libraries differ):

* **IoU** everywhere is panopticapi's: ``|P & G| / (|P| + |G| - |P & G| - |P on GT VOID|)``;
  predicted pixels on GT VOID count neither in the union nor against the prediction.
* **PQ-dagger** (Porzi et al. 2019, "Seamless Scene Segmentation"; torchmetrics'
  ``ModifiedPanopticQuality``): things are scored exactly as (mask) PQ (with panopticapi's crowd
  rules). A stuff category present in an image's GT counts one segment there and scores the IoU
  of the union of its predicted segments with the union of its non-crowd GT segments, however
  small (0 when they do not overlap); stuff has no false positives or negatives, so a stuff
  category predicted where the GT has none costs nothing. PQ-dagger_c = IoU sum / count; the
  averages run over categories with tp + fp + fn > 0 (panopticapi's rule). This equals
  torchmetrics when the prediction has no VOID pixels and the GT no crowd segments: torchmetrics
  knows no crowd, and also removes GT pixels lying on *prediction* VOID from the union and
  ignores GT segments mostly on prediction VOID.
* **Parsing Covering** (Yang et al. 2019, "DeeperLab"): PC_c = sum over the non-crowd GT
  segments R of category c of |R| * max IoU(R, R') over predicted segments R' of category c,
  divided by the sum of |R|, over the whole dataset; PC = mean of PC_c over categories with GT.
* **PQ by size**: COCO's area ranges, small < 32^2 <= medium < 96^2 <= large (each segment in
  exactly one); a TP and a FN fall in the range of the GT segment's area, a FP in that of the
  predicted segment's; averaged over thing categories, as PQ_Th.
* **Confusion**: for every missed (FN) GT segment, the category of the prediction that overlaps
  it most, or none when only VOID does.
"""
from __future__ import annotations

import numpy as np

from .stats import GROUPS, class_average

SIZE_RANGES = ("small", "medium", "large")


def pq_dagger(stats) -> dict:
    """PQ-dagger: ``{"All"|"Things"|"Stuff": {"pq","sq","rq","n"}, "per_class": {id: {...}}}``."""
    stuff = ~stats.categories.isthing
    # Things as mask PQ, also when the statistics' PQ is Boundary PQ (then in segm_*).
    things = (stats.segm_tp, stats.segm_fp, stats.segm_fn, stats.segm_iou) \
        if getattr(stats, "iou_type", "segm") == "boundary" else \
        (stats.tp, stats.fp, stats.fn, stats.iou)
    tp = np.where(stuff, stats.dagger_count, things[0])
    fp = np.where(stuff, 0, things[1])
    fn = np.where(stuff, 0, things[2])
    iou = np.where(stuff, stats.dagger_iou, things[3])
    out = {}
    for name, which in GROUPS:
        out[name], per_class = class_average(tp, fp, fn, iou, stats.categories.isthing, which)
        if name == "All":
            ids = stats.categories.ids.tolist()
            out["per_class"] = {ids[k]: v for k, v in per_class.items()}
    return out


def parsing_covering(stats) -> dict:
    """``{"pc": mean over categories with GT, "n": their number, "per_class": {id: PC_c}}``."""
    present = stats.cover_area > 0
    per = np.divide(stats.cover_iou, stats.cover_area, out=np.zeros_like(stats.cover_iou),
                    where=present)
    ids = stats.categories.ids.tolist()
    return {"pc": float(per[present].mean()) if present.any() else 0.0, "n": int(present.sum()),
            "per_class": {ids[k]: float(per[k]) for k in np.flatnonzero(present)}}


def pq_by_size(stats) -> dict:
    """PQ / SQ / RQ of thing categories per COCO area range: ``{"small": {...}, ...}``."""
    out = {}
    for b, name in enumerate(SIZE_RANGES):
        out[name], _ = class_average(stats.size_tp[:, b], stats.size_fp[:, b],
                                      stats.size_fn[:, b], stats.size_iou[:, b],
                                      stats.categories.isthing, True)
    return out


def confusion_rows(stats, limit=None) -> list:
    """The nonzero cells of the confusion table, most frequent first:
    ``{"gt_category_id", "pred_category_id" (None: nothing overlaps), "count"}``."""
    ids = stats.categories.ids.tolist() + [None]
    g, p = np.nonzero(stats.confusion)
    counts = stats.confusion[g, p]
    order = np.lexsort((p, g, -counts))[:limit]
    return [{"gt_category_id": ids[g[k]], "pred_category_id": ids[p[k]], "count": int(counts[k])}
            for k in order]


def extra_results(stats) -> dict:
    """All the metrics beyond PQ, under the keys ``--json-out`` adds to panopticapi's dict."""
    if stats.n_images_extra != stats.n_images:
        raise ValueError(f"{stats.n_images - stats.n_images_extra} of {stats.n_images} images "
                         "were evaluated without the extra statistics")
    return {"pq_dagger": pq_dagger(stats), "parsing_covering": parsing_covering(stats),
            "pq_by_size": pq_by_size(stats), "confusion": confusion_rows(stats)}
