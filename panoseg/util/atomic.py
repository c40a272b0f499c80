"""Atomic file output: write to a temporary file beside the target, then rename over it.

A crash, an exception or Ctrl-C never leaves a half-written output where a user (or a resumed
run) would take it for a finished one.

A target that is a stream -- an existing FIFO or pipe, a character device (``/dev/null``, a
terminal) or an open file descriptor's path (``/dev/stdout``, ``/dev/fd/N``) -- is written
directly instead: there is nothing to make atomic (a failure midway leaves what was written
there), and a rename would replace the device or the FIFO with a regular file. A path to a
descriptor that is not open, and any other existing path that is neither a regular file nor a
folder (a block device, a socket), is refused, never unlinked or renamed over.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
import threading

TYPE_CHECKING = False  # typing is not imported at run time (the commands' start-up)
if TYPE_CHECKING:
    from typing import Optional


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before any threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class OutputError(OSError):
    """An output that could not be written, named: never a BrokenPipeError (which the command
    line takes for its own stdout's reader having left), also for a pipe or FIFO output whose
    reader went away."""


def _named(e: OSError, path: str, tmp=None, own: bool = False) -> OSError:
    """``e`` naming the output ``path`` (not the temporary file, or no file at all, as
    ``os.write`` on a full disk gives): the error a user sees says which output failed. An
    error that names another file (raised by the caller's code) is left as it is."""
    if e.errno is None or not (own or e.filename in (None, tmp, path)):
        return e
    problem = e.strerror or e
    if e.errno == errno.EPIPE:
        problem = f"{problem} (its reader went away; what it got is incomplete)"
    return OutputError(e.errno, f"cannot write the file: {problem}", path)


# mkstemp creates files readable by their owner only; outputs get the usual permissions.
_FILE_MODE = 0o666 & ~_current_umask()

# The folder of an open file descriptor's links: /proc/<pid>/fd, /proc/<pid>/task/<tid>/fd.
_FD_FOLDER = re.compile(r"^/proc/([0-9]+)/(task/[0-9]+/)?fd$")


def _descriptor(path: str) -> Optional[int]:
    """The descriptor that ``path`` names, if it or a symbolic link on its way resolves through
    ``/proc/*/fd/N`` (``/dev/stdout``, ``/dev/fd/N``): N when it is this process's own, -1 for
    another process's; None for an ordinary path. A rename could only replace such a link,
    never reach the open file, which may be a regular file (``> out.txt``)."""
    for _ in range(40):  # the kernel's own limit of links followed
        folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
        match = _FD_FOLDER.match(folder)
        if match:
            name = os.path.basename(path)
            own = int(match.group(1)) == os.getpid() and name.isdigit()
            return int(name) if own else -1
        try:
            target = os.readlink(path)
        except OSError:  # not a link (or gone): the end of the chain
            return None
        path = os.path.join(folder, target)
    return None


#: output_kind of a path to a descriptor that is not open.
CLOSED_DESCRIPTOR = "a descriptor that is not open"


def output_kind(path) -> Optional[str]:
    """How an output file ``path`` is written.

    Returns
    -------
    str or None
        None: the usual atomic write (``path`` is missing, a regular file or a folder, the
        last left to the caller's checks); ``"stream"``: written directly (an existing FIFO,
        pipe or character device, symbolic links followed, or an open descriptor's path);
        otherwise what the path is (``"a block device"``, ``"a socket"``, ...,
        :data:`CLOSED_DESCRIPTOR`), which is refused.
    """
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # missing, a dangling link, a NUL byte: the usual write,
        try:  # unless it names a descriptor that is not open (/dev/fd/7, /dev/stdout with
            # stdout closed): a rename would replace the link (/dev/stdout itself). Only a
            # path under /dev or /proc, or a link, can (the common new output costs ~2 us).
            full = os.path.abspath(path)
            if not (full.startswith(("/dev/", "/proc/")) or os.path.islink(full)):
                return None
            return None if _descriptor(full) is None else CLOSED_DESCRIPTOR
        except (OSError, ValueError):
            return None
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return "stream"
    if stat.S_ISDIR(mode):
        return None
    if stat.S_ISREG(mode):
        # A descriptor's path ends in a link (/proc/self/fd/N): an ordinary file, the PNG hot
        # path, costs no more than the stat.
        return "stream" if os.path.islink(path) and _descriptor(path) is not None else None
    own = _descriptor(path)
    if own is not None and own >= 0:  # this process's stdout may be a socket (journald)
        return "stream"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _not_regular(path: str, kind: str) -> OSError:
    what = kind if kind in ("not a regular file", CLOSED_DESCRIPTOR) else f"not a regular file ({kind})"
    return OSError(errno.EINVAL, f"{what}; refusing to replace it", path)


def _open_stream(path: str) -> int:
    """A descriptor to write a stream target through. This process's own descriptor
    (``/dev/stdout``, ``/dev/fd/N``) is duplicated: the copy shares its file position, so that
    ``/dev/stdout > out.txt`` continues after what was printed, never over it; Python's stdout
    and stderr are flushed first, so what they hold comes before. Any other path is opened
    without O_CREAT (if it went away, no regular file is made in its place) and with O_APPEND
    (an open file of another process keeps its content)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        fd = _descriptor(path)
        if fd is not None and fd >= 0:
            return os.dup(fd)
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOCTTY", 0)
        try:  # a FIFO nobody reads yet would block the open: say what it waits for
            fd = os.open(path, flags | os.O_NONBLOCK)
            os.set_blocking(fd, True)
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
            print(f"panoseg: waiting for a reader of the FIFO {path}", file=sys.stderr,
                  flush=True)
            fd = os.open(path, flags)
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):  # replaced since it was checked
            os.close(fd)
            raise OSError(errno.EINVAL, "no longer a FIFO or character device; refusing to "
                          "append to it", path)
        return fd
    except OSError as e:
        raise _named(e, path, own=True) from None


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", **kwargs):
    """Like ``open(path, mode)`` for writing, but the file appears at ``path`` only on success.

    A stream target (:func:`output_kind`: a FIFO, ``/dev/null``, ``/dev/stdout``...) is opened
    and written directly; a block device or a socket raises ``OSError``.
    """
    import tempfile  # here: its imports (shutil, lzma, bz2) cost a command's start-up ~7 ms

    path = os.fspath(path)
    kind = output_kind(path)
    if kind == "stream":
        fd = _open_stream(path)
        try:
            with os.fdopen(fd, mode, **kwargs) as f:
                yield f
        except OSError as e:
            raise _named(e, path) from None
        return
    if kind is not None:
        raise _not_regular(path, kind)
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
    file is created with the umask's permissions directly. A stream target is written directly
    and another non-regular file refused, as by :func:`atomic_open`.
    """
    path = os.fspath(path)
    kind = output_kind(path)
    if kind == "stream":
        _write_all_to(_open_stream(path), data, path)
        return
    if kind is not None:
        raise _not_regular(path, kind)
    folder, name = os.path.split(path)
    # The kernel's thread id, as the core's writer (io/file_write.cpp) names its temporary
    # files (theirs one byte longer: a name too long for it is handed here, not the reverse).
    tmp = os.path.join(folder, f".tmp-{name}.{os.getpid()}-{threading.get_native_id()}")
    try:
        fd = _create_new(tmp)
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


def _create_new(tmp: str) -> int:
    """A new file ``tmp`` opened for writing. Never through what is already there: a
    leftover, or a link or FIFO planted at the predictable name, is removed and the file
    created again (once)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(tmp, flags, 0o666)
    except FileExistsError:
        os.unlink(tmp)
        return os.open(tmp, flags, 0o666)


def _write_all_to(fd: int, data, path: str) -> None:
    """Writes ``data`` to the open ``fd`` and closes it; errors name ``path``."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as e:
        raise _named(e, path) from None
    finally:
        os.close(fd)
