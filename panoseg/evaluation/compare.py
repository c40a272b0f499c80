"""Comparing two or more predictions of the same ground truth: per-model PQ / SQ / RQ (exactly
as :func:`~panoseg.evaluation.job.evaluate`) and, for each model against the first, the
difference of PQ with a paired bootstrap interval and a paired permutation p-value.

One pass over the ground truth: every GT PNG is decoded once and matched against each model's
prediction of that image (:func:`~panoseg.evaluation.matching.match_image`), on threads.

**Statistics** (:func:`paired_statistics`; the models' per-image, per-category statistics):

* *Interval* of ``delta PQ = PQ(B) - PQ(A)``: paired bootstrap (Efron & Tibshirani 1993;
  Koehn 2004 for evaluation metrics): the images are resampled with replacement, the *same*
  resample for both models, and each replicate's PQs are recomputed with panopticapi's class
  averaging. Efron's bias-corrected percentile interval (as in :mod:`.bootstrap`): class averages
  are biased under resampling, and the correction re-centres the percentiles on the estimate.
* *p-value*: two-sided paired permutation test (approximate randomization; Noreen 1989,
  Dror et al. 2018): under the null hypothesis that the two models are exchangeable, each
  image's pair of statistics may be swapped between A and B; ``p = (1 + #{|delta*| >=
  |delta|}) / (1 + R)`` over R random swaps (Phipson & Smyth 2010: never 0). A permutation
  test holds its level exactly for any sample size under that null, whereas a bootstrap p-value
  is only asymptotically valid (and anti-conservative on small sets, Riezler & Maxwell 2005).

Both use only the per-image statistics: no image is read again, and the replicates are matrix
products. A model compared with itself gives delta 0, interval [0, 0] and p = 1 exactly.
"""
from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import numpy as np

from ..errors import PanopticFormatError
from ..io.categories import as_categories
from ..io.panoptic_json import (
    SegmentTable,
    annotations_by_image,
    image_sizes,
    load_panoptic_json,
)
from ..io.paths import segmentation_folder
from ..io.png import MAX_PIXELS, read_ids
from ..util.cluster import (
    chunk_bounds,
    gather_in_order,
    require_workers,
    worker_threads,
)
from ..util.fileio import join
from ..util.parallel import ordered_map
from ..util.progress import progress_bar
from .bootstrap import PerImageStats, _class_averages, bias_corrected_interval
from .job import _with_image
from .matching import check_gt_area_mode, match_image
from .stats import GROUPS, PQStats

#: Below this many images the intervals and p-values say little (resamples repeat images).
MIN_IMAGES = 30
#: Images listed with the largest per-image PQ gains and losses.
TOP_IMAGES = 10


# ------------------------------------------------------------------------------------ inputs

@dataclass
class Model:
    """One prediction being compared: its name, JSON file and PNG folder."""

    name: str
    json_file: str
    folder: str


def default_names(json_files: Sequence) -> List[str]:
    """A name per prediction: its JSON file's name without ``.json``; where two coincide, the
    folder is added (``run1/pred``), then a number (``pred#2``)."""
    paths = [os.fspath(p).rstrip("/") for p in json_files]
    stems = [os.path.splitext(os.path.basename(p))[0] or p for p in paths]
    names = list(stems)
    for k, stem in enumerate(stems):
        if any(s == stem and p != paths[k] for s, p in zip(stems, paths)):
            parent = os.path.basename(os.path.dirname(paths[k]))
            names[k] = f"{parent}/{stem}" if parent else stem
    seen = {}
    for k, name in enumerate(names):
        if names.count(name) > 1:
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                names[k] = f"{name}#{seen[name]}"
    return names


def _category_key(categories) -> list:
    return [(int(e["id"]), bool(e["isthing"])) for e in categories.entries]


