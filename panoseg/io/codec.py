"""The RGB <-> id encoding of COCO panoptic PNGs: ``id = R + 256 G + 256^2 B``, 0 = VOID.

Identical to panopticapi's ``utils.rgb2id`` / ``utils.id2rgb`` for arrays, and also accepts a
single colour or id like they do.
"""
from __future__ import annotations

import numpy as np

from .. import _core

MAX_SEGMENT_ID = _core.MAX_SEGMENT_ID
VOID = 0


def rgb2id(color):
    """Segment ids from RGB.

    Parameters
    ----------
    color : array_like, shape (H, W, 3) or (3,)
        An RGB image (uint8, or any integer dtype with values in 0..255), or one colour.

    Returns
    -------
    numpy.ndarray of uint32, shape (H, W), or int for a single colour.
    """
    arr = np.asarray(color)
    if arr.ndim == 1:
        if arr.shape[0] < 3:
            raise ValueError(f"a colour needs 3 components, got {arr.shape[0]}")
        r, g, b = (int(v) for v in arr[:3])
        return r + 256 * g + 256 * 256 * b
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"RGB values must be integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError("RGB values must lie in 0..255")
        arr = arr.astype(np.uint8)
    return _core.rgb2id(arr)


def id2rgb(id_map):
    """RGB from segment ids.

    Parameters
    ----------
    id_map : array_like of int, shape (H, W), or int
        Ids in 0..2^24-1.

    Returns
    -------
    numpy.ndarray of uint8, shape (H, W, 3), or a list ``[r, g, b]`` for a single id.
    """
    if np.isscalar(id_map) or np.ndim(id_map) == 0:
        value = int(id_map)
        if not 0 <= value <= MAX_SEGMENT_ID:
            raise ValueError(f"id {value} is outside 0..{MAX_SEGMENT_ID}")
        return [value % 256, value // 256 % 256, value // 65536]
    return _core.id2rgb(as_id_map(id_map))


def as_id_map(id_map) -> np.ndarray:
    """Checks an HxW integer id map and returns it as uint32 (no copy when it already is)."""
    arr = np.asarray(id_map)
    if arr.ndim != 2:
        raise ValueError(f"an id map must be 2-D (HxW), got shape {arr.shape}")
    if arr.dtype == np.uint32:
        return arr
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"an id map must hold integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > MAX_SEGMENT_ID):
        raise ValueError(f"ids must lie in 0..{MAX_SEGMENT_ID} (24 bits), got "
                         f"{arr.min()}..{arr.max()}")
    return arr.astype(np.uint32)
