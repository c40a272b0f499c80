"""Panoptic Quality evaluation, exactly as COCO's panopticapi, and the metrics beyond it.

Layers, each usable alone (imports point down this list):

* :mod:`.stats` -- :class:`PQStats`, the additive per-category statistics, and panopticapi's
  class-averaging rule;
* :mod:`.extra_metrics` (PQ-dagger, Parsing Covering, PQ by size, confusion) and
  :mod:`.bootstrap` (confidence intervals) -- depend only on :mod:`.stats`;
* :mod:`.matching` -- one image through the compiled kernel, with PNG/JSON consistency checks;
* :mod:`.evaluator` -- :class:`PQEvaluator`, in memory;
* :mod:`.job` -- the JSON + PNG folders workflow (:func:`evaluate`, :func:`pq_compute`,
  :class:`EvaluationJob`, :func:`evaluate_on_dask`).
"""
from .evaluator import PQEvaluator
from .job import (
           ChunkResult,
           Evaluation,
           EvaluationJob,
           evaluate,
           evaluate_on_dask,
           pq_compute,
)
from .matching import ImageResult, match_image
from .stats import GROUPS, PQStats, class_average

__all__ = ["GROUPS", "ChunkResult", "Evaluation", "EvaluationJob", "ImageResult", "PQEvaluator",
           "PQStats", "class_average", "evaluate", "evaluate_on_dask", "match_image",
           "pq_compute"]
