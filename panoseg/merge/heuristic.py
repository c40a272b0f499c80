"""Panoptic merge: instance + semantic predictions -> one non-overlapping panoptic segmentation.

The heuristic of Kirillov et al. (section 7) with panopticapi's stuff area filter, run by the
compiled core (``csrc/merge/panoptic_merge.cpp``):

1. instances with ``score < confidence_thr`` are dropped (equal is kept); the rest are sorted by
   score, descending, ties in input order;
2. each instance, in that order: an empty mask is skipped; a mask of which more than
   ``overlap_thr`` is already taken is skipped; otherwise it takes its untaken pixels;
3. each stuff mask of the semantic prediction (thing classes there are ignored), in input order:
   its untaken pixels become one segment, unless fewer than ``stuff_area_limit``;
4. everything left is VOID (0).

Segment ids are deterministic and follow panoseg's one scheme (:mod:`panoseg.io.segment_ids`,
shared with the converters): a stuff segment's id is its category colour (``rgb2id``), a thing
gets its category colour if still free in the image, else a jitter of it drawn from a PRNG seeded
by ``seed`` and the image id -- the same input gives byte-identical PNGs on every run and every
worker count. Two departures from panopticapi, both where it emits broken output: a segment left
with no pixel is dropped (panopticapi lists it in ``segments_info`` with no pixel in the PNG), and
a stuff category listed twice for an image becomes one segment (panopticapi writes two
``segments_info`` entries with the same id).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .. import _core
from ..io.categories import Categories, as_categories
from ..io.rle import rle_intervals, rle_to_mask
from ..io.segment_ids import category_colour_ids, image_seed
from .defaults import (
    DEFAULT_CONFIDENCE_THR,
    DEFAULT_OVERLAP_THR,
    DEFAULT_STUFF_AREA_LIMIT,
)
from .paste import paste_intervals


@dataclass
class MergeParams:
    """The three thresholds of the heuristic, checked on construction."""

    confidence_thr: float = DEFAULT_CONFIDENCE_THR
    overlap_thr: float = DEFAULT_OVERLAP_THR
    stuff_area_limit: float = DEFAULT_STUFF_AREA_LIMIT

    def __post_init__(self):
        for name, lo, hi in (("confidence_thr", 0.0, 1.0), ("overlap_thr", 0.0, 1.0),
                             ("stuff_area_limit", 0.0, float("inf"))):
            value = getattr(self, name)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number, got {value!r}") from None
            if not lo <= value <= hi:
                raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}], got {value}")
            setattr(self, name, value)


@dataclass
class PanopticResult:
    """One merged image: the id map and its COCO ``segments_info``.

    ``segments_info`` entries: ``id, category_id, iscrowd (0), isthing, area, bbox`` and, for
    things, ``score`` (of the instance the segment came from).
    """

    id_map: Optional[np.ndarray]
    segments_info: list = field(default_factory=list)
    png: Optional[bytes] = None  # the PNG's bytes instead of the id map (merge_intervals(png=True))


class MergeCategories:
    """Category tables in the form the merge kernel wants (built once, shared by all images)."""

    def __init__(self, categories):
        self.categories = as_categories(categories)
        # The colours segment ids derive from: the one scheme of panoseg.io.segment_ids.
        self.colour = category_colour_ids(self.categories)
        self.isthing = self.categories.isthing.astype(np.uint8)
        stuff = self.colour[~self.categories.isthing]
        if len(set(stuff.tolist())) != len(stuff) or 0 in stuff:
            raise ValueError("stuff categories need distinct, non-black colours: their colour is "
                             "their segment id")


def instance_order(scores: np.ndarray, confidence_thr: float) -> np.ndarray:
    """Indices of the kept instances, by descending score, ties in input order (stable)."""
    scores = np.asarray(scores, dtype=np.float64)
    kept = np.flatnonzero(scores >= confidence_thr)
    return kept[np.argsort(-scores[kept], kind="stable")]


def select_masks(offsets: np.ndarray, intervals: np.ndarray, order: np.ndarray):
    """The CSR interval masks ``order`` picks, in that order."""
    order = np.asarray(order, dtype=np.int64)
    lengths = offsets[order + 1] - offsets[order]
    new_offsets = np.zeros(len(order) + 1, np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    if len(order) == 0 or new_offsets[-1] == 0:
        return new_offsets, np.zeros(0, np.int64)
    pairs = intervals.reshape(-1, 2)
    rows = np.repeat(offsets[order] - new_offsets[:-1], lengths) + np.arange(new_offsets[-1])
    return new_offsets, np.ascontiguousarray(pairs[rows]).reshape(-1)


def merge_intervals(height: int, width: int, cats: MergeCategories, params: MergeParams,
                    inst_offsets, inst_intervals, inst_category, inst_scores,
                    stuff_offsets, stuff_intervals, stuff_category, *, column_major: bool,
                    seed: int = 0, image_id=None, out: Optional[np.ndarray] = None,
                    scanlines=None, png: bool = False) -> PanopticResult:
    """The merge on interval masks (the common path of every input form).

    ``inst_category`` / ``stuff_category`` are dense category indices; instances are given in
    input order and filtered / sorted here. ``out`` (HxW uint32) receives the id map if given.
    With ``scanlines`` (column-major masks only) the PNG scanlines of the result are written
    there instead and ``id_map`` is None; with ``png`` (column-major masks only) the result's
    PNG file bytes are made instead, in ``png`` (the file writer's path: no id map is ever made).
    """
    order = instance_order(inst_scores, params.confidence_thr)
    offsets, intervals = select_masks(inst_offsets, inst_intervals, order)
    id_map, segs = _core.merge(
        height, width, column_major, offsets, intervals,
        np.ascontiguousarray(np.asarray(inst_category, dtype=np.int32)[order]),
        stuff_offsets, stuff_intervals, np.ascontiguousarray(stuff_category, dtype=np.int32),
        cats.colour, cats.isthing, params.overlap_thr, params.stuff_area_limit,
        image_seed(seed, image_id), out, scanlines, png)
    scores = np.asarray(inst_scores, dtype=np.float64)
    ids = cats.categories.ids
    # Python ints from tolist() at once, not a numpy scalar per value (most of this loop's time).
    seg_id, category, isthing, area, bbox, source = (
        segs[key].tolist() for key in ("id", "category", "isthing", "area", "bbox", "source"))
    info = []
    for k in range(len(seg_id)):
        entry = {"id": seg_id[k], "category_id": int(ids[category[k]]), "iscrowd": 0,
                 "isthing": int(isthing[k]), "area": area[k], "bbox": bbox[k]}
        if isthing[k]:
            entry["score"] = float(scores[order[source[k]]])
        info.append(entry)
    if png:
        return PanopticResult(None, info, id_map)
    return PanopticResult(id_map, info)


def _category_indices(category_ids, cats: Categories, what: str) -> np.ndarray:
    out = np.empty(len(category_ids), np.int32)
    for k, cat_id in enumerate(category_ids):
        index = cats.index_of.get(int(cat_id)) if float(cat_id) == int(cat_id) else None
        if index is None:
            raise ValueError(f"{what} {k}: unknown category_id {cat_id!r}")
        out[k] = index
    return out


def _check_scores(scores, n: int) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != n:
        raise ValueError(f"got {len(scores)} scores for {n} instances")
    bad = np.flatnonzero(~((scores >= 0.0) & (scores <= 1.0)))
    if len(bad):
        raise ValueError(f"instance {bad[0]}: score {scores[bad[0]]} is NaN or outside [0, 1]")
    return scores


def merge_panoptic(categories, height: int, width: int, *, scores=(), category_ids=(),
                   masks=None, rles=None, boxes=None, mask_probs=None,
                   semantic=None, semantic_rles=None, semantic_category_ids=None,
                   confidence_thr: float = DEFAULT_CONFIDENCE_THR,
                   overlap_thr: float = DEFAULT_OVERLAP_THR,
                   stuff_area_limit: float = DEFAULT_STUFF_AREA_LIMIT,
                   seed: int = 0, image_id=None) -> PanopticResult:
    """Merges one image's instance and semantic predictions (the array API).

    Parameters
    ----------
    categories : Categories or list of dict
        COCO panoptic categories with ``id``, ``isthing`` and ``color``.
    height, width : int
    scores, category_ids : sequences of N
        Instance confidences in [0, 1] and thing category ids.
    masks : (N, H, W) bool/uint8 array, optional
        Full-size instance masks; or
    rles : list of N COCO RLE dicts (``{"size": [h, w], "counts": ...}``), optional; or
    boxes, mask_probs : (N, 4) xyxy boxes in image pixels and (N, M, M) mask probabilities, optional
        Mask R-CNN's raw output; pasted exactly as GluonCV's ``expand_mask``.
    semantic : (H, W) int array, optional
        Category id per pixel (ids of thing categories and ids <= 0 are ignored); or
    semantic_rles, semantic_category_ids : list of RLE dicts and their category ids, optional
        One mask per stuff category, panopticapi's semantic results form (processed in order).
    confidence_thr, overlap_thr, stuff_area_limit : float
        The heuristic's thresholds (defaults as panopticapi).
    seed : int
        Seed of the thing-id jitter; with ``image_id`` it fixes the ids.

    Returns
    -------
    PanopticResult
    """
    cats = categories if isinstance(categories, MergeCategories) else MergeCategories(categories)
    params = MergeParams(confidence_thr, overlap_thr, stuff_area_limit)
    height, width = int(height), int(width)
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    given = [x is not None for x in (masks, rles, boxes)]
    if sum(given) > 1:
        raise ValueError("give instance masks as one of masks=, rles= or boxes= + mask_probs=")
    if semantic is not None and semantic_rles is not None:
        raise ValueError("give the semantic prediction as semantic= or semantic_rles=, not both")
    n = len(category_ids)
    inst_category = _category_indices(category_ids, cats.categories, "instance")
    scores = _check_scores(scores, n)
    # COCO RLEs are column-major: merge in that order and transpose once at the end, rather than
    # transposing every mask. Everything else is row-major.
    column_major = rles is not None or (not any(given) and semantic_rles is not None)

    if rles is not None:
        if len(rles) != n:
            raise ValueError(f"got {len(rles)} RLEs for {n} instances")
        inst_offsets, inst_intervals = rle_intervals(rles, height, width, "instance")
    elif boxes is not None:
        if mask_probs is None:
            raise ValueError("boxes= needs mask_probs=")
        if np.ndim(mask_probs) != 3 or len(mask_probs) != n or np.size(boxes) != 4 * n:
            raise ValueError(f"mask_probs must be N x M x M and boxes N x 4 with N = {n}")
        inst_offsets, inst_intervals = paste_intervals(mask_probs, boxes, (width, height),
                                                       column_major=column_major, workers=1)
    elif masks is not None:
        m = np.asarray(masks)
        if m.ndim != 3 or len(m) != n or m.shape[1:] != (height, width):
            raise ValueError(f"masks must be N x {height} x {width} with N = {n}, got {m.shape}")
        inst_offsets, inst_intervals = _core.dense_intervals(np.ascontiguousarray(m != 0, dtype=np.uint8))
    else:
        if n:
            raise ValueError("instances need masks=, rles= or boxes= + mask_probs=")
        inst_offsets, inst_intervals = np.zeros(1, np.int64), np.zeros(0, np.int64)

    if semantic is not None:
        labels = np.asarray(semantic)
        if labels.shape != (height, width):
            raise ValueError(f"semantic map is {labels.shape[1]}x{labels.shape[0]} (WxH), "
                             f"expected {width}x{height}")
        dense = semantic_to_dense(labels, cats.categories)
        if column_major:
            dense = np.ascontiguousarray(dense.T)
        stuff_offsets, stuff_intervals = _core.label_intervals(dense, len(cats.categories))
        stuff_category = np.arange(len(cats.categories), dtype=np.int32)
    elif semantic_rles is not None:
        if semantic_category_ids is None or len(semantic_category_ids) != len(semantic_rles):
            raise ValueError("semantic_rles= needs one semantic_category_ids entry per RLE")
        stuff_category = _category_indices(semantic_category_ids, cats.categories, "semantic mask")
        if column_major:
            stuff_offsets, stuff_intervals = rle_intervals(semantic_rles, height, width, "semantic mask")
        else:
            dense = np.stack([rle_to_mask(r, height, width) for r in semantic_rles]) \
                if len(semantic_rles) else np.zeros((0, height, width), np.uint8)
            stuff_offsets, stuff_intervals = _core.dense_intervals(dense)
    else:
        stuff_offsets, stuff_intervals = np.zeros(1, np.int64), np.zeros(0, np.int64)
        stuff_category = np.zeros(0, np.int32)

    return merge_intervals(height, width, cats, params, inst_offsets, inst_intervals,
                           inst_category, scores, stuff_offsets, stuff_intervals, stuff_category,
                           column_major=column_major, seed=seed, image_id=image_id)


def semantic_to_dense(labels: np.ndarray, cats: Categories) -> np.ndarray:
    """Category-id map -> int32 map of dense category indices (-1 where not a known category)."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"semantic map must hold integer category ids, got dtype {labels.dtype}")
    ids = cats.ids
    # The lookup table is sized by the known category ids only: a label beyond them (however
    # large) is unknown, -1, and never sizes an allocation.
    lut = np.full(int(ids.max()) + 2, -1, np.int32)
    lut[ids] = np.arange(len(ids), dtype=np.int32)
    outside = len(lut) - 1  # an unknown slot for every label outside [0, max id]
    index = np.where((labels >= 0) & (labels < outside), labels, outside)
    return np.ascontiguousarray(lut[index], dtype=np.int32)
