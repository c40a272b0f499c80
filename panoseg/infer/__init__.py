"""Inference with MXNet / GluonCV models: images in, COCO panoptic predictions out.

The optional extra ``pip install panoseg[mxnet]`` provides MXNet and GluonCV; this package is
the only part of panoseg that imports them.

- :class:`InstancePredictor` - a GluonCV Mask R-CNN: boxes, scores, COCO category ids and the
  low-resolution mask probabilities (pasted later by the core, exactly as GluonCV pastes them).
- :class:`SemanticPredictor` - a GluonCV PSPNet / DeepLab / FCN (zoo name or a checkpoint of
  ``panoseg train-semantic``): an HxW class map, argmax taken on the device.
- :class:`PanopticPredictor` - both, merged by the core's heuristic:
  ``PanopticPredictor(...).predict(image) -> (id_map, segments_info)``.
- :func:`panoseg.infer.pipeline.run_inference` - the ``panoseg infer`` job over many images.
"""
from .instance import InstancePrediction, InstancePredictor
from .panoptic import PanopticPredictor
from .semantic import SemanticPredictor

__all__ = ["InstancePrediction", "InstancePredictor", "PanopticPredictor", "SemanticPredictor"]
