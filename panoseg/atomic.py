"""Atomic file output: write to a temporary file beside the target, then rename over it.

A crash, an exception or Ctrl-C never leaves a half-written output where a user (or a resumed
run) would take it for a finished one.
"""
from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", **kwargs):
    """Like ``open(path, mode)`` for writing, but the file appears at ``path`` only on success."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
