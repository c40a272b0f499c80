"""Synthetic COCO-panoptic-like datasets for golden tests and benchmarks.

The generator draws a ground-truth panoptic annotation (stuff background,
overlapping thing instances, crowd regions and void pixels) and derives an
imperfect prediction from it with the kinds of errors real models make
(shifted / eroded / dilated masks, missed segments, false positives, merged
instances, wrong labels, split stuff, speckle noise).  Every PQ code path of
an evaluator is exercised: true positives, false negatives, false positives,
predictions ignored because they lie on void or on a same-category crowd,
and IoU values on both sides of the 0.5 matching threshold.

Only numpy, Pillow and the standard library are used, so the module can be
imported by test fixtures without pulling in the rest of the package.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> gt_ids, gt_segs, pred_ids, pred_segs = make_image_pair(rng, 120, 160)
>>> ds = make_dataset("/tmp/synth", n_images=4)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..io.categories import category_color, coco_panoptic_categories
from ..io.codec import id2rgb, rgb2id

__all__ = ["SyntheticDataset", "make_image_pair", "make_dataset", "default_categories"]

_MAX_ID = 1 << 24  # ids must fit in the 24 bits of an RGB PNG


# --------------------------------------------------------------------------
# categories
# --------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _load_default_categories() -> Tuple[dict, ...]:
    return tuple(coco_panoptic_categories().to_list())


def default_categories() -> List[dict]:
    """Return a fresh copy of COCO's 133 panoptic categories.

    Returns
    -------
    list of dict
        Dicts with keys ``id``, ``name``, ``isthing``, ``color``,
        ``supercategory``.
    """
    return copy.deepcopy(list(_load_default_categories()))


class _Cats:
    """Category lookup tables used while drawing one image."""

    def __init__(self, categories: Optional[Sequence[dict]]):
        cats = default_categories() if categories is None else [dict(c) for c in categories]
        if not cats:
            raise ValueError("categories must not be empty")
        self.list = cats
        self.things = np.array([int(c["id"]) for c in cats if int(c.get("isthing", 0)) == 1], dtype=np.int64)
        self.stuff = np.array([int(c["id"]) for c in cats if int(c.get("isthing", 0)) != 1], dtype=np.int64)
        self.isthing = {int(c["id"]): int(c.get("isthing", 0)) == 1 for c in cats}
        # A category without a colour gets panoseg's one derived colour (ids stay reproducible).
        self.color = {int(c["id"]): list(category_color(c)) for c in cats}


# --------------------------------------------------------------------------
# small numpy helpers
# --------------------------------------------------------------------------
def _shape_mask(rng, cy, cx, ry, rx, height, width, kind=None):
    """Rasterise a random rotated ellipse / rectangle / polygon.

    Only the bounding window is computed so that small shapes stay cheap.

    Returns
    -------
    (mask, top, left) or None
        Boolean mask of the window and its top-left corner in the image, or
        None if the shape falls outside the image.
    """
    ry = max(float(ry), 0.8)
    rx = max(float(rx), 0.8)
    if kind is None:
        kind = ("ellipse", "rect", "poly")[int(rng.integers(3))]
    a = rng.uniform(0.0, math.pi)
    ca, sa = math.cos(a), math.sin(a)
    # tight half-extents of the rotated shape keep the window small
    if kind == "rect":
        ex, ey = rx * abs(ca) + ry * abs(sa), rx * abs(sa) + ry * abs(ca)
    else:  # polygon vertices lie inside the ellipse
        ex, ey = math.hypot(rx * ca, ry * sa), math.hypot(rx * sa, ry * ca)
    top, bottom = max(0, int(math.floor(cy - ey - 1))), min(height, int(math.ceil(cy + ey)) + 1)
    left, right = max(0, int(math.floor(cx - ex - 1))), min(width, int(math.ceil(cx + ex)) + 1)
    if top >= bottom or left >= right:
        return None
    # pixel centres relative to the shape centre
    y = (np.arange(top, bottom, dtype=np.float32) + np.float32(0.5 - cy))[:, None]
    x = (np.arange(left, right, dtype=np.float32) + np.float32(0.5 - cx))[None, :]
    ca32, sa32 = np.float32(ca), np.float32(sa)
    u = (x * (ca32 / np.float32(rx)) + y * (sa32 / np.float32(rx)))
    v = (y * (ca32 / np.float32(ry)) - x * (sa32 / np.float32(ry)))
    rho2 = u * u + v * v
    if kind == "ellipse":
        m = rho2 <= 1.0
    elif kind == "rect":
        m = (np.abs(u) <= 1.0) & (np.abs(v) <= 1.0)
    else:
        # star-shaped polygon with straight edges.  For a ray at angle t between
        # vertices (t1, r1) and (t2, r2) the edge lies at
        # r1*r2*sin(t2-t1) / (r1*sin(t-t1) + r2*sin(t2-t)); it is tabulated
        # over fine angle bins so the per-pixel cost is one arctan2 + lookup.
        k = int(rng.integers(4, 10))
        step = 2 * math.pi / k
        ang = np.arange(k) * step + rng.uniform(-0.3, 0.3, k) * step
        ang -= ang[0]
        rad = rng.uniform(0.45, 1.0, k)
        ang_ext = np.append(ang, 2 * math.pi)
        rad_ext = np.append(rad, rad[0])
        nb = 4096
        tb = (np.arange(nb) + 0.5) * (2 * math.pi / nb)
        idx = np.clip(np.searchsorted(ang_ext, tb, side="right") - 1, 0, k - 1)
        t1, t2 = ang_ext[idx], ang_ext[idx + 1]
        r1, r2 = rad_ext[idx], rad_ext[idx + 1]
        edge = r1 * r2 * np.sin(t2 - t1) / (r1 * np.sin(tb - t1) + r2 * np.sin(t2 - tb))
        lut = (edge * edge).astype(np.float32)
        # arctan2 is in [-pi, pi]; shift to [0, 2pi) bins
        b = (np.arctan2(v, u) * np.float32(nb / (2 * math.pi))).astype(np.int32) % nb
        m = rho2 <= lut[b]
    if not m.any():
        # a sub-pixel shape still deserves one pixel so that tiny objects exist
        iy = min(max(int(cy), top), bottom - 1) - top
        ix = min(max(int(cx), left), right - 1) - left
        m[iy, ix] = True
    return m, top, left


def _paint(target: np.ndarray, mask: np.ndarray, top: int, left: int, value) -> None:
    """target[top:, left:][mask] = value, clipping mask to the image bounds."""
    h, w = mask.shape
    H, W = target.shape
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + h, H), min(left + w, W)
    if t0 >= t1 or l0 >= l1:
        return
    sub = mask[t0 - top:t1 - top, l0 - left:l1 - left]
    target[t0:t1, l0:l1][sub] = value


def _morph(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilate (radius > 0) or erode (radius < 0) with a 3x3 cross, |radius| times.

    Pixels outside the array are treated as "same as the border" so erosion
    does not eat segments that touch the image edge.
    """
    m = mask
    grow = radius > 0
    for _ in range(abs(int(radius))):
        out = m.copy()
        if grow:
            out[1:] |= m[:-1]
            out[:-1] |= m[1:]
            out[:, 1:] |= m[:, :-1]
            out[:, :-1] |= m[:, 1:]
        else:
            out[1:] &= m[:-1]
            out[:-1] &= m[1:]
            out[:, 1:] &= m[:, :-1]
            out[:, :-1] &= m[:, 1:]
        m = out
    return m