class CompareJob:
    """The inputs of a comparison, loaded and checked once: the GT and each model's annotation
    of every GT image. Picklable (chunks of images can be evaluated elsewhere, see
    :func:`compare_on_dask`).

    Raises :class:`PanopticFormatError` (naming the file and the image) when a prediction lacks
    a GT image, when the predictions cover different image sets, when a prediction's
    ``categories`` differ from the GT's (ids or isthing), or when names repeat.
    """

    gt_area = "png"
    max_pixels = MAX_PIXELS
    errors = False

    def __init__(self, gt_json_file, predictions: Sequence, gt_folder=None, *,
                 names: Optional[Sequence[str]] = None, gt_area: str = "png",
                 max_pixels: int = MAX_PIXELS, errors: bool = False):
        self.gt_area = check_gt_area_mode(gt_area)
        # Also each model's error breakdown (panoseg.evaluation.errors), from the same maps.
        self.errors = bool(errors)
        self.max_pixels = int(max_pixels)
        specs = [_as_spec(p) for p in predictions]
        if len(specs) < 2:
            raise ValueError(f"a comparison needs at least two predictions, got {len(specs)}")
        if names is None:
            names = default_names([j for j, _ in specs])
        names = [str(n) for n in names]
        if len(names) != len(specs):
            raise ValueError(f"{len(names)} names for {len(specs)} predictions")
        for k, name in enumerate(names):
            if not name.strip():
                raise ValueError(f"prediction {k + 1} ({specs[k][0]}) has an empty name")
            if names.index(name) != k:
                raise ValueError(f"the name {name!r} is given to two predictions "
                                 f"({specs[names.index(name)][0]} and {specs[k][0]})")
        gt_json_file = os.fspath(gt_json_file)
        gt_json = load_panoptic_json(gt_json_file, need_categories=True)
        self.gt_json_file = gt_json_file
        self.gt_folder = segmentation_folder(gt_folder, gt_json_file, "ground truth segmentations")
        self.categories = as_categories(gt_json["categories"], source=gt_json_file)
        self.sizes = image_sizes(gt_json, gt_json_file, self.max_pixels)
        gt_anns = list(annotations_by_image(gt_json, gt_json_file).values())
        self.models: List[Model] = []
        by_model = []
        for name, (json_file, folder) in zip(names, specs):
            pred_json = load_panoptic_json(json_file)
            if "categories" in pred_json:
                self._check_categories(pred_json["categories"], json_file)
            anns = annotations_by_image(pred_json, json_file)
            for gt_ann in gt_anns:
                if gt_ann["image_id"] not in anns:
                    raise PanopticFormatError("no prediction for this ground-truth image",
                                              file=json_file, image_id=gt_ann["image_id"],
                                              file_name=gt_ann["file_name"])
            folder = segmentation_folder(folder, json_file, f"segmentations of {name}")
            self.models.append(Model(name, json_file, folder))
            by_model.append(anns)
        # Images beyond the GT's are ignored (as by eval), but they must be the same for all:
        # different image sets mean predictions of different data.
        first = set(by_model[0])
        for model, anns in zip(self.models[1:], by_model[1:]):
            if set(anns) != first:
                extra = sorted(set(anns) - first, key=str)
                if extra:
                    raise PanopticFormatError(
                        f"the predictions cover different image sets: this image is not in "
                        f"{self.models[0].json_file}", file=model.json_file, image_id=extra[0])
                missing = sorted(first - set(anns), key=str)
                raise PanopticFormatError(
                    f"the predictions cover different image sets: this image is in "
                    f"{self.models[0].json_file} but not here", file=model.json_file,
                    image_id=missing[0])
        self.items = [(gt_ann, [anns[gt_ann["image_id"]] for anns in by_model])
                      for gt_ann in gt_anns]

    def _check_categories(self, entries, json_file) -> None:
        theirs = as_categories(entries, source=json_file) if isinstance(entries, list) else None
        if theirs is None:
            raise PanopticFormatError("'categories' is not a list", file=json_file)
        mine, other = _category_key(self.categories), _category_key(theirs)
        if sorted(mine) == sorted(other):  # the order does not matter: the GT's is used
            return
        ids, their_ids = dict(mine), dict(other)
        for cat_id, isthing in other:
            if cat_id not in ids:
                problem = f"category {cat_id} is not in the ground truth's categories"
                break
            if ids[cat_id] != isthing:
                problem = (f"category {cat_id} has isthing {int(isthing)} here but "
                           f"{int(ids[cat_id])} in the ground truth")
                break
        else:
            missing = [c for c, _ in mine if c not in their_ids]
            problem = f"category {missing[0]} of the ground truth is missing here"
        raise PanopticFormatError(f"'categories' differ from {self.gt_json_file}'s: {problem}",
                                  file=json_file)

    @property
    def names(self) -> List[str]:
        return [m.name for m in self.models]

    def __len__(self) -> int:
        return len(self.items)

    def subset(self, start: int, stop: int) -> "CompareJob":
        """The same job restricted to images [start, stop)."""
        out = copy.copy(self)
        out.items = self.items[start:stop]
        return out

    def evaluate_image(self, item) -> list:
        """One GT image against every model: an :class:`ImageResult` per model (the GT PNG is
        read once)."""
        return self._evaluate_item(item)[0]

    def _evaluate_item(self, item) -> tuple:
        """(:class:`ImageResult` per model, their error statistics or None)."""
        gt_ann, pred_anns = item
        image_id, gt_name = gt_ann["image_id"], gt_ann["file_name"]
        cats = self.categories
        gt_png = join(self.gt_folder, gt_name)

        def check_gt(h, w):
            if image_id in self.sizes and (h, w) != tuple(self.sizes[image_id]):
                eh, ew = self.sizes[image_id]
                raise PanopticFormatError(f"GT PNG is {w}x{h} (WxH) but 'images' in "
                                          f"{self.gt_json_file} says {ew}x{eh}", file=gt_png,
                                          image_id=image_id)

        gt_table = SegmentTable.from_segments_info(
            gt_ann["segments_info"], cats, is_gt=True, file=self.gt_json_file,
            image_id=image_id, file_name=gt_name)
        gt_ids = _with_image(lambda p: read_ids(p, self.max_pixels, check_gt), gt_png, image_id)
        results, errors = [], [] if self.errors else None
        for model, ann in zip(self.models, pred_anns):
            pred_png = join(model.folder, ann["file_name"])
            table = SegmentTable.from_segments_info(
                ann["segments_info"], cats, is_gt=False, file=model.json_file,
                image_id=image_id, file_name=ann["file_name"])

            def check_pred(h, w, pred_png=pred_png):
                if (h, w) != gt_ids.shape:
                    raise PanopticFormatError(
                        f"prediction is {w}x{h} (WxH) but the ground truth is "
                        f"{gt_ids.shape[1]}x{gt_ids.shape[0]}", file=pred_png,
                        image_id=image_id, file_name=gt_name)

            pred_ids = _with_image(lambda p: read_ids(p, self.max_pixels, check_pred),
                                   pred_png, image_id)
            results.append(match_image(
                gt_ids, gt_table, pred_ids, table, cats, image_id=image_id, file_name=gt_name,
                gt_file=gt_png, pred_file=pred_png, gt_json=self.gt_json_file,
                pred_json=model.json_file, extra=False, gt_area=self.gt_area))
            if errors is not None:
                from .errors import image_errors

                errors.append(image_errors(gt_ids, pred_ids, results[-1]))
        return results, errors

    def evaluate_chunk(self, start: int = 0, stop: Optional[int] = None,
                       workers: Optional[int] = 1, progress: bool = False,
                       on_image: Optional[Callable[[list], None]] = None) -> "CompareChunk":
        """Evaluates images [start, stop) on ``workers`` threads. ``on_image`` is called with
        each image's list of :class:`ImageResult` (one per model), in GT order."""
        items = self.items[start:stop]
        chunk = CompareChunk.empty(self.categories, len(self.models))
        bar = progress_bar(len(items), progress, "panoseg compare")
        try:
            for results, errors in ordered_map(self._evaluate_item, items, workers):
                chunk.add(results, errors)
                if on_image is not None:
                    on_image(results)
                bar.update(1)
        finally:
            bar.close()
        return chunk


