"""GluonCV's mask pasting, as the oracle for panoseg's (tests) and its speed reference (benchmarks).

GluonCV 0.10.5's ``gluoncv.data.transforms.mask.fill`` (fast_fill path), the function its
``utils.viz.expand_mask`` calls; copied here because GluonCV cannot be imported without MXNet.
Apache-2.0, (c) the GluonCV authors.
"""
import numpy as np
from PIL import Image


def _resize_in_order(mask, w, h, pass_order):
    """Pillow's BILINEAR resize of a float32 image with the given pass order ("pillow13" or
    "horizontal-first"), made of two one-dimensional resizes (a resize to the same size is a
    copy, as Pillow skips a pass that does not change its dimension)."""
    in_h, in_w = mask.shape
    image = Image.fromarray(mask)
    shrink_h, shrink_w = in_h - h, in_w - w
    if pass_order == "pillow13" and shrink_h > 0 and shrink_h > 2 * shrink_w:  # vertical first
        return np.array(image.resize((in_w, h), Image.BILINEAR).resize((w, h), Image.BILINEAR))
    return np.array(image.resize((w, in_h), Image.BILINEAR).resize((w, h), Image.BILINEAR))


def gluoncv_fill(masks, bboxes, size, pass_order=None):
    """GluonCV 0.10's gluoncv.data.transforms.mask.fill, fast_fill path, verbatim logic
    (plus a guard for boxes entirely outside the image, where GluonCV's slicing fails).

    With `pass_order`, each resize runs its two passes in that order, whatever the installed
    Pillow does."""
    width, height = size
    x1, y1, x2, y2 = np.split(bboxes, 4, axis=1)
    m_h, m_w = masks.shape[1:]
    x1, y1, x2, y2 = x1.reshape((-1,)), y1.reshape((-1,)), x2.reshape((-1,)), y2.reshape((-1,))
    masks = np.pad(masks, [(0, 0), (1, 1), (1, 1)], mode='constant').astype(np.float32)
    x, y, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
    hw = hw * (float(m_w + 2) / m_w)
    hh = hh * (float(m_h + 2) / m_h)
    x1, y1, x2, y2 = x - hw, y - hh, x + hw, y + hh
    ret = np.zeros((masks.shape[0], height, width), dtype='uint8')
    x1, y1, x2, y2 = np.round(x1).astype(int), np.round(y1).astype(int), \
        np.round(x2).astype(int), np.round(y2).astype(int)
    w, h = (x2 - x1 + 1), (y2 - y1 + 1)
    xx1, yy1 = np.maximum(0, x1), np.maximum(0, y1)
    xx2, yy2 = np.minimum(width, x2 + 1), np.minimum(height, y2 + 1)
    for i, mask in enumerate(masks):
        if xx2[i] <= xx1[i] or yy2[i] <= yy1[i]:
            # Outside the image: GluonCV's slicing breaks here (negative stops); nothing to paste.
            continue
        if pass_order is None:
            mask = np.array(Image.fromarray(mask).resize((w[i], h[i]), Image.BILINEAR))
        else:
            mask = _resize_in_order(mask, int(w[i]), int(h[i]), pass_order)
        mask = (mask > 0.5).astype('uint8')
        ret[i, yy1[i]:yy2[i], xx1[i]:xx2[i]] = \
            mask[yy1[i] - y1[i]:yy2[i] - y1[i], xx1[i] - x1[i]:xx2[i] - x1[i]]
    return ret
