"""COCO RLE, encoded, decoded and validated by the core (``csrc/io/rle.cpp``), in one module.

The core's form of a mask set is CSR interval masks: ``offsets`` (n + 1) and ``intervals``, the
sorted, disjoint [begin, end) runs of ones of each mask in COCO's column-major pixel order.

Every RLE is checked before use: its ``size`` must be the image's, uncompressed ``counts``
non-negative integers, compressed ``counts`` an ASCII string whose runs decode (in the core) to
non-negative counts covering the image exactly. pycocotools does not check this and decodes
corrupt RLE into garbage, or past the end of its buffer; nothing here hands RLE to pycocotools.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import List, Optional, Sequence, Union

import numpy as np

from .. import _core
from .categories import is_int


def intervals_to_rles(offsets: np.ndarray, intervals: np.ndarray, height: int,
                      width: int) -> List[dict]:
    """Interval masks in COCO's column-major pixel order -> compressed COCO RLE dicts.

    Mask k is ``intervals[2 * offsets[k]:2 * offsets[k + 1]]``: sorted, disjoint [begin, end)
    runs of ones, as ``_core.paste_intervals(..., column_major=True)`` and
    ``_core.label_intervals`` on a transposed map produce. Returns ``{"size": [h, w],
    "counts": str}`` dicts (the JSON form), the strings ``pycocotools.mask.encode`` makes,
    encoded by the core.
    """
    strings = _core.runs_to_rle_strings(np.ascontiguousarray(offsets, dtype=np.int64),
                                        np.ascontiguousarray(intervals, dtype=np.int64),
                                        int(height) * int(width))
    size = [int(height), int(width)]
    return [{"size": list(size), "counts": s} for s in strings]


def label_map_to_rles(labels: np.ndarray, n_labels: int) -> List[dict]:
    """Compressed COCO RLE of each label ``0 .. n_labels - 1`` of a row-major (H, W) label map
    (other values, e.g. -1, belong to no mask); a label absent from the map gives an empty mask.
    """
    labels = np.asarray(labels)
    height, width = labels.shape
    # The core scans in memory order: transposing makes that COCO's column-major order.
    offsets, intervals = _core.label_intervals(np.ascontiguousarray(labels.T, dtype=np.int32),
                                               int(n_labels))
    return intervals_to_rles(offsets, intervals, height, width)


def rle_counts(rle, height: int, width: int) -> Union[bytes, np.ndarray]:
    """Checks the form of one COCO RLE dict of an (height, width) image and returns its counts
    as the core takes them: the compressed string as bytes, or uncompressed counts as uint32.

    Raises ``ValueError`` saying what is wrong (the runs themselves are checked on decoding).
    """
    if not isinstance(rle, Mapping) or "counts" not in rle:
        raise ValueError("segmentation must be an RLE dict with 'size' and 'counts'")
    size = rle.get("size")
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(is_int(v) for v in size)):
        raise ValueError(f"RLE 'size' must be [height, width], got {size!r}")
    if [int(v) for v in size] != [height, width]:
        raise ValueError(f"RLE size {[int(v) for v in size]} is not the image's "
                         f"[{height}, {width}]")
    counts = rle["counts"]
    if isinstance(counts, str):
        if not counts.isascii():  # the core would read a non-ASCII character as '?'
            raise ValueError("RLE 'counts' is not ASCII")
        counts = counts.encode("ascii")
    if isinstance(counts, (bytes, bytearray)):
        if not counts:
            raise ValueError("RLE 'counts' is empty")
        return bytes(counts)
    if isinstance(counts, (list, tuple, np.ndarray)):  # uncompressed RLE (COCO's crowd regions)
        arr = np.asarray(counts)
        # A list of ints gives an integer dtype; floats, huge or mixed values not (bools mixed
        # with ints would, hence the extra check).
        if arr.ndim != 1 or (arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0
                                           or arr.max() > np.iinfo(np.uint32).max)) \
                or (isinstance(counts, (list, tuple)) and any(type(c) is bool for c in counts)):
            raise ValueError("uncompressed RLE 'counts' must be a list of non-negative integers")
        return arr.astype(np.uint32)
    raise ValueError(f"RLE 'counts' must be a string or a list, got {type(counts).__name__}")


def rle_intervals(rles: Sequence, height: int, width: int, what: str = "RLE",
                  labels: Optional[Sequence[str]] = None):
    """COCO RLE dicts (compressed string or uncompressed list ``counts``) of one image ->
    ``(offsets, intervals)``; every RLE's size must be ``[height, width]``. A bad RLE raises
    ``ValueError`` naming ``what`` and its index (``"instance 3: undecodable RLE (...)"``), or
    its entry of ``labels`` when given (where it is in its file: ``"results[57]: ..."``)."""
    parts = []
    size = [height, width]
    for k, rle in enumerate(rles):
        # The common form first, with the fewest checks that make it certainly well-formed (a
        # dict, an int [h, w] size, a non-empty ASCII counts string; the core takes the str);
        # anything else gets rle_counts' full checks and messages.
        if type(rle) is dict:
            counts, rle_size = rle.get("counts"), rle.get("size")
            if type(counts) is str and counts and counts.isascii() and type(rle_size) is list \
                    and rle_size == size and type(rle_size[0]) is int and type(rle_size[1]) is int:
                parts.append(counts)
                continue
        try:
            parts.append(rle_counts(rle, height, width))
        except ValueError as e:
            raise ValueError(f"{labels[k] if labels else f'{what} {k}'}: {e}") from None
    try:
        return _core.rle_intervals(parts, height, width)
    except _core.RleError as e:
        kind = "RLE" if isinstance(parts[e.index], (bytes, str)) else "uncompressed RLE"
        name = labels[e.index] if labels else f"{what} {e.index}"
        raise ValueError(f"{name}: undecodable {kind} ({e})") from None


def _decode_one(rle, height: int, width: int) -> np.ndarray:
    """The (k, 2) [begin, end) runs of ones of one checked RLE (column-major pixel order)."""
    counts = rle_counts(rle, height, width)
    try:
        _, intervals = _core.rle_intervals([counts], height, width)
    except _core.RleError as e:
        kind = "RLE" if isinstance(counts, bytes) else "uncompressed RLE"
        raise ValueError(f"undecodable {kind} ({e})") from None
    return intervals.reshape(-1, 2)


def rle_to_indices(rle, height: int, width: int) -> np.ndarray:
    """A COCO RLE dict -> the flat column-major indices (``x * height + y``, int64, ascending)
    of its pixels, checked and decoded by the core. Costs the mask's area, not the image's.
    A bad RLE raises ``ValueError`` saying what is wrong."""
    runs = _decode_one(rle, height, width)
    lengths = runs[:, 1] - runs[:, 0]
    # Run r covers begin_r + 0 .. begin_r + length_r - 1: one arange shifted per run.
    shift = runs[:, 0] - (np.cumsum(lengths) - lengths)
    return np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(shift, lengths)


def rle_to_mask(rle, height: int, width: int) -> np.ndarray:
    """A COCO RLE dict -> (H, W) uint8 mask, checked and decoded by the core (the same pixels
    as ``pycocotools.mask.decode``). A bad RLE raises ``ValueError`` saying what is wrong."""
    indices = rle_to_indices(rle, height, width)  # checks the size before anything is allocated
    flat = np.zeros(int(height) * int(width), np.uint8)
    flat[indices] = 1
    # Column-major pixel order: W x H in memory, transposed to H x W.
    return np.ascontiguousarray(flat.reshape(width, height).T)
