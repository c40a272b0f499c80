"""Reading input files from local paths or, through fsspec, from object stores and other
filesystems (``s3://``, ``gs://``, ``http://``, ...): what lets cluster workers that share no
filesystem read the same dataset.

Only reading goes through here. Outputs are written locally, atomically (temp file + rename),
which object stores cannot do; write them to a shared filesystem instead.
"""
from __future__ import annotations

import errno
import io
import os
import posixpath
import select
import stat
from typing import Optional


def is_url(path) -> bool:
    """Whether ``path`` names a file through an fsspec protocol (``proto://...``)."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


#: The most bytes :func:`read_bytes` reads from one file unless told otherwise: far above any
#: COCO panoptic JSON (the train set's is ~0.5 GB), but a bound, so that a pipe that never ends
#: (``<(yes)``) or a mistaken huge file is an error, not all of memory.
MAX_FILE_BYTES = 4 << 30

#: Bytes asked of a pipe or URL per read: what comes is kept in blocks, never more than the
#: limit (plus one block) before the limit is found to be passed.
_BLOCK = 1 << 20


def read_bytes(path, max_bytes: Optional[int] = None) -> bytes:
    """The whole file, of at most ``max_bytes`` bytes (default :data:`MAX_FILE_BYTES`; more: an
    OSError, ``EFBIG``, before more than that is read into memory). Raises OSError (FileNotFoundError, ...) like ``open`` does.
    A local path must name a regular file or a pipe; a FIFO's writer must send data or close
    within ``FIFO_WRITER_WAIT_S`` (no hang on a FIFO nobody writes), a device is refused."""
    max_bytes = MAX_FILE_BYTES if max_bytes is None else int(max_bytes)
    if is_url(path):
        try:
            import fsspec
        except ImportError:
            raise OSError(f"reading {path} needs fsspec (pip install fsspec and the "
                          "filesystem's package, e.g. s3fs)") from None
        try:
            with fsspec.open(path, "rb") as f:
                return _read_capped(f, max_bytes, path)
        except (FileNotFoundError, _TooLarge):
            raise
        except Exception as e:  # noqa: BLE001 - the filesystems raise many kinds of errors
            raise OSError(str(e)) from None
    local = _local(path)
    # Checked before opening: a device is never opened (opening has effects for some, a
    # terminal may become the controlling one), nor a regular file too large to read.
    info = os.stat(local)
    _check_kind(info.st_mode, local)
    if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
        raise _TooLarge(max_bytes, local, info.st_size)
    # Opened without blocking: opening a FIFO would wait for a writer, for ever if none comes.
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    flags = (os.O_RDONLY | nonblocking | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
             | getattr(os, "O_BINARY", 0))
    fd = os.open(local, flags)
    try:
        mode = os.fstat(fd).st_mode  # (what was opened, should the path have changed)
        _check_kind(mode, local)
        if stat.S_ISFIFO(mode) and nonblocking:
            _wait_for_writer(fd, local)
        f = io.FileIO(fd, "rb")  # owns fd once made (a failed FileIO leaves it to us)
    except BaseException:
        os.close(fd)
        raise
    with f:
        if stat.S_ISREG(mode):  # its size is known: one read (+1 byte: it may have grown)
            return _read_capped(f, max_bytes, local, os.fstat(f.fileno()).st_size + 1)
        return _read_capped(f, max_bytes, local)


class _TooLarge(OSError):
    def __init__(self, max_bytes: int, path, size=None):
        size = "" if size is None else f"{size:,} bytes, "
        super().__init__(errno.EFBIG, f"{size}more than the limit of {max_bytes:,} bytes", path)


def _read_capped(f, max_bytes: int, path, first: int = _BLOCK) -> bytes:
    """Reads ``f`` to its end, asking ``first`` bytes, then blocks of _BLOCK; a _TooLarge once
    more than ``max_bytes`` came."""
    blocks, total = [], 0
    ask = max(1, min(first, max_bytes + 1))
    while True:
        block = f.read(ask)
        if not block:
            return b"".join(blocks) if len(blocks) != 1 else blocks[0]
        blocks.append(block)
        total += len(block)
        if total > max_bytes:
            raise _TooLarge(max_bytes, path)
        ask = min(_BLOCK, max_bytes + 1 - total)


def _check_kind(mode: int, path) -> None:
    """Only a regular file or a pipe is read: a folder is named as open() names it, a device or
    a socket refused."""
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise OSError(errno.EINVAL, "not a regular file or pipe (a device or socket)", path)


#: Seconds :func:`read_bytes` waits for a FIFO's writer to send data or close (a pipe whose
#: writer never comes would otherwise hang the reader).
FIFO_WRITER_WAIT_S = 30.0


def _wait_for_writer(fd: int, path) -> None:
    """Waits until the FIFO opened without blocking at ``fd`` has data or its writer closed,
    then makes it blocking (the rest is read as it comes); an OSError after
    FIFO_WRITER_WAIT_S seconds without either."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        ready = poller.poll(max(0, int(FIFO_WRITER_WAIT_S * 1000)))
    else:  # pragma: no cover - no poll()
        ready = select.select([fd], [], [], FIFO_WRITER_WAIT_S)[0]
    if not ready:
        raise OSError(errno.ETIMEDOUT, f"a FIFO without a writer (waited {FIFO_WRITER_WAIT_S:g} "
                      "s for one)", path)
    os.set_blocking(fd, True)


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
