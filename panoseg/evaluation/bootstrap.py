"""Bootstrap confidence intervals for PQ / SQ / RQ (All, Things, Stuff).

PQ's statistics add over images, so a bootstrap replicate -- the dataset's images drawn with
replacement -- is a weighted sum of the per-image statistics: no image is read again. The
replicates' PQ, SQ and RQ use panopticapi's class-averaging rules.

The interval is Efron's bias-corrected percentile interval: class averages are biased under
resampling (a rare category missing from a replicate drops out of its average), which can push
a plain percentile interval off the estimate; the correction re-centres the percentiles on the
estimate's rank among the replicates. When even that leaves the estimate outside (extreme
bias: fewer than 2.5% of the replicates on one side of it, which happens to SQ on small datasets
with many rare categories), the interval is extended to the estimate and the metric is listed
under ``"extended"``.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Optional

import numpy as np

from .semantic import semantic_from_counts
from .stats import GROUPS

#: The semantic metrics given intervals when the per-image pixel counts are kept.
SEMANTIC_KEYS = ("mIoU", "fwIoU", "mAcc", "aAcc")


@dataclass
class PerImageStats:
    """Per-image, per-category statistics (n_images x n_categories), in evaluation order."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    iou: np.ndarray
    #: Semantic pixel counts per image and category (see :mod:`.semantic`), when kept.
    sem_inter: Optional[np.ndarray] = None
    sem_gt: Optional[np.ndarray] = None
    sem_pred: Optional[np.ndarray] = None

    @classmethod
    def from_arrays(cls, rows) -> "PerImageStats":
        """Stacks per-image ``(tp, fp, fn, iou)`` tuples, or ``(tp, fp, fn, iou, sem_inter,
        sem_gt, sem_pred)`` ones (then the semantic metrics get intervals too)."""
        rows = list(rows)
        if not rows:
            raise ValueError("no images")
        if len({len(r) for r in rows}) != 1:
            rows = [r[:4] for r in rows]  # some images without the semantic counts
        return cls(*(np.stack(column) for column in zip(*rows)))

    def __len__(self) -> int:
        return len(self.tp)


def _class_averages(tp, fp, fn, iou, mask):
    """Vectorized panopticapi averages over replicates (rows) and the categories in ``mask``."""
    counted = ((tp + fp + fn) > 0) & mask
    denom = tp + 0.5 * fp + 0.5 * fn
    zeros = np.zeros_like(iou)
    pq = np.divide(iou, denom, out=zeros.copy(), where=counted)
    sq = np.divide(iou, tp, out=zeros.copy(), where=counted & (tp > 0))
    rq = np.divide(tp, denom, out=zeros.copy(), where=counted)
    n = counted.sum(axis=1)
    safe = np.maximum(n, 1)
    return {"pq": pq.sum(1) / safe, "sq": sq.sum(1) / safe, "rq": rq.sum(1) / safe}


