"""Panoptic merge: instance + semantic predictions -> one non-overlapping panoptic segmentation.

* :mod:`.paste` -- Mask R-CNN masks pasted bit-identically to GluonCV (and Pillow's pass order);
* :mod:`.heuristic` -- the paper's heuristic on one image (:func:`merge_panoptic`);
* :mod:`.direct` -- panopticapi's ``combine_predictions`` on files (:func:`combine_predictions`),
  one core call per image and no numpy for well-formed inputs;
* :mod:`.job` -- the same through :class:`MergeJob` for any input, and the Dask runner;
* :mod:`.tune` -- threshold search against a GT (merge + PQ in memory; not imported here).

The names below load on first use (PEP 562): ``panoseg merge`` imports only :mod:`.direct`,
which needs no numpy (a third of the command's start-up).
"""
from .defaults import (
    DEFAULT_CONFIDENCE_THR,
    DEFAULT_OVERLAP_THR,
    DEFAULT_STUFF_AREA_LIMIT,
)

_EXPORTS = {
    "MergeCategories": "heuristic", "MergeParams": "heuristic", "PanopticResult": "heuristic",
    "image_seed": "heuristic", "instance_order": "heuristic", "merge_intervals": "heuristic",
    "merge_panoptic": "heuristic", "select_masks": "heuristic", "semantic_to_dense": "heuristic",
    "combine_predictions": "direct",
    "MergeJob": "job", "merge_files": "job", "merge_on_dask": "job",
    "PASS_ORDERS": "paste", "installed_pass_order": "paste", "paste_intervals": "paste",
    "paste_masks": "paste", "paste_masks_rle": "paste",
    "rle_to_mask": "heuristic",
}

__all__ = ["DEFAULT_CONFIDENCE_THR", "DEFAULT_OVERLAP_THR", "DEFAULT_STUFF_AREA_LIMIT",
           "MergeCategories", "MergeJob", "MergeParams", "PASS_ORDERS", "PanopticResult",
           "combine_predictions", "image_seed", "installed_pass_order", "instance_order",
           "merge_files", "merge_intervals", "merge_on_dask", "merge_panoptic",
           "paste_intervals", "paste_masks", "paste_masks_rle", "rle_to_mask", "select_masks",
           "semantic_to_dense"]


def __getattr__(name):
    import importlib

    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
