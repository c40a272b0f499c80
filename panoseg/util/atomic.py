"""Atomic file output: write to a temporary file beside the target, then rename over it.

A crash, an exception or Ctrl-C never leaves a half-written output where a user (or a resumed
run) would take it for a finished one.
"""
from __future__ import annotations

import contextlib
import os
import threading


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before any threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _named(e: OSError, path: str, tmp=None, own: bool = False) -> OSError:
    """``e`` naming the output ``path`` (not the temporary file, or no file at all, as
    ``os.write`` on a full disk gives): the error a user sees says which output failed. An
    error that names another file (raised by the caller's code) is left as it is."""
    if e.errno is None or not (own or e.filename in (None, tmp, path)):
        return e
    return OSError(e.errno, f"cannot write the file: {e.strerror or e}", path)


# mkstemp creates files readable by their owner only; outputs get the usual permissions.
_FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", **kwargs):
    """Like ``open(path, mode)`` for writing, but the file appears at ``path`` only on success."""
    import tempfile  # here: its imports (shutil, lzma, bz2) cost a command's start-up ~7 ms

    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
    except OSError as e:  # names the temporary file, whose name is not known here
        raise _named(e, path, own=True) from None
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _named(e, path, tmp) from None
        raise


def atomic_write_bytes(path, data) -> None:
    """Writes ``data`` to ``path`` atomically, with the fewest system calls (the PNG hot path).

    The temporary name is unique per process and thread, so no random name is needed, and the
    file is created with the umask's permissions directly.
    """
    path = os.fspath(path)
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".tmp-{name}.{os.getpid()}-{threading.get_ident()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    except OSError as e:
        raise _named(e, path, tmp) from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException as e:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _named(e, path, tmp) from None
        raise
