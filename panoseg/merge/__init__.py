"""Panoptic merge: instance + semantic predictions -> one non-overlapping panoptic segmentation.

* :mod:`.paste` -- Mask R-CNN masks pasted bit-identically to GluonCV (and Pillow's pass order);
* :mod:`.heuristic` -- the paper's heuristic on one image (:func:`merge_panoptic`);
* :mod:`.job` -- panopticapi's ``combine_predictions`` on files (:class:`MergeJob`, Dask runner);
* :mod:`.tune` -- threshold search against a GT (merge + PQ in memory; not imported here).
"""
from ..io.rle import rle_to_mask
from .heuristic import (
                        DEFAULT_CONFIDENCE_THR,
                        DEFAULT_OVERLAP_THR,
                        DEFAULT_STUFF_AREA_LIMIT,
                        MergeCategories,
                        MergeParams,
                        PanopticResult,
                        image_seed,
                        instance_order,
                        merge_intervals,
                        merge_panoptic,
                        select_masks,
                        semantic_to_dense,
)
from .job import MergeJob, combine_predictions, merge_on_dask
from .paste import (
                        PASS_ORDERS,
                        installed_pass_order,
                        paste_intervals,
                        paste_masks,
                        paste_masks_rle,
)

__all__ = ["DEFAULT_CONFIDENCE_THR", "DEFAULT_OVERLAP_THR", "DEFAULT_STUFF_AREA_LIMIT",
           "MergeCategories", "MergeJob", "MergeParams", "PASS_ORDERS", "PanopticResult",
           "combine_predictions", "image_seed", "installed_pass_order", "instance_order",
           "merge_intervals", "merge_on_dask", "merge_panoptic", "paste_intervals", "paste_masks",
           "paste_masks_rle", "rle_to_mask", "select_masks", "semantic_to_dense"]
