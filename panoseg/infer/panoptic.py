"""Instance model + semantic model + the core's merge heuristic = a panoptic predictor."""
from __future__ import annotations

import time
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..io.categories import Categories, as_categories
from ..merge.heuristic import (
    MergeCategories,
    MergeParams,
    PanopticResult,
    merge_panoptic,
)
from .instance import InstancePrediction, InstancePredictor
from .semantic import SemanticPredictor


class PanopticPredictor:
    """Predicts COCO panoptic segmentations of RGB images.

    Parameters
    ----------
    instance : InstancePredictor or dict
        The Mask R-CNN, or the keyword arguments to build one.
    semantic : SemanticPredictor or dict
        The semantic net, or the keyword arguments to build one.
    confidence_thr, overlap_thr, stuff_area_limit : float
        The merge heuristic's thresholds (panopticapi's defaults: 0.5, 0.5, 64*64).
    categories : Categories or list of dict, optional
        Panoptic categories with colours (default COCO's 133): segment ids derive from them.
    seed : int
        Seed of the deterministic thing-id jitter.

    Examples
    --------
    >>> predictor = PanopticPredictor({"model": "mask_rcnn_fpn_resnet50_v1b_coco"},
    ...                               {"model": "psp_resnet50_ade"})        # doctest: +SKIP
    >>> id_map, segments_info = predictor.predict(image)                  # doctest: +SKIP
    """

    def __init__(self, instance=None, semantic=None, *, confidence_thr: float = 0.5,
                 overlap_thr: float = 0.5, stuff_area_limit: float = 64 * 64,
                 categories=None, seed: int = 0):
        self.categories = categories if isinstance(categories, Categories) else (
            as_categories(categories, default_coco=True))
        self.params = MergeParams(confidence_thr, overlap_thr, stuff_area_limit)
        self.merge_categories = MergeCategories(self.categories)
        self.instance = instance if isinstance(instance, InstancePredictor) else \
            InstancePredictor(categories=self.categories, **(instance or {}))
        self.semantic = semantic if isinstance(semantic, SemanticPredictor) else \
            SemanticPredictor(categories=self.categories, **(semantic or {}))
        self.seed = int(seed)

    def predict(self, image: np.ndarray, image_id=None) -> Tuple[np.ndarray, list]:
        """One HxWx3 uint8 RGB image -> (HxW uint32 segment-id map, COCO ``segments_info``)."""
        result = self.predict_batch([image], [image_id])[0][2]
        return result.id_map, result.segments_info

    def predict_batch(self, images: Sequence[np.ndarray], image_ids: Optional[Sequence] = None,
                      timings: Optional[dict] = None
                      ) -> List[Tuple[InstancePrediction, np.ndarray, PanopticResult]]:
        """Several images -> for each: (instances, semantic category map, merged result).

        ``timings`` (optional dict) accumulates seconds per stage: ``preprocess``, ``instance``,
        ``semantic``, ``merge`` (which includes pasting the masks).
        """
        image_ids = list(image_ids) if image_ids is not None else [None] * len(images)
        instances = self.instance.predict_batch(images, timings)
        class_maps = self.semantic.predict_batch(images, timings)
        out = []
        for image_id, inst, class_map in zip(image_ids, instances, class_maps):
            t0 = time.perf_counter()
            category_map = self.semantic.to_categories(class_map)
            result = self.merge(inst, category_map, image_id)
            if timings is not None:
                timings["merge"] = timings.get("merge", 0.0) + time.perf_counter() - t0
            out.append((inst, category_map, result))
        return out

    def merge(self, inst: InstancePrediction, category_map: np.ndarray,
              image_id=None) -> PanopticResult:
        """The core's merge of one image's predictions (masks pasted as GluonCV would)."""
        return merge_panoptic(self.merge_categories, inst.height, inst.width,
                              scores=inst.scores, category_ids=inst.category_ids,
                              boxes=inst.boxes, mask_probs=inst.mask_probs,
                              semantic=category_map,
                              confidence_thr=self.params.confidence_thr,
                              overlap_thr=self.params.overlap_thr,
                              stuff_area_limit=self.params.stuff_area_limit,
                              seed=self.seed, image_id=image_id)