def _segment_stats(lab: np.ndarray, n_labels: int):
    """Areas and tight boxes of labels 0..n_labels-1 in one pass each.

    Returns
    -------
    area : (n,) int64
    x0, y0, x1, y1 : (n,) int64
        Inclusive bounds; meaningless where area == 0.
    """
    H, W = lab.shape
    n = int(n_labels)
    # per-row and per-column label histograms via one bincount each: far
    # cheaper than a boolean mask per label
    off_r = (np.arange(H, dtype=np.intp) * n)[:, None]
    off_c = (np.arange(W, dtype=np.intp) * n)[None, :]
    per_row = np.bincount((lab + off_r).ravel(), minlength=n * H).reshape(H, n)
    per_col = np.bincount((lab + off_c).ravel(), minlength=n * W).reshape(W, n) > 0
    area = per_row.sum(axis=0)
    rows = per_row > 0
    y0 = rows.argmax(axis=0)
    y1 = H - 1 - rows[::-1].argmax(axis=0)
    x0 = per_col.argmax(axis=0)
    x1 = W - 1 - per_col[::-1].argmax(axis=0)
    return area, x0, y0, x1, y1


def _finalize(lab, seg_cat, seg_crowd, seg_ids, stats=None):
    """Turn an internal label map into (uint32 id map, segments_info list).

    Labels with zero pixels are dropped, so list and map always agree.
    """
    n = len(seg_cat)
    area, x0, y0, x1, y1 = _segment_stats(lab, n) if stats is None else stats
    lut = np.zeros(n, dtype=np.uint32)
    segments = []
    for lbl in range(1, n):
        if area[lbl] == 0:
            continue
        lut[lbl] = seg_ids[lbl]
        segments.append({
            "id": int(seg_ids[lbl]),
            "category_id": int(seg_cat[lbl]),
            "iscrowd": int(seg_crowd[lbl]),
            "area": int(area[lbl]),
            "bbox": [int(x0[lbl]), int(y0[lbl]), int(x1[lbl] - x0[lbl] + 1), int(y1[lbl] - y0[lbl] + 1)],
        })
    return lut[lab], segments


def _gt_ids(rng, cats: _Cats, seg_cat, seg_isthing) -> List[int]:
    """COCO-style ids: category colour, jittered for things, made unique."""
    used = {0}
    ids = [0]
    for lbl in range(1, len(seg_cat)):
        base = np.array(cats.color[int(seg_cat[lbl])], dtype=np.int64)
        cand = 0
        for attempt in range(64):
            if attempt == 0 and not seg_isthing[lbl]:
                j = 0  # stuff keeps the category colour, as in COCO
            else:
                j = 30 if attempt < 32 else 127  # widen the search if colours collide
            col = np.clip(base + rng.integers(-j, j + 1, 3), 0, 255)
            cand = int(col[0] + 256 * col[1] + 65536 * col[2])
            if cand not in used:
                break
        while cand in used:
            cand = int(rng.integers(1, _MAX_ID))
        used.add(cand)
        ids.append(cand)
    return ids


