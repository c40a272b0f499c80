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

# The public names load on first use (PEP 562): a command such as ``panoseg merge`` then never
# imports the evaluator's modules, a good part of its start-up time.
_EXPORTS = {
    "Evaluation": ".evaluation", "ImageResult": ".evaluation", "PQEvaluator": ".evaluation",
    "PQStats": ".evaluation", "evaluate": ".evaluation", "pq_compute": ".evaluation",
    "compare": ".evaluation",
    "Categories": ".io.categories", "coco_panoptic_categories": ".io.categories",
    "id2rgb": ".io.codec", "rgb2id": ".io.codec", "read_ids": ".io.png", "write_ids": ".io.png",
}
# Subpackages that ``import panoseg`` used to load as a side effect: still attributes.
_SUBPACKAGES = ("evaluation", "io", "util")


def __getattr__(name):
    import importlib

    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBPACKAGES))


_install_legacy_paths()

__all__ = [
    "Categories", "Evaluation", "ImageResult", "PQEvaluator", "PQStats", "PanopticFormatError",
    "__version__", "coco_panoptic_categories", "evaluate", "id2rgb", "pq_compute", "read_ids",
    "rgb2id", "write_ids",
]