def bootstrap_intervals(per_image: PerImageStats, isthing, n_replicates: int = 1000, *,
                        seed: int = 0, confidence: float = 0.95, chunk: int = 256) -> dict:
    """Percentile bootstrap intervals of PQ, SQ and RQ for All / Things / Stuff.

    Parameters
    ----------
    per_image : PerImageStats
    isthing : (n_categories,) bool array
    n_replicates : int
        Resamples of the images (with replacement, as many as there are images).
    seed : int
        The resampling is a deterministic function of it.
    confidence : float
        Coverage of the interval (0.95: the 2.5th and 97.5th percentiles).

    Returns
    -------
    dict
        ``{"n": n_replicates, "confidence", "seed", "method", "extended": [...],
        "All": {"pq": [lo, hi], "sq": [...], "rq": [...]}, "Things": {...}, "Stuff": {...}}``.
    """
    if n_replicates < 1:
        raise ValueError(f"n_replicates (--bootstrap) must be >= 1, got {n_replicates}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    n_images = len(per_image)
    isthing = np.asarray(isthing, dtype=bool)
    rng = np.random.default_rng(seed)
    stacked = np.concatenate([per_image.tp, per_image.fp, per_image.fn, per_image.iou],
                             axis=1).astype(np.float64)
    nc = per_image.tp.shape[1]
    values = {name: {k: [] for k in ("pq", "sq", "rq")} for name, _ in GROUPS}
    sem = None  # the semantic pixel counts, when kept: their metrics get intervals too
    if per_image.sem_inter is not None:
        sem = np.concatenate([per_image.sem_inter, per_image.sem_gt, per_image.sem_pred],
                             axis=1).astype(np.float64)
    sem_values = {key: [] for key in SEMANTIC_KEYS}
    for start in range(0, n_replicates, chunk):
        b = min(chunk, n_replicates - start)
        # Image multiplicities of each replicate, then one matrix product for all sums.
        weights = rng.multinomial(n_images, np.full(n_images, 1.0 / n_images), size=b)
        sums = weights.astype(np.float64) @ stacked
        tp, fp, fn, iou = (sums[:, k * nc:(k + 1) * nc] for k in range(4))
        for name, which in GROUPS:
            mask = np.ones(nc, bool) if which is None else (isthing == which)
            for k, v in _class_averages(tp, fp, fn, iou, mask[None, :]).items():
                values[name][k].append(v)
        if sem is not None:
            sums = weights.astype(np.float64) @ sem
            metrics = semantic_from_counts(*(sums[:, k * nc:(k + 1) * nc] for k in range(3)))
            for key in SEMANTIC_KEYS:
                sem_values[key].append(metrics[key])
    # The point estimates: every image once.
    full = stacked.sum(axis=0, keepdims=True)
    out = {"n": int(n_replicates), "confidence": float(confidence), "seed": int(seed),
           "method": "bias-corrected percentile", "extended": []}
    for name, which in GROUPS:
        mask = np.ones(nc, bool) if which is None else (isthing == which)
        estimate = _class_averages(*(full[:, k * nc:(k + 1) * nc] for k in range(4)),
                                   mask[None, :])
        out[name] = {}
        for key, reps in values[name].items():
            out[name][key] = bias_corrected_interval(np.concatenate(reps), float(estimate[key][0]),
                                       confidence, out["extended"], f"{name}.{key}")
    if sem is not None:
        estimate = semantic_from_counts(*(sem.sum(axis=0)[k * nc:(k + 1) * nc]
                                          for k in range(3)))
        out["semantic"] = {key: bias_corrected_interval(np.concatenate(sem_values[key]), estimate[key],
                                          confidence, out["extended"], f"semantic.{key}")
                           for key in SEMANTIC_KEYS}
    return out


def bias_corrected_interval(reps: np.ndarray, theta: float, confidence: float,
                            extended: Optional[list] = None, label: str = "") -> list:
    """Efron's bias-corrected percentile interval of ``reps`` around the estimate ``theta``,
    extended to ``theta`` (and ``label`` listed in ``extended``) if it falls outside."""
    if not len(reps):
        raise ValueError("no bootstrap replicates to take an interval from")
    normal = NormalDist()
    z = normal.inv_cdf((1 + confidence) / 2)
    # Bias correction z0: the estimate's rank among the replicates (ties count half).
    below = (np.count_nonzero(reps < theta) + 0.5 * np.count_nonzero(reps == theta))
    frac = min(max(below / len(reps), 0.5 / len(reps)), 1 - 0.5 / len(reps))
    z0 = normal.inv_cdf(frac)
    q = [normal.cdf(2 * z0 - z), normal.cdf(2 * z0 + z)]
    lo, hi = (float(x) for x in np.quantile(reps, q))
    if not lo <= theta <= hi:
        if extended is not None:
            extended.append(label)
        lo, hi = min(lo, theta), max(hi, theta)
    return [lo, hi]