def _fresh_ids(rng, n: int, avoid) -> List[int]:
    """n unique random ids in [1, 2**24) that avoid the given ids."""
    used = set(int(a) for a in avoid) | {0}
    out = [0]
    while len(out) < n:
        for cand in rng.integers(1, _MAX_ID, size=2 * n + 4).tolist():
            if cand not in used and len(out) < n:
                used.add(cand)
                out.append(cand)
    return out


def _range(rng, spec, cap=None) -> int:
    """Draw an int from an inclusive (lo, hi) range or return a fixed int."""
    if isinstance(spec, (int, np.integer)):
        v = int(spec)
    else:
        lo, hi = int(spec[0]), int(spec[1])
        v = int(rng.integers(lo, max(lo, hi) + 1))
    v = max(v, 0)
    return v if cap is None else min(v, cap)


# --------------------------------------------------------------------------
# ground truth
# --------------------------------------------------------------------------
def _stuff_layer(rng, H, W, cats: _Cats, n_stuff):
    """Voronoi-like partition of the image among a few stuff categories."""
    k = _range(rng, n_stuff, cap=len(cats.stuff))
    lab = np.zeros((H, W), dtype=np.int32)
    if k == 0:
        return lab, []
    chosen = rng.choice(cats.stuff, size=k, replace=False)
    n_seeds = k + int(rng.integers(0, k + 1))  # extra seeds split a category into pieces
    seed_cat = np.concatenate([np.arange(k), rng.integers(0, k, n_seeds - k)])
    sy = rng.uniform(0, H, n_seeds).astype(np.float32)
    sx = rng.uniform(0, W, n_seeds).astype(np.float32)
    wt = rng.uniform(0.5, 1.8, n_seeds).astype(np.float32)  # weights curve the borders
    # work on a 2x coarser grid: borders are re-roughened by the warp anyway
    f = 2 if min(H, W) >= 64 else 1
    hh, ww = -(-H // f), -(-W // f)
    yy = (np.arange(hh, dtype=np.float32) * f)[:, None]
    xx = (np.arange(ww, dtype=np.float32) * f)[None, :]
    amp = np.float32(0.03 * min(H, W))
    fr = rng.uniform(2.0, 6.0, 2) * 2 * math.pi / max(H, W)
    ph = rng.uniform(0, 2 * math.pi, 2)
    wy = yy + amp * np.sin(xx * np.float32(fr[0]) + np.float32(ph[0]))
    wx = xx + amp * np.sin(yy * np.float32(fr[1]) + np.float32(ph[1]))
    best = np.full((hh, ww), np.inf, dtype=np.float32)
    arg = np.zeros((hh, ww), dtype=np.int32)
    for i in range(n_seeds):
        d = ((wy - sy[i]) ** 2 + (wx - sx[i]) ** 2) * wt[i]
        closer = d < best
        best = np.where(closer, d, best)
        arg[closer] = i
    small = (seed_cat[arg] + 1).astype(np.int32)
    if f > 1:
        small = np.repeat(np.repeat(small, f, axis=0), f, axis=1)
    lab[:] = small[:H, :W]
    return lab, [int(c) for c in chosen]


def _make_gt(rng, H, W, cats: _Cats, n_stuff, n_things, crowd_prob, void_frac):
    """Draw one ground-truth label map plus its segment table.

    Returns a dict with the label map ``lab`` (0 = void, l = row l of the
    tables), ``cat``/``crowd`` tables and the void blobs (cy, cx, r) that
    the prediction uses to place ignorable false positives.
    """
    lab, stuff_cats = _stuff_layer(rng, H, W, cats, n_stuff)
    seg_cat = [0] + stuff_cats
    seg_crowd = [0] * len(seg_cat)
    short = min(H, W)

    n_inst = _range(rng, n_things) if len(cats.things) else 0
    inst_cats: List[int] = []
    if n_inst:
        n_tc = int(rng.integers(1, min(5, n_inst, len(cats.things)) + 1))
        tcats = rng.choice(cats.things, size=n_tc, replace=False)
        # skewed frequencies: like COCO, one category (often person) dominates
        p = rng.dirichlet(np.full(n_tc, 0.8))
        inst_cats = [int(c) for c in tcats[rng.choice(n_tc, size=n_inst, p=p)]]
        # crowd regions go below the instances: individuals stand in front of crowds
        for c in dict.fromkeys(inst_cats):
            n_crowd = 0
            if rng.random() < crowd_prob:
                n_crowd = 2 if rng.random() < 0.3 else 1
            for _ in range(n_crowd):
                r = short * rng.uniform(0.07, 0.22)
                asp = math.exp(rng.uniform(-0.5, 0.5))
                s = _shape_mask(rng, rng.uniform(0, H), rng.uniform(0, W), r / asp, r * asp, H, W,
                                kind=("ellipse", "poly")[int(rng.integers(2))])
                if s is None:
                    continue
                seg_cat.append(c)
                seg_crowd.append(1)
                _paint(lab, s[0], s[1], s[2], len(seg_cat) - 1)

    last: Dict[int, Tuple[float, float, float]] = {}
    for c in inst_cats:
        # log-uniform radius gives many small objects and a few large ones
        r = short * math.exp(rng.uniform(math.log(0.012), math.log(0.3)))
        if c in last and rng.random() < 0.35:
            # cluster with the previous instance of this category -> overlaps / occlusions
            py, px, pr = last[c]
            ang = rng.uniform(0, 2 * math.pi)
            dist = pr * rng.uniform(0.6, 1.6)
            cy, cx = py + dist * math.sin(ang), px + dist * math.cos(ang)
            r = pr * rng.uniform(0.6, 1.3)
        else:
            cy, cx = rng.uniform(0, H), rng.uniform(0, W)
        asp = math.exp(rng.uniform(-0.6, 0.6))
        s = _shape_mask(rng, cy, cx, r / asp, r * asp, H, W)
        if s is None:
            continue
        seg_cat.append(c)
        seg_crowd.append(0)
        _paint(lab, s[0], s[1], s[2], len(seg_cat) - 1)
        last[c] = (cy, cx, r)

    blobs = _add_void(rng, lab, void_frac)
    return {"lab": lab, "cat": seg_cat, "crowd": seg_crowd, "blobs": blobs}


def _add_void(rng, lab, void_frac):
    """Set roughly void_frac of the pixels to 0: boundary bands + a few blobs."""
    H, W = lab.shape
    target = float(void_frac) * H * W
    blobs: List[Tuple[float, float, float]] = []
    if target < 1:
        return blobs
    void = np.zeros((H, W), dtype=bool)
    # about a third as compact blobs (unlabelled objects), the rest as border bands
    n_blobs = int(rng.integers(1, 4))
    for _ in range(n_blobs):
        r = max(3.0, math.sqrt(target * rng.uniform(0.2, 0.45) / n_blobs / math.pi))
        cy, cx = rng.uniform(r, max(r + 1, H - r)), rng.uniform(r, max(r + 1, W - r))
        s = _shape_mask(rng, cy, cx, r, r, H, W, kind="ellipse")
        if s is not None:
            _paint(void, s[0], s[1], s[2], True)
            blobs.append((cy, cx, r))
    remaining = target - void.sum()
    if remaining > 0:
        band = np.zeros((H, W), dtype=bool)
        band[:, 1:] |= lab[:, 1:] != lab[:, :-1]
        band[1:, :] |= lab[1:, :] != lab[:-1, :]
        for _ in range(3):  # widen thin bands until there is enough to choose from
            if band.sum() >= remaining:
                break
            band = _morph(band, 1)
        band &= ~void
        n_band = int(band.sum())
        if n_band:
            # keep bands in contiguous chunks: threshold a coarse random field
            cell = 12
            field = rng.random((-(-H // cell), -(-W // cell))).astype(np.float32)
            field = np.repeat(np.repeat(field, cell, axis=0), cell, axis=1)[:H, :W]
            vals = field[band]
            frac = min(1.0, remaining / n_band)
            thr = np.quantile(vals, frac) if frac < 1.0 else np.inf
            void |= band & (field <= thr)
    lab[void] = 0
    return blobs


# --------------------------------------------------------------------------
# prediction
# --------------------------------------------------------------------------
class _Pred:
    """Prediction label map under construction."""

    def __init__(self, H, W):
        self.lab = np.zeros((H, W), dtype=np.int32)
        self.cat = [0]

    def new(self, cat) -> int:
        self.cat.append(int(cat))
        return len(self.cat) - 1


def _window(stats, lbl, pad, H, W):
    _, x0, y0, x1, y1 = stats
    return (max(0, int(y0[lbl]) - pad), min(H, int(y1[lbl]) + pad + 1),
            max(0, int(x0[lbl]) - pad), min(W, int(x1[lbl]) + pad + 1))


def _transformed(gt_lab, stats, lbls, morph, dy, dx):
    """Mask window of the union of GT labels after morphology; (mask, top, left)."""
    H, W = gt_lab.shape
    pad = abs(morph) + 1
    wins = [_window(stats, l, pad, H, W) for l in lbls]
    t, b = min(w[0] for w in wins), max(w[1] for w in wins)
    lft, rgt = min(w[2] for w in wins), max(w[3] for w in wins)
    sub = gt_lab[t:b, lft:rgt]
    m = sub == lbls[0]
    for l in lbls[1:]:
        m |= sub == l
    if morph:
        m = _morph(m, morph)
    return m, t + dy, lft + dx


def _make_pred(rng, gt, cats: _Cats, stats):
    """Derive an imperfect prediction label map from the ground truth.

    GT segments are repainted in GT order (so occlusion order is kept) after
    random shifts and erosion/dilation; some are dropped, relabelled, merged
    or split, then false positives and speckle noise are added on top.
    """
    gl = gt["lab"]
    H, W = gl.shape
    n = len(gt["cat"])
    area = stats[0]
    P = _Pred(H, W)
    present = [l for l in range(1, n) if area[l] > 0]
    stuff = [l for l in present if not cats.isthing[gt["cat"][l]]]
    crowds = [l for l in present if gt["crowd"][l]]
    things = [l for l in present if cats.isthing[gt["cat"][l]] and not gt["crowd"][l]]
    used_stuff = {gt["cat"][l] for l in stuff}
    img_things = sorted({gt["cat"][l] for l in things + crowds})

    def unused_stuff():
        free = [int(c) for c in cats.stuff if int(c) not in used_stuff]
        if not free:
            return None
        c = free[int(rng.integers(len(free)))]
        used_stuff.add(c)
        return c

    def other_thing(c):
        pool = [t for t in img_things if t != c] if rng.random() < 0.5 else []
        if not pool:
            pool = [int(t) for t in cats.things if int(t) != c]
        return pool[int(rng.integers(len(pool)))] if pool else c

    def size(lbl):
        return int(stats[3][lbl] - stats[1][lbl] + 1), int(stats[4][lbl] - stats[2][lbl] + 1)

    # stuff: dilated more often than eroded so void bands get partly filled
    stuff_pred: List[int] = []
    missed: List[int] = []
    for l in rng.permutation(stuff).tolist() if stuff else []:
        c = gt["cat"][l]
        if rng.random() < 0.06:
            missed.append(l)  # missed -> FN
            continue
        if rng.random() < 0.08:
            c = unused_stuff() or c  # wrong stuff label -> FP + FN
        m, top, left = _transformed(gl, stats, [l], int(rng.integers(-1, 4)),
                                    int(rng.integers(-2, 3)), int(rng.integers(-2, 3)))
        lbl = P.new(c)
        stuff_pred.append(lbl)
        _paint(P.lab, m, top, left, lbl)
        if rng.random() < 0.15:
            # split: the part beyond a random line becomes its own segment,
            # either a different stuff class or (rarely) the same class again
            ys, xs = np.nonzero(m)
            if len(ys) > 1:
                i = int(rng.integers(len(ys)))
                a = rng.uniform(0, 2 * math.pi)
                side = ((np.arange(m.shape[0])[:, None] - ys[i]) * math.sin(a)
                        + (np.arange(m.shape[1])[None, :] - xs[i]) * math.cos(a)) > 0
                c2 = c if rng.random() < 0.3 else (unused_stuff() or c)
                _paint(P.lab, m & side, top, left, P.new(c2))

    for l in missed:
        # a missed stuff region is usually swallowed by a neighbouring stuff
        # prediction (which then loses IoU) rather than left void
        if stuff_pred and rng.random() < 0.6:
            m, top, left = _transformed(gl, stats, [l], 0, 0, 0)
            _paint(P.lab, m, top, left, stuff_pred[int(rng.integers(len(stuff_pred)))])

    # crowd regions: predicted as one big ordinary segment, as a few
    # instances inside the crowd (ignored FPs), or not at all
    for l in crowds:
        c = gt["cat"][l]
        u = rng.random()
        if u < 0.45:
            m, top, left = _transformed(gl, stats, [l], int(rng.integers(-1, 2)),
                                        int(rng.integers(-2, 3)), int(rng.integers(-2, 3)))
            _paint(P.lab, m, top, left, P.new(c))
        elif u < 0.8:
            t, b, lf, rt = _window(stats, l, 0, H, W)
            ys, xs = np.nonzero(gl[t:b, lf:rt] == l)
            h, w = size(l)
            for _ in range(int(rng.integers(1, 4))):
                i = int(rng.integers(len(ys)))
                r = max(1.5, min(h, w) * rng.uniform(0.05, 0.15))
                s = _shape_mask(rng, t + ys[i] + 0.5, lf + xs[i] + 0.5, r, r * rng.uniform(0.6, 1.0), H, W)
                if s is not None:
                    _paint(P.lab, s[0], s[1], s[2], P.new(c))

    # things: pick merge partners among same-category instances first
    partner: Dict[int, int] = {}
    by_cat: Dict[int, List[int]] = {}
    for l in things:
        by_cat.setdefault(gt["cat"][l], []).append(l)
    for c, ls in by_cat.items():
        if len(ls) >= 2 and rng.random() < 0.4:
            # merge the closest pair: models merge touching instances
            cen = np.array([[(stats[2][l] + stats[4][l]) / 2, (stats[1][l] + stats[3][l]) / 2] for l in ls])
            d = ((cen[:, None, :] - cen[None, :, :]) ** 2).sum(-1) + np.eye(len(ls)) * 1e18
            i, j = np.unravel_index(int(np.argmin(d)), d.shape)
            partner[ls[min(i, j)]] = ls[max(i, j)]
    merged_away = set(partner.values())
    for l in things:
        if l in merged_away:
            continue
        c = gt["cat"][l]
        p_drop = 0.4 if area[l] < 100 else 0.1
        if rng.random() < p_drop and l not in partner:
            continue  # missed -> FN
        h, w = size(l)
        if rng.random() < 0.06:
            # far off -> IoU < 0.5: one FP plus one FN
            dy = int(round(h * rng.uniform(0.5, 1.0) * rng.choice([-1, 1])))
            dx = int(round(w * rng.uniform(0.5, 1.0) * rng.choice([-1, 1])))
        else:
            lim = 1 if min(h, w) < 12 else 3
            dy, dx = int(rng.integers(-lim, lim + 1)), int(rng.integers(-lim, lim + 1))
        morph = int(rng.integers(-1, 2)) if min(h, w) >= 6 else int(rng.integers(0, 2))
        if rng.random() < 0.07:
            c = other_thing(c)  # confused with another thing class
        group = [l, partner[l]] if l in partner else [l]
        m, top, left = _transformed(gl, stats, group, morph, dy, dx)
        _paint(P.lab, m, top, left, P.new(c))

    # false positives: anywhere, on void blobs (ignored), and some stuff
    short = min(H, W)
    for _ in range(int(rng.poisson(1.0))):
        if not len(cats.things):
            break
        c = img_things[int(rng.integers(len(img_things)))] if img_things and rng.random() < 0.5 \
            else int(cats.things[int(rng.integers(len(cats.things)))])
        r = short * math.exp(rng.uniform(math.log(0.01), math.log(0.12)))
        s = _shape_mask(rng, rng.uniform(0, H), rng.uniform(0, W), r, r * rng.uniform(0.5, 1.5), H, W)
        if s is not None:
            _paint(P.lab, s[0], s[1], s[2], P.new(c))
    for cy, cx, r in gt["blobs"]:
        if len(cats.things) and rng.random() < 0.5:
            c = int(cats.things[int(rng.integers(len(cats.things)))])
            rr = r * rng.uniform(0.3, 0.7)
            s = _shape_mask(rng, cy, cx, rr, rr * rng.uniform(0.7, 1.0), H, W, kind="ellipse")
            if s is not None:
                _paint(P.lab, s[0], s[1], s[2], P.new(c))
    if rng.random() < 0.2:
        c = unused_stuff()
        if c is not None:
            r = short * rng.uniform(0.05, 0.15)
            s = _shape_mask(rng, rng.uniform(0, H), rng.uniform(0, W), r, r * rng.uniform(0.5, 1.5), H, W,
                            kind="poly")
            if s is not None:
                _paint(P.lab, s[0], s[1], s[2], P.new(c))

    _speckle(rng, P.lab)
    return P


def _speckle(rng, lab):
    """Small square blobs set to void or to a nearby label (boundary noise)."""
    H, W = lab.shape
    n = int(H * W / 4000 * rng.uniform(0.5, 1.5))
    if n == 0:
        return
    s = int(rng.integers(1, 4))
    cy = rng.integers(0, H, n)
    cx = rng.integers(0, W, n)
    # neighbour label a few pixels away, or void
    ny = np.clip(cy + rng.integers(-6, 7, n), 0, H - 1)
    nx = np.clip(cx + rng.integers(-6, 7, n), 0, W - 1)
    vals = np.where(rng.random(n) < 0.4, 0, lab[ny, nx])
    off = np.arange(s)
    rows = np.clip(cy[:, None, None] + off[None, :, None], 0, H - 1)
    cols = np.clip(cx[:, None, None] + off[None, None, :], 0, W - 1)
    lab[rows, cols] = vals[:, None, None]


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------
def make_image_pair(rng: np.random.Generator, height: int, width: int, categories=None, *,
                    n_stuff=(2, 6), n_things=(3, 15), crowd_prob=0.15, void_frac=0.05):
    """Draw one ground-truth / prediction pair.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness; the result is a deterministic function of its state.
    height, width : int
        Image size in pixels.
    categories : list of dict, optional
        COCO panoptic categories (``id``, ``isthing``, optionally ``color``).
        Defaults to COCO's 133 panoptic categories.
    n_stuff : int or (int, int)
        Number of stuff categories in the image (inclusive range), capped by
        the number of stuff categories available.
    n_things : int or (int, int)
        Number of thing instances drawn (inclusive range) before occlusion;
        fully occluded ones are dropped.
    crowd_prob : float
        For each thing category in the image, the probability of adding a
        crowd region of that category (a second one follows with
        probability 0.3).
    void_frac : float
        Approximate fraction of void (0) pixels in the ground truth.

    Returns
    -------
    gt_ids, gt_segments, pred_ids, pred_segments
        ``*_ids`` are uint32 (height, width) id maps with 0 = void;
        ``*_segments`` are COCO ``segments_info`` lists of dicts with ``id``,
        ``category_id``, ``iscrowd``, ``area`` (pixel count) and ``bbox``
        ``[x, y, w, h]``.  Every listed segment occurs in its map and every
        nonzero id in a map is listed.  Predictions never have crowd segments
        and use fresh ids that differ from the ground-truth ids.

    Notes
    -----
    A stuff category occurs at most once in the ground truth.  A prediction
    may (rarely) contain two segments of the same stuff category, which
    happens when a stuff region is split.
    """
    H, W = int(height), int(width)
    if H <= 0 or W <= 0:
        raise ValueError("height and width must be positive")
    cats = categories if isinstance(categories, _Cats) else _Cats(categories)
    gt = _make_gt(rng, H, W, cats, n_stuff, n_things, crowd_prob, void_frac)
    seg_isthing = [False] + [cats.isthing[c] for c in gt["cat"][1:]]
    gid = _gt_ids(rng, cats, gt["cat"], seg_isthing)
    stats = _segment_stats(gt["lab"], len(gt["cat"]))
    gt_ids, gt_segments = _finalize(gt["lab"], gt["cat"], gt["crowd"], gid, stats)

    pred = _make_pred(rng, gt, cats, stats)
    pid = _fresh_ids(rng, len(pred.cat), [s["id"] for s in gt_segments])
    pred_ids, pred_segments = _finalize(pred.lab, pred.cat, [0] * len(pred.cat), pid)
    return gt_ids, gt_segments, pred_ids, pred_segments


def make_prediction(rng: np.random.Generator, gt_ids: np.ndarray, gt_segments, categories=None):
    """Derive an imperfect prediction from an existing ground truth (e.g. COCO's own).

    The same error model as :func:`make_image_pair` (shifted, eroded/dilated, dropped, merged,
    relabelled and added segments, noise) applied to a real annotation.

    Parameters
    ----------
    rng : numpy.random.Generator
    gt_ids : (H, W) integer array
        The GT id map (0 = void).
    gt_segments : list of dict
        Its COCO ``segments_info``; every segment must occur in ``gt_ids``.
    categories : list of dict, optional
        Defaults to COCO's 133 panoptic categories.

    Returns
    -------
    pred_ids, pred_segments
        As in :func:`make_image_pair`.
    """
    cats = categories if isinstance(categories, _Cats) else _Cats(categories)
    gt_ids = np.asarray(gt_ids)
    ids = np.array([int(s["id"]) for s in gt_segments], dtype=np.int64)
    order = np.argsort(ids)
    # internal label map: 0 = void, k + 1 = gt_segments[k]
    pos = np.searchsorted(ids[order], gt_ids)
    pos = np.minimum(pos, max(len(ids) - 1, 0))
    known = (gt_ids != 0) & (ids[order][pos] == gt_ids) if len(ids) else np.zeros(gt_ids.shape, bool)
    lab = np.where(known, order[pos] + 1, 0).astype(np.int32)
    gt = {"lab": lab, "cat": [0] + [int(s["category_id"]) for s in gt_segments],
          "crowd": [0] + [int(s.get("iscrowd", 0)) for s in gt_segments], "blobs": []}
    stats = _segment_stats(lab, len(gt["cat"]))
    pred = _make_pred(rng, gt, cats, stats)
    pid = _fresh_ids(rng, len(pred.cat), [int(i) for i in ids])
    return _finalize(pred.lab, pred.cat, [0] * len(pred.cat), pid)


@dataclass
class SyntheticDataset:
    """Paths of a dataset written by :func:`make_dataset`."""

    gt_json: str
    gt_folder: str
    pred_json: str
    pred_folder: str
    categories: List[dict]


def _size(rng, spec) -> int:
    if isinstance(spec, (int, np.integer)):
        return int(spec)
    lo, hi = int(spec[0]), int(spec[1])
    return int(rng.integers(lo, hi + 1))


def make_dataset(out_dir, n_images=10, height=480, width=640, seed=0, categories=None,
                 **pair_kwargs) -> SyntheticDataset:
    """Write a synthetic COCO panoptic ground truth and prediction to disk.

    Layout: ``out_dir/gt.json``, ``out_dir/gt/*.png``, ``out_dir/pred.json``,
    ``out_dir/pred/*.png``.  PNGs are 8-bit RGB with
    ``id = R + 256 * G + 256**2 * B``.  Image ids are 1..n_images and file
    names ``000000000001.png`` (``.jpg`` in ``images``).

    Parameters
    ----------
    out_dir : str or os.PathLike
        Created if missing; existing files with the same names are overwritten.
    n_images : int
        Number of images.
    height, width : int or (int, int)
        Image size; a ``(lo, hi)`` pair draws each image's size from that
        inclusive range.
    seed : int
        Seed; image ``i`` depends only on ``seed`` and ``i`` (not on
        ``n_images``).
    categories : list of dict, optional
        Categories to use and to write to the JSON files; COCO's 133 panoptic
        categories by default.
    **pair_kwargs
        Forwarded to :func:`make_image_pair` (``n_stuff``, ``n_things``,
        ``crowd_prob``, ``void_frac``).

    Returns
    -------
    SyntheticDataset
        String paths of the two JSON files and PNG folders, and the
        category list.
    """
    out_dir = os.fspath(out_dir)
    cat_list = default_categories() if categories is None else [dict(c) for c in categories]
    cats = _Cats(cat_list)
    gt_folder = os.path.join(out_dir, "gt")
    pred_folder = os.path.join(out_dir, "pred")
    os.makedirs(gt_folder, exist_ok=True)
    os.makedirs(pred_folder, exist_ok=True)

    images, gt_anns, pred_anns = [], [], []
    # one independent stream per image so image i does not depend on n_images
    children = np.random.SeedSequence(int(seed)).spawn(int(n_images))
    for i, ss in enumerate(children):
        rng = np.random.default_rng(ss)
        image_id = i + 1
        H, W = _size(rng, height), _size(rng, width)
        gt_ids, gt_segs, pred_ids, pred_segs = make_image_pair(rng, H, W, cats, **pair_kwargs)
        stem = "%012d" % image_id
        Image.fromarray(id2rgb(gt_ids)).save(os.path.join(gt_folder, stem + ".png"))
        Image.fromarray(id2rgb(pred_ids)).save(os.path.join(pred_folder, stem + ".png"))
        images.append({"id": image_id, "file_name": stem + ".jpg", "height": H, "width": W})
        gt_anns.append({"image_id": image_id, "file_name": stem + ".png", "segments_info": gt_segs})
        pred_anns.append({"image_id": image_id, "file_name": stem + ".png", "segments_info": pred_segs})

    gt_json = os.path.join(out_dir, "gt.json")
    pred_json = os.path.join(out_dir, "pred.json")
    for path, anns in ((gt_json, gt_anns), (pred_json, pred_anns)):
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"images": images, "annotations": anns, "categories": cat_list}, f)
    return SyntheticDataset(gt_json, gt_folder, pred_json, pred_folder, cat_list)


# --------------------------------------------------------------------------
# inputs of the panoptic merge (panopticapi's combine_predictions format)
# --------------------------------------------------------------------------
@dataclass
class SyntheticMergeInputs:
    """Paths written by :func:`make_merge_inputs` (panopticapi's combine inputs) + the GT."""

    semseg_json: str
    instseg_json: str
    images_json: str
    categories_json: str
    gt: SyntheticDataset


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def make_merge_instances(rng, gt_ids, gt_segments, categories=None):
    """Instance and semantic predictions (COCO RLE results) derived from one GT image.

    Exercises every branch of the merge heuristic: shifted / dilated / eroded instance masks,
    duplicates with lower scores (overlap filter), empty masks, equal scores (input-order ties),
    instances below the confidence threshold, stuff masks overlapping things, small stuff regions
    (area filter) and semantic masks of thing classes (ignored).

    Returns ``(instances, semantic)``: lists of dicts with ``category_id``, ``segmentation``
    (RLE with str counts) and, for instances, ``score``.
    """
    cats = categories if isinstance(categories, _Cats) else _Cats(categories)
    H, W = gt_ids.shape
    instances, semantic = [], []
    for seg in gt_segments:
        mask = gt_ids == seg["id"]
        dy, dx = (int(v) for v in rng.integers(-3, 4, 2))
        moved = np.zeros_like(mask)
        moved[max(0, dy):H + min(0, dy), max(0, dx):W + min(0, dx)] = \
            mask[max(0, -dy):H - max(0, dy), max(0, -dx):W - max(0, dx)]
        if rng.random() < 0.3:
            moved = _morph(moved, int(rng.integers(-2, 3)))
        if cats.isthing.get(seg["category_id"], False):
            score = float(np.round(rng.random(), 2))  # rounded: equal scores happen
            instances.append({"category_id": seg["category_id"], "segmentation": _rle(moved),
                              "score": score})
            if rng.random() < 0.3:  # a duplicate detection, lower score, slightly different
                dup = _morph(moved, int(rng.integers(-1, 2)))
                instances.append({"category_id": seg["category_id"], "segmentation": _rle(dup),
                                  "score": float(np.round(score * rng.uniform(0.5, 1.0), 2))})
            if rng.random() < 0.15:  # the same score twice
                instances.append({"category_id": seg["category_id"], "segmentation": _rle(moved),
                                  "score": score})
            if rng.random() < 0.2:  # the semantic model also predicts the thing class: ignored
                semantic.append({"category_id": seg["category_id"], "segmentation": _rle(mask)})
        else:
            semantic.append({"category_id": seg["category_id"], "segmentation": _rle(moved)})
    if len(cats.things):
        empty = {"category_id": int(cats.things[0]), "segmentation": _rle(np.zeros((H, W), bool)),
                 "score": 0.99}
        instances.insert(int(rng.integers(0, len(instances) + 1)), empty)
        for _ in range(int(rng.integers(0, 3))):  # random boxes: overlap everything
            y, x = int(rng.integers(0, H)), int(rng.integers(0, W))
            box = np.zeros((H, W), bool)
            box[y:y + int(rng.integers(1, H // 2 + 2)), x:x + int(rng.integers(1, W // 2 + 2))] = True
            instances.append({"category_id": int(rng.choice(cats.things)), "segmentation": _rle(box),
                              "score": float(np.round(rng.random(), 2))})
    if len(cats.stuff):  # a small stuff region, under the default area limit
        y, x = int(rng.integers(0, H)), int(rng.integers(0, W))
        small = np.zeros((H, W), bool)
        small[y:y + 20, x:x + 30] = True
        semantic.append({"category_id": int(rng.choice(cats.stuff)), "segmentation": _rle(small)})
    order = rng.permutation(len(instances))
    return [instances[i] for i in order], semantic


def make_merge_inputs(out_dir, n_images=10, height=480, width=640, seed=0, categories=None,
                      **pair_kwargs) -> SyntheticMergeInputs:
    """Writes a GT dataset (:func:`make_dataset`) and combine inputs predicted from it.

    Files in ``out_dir``: ``semseg.json`` and ``instseg.json`` (lists of COCO results with RLE
    ``segmentation``; instances carry ``score``), ``images.json`` (the ``images`` section),
    ``categories.json`` (a list), plus the GT (``gt.json``, ``gt/``).
    """
    out_dir = Path(out_dir)
    gt = make_dataset(out_dir, n_images=n_images, height=height, width=width, seed=seed,
                      categories=categories, **pair_kwargs)
    data = json.loads(Path(gt.gt_json).read_text())
    cats = _Cats(data["categories"])
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed + 7919).spawn(n_images)]
    inst_all, sem_all = [], []
    for rng, ann in zip(rngs, data["annotations"]):
        rgb = np.asarray(Image.open(Path(gt.gt_folder) / ann["file_name"]).convert("RGB"))
        ids = rgb2id(rgb)
        inst, sem = make_merge_instances(rng, ids, ann["segments_info"], cats)
        for r in inst + sem:
            r["image_id"] = ann["image_id"]
        inst_all += inst
        sem_all += sem
    paths = {name: out_dir / f"{name}.json" for name in ("semseg", "instseg", "images", "categories")}
    paths["semseg"].write_text(json.dumps(sem_all))
    paths["instseg"].write_text(json.dumps(inst_all))
    paths["images"].write_text(json.dumps({"images": data["images"]}))
    paths["categories"].write_text(json.dumps(data["categories"]))
    return SyntheticMergeInputs(str(paths["semseg"]), str(paths["instseg"]), str(paths["images"]),
                                str(paths["categories"]), gt)
