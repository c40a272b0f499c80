"""panoseg: fast, exact panoptic segmentation tooling for the COCO panoptic format.

The pixel loops run in a compiled C++ core (:mod:`panoseg._core`); this package drives I/O,
validation and the command line. Start with :func:`pq_compute` (a drop-in for panopticapi's)
or :class:`PQEvaluator` (in-memory).
"""
from .categories import Categories, coco_panoptic_categories
from .codec import id2rgb, rgb2id
from .errors import PanopticFormatError
from .evaluation import Evaluation, ImageResult, PQEvaluator, PQStats, evaluate, pq_compute
from .png import read_ids, write_ids

__version__ = "0.1.0"

__all__ = [
    "Categories", "Evaluation", "ImageResult", "PQEvaluator", "PQStats", "PanopticFormatError",
    "coco_panoptic_categories", "evaluate", "id2rgb", "pq_compute", "read_ids", "rgb2id",
    "write_ids",
]
