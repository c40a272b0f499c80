"""The flat module paths of panoseg <= 0.1 (``panoseg.png``, ``panoseg.merge_io``, ...), kept
importable as deprecated aliases of their new homes.

``import panoseg.png`` warns (DeprecationWarning, pointing at the importing line) and gives a
module that looks each name up in its new home(s), private names included: paths whose code was
split over several modules (``panoseg.distributed``, ``panoseg.tune``) list them all. New code
imports the new paths; nothing inside panoseg uses these (``tests/test_architecture.py``).
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import warnings

#: old path -> the module(s) its names now live in, first match wins.
MOVED = {
    "panoseg.atomic": ("panoseg.util.atomic",),
    "panoseg.fileio": ("panoseg.util.fileio",),
    "panoseg.parallel": ("panoseg.util.parallel", "panoseg.cli.common"),
    "panoseg.codec": ("panoseg.io.codec",),
    "panoseg.png": ("panoseg.io.png",),
    "panoseg.panoptic_json": ("panoseg.io.panoptic_json",),
    "panoseg.categories": ("panoseg.io.categories",),
    "panoseg.rle": ("panoseg.io.rle",),
    "panoseg.extra_metrics": ("panoseg.evaluation.extra_metrics",),
    "panoseg.bootstrap": ("panoseg.evaluation.bootstrap",),
    "panoseg.merge_io": ("panoseg.merge.job", "panoseg.merge.direct"),
    "panoseg.tune": ("panoseg.merge.tune", "panoseg.cli.tune"),
    "panoseg.labels": ("panoseg.semantic.labels",),
    "panoseg.label_maps": ("panoseg.semantic.label_maps",),
    "panoseg.synthetic": ("panoseg.testing.synthetic",),
    "panoseg.cli_types": ("panoseg.cli.common",),
    "panoseg.cli_convert": ("panoseg.cli.convert",),
    "panoseg.cli_infer": ("panoseg.cli.infer", "panoseg.cli.common"),
    "panoseg.cli_train": ("panoseg.cli.train",),
    "panoseg.cli_viz": ("panoseg.cli.viz",),
    "panoseg.distributed": ("panoseg.util.cluster", "panoseg.evaluation.job",
                            "panoseg.merge.job", "panoseg.infer.pipeline"),
}


class _AliasModule(types.ModuleType):
    """An old path: each name is looked up in its new home(s), imported on first use. A module
    of its own, so the new modules keep their names and specs (reload, find_spec)."""

    def __init__(self, name: str, homes):
        super().__init__(name, f"Deprecated alias of {', '.join(homes)}.")
        self._homes = homes

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        for home in self._homes:
            module = importlib.import_module(home)
            if hasattr(module, attr):
                return getattr(module, attr)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")

    def __dir__(self):
        names = set()
        for home in self._homes:
            names.update(dir(importlib.import_module(home)))
        return sorted(names)


def _importer_stacklevel() -> int:
    """The stacklevel of the first frame outside the import machinery and this module, so the
    warning points at the user's import line (and shows under Python's default filters when
    that is ``__main__``). ``warnings`` itself skips importlib's frames, so they do not count."""
    level, frame = 1, sys._getframe(2)  # 1: the caller of warn (create_module)
    while frame is not None:
        name = frame.f_code.co_filename
        if name == __file__:
            level += 1
        elif not ("importlib" in name and "_bootstrap" in name):
            break
        frame = frame.f_back
    return level + 1


class _LegacyFinder:
    # A meta path finder and loader by protocol: subclassing importlib.abc's classes would
    # import importlib.resources at every start (~10 ms).
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        homes = MOVED[spec.name]
        warnings.warn(f"{spec.name} is deprecated; import {' / '.join(homes)} instead",
                      DeprecationWarning, stacklevel=_importer_stacklevel())
        return _AliasModule(spec.name, homes)

    def exec_module(self, module):
        pass


def install() -> None:
    if not any(isinstance(f, _LegacyFinder) for f in sys.meta_path):
        sys.meta_path.append(_LegacyFinder())
