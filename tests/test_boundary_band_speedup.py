"""The streamed band counter (RgbBandCounter) keeps each column's run of deep rows as the row it
began and updates it only where a row's deep spans differ from the row above's: these maps
stress those updates (boundaries that drift, jump or swap ids between rows, one id in several
runs of a row, spans that appear, split, merge and vanish, repeated rows) against match_image
on the decoded maps, which computes the bands with a per-pixel scan."""
import numpy as np
import pytest
from test_boundary_stream import _raw
from test_boundary_stream import _tables as _stream_tables

from panoseg import _core

N_CAT = 3
ISTHING = np.array([1, 0, 1], np.uint8)


def _tables(rng, gt, pred):
    return _stream_tables(rng, gt, pred, N_CAT)


def _drifting(rng, h, w, k):
    """Vertical bands of labels whose edges drift by random steps per row (sometimes jumps),
    labels reused across bands, some rows repeated, some rows swapping two labels."""
    n = int(rng.integers(1, 7))
    edges = np.sort(rng.integers(0, w + 1, n)).astype(np.int64)
    labels = rng.integers(0, k, n + 1)
    m = np.empty((h, w), np.int64)
    for y in range(h):
        r = rng.random()
        if y and r < 0.2:
            m[y] = m[y - 1]  # a repeated row
            continue
        if r < 0.25:
            edges = np.sort(rng.integers(0, w + 1, n))  # a jump
        else:
            edges = np.sort(np.clip(edges + rng.integers(-2, 3, n), 0, w))
        if rng.random() < 0.05:
            labels = rng.integers(0, k, n + 1)  # ids change over deep columns
        row = np.repeat(labels, np.diff(np.concatenate([[0], edges, [w]])))
        m[y] = row
    return m


def _shapes(rng, h, w, k):
    """Random ellipses and rectangles painted over a background, labels reused."""
    m = np.full((h, w), int(rng.integers(0, k)), np.int64)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(int(rng.integers(1, 12))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(1, h / 2), rng.uniform(1, w / 2)
        if rng.random() < 0.5:
            inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        else:
            inside = (abs(yy - cy) <= ry) & (abs(xx - cx) <= rx)
        m[inside] = int(rng.integers(0, k))
    return m


def _ids(labels, rng):
    lut = np.concatenate([[0], rng.choice(np.arange(1, 1 << 24), 16, replace=False)])
    return lut[labels].astype(np.uint32)


def _stream(g, p, h, w, args, d, step):
    m = _core.PngPairMatcher(h, w, *args, ISTHING, dilation=d)
    for k in range(0, max(len(g), len(p)), step):
        m.feed(g[k:k + step], p[k:k + step])
    return m.finish()


def _check(gt, pred, rng, dilations):
    h, w = gt.shape
    args = _tables(rng, gt, pred)
    g, p = _raw(gt, rng), _raw(pred, rng)
    for d in dilations:
        want = _core.match_image(gt, pred, *args, ISTHING, dilation=d)
        got = _stream(g, p, h, w, args, d, int(rng.integers(1, 3 * (3 * w + 1))))
        assert want.keys() == got.keys()
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{key} d={d}")


@pytest.mark.parametrize("seed", range(40))
def test_drifting_and_painted_maps(seed):
    rng = np.random.default_rng(1000 + seed)
    h, w = (int(v) for v in rng.integers(8, 90, 2))
    k = int(rng.integers(2, 6))
    make = _drifting if seed % 2 else _shapes
    gt = make(rng, h, w, k)
    pred = make(rng, h, w, k) if rng.random() < 0.5 else np.roll(gt, int(rng.integers(-3, 4)), 1)
    top = (min(h, w) - 1) // 2
    ds = sorted({d for d in (1, 2, 3, 4, 7, int(rng.integers(1, top + 1)), top) if 1 <= d <= top})
    _check(_ids(gt, rng), _ids(pred, rng), rng, ds)


def test_spans_split_merge_and_vanish():
    """Hand-made rows: one id in two runs that merge, a run that splits, a span that shrinks
    below 2d + 1 columns and comes back, an id replaced over its whole deep span."""
    rows = [
        [1] * 30 + [2] * 10 + [1] * 30,
        [1] * 70,
        [1] * 70,
        [1] * 35 + [3] * 2 + [1] * 33,
        [1] * 20 + [3] * 40 + [1] * 10,
        [4] * 70,
        [4] * 5 + [1] * 60 + [4] * 5,
        [1] * 70,
        [1] * 31 + [0] * 8 + [1] * 31,
    ]
    rng = np.random.default_rng(7)
    lab = np.array([rows[(y // 3) % len(rows)] for y in range(60)], np.int64)
    for d in (1, 2, 3, 5, 9, 14):
        _check(_ids(lab, rng), _ids(np.roll(lab, 1, 0), rng), rng, [d])
