"""panoseg: fast, exact panoptic segmentation tooling for the COCO panoptic format.

The pixel loops run in a compiled C++ core (:mod:`panoseg._core`); this package drives I/O,
validation and the command line. Start with :func:`pq_compute` (a drop-in for panopticapi's)
or :class:`PQEvaluator` (in-memory).

Subpackages, every import pointing down this list (``tests/test_architecture.py`` checks it):
``util`` -> ``io`` -> ``evaluation``, ``merge``, ``convert``, ``viz``, ``semantic``,
``testing`` -> ``report``, ``infer``, ``merge.tune`` -> ``cli``.
"""
from ._legacy import install as _install_legacy_paths
from ._version import __version__
from .errors import PanopticFormatError
from .evaluation import (
    Evaluation,
    ImageResult,
    PQEvaluator,
    PQStats,
    evaluate,
    pq_compute,
)
from .io.categories import Categories, coco_panoptic_categories
from .io.codec import id2rgb, rgb2id
from .io.png import read_ids, write_ids

_install_legacy_paths()

__all__ = [
    "Categories", "Evaluation", "ImageResult", "PQEvaluator", "PQStats", "PanopticFormatError",
    "__version__", "coco_panoptic_categories", "evaluate", "id2rgb", "pq_compute", "read_ids",
    "rgb2id", "write_ids",
]
