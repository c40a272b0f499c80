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

TYPE_CHECKING = False  # typing is not imported at run time (~4 ms of the commands' start-up)
if TYPE_CHECKING:
    from typing import Callable, Optional


def is_url(path) -> bool:
    """Whether ``path`` names a file through an fsspec protocol (``proto://...``)."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


#: The most bytes :func:`read_bytes` reads from one file unless told otherwise: far above any
#: COCO panoptic JSON (the train set's is ~0.5 GB), but a bound, so that a pipe that never ends
#: or a mistaken huge file is an error, not all of memory. The environment variable
#: ``PANOSEG_MAX_FILE_BYTES`` sets another.
MAX_FILE_BYTES = 4 << 30

#: Bytes asked of a pipe or URL per read.
_BLOCK = 1 << 20

#: Bytes a ``head_check`` sees (fewer only when the file is shorter).
HEAD_BYTES = 1 << 16


def env_max_bytes() -> Optional[int]:
    """``PANOSEG_MAX_FILE_BYTES`` (bytes, a positive integer), None when unset or empty; a
    ValueError naming it for any other value."""
    text = os.environ.get("PANOSEG_MAX_FILE_BYTES", "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdecimal() and int(text) > 0):
        raise ValueError(f"PANOSEG_MAX_FILE_BYTES={text!r}: expected a number of bytes > 0")
    return int(text)


def default_max_bytes() -> int:
    """:data:`MAX_FILE_BYTES`, or ``PANOSEG_MAX_FILE_BYTES`` when set."""
    limit = env_max_bytes()
    return MAX_FILE_BYTES if limit is None else limit


def read_bytes(path, max_bytes: Optional[int] = None,
               head_check: Optional[Callable[[bytes], Optional[int]]] = None) -> bytes:
    """The whole file, of at most ``max_bytes`` bytes (default :func:`default_max_bytes`).

    A longer one is an OSError (``EFBIG``) raised before more than that is held in memory (a
    regular file: from its size, before it is read). ``head_check``, if given, sees the first
    :data:`HEAD_BYTES` bytes before the rest is read and returns the most bytes a file with that
    head may have (a tighter limit), or None when the head already shows the file is not one
    the caller reads: then only the head is returned, for the caller's parser to name the
    problem (garbage is not read up to the limit first).

    Raises OSError (FileNotFoundError, ...) like ``open`` does, also for running out of
    memory. A local path must name a regular file or a pipe; a FIFO's writer must send data or
    close within ``FIFO_WRITER_WAIT_S`` (no hang on a FIFO nobody writes), a device is refused.
    """
    if max_bytes is None:
        max_bytes, hint = default_max_bytes(), " (PANOSEG_MAX_FILE_BYTES)"
    elif isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValueError(f"max_bytes must be an integer >= 0, got {max_bytes!r}")
    else:
        hint = ""
    try:
        return _read(path, max_bytes, head_check, hint)
    except MemoryError:
        raise OSError(errno.ENOMEM, "not enough memory to read it", _local(path)) from None


def _read(path, max_bytes: int, head_check, hint: str) -> bytes:
    if is_url(path):
        try:
            import fsspec
        except ImportError:
            raise OSError(f"reading {path} needs fsspec (pip install fsspec and the "
                          "filesystem's package, e.g. s3fs)") from None
        try:
            with fsspec.open(path, "rb") as f:
                return _read_stream(f, max_bytes, head_check, path, hint)
        except (FileNotFoundError, _TooLarge, MemoryError):
            raise
        except Exception as e:  # noqa: BLE001 - the filesystems raise many kinds of errors
            raise OSError(str(e)) from None
    local = _local(path)
    # Checked before opening: a device is never opened (opening has effects for some, a
    # terminal may become the controlling one), nor a regular file too large to read.
    info = os.stat(local)
    _check_kind(info.st_mode, local)
    if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
        raise _TooLarge(max_bytes, local, hint, info.st_size)
    # Opened without blocking: opening a FIFO would wait for a writer, for ever if none comes.
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    flags = (os.O_RDONLY | nonblocking | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
             | getattr(os, "O_BINARY", 0))
    fd = os.open(local, flags)
    try:
        info = os.fstat(fd)  # (what was opened, should the path have changed)
        _check_kind(info.st_mode, local)
        if stat.S_ISFIFO(info.st_mode) and nonblocking:
            _wait_for_writer(fd, local)
        f = io.FileIO(fd, "rb")  # owns fd once made (a failed FileIO leaves it to us)
    except BaseException:
        os.close(fd)
        raise
    with f:
        if not (stat.S_ISREG(info.st_mode) and info.st_size > 0):
            return _read_stream(f, max_bytes, head_check, local, hint)  # (procfs: size 0)
        if head_check is not None and info.st_size > HEAD_BYTES:
            limit = head_check(f.read(HEAD_BYTES))
            if limit is None:
                f.seek(0)
                return f.read(HEAD_BYTES)
            max_bytes = min(max_bytes, limit)
            if info.st_size > max_bytes:
                raise _TooLarge(max_bytes, local, "", info.st_size)
            f.seek(0)
        # Its size is known and within the limit: read whole (readall() grows one buffer, no
        # copy), then checked again in case it grew since.
        data = f.readall()
        if len(data) > max_bytes:
            raise _TooLarge(max_bytes, local, hint)
        return data


class _TooLarge(OSError):
    def __init__(self, max_bytes: int, path, hint: str = "", size=None):
        size = "" if size is None else f"{size:,} bytes, "
        super().__init__(errno.EFBIG, f"{size}more than the limit of {max_bytes:,} bytes{hint}",
                         path)


def _read_stream(f, max_bytes: int, head_check, path, hint: str) -> bytes:
    """Reads a pipe or URL to its end in blocks, kept in one growing buffer (BytesIO: its
    value is handed over without a copy), a _TooLarge once more than ``max_bytes`` came. With
    ``head_check``, the first HEAD_BYTES bytes (or all, if fewer) are checked first."""
    out = io.BytesIO()
    total = 0
    checked = head_check is None
    while True:
        ask = HEAD_BYTES - total if not checked else _BLOCK
        block = f.read(max(1, min(ask, max_bytes + 1 - total)))
        if block:
            out.write(block)
            total += len(block)
            if total > max_bytes:
                raise _TooLarge(max_bytes, path, hint)
        if not checked and (total >= HEAD_BYTES or not block):
            checked = True
            limit = head_check(out.getvalue())
            if limit is None:
                return out.getvalue()
            if limit < max_bytes:
                max_bytes, hint = limit, ""
                if total > max_bytes:
                    raise _TooLarge(max_bytes, path)
        if not block:
            return out.getvalue()


#: The first byte of a JSON text after blanks: a value's, or a UTF-8/16/32 encoding's (a BOM,
#: or the NUL of a 16/32-bit character), which the stdlib parser decodes.
_JSON_STARTS = frozenset(b'{["-0123456789tfn\x00\xef\xfe\xff')


def json_head_check(head: bytes):
    """read_bytes' ``head_check``: None (read no further) when the first byte after blanks can
    start no JSON text, which the parser then reports from the head alone (``<(yes)`` is an
    error at once, not after the size limit); else no tighter limit."""
    text = head.lstrip(b" \t\r\n")
    # (Four NULs start no text in any encoding: a UTF-32 character has at most three.)
    if text and (text[0] not in _JSON_STARTS or text.startswith(b"\0\0\0\0")):
        return None
    return 1 << 62


def rereadable(path) -> bool:
    """Whether reading ``path`` twice gives the same bytes twice as far as panoseg can tell: a
    URL or a regular file, not a pipe (what a first read took is gone)."""
    if is_url(path):
        return True
    try:
        return stat.S_ISREG(os.stat(_local(path)).st_mode)
    except (OSError, ValueError):
        return False


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