def _as_spec(prediction) -> tuple:
    """``(json_file, folder or None)`` from a path, a pair or a :class:`Model`."""
    if isinstance(prediction, Model):
        return prediction.json_file, prediction.folder
    if isinstance(prediction, (tuple, list)):
        if len(prediction) != 2:
            raise ValueError(f"a prediction is a JSON path or (JSON, folder), got {prediction!r}")
        json_file, folder = prediction
        return os.fspath(json_file), None if folder is None else os.fspath(folder)
    return os.fspath(prediction), None


@dataclass
class CompareChunk:
    """What evaluating a chunk of images returns: per model the summed statistics, the
    per-image ``(tp, fp, fn, iou)`` arrays and per-image rows (id, file name, PQ)."""

    stats: list
    arrays: list
    rows: list = field(default_factory=list)  # per image: {"image_id", "file_name", "pq": [..]}
    #: With ``errors``: each model's summed error statistics (panoseg.evaluation.errors).
    errors: Optional[list] = None

    @classmethod
    def empty(cls, categories, n_models: int) -> "CompareChunk":
        return cls([PQStats(categories) for _ in range(n_models)],
                   [[] for _ in range(n_models)], [])

    def add(self, results: list, errors: Optional[list] = None) -> None:
        for k, result in enumerate(results):
            self.stats[k].add_image(result)
            self.arrays[k].append((result.tp, result.fp, result.fn, result.iou))
        if errors is not None:
            self.errors = list(errors) if self.errors is None else [
                total + e for total, e in zip(self.errors, errors)]
        first = results[0]
        self.rows.append({"image_id": first.image_id, "file_name": first.file_name,
                          "pq": [r.pq for r in results], "n": [r.summary["n"] for r in results]})

    def extend(self, other: "CompareChunk") -> None:
        for k in range(len(self.stats)):
            self.stats[k] += other.stats[k]
            self.arrays[k].extend(other.arrays[k])
        self.rows.extend(other.rows)
        if other.errors is not None:
            self.errors = list(other.errors) if self.errors is None else [
                total + e for total, e in zip(self.errors, other.errors)]


