"""Mask R-CNN mask pasting, bit-identical to GluonCV's ``expand_mask`` / ``fill``.

The face of ``csrc/merge/mask_paste.cpp`` and of Pillow's resampling pass order, which decides
the outputs that land within float32 rounding of 0.5. Imports no other merge module: the
heuristic and inference build on it.
"""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np

from .. import _core
from ..io.rle import intervals_to_rles
from ..util.parallel import default_workers

PASS_ORDERS = ("pillow13", "horizontal-first")


@functools.lru_cache(maxsize=None)
def installed_pass_order() -> str:
    """How the installed Pillow, which GluonCV resizes masks with, orders its two passes.

    Pillow resizes in two one-dimensional passes with a float32 image in between, so the order
    decides the pixels that land within rounding of 0.5. Pillow 13 runs the vertical pass first
    when the height shrinks by more than twice as many pixels as the width (``"pillow13"``);
    older Pillow, and Pillow-SIMD 12.1, always run the horizontal one first
    (``"horizontal-first"``). Found once by resizing a 16 x 4 image both ways.
    """
    from PIL import Image

    y, x = np.mgrid[0:16, 0:4]
    image = Image.fromarray((0.5 + 1e-5 * np.sin(1.7 * y + 2.3 * x)).astype(np.float32))
    direct = np.array(image.resize((9, 5), Image.BILINEAR))
    vertical_first = np.array(image.resize((4, 5), Image.BILINEAR).resize((9, 5), Image.BILINEAR))
    return "pillow13" if np.array_equal(direct, vertical_first) else "horizontal-first"


def _pillow13_order(pass_order: Optional[str]) -> bool:
    order = installed_pass_order() if pass_order is None else pass_order
    if order not in PASS_ORDERS:
        raise ValueError(f"pass_order must be one of {PASS_ORDERS}, got {pass_order!r}")
    return order == "pillow13"


def _paste_inputs(mask_probs, boxes, workers):
    """float32 C-contiguous (N, M, M) masks and (N, 4) boxes, and the thread count."""

    probs = np.ascontiguousarray(mask_probs, dtype=np.float32)
    box = np.ascontiguousarray(boxes, dtype=np.float32).reshape(-1, 4)
    if probs.ndim != 3:
        raise ValueError(f"mask_probs must be N x M x M, got shape {probs.shape}")
    return probs, box, default_workers() if workers is None else int(workers)


def paste_masks(mask_probs, boxes, size, *, workers: Optional[int] = None,
                pass_order: Optional[str] = None) -> np.ndarray:
    """GluonCV's ``expand_mask`` / ``fill`` for all masks: (N, H, W) uint8, bit-identical.

    Parameters
    ----------
    mask_probs : (N, M, M) float array
    boxes : (N, 4) xyxy boxes in image pixels (float32 arithmetic, as on MXNet outputs)
    size : (width, height)
    workers : int, optional
        Threads for large batches (default: all cores); the result does not depend on it.
    pass_order : {"pillow13", "horizontal-first"}, optional
        Whose resampling to reproduce: Pillow >= 13, or older Pillow and Pillow-SIMD (default:
        the installed Pillow's, see :func:`installed_pass_order`).

    See Also
    --------
    paste_masks_rle : the same masks as COCO RLEs, without the dense array (much faster).
    """
    width, height = size
    probs, box, threads = _paste_inputs(mask_probs, boxes, workers)
    return _core.paste_dense(probs, box, int(height), int(width), threads,
                             _pillow13_order(pass_order))


def paste_masks_rle(mask_probs, boxes, size, *, workers: Optional[int] = None,
                    pass_order: Optional[str] = None) -> list:
    """The masks of :func:`paste_masks` as compressed COCO RLE dicts, one per mask.

    What COCO instance-segmentation results need (``pycocotools.mask.encode`` of GluonCV's
    ``expand_mask`` output gives the same RLEs), made from the pasted runs directly: the dense
    (N, H, W) array is never built. Parameters as :func:`paste_masks`.

    Returns
    -------
    list of dict
        ``{"size": [height, width], "counts": str}``, JSON-ready.
    """

    width, height = size
    probs, box, threads = _paste_inputs(mask_probs, boxes, workers)
    offsets, intervals = _core.paste_intervals(
        probs, box, int(height), int(width), True, threads, _pillow13_order(pass_order))
    return intervals_to_rles(offsets, intervals, int(height), int(width))



def paste_intervals(mask_probs, boxes, size, *, column_major: bool = False,
                    workers: Optional[int] = None, pass_order: Optional[str] = None):
    """The masks of :func:`paste_masks` as interval masks (CSR ``offsets``, ``intervals`` of
    [begin, end) pixel runs, row- or column-major): the form the merge works on."""
    width, height = size
    probs, box, threads = _paste_inputs(mask_probs, boxes, workers)
    if len(box) != len(probs):
        raise ValueError(f"got {len(box)} boxes for {len(probs)} masks")
    return _core.paste_intervals(probs, box, int(height), int(width), bool(column_major), threads,
                                 _pillow13_order(pass_order))
