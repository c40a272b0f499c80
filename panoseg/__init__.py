"""panoseg: fast, exact panoptic segmentation tooling for the COCO panoptic format.

The pixel loops run in a compiled C++ core (:mod:`panoseg._core`); this package drives I/O,
validation and the command line. Start with :func:`pq_compute` (a drop-in for panopticapi's)
or :class:`PQEvaluator` (in-memory).

Subpackages, every import pointing down this list (``tests/test_architecture.py`` checks it):
``util`` -> ``io`` -> ``evaluation``, ``merge``, ``convert``, ``viz``, ``semantic``,
``testing`` -> ``report``, ``infer``, ``merge.tune`` -> ``cli``.
"""
try:
    from . import _core  # noqa: F401  (first: a missing core is the most common set-up error)
except ImportError:  # pragma: no cover - exercised in a subprocess by the tests
    import os as _os
    import sys as _sys

    _message = (f"panoseg's compiled core (panoseg._core) is not built in "
                f"{_os.path.dirname(__file__)}: this looks like the source checkout, which "
                "shadows the installed package. Run from outside the checkout, or install it in "
                "editable mode: pip install -e .")
    if _sys.argv[:1] == ["-m"]:  # python -m panoseg: one line, no traceback
        print(f"panoseg: error: {_message}", file=_sys.stderr)
        raise SystemExit(1)
    raise ImportError(_message) from None

from ._legacy import install as _install_legacy_paths
from ._version import __version__
from .errors import PanopticFormatError
from .evaluation import (
    Evaluation,
    ImageResult,
    PQEvaluator,
    PQStats,
    compare,
    evaluate,
    pq_compute,
)
from .io.categories import Categories, coco_panoptic_categories
from .io.codec import id2rgb, rgb2id
from .io.png import read_ids, write_ids

_install_legacy_paths()

__all__ = [
    "Categories", "Evaluation", "ImageResult", "PQEvaluator", "PQStats", "PanopticFormatError",
    "__version__", "coco_panoptic_categories", "compare", "evaluate", "id2rgb", "pq_compute", "read_ids",
    "rgb2id", "write_ids",
]