def _compare_chunk(job: CompareJob) -> CompareChunk:
    return job.evaluate_chunk(workers=worker_threads())


def compare_on_dask(job: CompareJob, client, chunk_size: Optional[int] = None,
                    progress: bool = False) -> CompareChunk:
    """Evaluates a :class:`CompareJob` on a Dask cluster (chunks reduced in GT order, so the
    result is the same as a local run)."""
    bounds = chunk_bounds(len(job.items), len(require_workers(client)), chunk_size)
    futures = [client.submit(_compare_chunk, job.subset(a, b), pure=False) for a, b in bounds]
    out = CompareChunk.empty(job.categories, len(job.models))
    for chunk in gather_in_order(futures, bounds, progress, "panoseg compare (dask)"):
        out.extend(chunk)
    return out


# ------------------------------------------------------------------------------- statistics

def _stacked(per_image: PerImageStats) -> np.ndarray:
    return np.concatenate([per_image.tp, per_image.fp, per_image.fn, per_image.iou],
                          axis=1).astype(np.float64)


def _per_class_pq(sums: np.ndarray, nc: int) -> np.ndarray:
    """Per-category PQ of each row of summed statistics (0 where a category has no segment)."""
    tp, fp, fn, iou = (sums[:, k * nc:(k + 1) * nc] for k in range(4))
    denom = tp + 0.5 * fp + 0.5 * fn
    return np.divide(iou, denom, out=np.zeros_like(iou), where=(tp + fp + fn) > 0)


def _per_class_delta(sa: np.ndarray, sb: np.ndarray, nc: int) -> np.ndarray:
    """Per-category PQ(b) - PQ(a) of each row of summed statistics; NaN where the category has
    no segment in either model (its PQ is undefined there, not 0: a resample without the
    category says nothing about it)."""
    present = (sa[:, :3 * nc] + sb[:, :3 * nc]).reshape(len(sa), 3, nc).sum(1) > 0
    return np.where(present, _per_class_pq(sb, nc) - _per_class_pq(sa, nc), np.nan)


def _group_pq(sums: np.ndarray, nc: int, masks) -> list:
    tp, fp, fn, iou = (sums[:, k * nc:(k + 1) * nc] for k in range(4))
    return [_class_averages(tp, fp, fn, iou, mask[None, :])["pq"] for mask in masks]


