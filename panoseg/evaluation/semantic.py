"""Semantic segmentation metrics of a panoptic prediction: mIoU, fwIoU, mAcc, aAcc.

Computed from the same pass as PQ: the core sums, per category, the pixels the GT labels with
it (``PQStats.sem_gt``), the pixels predicted as it on labelled GT (``sem_pred``) and the pixels
of both (``sem_inter``). The conventions are hotcoco's (``PanopticEval(...).report()
["metrics"]``), checked against it in the tests:

* GT VOID pixels are ignored (they count nowhere);
* GT crowd pixels count as their category (crowd regions are labelled, just not instances);
* a predicted VOID pixel on a labelled GT pixel is a miss (it counts in ``sem_gt`` only).

Per category c: IoU_c = inter / (gt + pred - inter), Acc_c = inter / gt. mIoU averages IoU_c
over the categories with gt + pred > 0; mAcc averages Acc_c over those with gt > 0; aAcc =
sum(inter) / sum(gt) (pixel accuracy); fwIoU = sum(gt_c * IoU_c) / sum(gt) (frequency-weighted
IoU, Long et al. 2015, "Fully Convolutional Networks for Semantic Segmentation").
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def semantic_from_counts(inter, gt, pred, category_ids=None) -> dict:
    """The metrics from per-category pixel counts (1-D arrays, or rows of a 2-D stack for many
    replicates at once: then each value is an array over the rows and no ``per_class``).

    Returns ``{"mIoU", "fwIoU", "mAcc", "aAcc", "n"}`` (``n``: categories in mIoU), plus
    ``"per_class": {category_id: {"IoU", "Acc"}}`` (``Acc`` only for categories with GT
    pixels) when ``category_ids`` is given. A dataset without labelled pixels scores 0.
    """
    inter, gt, pred = (np.asarray(a, np.float64) for a in (inter, gt, pred))
    union = gt + pred - inter
    present, labelled = union > 0, gt > 0
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=present)
    acc = np.divide(inter, gt, out=np.zeros_like(inter), where=labelled)
    n_iou, n_acc = present.sum(-1), labelled.sum(-1)
    total = gt.sum(-1)
    safe_total = np.maximum(total, 1)
    out = {"mIoU": iou.sum(-1) / np.maximum(n_iou, 1), "fwIoU": (gt * iou).sum(-1) / safe_total,
           "mAcc": acc.sum(-1) / np.maximum(n_acc, 1), "aAcc": inter.sum(-1) / safe_total}
    if inter.ndim == 1:
        out = {k: float(v) for k, v in out.items()}
        out["n"] = int(n_iou)
        if category_ids is not None:
            out["per_class"] = {
                cid: ({"IoU": float(iou[k]), "Acc": float(acc[k])} if labelled[k]
                      else {"IoU": float(iou[k])})
                for k, cid in enumerate(category_ids) if present[k]}
    else:
        out["n"] = n_iou
    return out


def semantic_results(stats) -> dict:
    """The dataset's metrics from a :class:`~panoseg.evaluation.stats.PQStats` (what
    ``--json-out`` holds under ``"semantic"``)."""
    return semantic_from_counts(stats.sem_inter, stats.sem_gt, stats.sem_pred,
                                stats.categories.ids.tolist())


def image_miou(extra: dict) -> Optional[float]:
    """One image's mIoU (over the categories present in its GT or prediction), from an
    :class:`~panoseg.evaluation.matching.ImageResult`'s ``extra`` arrays; None when there is
    none (no labelled GT pixel and no predicted one)."""
    sem = semantic_from_counts(extra["sem_inter"], extra["sem_gt"], extra["sem_pred"])
    return sem["mIoU"] if sem["n"] > 0 else None
