"""Reading input files from local paths or, through fsspec, from object stores and other
filesystems (``s3://``, ``gs://``, ``http://``, ...): what lets cluster workers that share no
filesystem read the same dataset.

Only reading goes through here. Outputs are written locally, atomically (temp file + rename),
which object stores cannot do; write them to a shared filesystem instead.
"""
from __future__ import annotations

import errno
import os
import posixpath
import stat


def is_url(path) -> bool:
    """Whether ``path`` names a file through an fsspec protocol (``proto://...``)."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


def read_bytes(path) -> bytes:
    """The whole file. Raises OSError (FileNotFoundError, ...) like ``open`` does; a local path
    must name a regular file (a FIFO would block until a writer comes, a device read forever)."""
    if is_url(path):
        try:
            import fsspec
        except ImportError:
            raise OSError(f"reading {path} needs fsspec (pip install fsspec and the "
                          "filesystem's package, e.g. s3fs)") from None
        try:
            with fsspec.open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise
        except Exception as e:  # noqa: BLE001 - the filesystems raise many kinds of errors
            raise OSError(str(e)) from None
    # Opened without blocking: opening a FIFO would wait for a writer. A pipe is then read
    # (an orphan FIFO reads as empty: no writer, at once end of file, no hang), a device or a
    # socket is refused (/dev/zero never ends, a terminal waits for typing).
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(_local(path), flags | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if stat.S_ISFIFO(mode):
            os.set_blocking(fd, True)  # a writer's data is waited for, not EAGAIN
        elif not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file or pipe (a device or socket)", path)
        f = open(fd, "rb")  # owns fd from here
    except BaseException:
        os.close(fd)
        raise
    with f:
        return f.read()


def _local(path):
    return path[len("file://"):] if isinstance(path, str) and path.startswith("file://") else path


def join(folder, name: str) -> str:
    """``folder/name`` for local paths and URLs alike."""
    if is_url(folder):
        return posixpath.join(folder, name)
    return os.path.join(_local(folder), name)


def is_dir(folder) -> bool:
    """Whether a local folder exists; URLs are taken on trust (checked when files are read)."""
    return True if is_url(folder) else os.path.isdir(_local(folder))