def paired_statistics(a: PerImageStats, b: PerImageStats, isthing, *, n_resamples: int = 1000,
                      n_permutations: int = 1000, seed: int = 0, confidence: float = 0.95,
                      chunk: int = 256) -> dict:
    """Paired bootstrap intervals and permutation p-values of ``PQ(b) - PQ(a)``.

    Parameters
    ----------
    a, b : PerImageStats
        The two models' per-image statistics, images in the same order.
    isthing : (n_categories,) bool array
    n_resamples : int
        Bootstrap resamples of the images (the same for both models).
    n_permutations : int
        Random swaps of the models' statistics, image by image (0: no p-values).
    seed : int
        Both are deterministic functions of it.
    confidence : float

    Returns
    -------
    dict
        ``{"All": {"delta_pq", "ci": [lo, hi], "p_value"}, "Things": ..., "Stuff": ...,
        "per_class": {dense index: {"delta_pq", "ci"}}}``; a group without categories in
        either model gets ``None`` values. The deltas here are computed from float sums of the
        per-image statistics; :func:`compare` reports the exact ones (equal within ~1e-15).
    """
    if len(a) != len(b) or a.tp.shape != b.tp.shape:
        raise ValueError("the two models' per-image statistics differ in shape")
    if n_resamples < 1:
        raise ValueError(f"n_resamples (--bootstrap) must be >= 1, got {n_resamples}")
    if n_permutations < 0:
        raise ValueError(f"n_permutations must be >= 0, got {n_permutations}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    n, nc = a.tp.shape
    isthing = np.asarray(isthing, bool)
    masks = [np.ones(nc, bool) if which is None else (isthing == which) for _, which in GROUPS]
    sa, sb = _stacked(a), _stacked(b)
    full_a, full_b = sa.sum(0, keepdims=True), sb.sum(0, keepdims=True)
    est = [float(y[0] - x[0]) for x, y in zip(_group_pq(full_a, nc, masks),
                                              _group_pq(full_b, nc, masks))]
    est_class = _per_class_delta(full_a, full_b, nc)[0]
    rng_boot, rng_perm = (np.random.default_rng(s) for s in
                          np.random.SeedSequence(int(seed)).spawn(2))
    boot = [[] for _ in GROUPS]
    boot_class = []
    for start in range(0, n_resamples, chunk):
        r = min(chunk, n_resamples - start)
        w = rng_boot.multinomial(n, np.full(n, 1.0 / n), size=r).astype(np.float64)
        ra, rb = w @ sa, w @ sb
        for k, (x, y) in enumerate(zip(_group_pq(ra, nc, masks), _group_pq(rb, nc, masks))):
            boot[k].append(y - x)
        boot_class.append(_per_class_delta(ra, rb, nc))
    # Permutations: swapping image i moves d_i = b_i - a_i from B's sums to A's.
    d = sb - sa
    perm_extreme = np.zeros(len(GROUPS), np.int64)
    tol = [1e-12 * max(1.0, abs(e)) for e in est]
    for start in range(0, n_permutations, chunk):
        r = min(chunk, n_permutations - start)
        s = rng_perm.integers(0, 2, size=(r, n)).astype(np.float64)
        moved = s @ d
        pa, pb = full_a + moved, full_b - moved
        for k, (x, y) in enumerate(zip(_group_pq(pa, nc, masks), _group_pq(pb, nc, masks))):
            perm_extreme[k] += np.count_nonzero(np.abs(y - x) >= abs(est[k]) - tol[k])
    extended = []  # intervals extended to reach their estimate (see bootstrap.py)
    n_cats = [(((full_a + full_b)[0, :nc] + (full_a + full_b)[0, nc:2 * nc]
                + (full_a + full_b)[0, 2 * nc:3 * nc]) > 0) & m for m in masks]
    out = {}
    for k, (name, _) in enumerate(GROUPS):
        if not n_cats[k].any():
            out[name] = {"delta_pq": None, "ci": None, "p_value": None}
            continue
        reps = np.concatenate(boot[k])
        out[name] = {"delta_pq": est[k],
                     "ci": bias_corrected_interval(reps, est[k], confidence, extended, name),
                     "p_value": (float((1 + perm_extreme[k]) / (1 + n_permutations))
                                 if n_permutations else None)}
    reps_class = np.concatenate(boot_class)
    # Images where each category has a segment (GT or either prediction): an interval from
    # fewer than a few images only repeats them.
    counts = (a.tp + a.fp + a.fn + b.tp + b.fp + b.fn) > 0
    images_with = counts.sum(0)
    out["per_class"] = {}
    for c in np.flatnonzero(n_cats[0]):
        reps = reps_class[:, c]
        reps = reps[~np.isnan(reps)]  # resamples that hold the category
        # No resample held the category (possible when it is in one image of a few and the
        # resamples are few): no interval.
        ci = bias_corrected_interval(reps, float(est_class[c]), confidence, extended,
                                     f"per_class.{c}") if len(reps) else None
        out["per_class"][int(c)] = {
            "delta_pq": float(est_class[c]), "n_images": int(images_with[c]), "ci": ci}
    out["extended"] = extended
    return out


# ----------------------------------------------------------------------------------- result

def _top_images(rows: list, a: int, b: int, top: int) -> dict:
    """The images whose PQ changes most from model ``a`` to ``b``: gains and losses."""
    entries = [{"image_id": r["image_id"], "file_name": r["file_name"],
                "pq": [r["pq"][a], r["pq"][b]], "delta_pq": r["pq"][b] - r["pq"][a]}
               for r in rows]
    gains = sorted((e for e in entries if e["delta_pq"] > 0), key=lambda e: -e["delta_pq"])
    losses = sorted((e for e in entries if e["delta_pq"] < 0), key=lambda e: e["delta_pq"])
    return {"gains": gains[:top], "losses": losses[:top]}


@dataclass
class Comparison:
    """What :func:`compare` returns.

    ``results``: the JSON-ready dict (see :func:`compare`); ``stats``: each model's
    :class:`PQStats`; ``per_image``: each model's :class:`PerImageStats`; ``rows``: per image
    ``{"image_id", "file_name", "pq": [per model]}``; ``job``: the inputs.
    """

    results: dict
    stats: list
    per_image: list
    rows: list
    job: Optional[CompareJob] = None


def summarize_comparison(job_or_categories, names: Sequence[str], chunk: CompareChunk, *,
                         n_resamples: int = 1000, n_permutations: int = 1000, seed: int = 0,
                         confidence: float = 0.95, top: int = TOP_IMAGES,
                         inputs: Optional[dict] = None,
                         on_warning: Optional[Callable[[str], None]] = None) -> Comparison:
    """The comparison's results from evaluated statistics (:meth:`CompareJob.evaluate_chunk`
    or :func:`compare_on_dask`)."""
    job = job_or_categories if isinstance(job_or_categories, CompareJob) else None
    categories = job.categories if job is not None else as_categories(job_or_categories)
    names = list(names)
    n_images = len(chunk.rows)
    warn = on_warning or (lambda m: warnings.warn(m, UserWarning, stacklevel=3))
    if n_images == 0:
        raise PanopticFormatError("the ground truth has no annotations: nothing to compare",
                                  file=job.gt_json_file if job else None)
    if n_images < MIN_IMAGES:
        warn(f"{n_images} images: the intervals and p-values are unreliable below about "
             f"{MIN_IMAGES} images")
    summaries = [s.summarize() for s in chunk.stats]
    per_image = [PerImageStats.from_arrays(arr) for arr in chunk.arrays]
    entries = categories.entries
    results = {
        "models": names, "n_images": n_images,
        "method": {
            "interval": "paired bootstrap (images resampled jointly for both models), Efron's "
                        "bias-corrected percentile interval",
            "p_value": "two-sided paired permutation test (each image's statistics randomly "
                       "swapped between the two models)",
            "n_resamples": int(n_resamples), "n_permutations": int(n_permutations),
            "confidence": float(confidence), "seed": int(seed),
            "baseline": names[0]},
    }
    if inputs:
        results["inputs"] = inputs
    for group, _ in GROUPS:
        results[group] = {k: [s[group][k] for s in summaries] for k in ("pq", "sq", "rq", "n")}
    results["per_class"] = {}
    for k, entry in enumerate(entries):
        counted = any(int(s.tp[k] + s.fp[k] + s.fn[k]) for s in chunk.stats)
        if counted:
            results["per_class"][int(entry["id"])] = {
                "name": str(entry.get("name", entry["id"])), "isthing": int(entry["isthing"]),
                "pq": [s["per_class"][entry["id"]]["pq"] for s in summaries]}
    comparisons = []
    for m in range(1, len(names)):
        stat = paired_statistics(per_image[0], per_image[m], categories.isthing,
                                 n_resamples=n_resamples, n_permutations=n_permutations,
                                 seed=seed, confidence=confidence)
        item = {"baseline": names[0], "model": names[m]}
        for group, _ in GROUPS:
            g = dict(stat[group])
            if g["delta_pq"] is not None:  # the exact difference of the exact PQs
                g["delta_pq"] = summaries[m][group]["pq"] - summaries[0][group]["pq"]
            item[group] = g
        item["per_class"] = {}
        for k, v in stat["per_class"].items():
            cat_id = int(entries[k]["id"])
            exact = (summaries[m]["per_class"][cat_id]["pq"]
                     - summaries[0]["per_class"][cat_id]["pq"])
            item["per_class"][cat_id] = {"delta_pq": exact, "ci": v["ci"],
                                         "n_images": v["n_images"]}
        item["extended"] = stat["extended"]
        item["images"] = _top_images(chunk.rows, 0, m, top)
        comparisons.append(item)
    if len(names) == 2:  # the one comparison's numbers beside the models' own
        only = comparisons[0]
        for group, _ in GROUPS:
            results[group].update({k: only[group][k] for k in ("delta_pq", "ci", "p_value")})
        for cat_id, v in only["per_class"].items():
            results["per_class"][cat_id].update(v)
        results["images"] = only["images"]
        results["extended"] = only["extended"]
    results["comparisons"] = comparisons
    if chunk.errors is not None:
        from .errors import summarize

        results["errors"] = {name: summarize(total, categories)
                             for name, total in zip(names, chunk.errors)}
    return Comparison(results, chunk.stats, per_image, chunk.rows, job)


def compare(gt_json_file, predictions: Sequence, gt_folder=None, *,
            names: Optional[Sequence[str]] = None, n_resamples: int = 1000,
            n_permutations: int = 1000, seed: int = 0, confidence: float = 0.95,
            top: int = TOP_IMAGES, workers: Optional[int] = None, progress: bool = False,
            gt_area: str = "png", max_pixels: int = MAX_PIXELS, errors: bool = False,
            on_image: Optional[Callable[[list], None]] = None,
            on_warning: Optional[Callable[[str], None]] = None) -> Comparison:
    """Compares two or more predictions of the same ground truth.

    Parameters
    ----------
    gt_json_file : path
        The COCO panoptic ground truth (categories come from it).
    predictions : sequence
        Each a prediction JSON path, or a ``(json, folder)`` pair (folder None: the JSON path
        without ``.json``). The first is the baseline: every other model is compared with it.
    gt_folder : path, optional
        GT PNGs; default: the JSON path without ``.json``.
    names : sequence of str, optional
        One per prediction, all different; default: the JSON files' names.
    n_resamples, n_permutations, seed, confidence
        See :func:`paired_statistics`.
    top : int
        Images listed with the largest per-image PQ gains and losses.
    workers, progress, gt_area, max_pixels
        As for :func:`~panoseg.evaluation.job.evaluate`.
    errors : bool
        Also each model's error breakdown (:mod:`panoseg.evaluation.errors`, computed from the
        same decoded maps): ``results["errors"][name]`` is its ``summarize()``.
    on_image : callable, optional
        Called with each image's list of ImageResult (one per model), in GT order.
    on_warning : callable, optional
        Called with a warning's text (fewer than :data:`MIN_IMAGES` images); default
        :func:`warnings.warn`.

    Returns
    -------
    Comparison
        ``.results``: ``{"models": [names], "n_images", "method": {...}, "All": {"pq": [per
        model], "sq", "rq", "n"}, "Things", "Stuff", "per_class": {id: {"name", "isthing",
        "pq": [per model]}}, "comparisons": [{"baseline", "model", "All": {"delta_pq", "ci",
        "p_value"}, ..., "per_class": {id: {"delta_pq", "ci"}}, "images": {"gains",
        "losses"}}]}``; with two models the comparison's ``delta_pq``, ``ci``, ``p_value``
        (per group), ``delta_pq`` and ``ci`` (per class) and ``images`` are also at the top
        level. Each model's numbers equal panopticapi's ``pq_compute`` of it.

    Raises
    ------
    PanopticFormatError
        Bad or inconsistent input (see :class:`CompareJob`), naming file and image.
    """
    job = CompareJob(gt_json_file, predictions, gt_folder, names=names, gt_area=gt_area,
                     max_pixels=max_pixels, errors=errors)
    chunk = job.evaluate_chunk(workers=workers, progress=progress, on_image=on_image)
    return summarize_comparison(job, job.names, chunk, n_resamples=n_resamples,
                                n_permutations=n_permutations, seed=seed, confidence=confidence,
                                top=top, inputs=job_inputs(job), on_warning=on_warning)


def job_inputs(job: CompareJob) -> dict:
    """The files compared, for the JSON output and the report."""
    # The models under a key of their own: a model may be named "gt_json_file".
    return {"gt_json_file": job.gt_json_file, "gt_folder": job.gt_folder,
            "predictions": {m.name: f"{m.json_file} ({m.folder})" for m in job.models}}
