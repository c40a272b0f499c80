"""Reading input files from local paths or, through fsspec, from object stores and other
filesystems (``s3://``, ``gs://``, ``http://``, ...): what lets cluster workers that share no
filesystem read the same dataset.

Only reading goes through here. Outputs are written locally, atomically (temp file + rename),
which object stores cannot do; write them to a shared filesystem instead.
"""
from __future__ import annotations

import os
import posixpath


def is_url(path) -> bool:
    """Whether ``path`` names a file through an fsspec protocol (``proto://...``)."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


def read_bytes(path) -> bytes:
    """The whole file. Raises OSError (FileNotFoundError, ...) like ``open`` does."""
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
    with open(_local(path), "rb") as f:
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
