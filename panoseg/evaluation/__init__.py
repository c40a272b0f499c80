"""Panoptic Quality evaluation, exactly as COCO's panopticapi, and the metrics beyond it.

Layers, each usable alone (imports point down this list):

* :mod:`.stats` -- :class:`PQStats`, the additive per-category statistics, and panopticapi's
  class-averaging rule;
* :mod:`.semantic` -- mIoU, fwIoU, mAcc, aAcc from per-category pixel counts (a leaf, too);
* :mod:`.extra_metrics` (PQ-dagger, Parsing Covering, PQ by size, confusion),
  :mod:`.bootstrap` (confidence intervals) and :mod:`.errors` (where PQ is lost) -- depend
  only on those two leaves;
* :mod:`.matching` -- one image through the compiled kernel, with PNG/JSON consistency checks;
* :mod:`.evaluator` -- :class:`PQEvaluator`, in memory;
* :mod:`.job` -- the JSON + PNG folders workflow (:func:`evaluate`, :func:`pq_compute`,
  :class:`EvaluationJob`, :func:`evaluate_on_dask`);
* :mod:`.compare` -- two or more predictions of one GT, with paired intervals and p-values.
"""
from .compare import CompareJob, Comparison, compare
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

__all__ = ["GROUPS", "ChunkResult", "CompareJob", "Comparison", "Evaluation", "EvaluationJob",
           "ImageResult", "PQEvaluator", "PQStats", "class_average", "compare", "evaluate", "evaluate_on_dask", "match_image",
           "pq_compute"]
