"""The core's Boundary PQ (``_core.boundary_band``, ``_core.match_image(dilation=d)``) and its
semantic segmentation counts (``sem_inter / sem_gt / sem_pred``).

Checked against boundary-iou-api itself (Cheng et al. 2021; a copy in tests/reference, not part of
the package): the band flags against ``mask_to_boundary`` of every segment's mask (cv2), the
per-image matching against ``coco_panoptic_api.evaluation.pq_compute_single_core`` run on PNG
files, and the one place panoseg deliberately differs (the reference's BOUNDARY_ID collision).
The semantic counts against a plain numpy model of hotcoco's conventions.
"""
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import panoseg._core as core
from panoseg.testing.synthetic import default_categories, make_image_pair

REFERENCE = str(Path(__file__).parent / "reference" / "boundary-iou-api")
cv2 = pytest.importorskip("cv2")


def _reference():
    if not os.path.isdir(REFERENCE):
        pytest.skip("boundary-iou-api reference not available")
    if REFERENCE not in sys.path:
        sys.path.insert(0, REFERENCE)
    try:
        from boundary_iou.coco_panoptic_api import evaluation
        from boundary_iou.utils.boundary_utils import mask_to_boundary
    except ImportError as e:  # pycocotools / panopticapi / PIL missing
        pytest.skip(f"boundary-iou-api not importable: {e}")
    return evaluation, mask_to_boundary


def _ratio_for(d, h, w):
    """A dilation_ratio for which the reference's int(round(ratio * diagonal)) is d."""
    diag = np.sqrt(h ** 2 + w ** 2)
    ratio = d / diag
    assert max(1, int(round(ratio * diag))) == d
    return ratio


# ------------------------------------------------------------------------------ random maps


def _blocky(rng, h, w, k):
    """A random id map (values 0..k-1) of blocks of random sizes, thin strips and dots."""
    bh, bw = int(rng.integers(1, max(2, h // 2 + 1))), int(rng.integers(1, max(2, w // 2 + 1)))
    small = rng.integers(0, k, (-(-h // bh), -(-w // bw)))
    m = np.kron(small, np.ones((bh, bw), np.int64))[:h, :w].copy()
    for _ in range(int(rng.integers(0, 4))):  # thin strips, one-pixel segments
        if rng.random() < 0.5:
            m[int(rng.integers(0, h)), :] = rng.integers(0, k)
        else:
            m[:, int(rng.integers(0, w))] = rng.integers(0, k)
        m[int(rng.integers(0, h)), int(rng.integers(0, w))] = rng.integers(0, k)
    if rng.random() < 0.2:
        m = rng.integers(0, k, (h, w))  # noise
    return m


SHAPES = [(1, 1), (1, 9), (9, 1), (1, 40), (40, 1), (2, 2), (3, 17), (17, 3), (5, 5), (8, 13),
          (16, 16), (23, 31), (31, 23), (48, 64)]


def _band_reference(mask_to_boundary, id_map, d):
    h, w = id_map.shape
    ratio = _ratio_for(d, h, w)
    out = np.zeros((h, w), np.uint8)
    for i in np.unique(id_map):
        out |= mask_to_boundary((id_map == i).astype(np.uint8), ratio)
    return out


@pytest.mark.parametrize("shape", SHAPES)
def test_band_flags_equal_mask_to_boundary(shape):
    _, mask_to_boundary = _reference()
    rng = np.random.default_rng(hash(shape) % 2 ** 32)
    h, w = shape
    for trial in range(30):
        id_map = _blocky(rng, h, w, int(rng.integers(1, 6))).astype(np.uint32) * 7
        for d in (1, 2, 3, 7, max(h, w) + 1, 1000):
            expected = _band_reference(mask_to_boundary, id_map, d)
            got = core.boundary_band(id_map, d)
            assert got.dtype == np.uint8 and got.shape == (h, w)
            np.testing.assert_array_equal(got, expected, err_msg=f"{shape} d={d}\n{id_map}")


def test_band_edge_cases():
    for h, w in ((0, 0), (0, 5), (5, 0)):
        assert core.boundary_band(np.zeros((h, w), np.uint32), 1).shape == (h, w)
    m = np.ones((9, 9), np.uint32)
    # only the centre is at distance > 3 from outside the image; 2d + 1 = 9 fits exactly
    expected = np.ones((9, 9), np.uint8)
    expected[4, 4] = 0
    np.testing.assert_array_equal(core.boundary_band(m, 4), expected)
    assert core.boundary_band(m, 5).all()
    np.testing.assert_array_equal(core.boundary_band(m, 3), _layer(9, 3))
    assert core.boundary_band(m, (1 << 31) - 1).all()
    for bad in (0, -1, 1 << 31, 1 << 70):
        with pytest.raises(ValueError):
            core.boundary_band(m, bad)
    with pytest.raises(TypeError):
        core.boundary_band(m, 1.5)


def _layer(n, d):
    out = np.ones((n, n), np.uint8)
    out[d:n - d, d:n - d] = 0
    return out


def test_band_pixel_counts_and_unchanged_plain_keys():
    _, mask_to_boundary = _reference()
    rng = np.random.default_rng(5)
    for trial in range(40):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        gt_l, pred_l = _blocky(rng, h, w, 6), _blocky(rng, h, w, 6)
        gt_map, gt_ids = _relabel(gt_l, rng)
        pred_map, pred_ids = _relabel(pred_l, rng)
        args = _tables(rng, gt_map, gt_ids, pred_ids, 3)
        d = int(rng.choice([1, 2, 3, 7, 100]))
        plain = core.match_image(gt_map, pred_map, *args)
        both = core.match_image(gt_map, pred_map, *args, dilation=d)
        assert not any(k.startswith("b_") or "band" in k for k in plain)
        for k, v in plain.items():
            np.testing.assert_array_equal(both[k], v)
        for ids, id_map, key in ((gt_ids, gt_map, "gt_band_pixels"),
                                 (pred_ids, pred_map, "pred_band_pixels")):
            ratio = _ratio_for(d, h, w)
            expected = [int(mask_to_boundary((id_map == i).astype(np.uint8), ratio).sum())
                        for i in ids]
            assert both[key].dtype == np.int64
            assert both[key].tolist() == expected


def _relabel(labels, rng, avoid=()):
    """Label map -> (id map, ids): label 0 stays VOID, the others get distinct random ids."""
    labels = np.asarray(labels)
    present = [int(v) for v in np.unique(labels) if v != 0]
    pool = rng.choice(np.arange(1, 5000), size=len(present) + len(avoid) + 1, replace=False)
    pool = [int(v) for v in pool if int(v) not in set(avoid)][:len(present)]
    lut = np.zeros(int(labels.max()) + 1 if labels.size else 1, np.uint32)
    for lab, i in zip(present, pool):
        lut[lab] = i
    return lut[labels].astype(np.uint32), np.array(pool, np.uint32)


def _tables(rng, gt_map, gt_ids, pred_ids, n_cat, crowd=0.2):
    gt_cat = rng.integers(0, n_cat, len(gt_ids)).astype(np.int32)
    gt_crowd = (rng.random(len(gt_ids)) < crowd).astype(np.uint8)
    gt_area = np.array([(gt_map == i).sum() for i in gt_ids], np.float64)
    pred_cat = rng.integers(0, n_cat, len(pred_ids)).astype(np.int32)
    return gt_ids, gt_cat, gt_crowd, gt_area, pred_ids, pred_cat, n_cat


# --------------------------------------------------------------- the reference's image loop


def _write_png(path, id_map):
    from PIL import Image
    Image.fromarray(core.id2rgb(id_map)).save(path)


def _reference_image(tmp_path, gt_map, gt_segments, pred_map, pred_segments, categories,
                     ratio):
    """pq_compute_single_core of boundary-iou-api on one image pair (PNG files in tmp_path):
    {category id: (tp, fp, fn, iou)}."""
    evaluation, _ = _reference()
    for name in ("gt", "pred"):
        (tmp_path / name).mkdir(exist_ok=True)
    _write_png(tmp_path / "gt" / "x.png", gt_map)
    _write_png(tmp_path / "pred" / "x.png", pred_map)
    gt_ann = {"image_id": 1, "file_name": "x.png",
              "segments_info": json.loads(json.dumps(gt_segments))}
    pred_ann = {"image_id": 1, "file_name": "x.png",
                "segments_info": json.loads(json.dumps(pred_segments))}
    cats = {c["id"]: c for c in categories}
    devnull = open(os.devnull, "w")
    stdout, sys.stdout = sys.stdout, devnull
    try:
        stat = evaluation.pq_compute_single_core(0, [(gt_ann, pred_ann)], str(tmp_path / "gt"),
                                                 str(tmp_path / "pred"), cats, "boundary", ratio)
    finally:
        sys.stdout = stdout
        devnull.close()
    return {c: (s.tp, s.fp, s.fn, s.iou) for c, s in stat.pq_per_cat.items()}


def _core_image(gt_map, gt_segments, pred_map, pred_segments, categories, d):
    index = {c["id"]: k for k, c in enumerate(categories)}
    gt_ids = np.array([s["id"] for s in gt_segments], np.uint32)
    r = core.match_image(
        gt_map, pred_map, gt_ids, np.array([index[s["category_id"]] for s in gt_segments], np.int32),
        np.array([s["iscrowd"] for s in gt_segments], np.uint8),
        np.array([s["area"] for s in gt_segments], np.float64),
        np.array([s["id"] for s in pred_segments], np.uint32),
        np.array([index[s["category_id"]] for s in pred_segments], np.int32), len(categories),
        dilation=d)
    return r


def _compare(tmp_path, gt_map, gt_segments, pred_map, pred_segments, categories):
    h, w = gt_map.shape
    for ratio in (0.0, 0.02, 0.05, 0.2, 3.0):
        d = max(1, int(round(ratio * math.sqrt(h * h + w * w))))
        ref = _reference_image(tmp_path, gt_map, gt_segments, pred_map, pred_segments,
                               categories, ratio)
        r = _core_image(gt_map, gt_segments, pred_map, pred_segments, categories, d)
        for k, c in enumerate(categories):
            tp, fp, fn, iou = ref.get(c["id"], (0, 0, 0, 0.0))
            got = (int(r["b_tp"][k]), int(r["b_fp"][k]), int(r["b_fn"][k]))
            assert got == (tp, fp, fn), (c["id"], d, got, (tp, fp, fn))
            assert r["b_iou_sum"][k] == iou, (c["id"], d)  # same order of summation: exact
        _check_consistent(r, gt_segments, categories)
        yield r


def _check_consistent(r, gt_segments, categories):
    """The per-segment arrays agree with the per-category counts."""
    index = {c["id"]: k for k, c in enumerate(categories)}
    gt_cat = np.array([index[s["category_id"]] for s in gt_segments], np.int64)
    matched = r["b_gt_match"] >= 0
    assert matched.sum() == r["b_tp"].sum() == (r["b_pred_match"] >= 0).sum()
    np.testing.assert_allclose(np.bincount(gt_cat[matched], r["b_gt_match_iou"][matched],
                                           len(categories)), r["b_iou_sum"], rtol=1e-12)
    assert (r["b_gt_match_iou"][matched] > 0.5).all() and (r["b_gt_match_iou"][~matched] == 0).all()
    # a boundary match is a mask match with at least as large a mask IoU
    for g in np.nonzero(matched)[0]:
        p = r["b_gt_match"][g]
        assert r["b_pred_match"][p] == g
        assert r["gt_match"][g] == p and r["gt_match_iou"][g] >= r["b_gt_match_iou"][g]
    assert r["b_pred_ignored"].dtype == np.bool_
    assert not (r["b_pred_ignored"] & (r["b_pred_match"] >= 0)).any()


CATS = [{"id": 1, "isthing": 1}, {"id": 2, "isthing": 1}, {"id": 5, "isthing": 0},
        {"id": 9, "isthing": 0}]  # BOUNDARY_ID of the reference: 10


def _random_pair(rng, h, w):
    """A GT with VOID, crowd, thin and one-pixel segments; a prediction made from it (shifted,
    eroded, relabelled, merged, noisy) so that boundary and mask IoUs cross 0.5 both ways."""
    gt_l = _blocky(rng, h, w, int(rng.integers(2, 8)))
    pred_l = gt_l.copy()
    if rng.random() < 0.5:
        pred_l = np.roll(pred_l, int(rng.integers(-2, 3)), axis=int(rng.integers(0, 2)))
    noise = rng.random((h, w)) < rng.choice([0.0, 0.02, 0.1])
    pred_l[noise] = rng.integers(0, 8, int(noise.sum()))
    if rng.random() < 0.3:
        pred_l[pred_l == rng.integers(0, 8)] = rng.integers(0, 8)
    gt_map, gt_ids = _relabel(gt_l, rng, avoid=(10,))
    pred_map, pred_ids = _relabel(pred_l * 3 + 1 if rng.random() < 0.3 else pred_l, rng,
                                  avoid=(10,))
    # categories: the prediction mostly agrees with the GT segment it came from
    gt_segments = []
    label_cat = rng.integers(0, len(CATS), 64)
    for i in gt_ids:
        lab = int(gt_l[gt_map == i][0])
        gt_segments.append({"id": int(i), "category_id": CATS[label_cat[lab]]["id"],
                            "iscrowd": int(rng.random() < 0.15),
                            "area": int((gt_map == i).sum())})
    pred_segments = []
    for i in pred_ids:
        c = int(rng.integers(0, len(CATS))) if rng.random() < 0.15 else \
            label_cat[int(pred_l[pred_map == i][0]) % 64]
        pred_segments.append({"id": int(i), "category_id": CATS[c]["id"], "iscrowd": 0})
    return gt_map, gt_segments, pred_map, pred_segments


def test_match_image_equals_the_reference_on_random_maps(tmp_path):
    _reference()
    rng = np.random.default_rng(13)
    n_tp = 0
    for trial in range(40):
        h, w = (int(v) for v in rng.integers(1, 48, 2))
        pair = _random_pair(rng, h, w)
        for r in _compare(tmp_path, *pair, CATS):
            n_tp += int(r["b_tp"].sum())
    assert n_tp > 50  # the cases do exercise matches


def test_match_image_equals_the_reference_on_generated_images(tmp_path):
    _reference()
    rng = np.random.default_rng(7)
    categories = default_categories()
    boundary_id = max(c["id"] for c in categories) + 1
    n_tp = n_mask_only = 0
    for trial in range(6):
        gt_map, gt_segments, pred_map, pred_segments = make_image_pair(rng, 60, 80)
        ids = [s["id"] for s in gt_segments + pred_segments]
        assert boundary_id not in ids
        for r in _compare(tmp_path, gt_map, gt_segments, pred_map, pred_segments, categories):
            n_tp += int(r["b_tp"].sum())
            n_mask_only += int(r["tp"].sum() - r["b_tp"].sum())
    assert n_tp > 10 and n_mask_only > 0


def test_reference_boundary_id_collision(tmp_path):
    """The reference marks interiors with max category id + 1 and takes later segments' masks
    from that map: a segment with that id collides. panoseg computes every band from the real
    id: it equals the reference with the segment renumbered."""
    _reference()
    gt_map = np.zeros((20, 30), np.uint32)
    gt_map[:, :20] = 4
    gt_map[:, 20:] = 10  # == max category id (9) + 1
    pred_map = np.where(gt_map == 4, 21, 22).astype(np.uint32)
    # The reference takes 10's mask as its pixels + 4's interior (already marked 10): a band of
    # 56 + 68 pixels, of which the prediction's (56) covers too little.
    gt_segments = [{"id": 4, "category_id": 5, "iscrowd": 0, "area": 400},
                   {"id": 10, "category_id": 9, "iscrowd": 0, "area": 200}]
    pred_segments = [{"id": 21, "category_id": 5, "iscrowd": 0},
                     {"id": 22, "category_id": 9, "iscrowd": 0}]
    ratio = 0.02  # d = 1
    ref = _reference_image(tmp_path, gt_map, gt_segments, pred_map, pred_segments, CATS, ratio)
    r = _core_image(gt_map, gt_segments, pred_map, pred_segments, CATS, 1)
    assert r["b_tp"].tolist() == [0, 0, 1, 1] and r["b_iou_sum"].tolist() == [0, 0, 1.0, 1.0]
    assert ref[9][:3] == (0, 1, 1)  # the reference misses segment 10 (its band is too large)
    renumbered = np.where(gt_map == 10, 11, gt_map).astype(np.uint32)
    seg2 = [dict(gt_segments[0]), dict(gt_segments[1], id=11)]
    ref2 = _reference_image(tmp_path, renumbered, seg2, pred_map, pred_segments, CATS, ratio)
    for k, c in enumerate(CATS):
        tp, fp, fn, iou = ref2.get(c["id"], (0, 0, 0, 0.0))
        assert (r["b_tp"][k], r["b_fp"][k], r["b_fn"][k], r["b_iou_sum"][k]) == (tp, fp, fn, iou)


def test_boundary_match_by_hand():
    # 6 x 6 GT square in a 10 x 10 image of stuff; the prediction one column wider.
    gt = np.full((10, 10), 1, np.uint32)
    gt[2:8, 2:8] = 2
    pred = np.full((10, 10), 7, np.uint32)
    pred[2:8, 2:9] = 8
    args = (np.array([1, 2], np.uint32), np.array([1, 0], np.int32), np.zeros(2, np.uint8),
            np.array([64.0, 36.0]), np.array([7, 8], np.uint32), np.array([1, 0], np.int32), 2)
    r = core.match_image(gt, pred, *args, dilation=1)
    # square: mask IoU 36/42; bands (d = 1) 20 and 22 pixels, 16 shared
    assert r["gt_band_pixels"].tolist() == [64, 20]  # the stuff: all of it (frame + ring)
    assert r["pred_band_pixels"][1] == 22
    b_square = 16 / (20 + 22 - 16)
    assert r["b_gt_match_iou"][1] == pytest.approx(min(36 / 42, b_square))
    assert r["b_tp"][0] == (b_square > 0.5)
    r2 = core.match_image(gt, pred, *args, dilation=50)  # all band: Boundary PQ = mask PQ
    for k in ("tp", "fp", "fn", "iou_sum", "gt_match", "pred_match", "pred_ignored"):
        np.testing.assert_array_equal(r2["b_" + k], r2[k])
    np.testing.assert_array_equal(r2["gt_band_pixels"], r2["gt_pixels"])


def test_dilation_argument():
    m = np.ones((4, 4), np.uint32)
    args = (np.array([1], np.uint32), np.zeros(1, np.int32), np.zeros(1, np.uint8),
            np.array([16.0]), np.array([1], np.uint32), np.zeros(1, np.int32), 1)
    assert "b_tp" not in core.match_image(m, m, *args, dilation=0)
    r = core.match_image(m, m, *args, dilation=(1 << 31) - 1)
    assert r["b_tp"].tolist() == [1] and r["gt_band_pixels"].tolist() == [16]
    for bad in (-1, 1 << 31, 1 << 80):
        with pytest.raises(ValueError):
            core.match_image(m, m, *args, dilation=bad)
    z = np.zeros((0, 3), np.uint32)
    r = core.match_image(z, z, *args[:4], np.zeros(0, np.uint32), np.zeros(0, np.int32), 1,
                         dilation=2)
    assert r["b_fn"].tolist() == [1] and r["gt_band_pixels"].tolist() == [0]


# ------------------------------------------------------------------------- semantic counts


def _semantic_model(gt_map, gt_ids, gt_cat, pred_map, pred_ids, pred_cat, n_cat):
    gt_lut = {int(i): int(c) for i, c in zip(gt_ids, gt_cat)}
    pred_lut = {int(i): int(c) for i, c in zip(pred_ids, pred_cat)}
    cg = np.array([gt_lut.get(int(v), -1) for v in gt_map.ravel()], np.int64)
    cp = np.array([pred_lut.get(int(v), -1) for v in pred_map.ravel()], np.int64)
    keep = cg >= 0
    cg, cp = cg[keep], cp[keep]
    sem_gt = np.bincount(cg, minlength=n_cat)
    sem_pred = np.bincount(cp[cp >= 0], minlength=n_cat)
    sem_inter = np.bincount(cg[cg == cp], minlength=n_cat)
    return sem_inter, sem_gt, sem_pred


def test_semantic_counts_equal_the_numpy_model():
    rng = np.random.default_rng(3)
    for trial in range(60):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        gt_map, gt_ids = _relabel(_blocky(rng, h, w, 7), rng)
        pred_map, pred_ids = _relabel(_blocky(rng, h, w, 7), rng)
        args = _tables(rng, gt_map, gt_ids, pred_ids, 4, crowd=0.3)
        isthing = rng.integers(0, 2, 4).astype(np.uint8)
        r = core.match_image(gt_map, pred_map, *args, isthing,
                             dilation=int(rng.integers(0, 3)))
        expected = _semantic_model(gt_map, args[0], args[1], pred_map, args[4], args[5], 4)
        for key, e in zip(("sem_inter", "sem_gt", "sem_pred"), expected):
            assert r[key].dtype == np.int64
            np.testing.assert_array_equal(r[key], e, err_msg=key)
        assert "sem_gt" not in core.match_image(gt_map, pred_map, *args)


def test_semantic_counts_from_png_paths():
    """match_png and PngPairMatcher return the same counts as match_image."""
    import zlib
    rng = np.random.default_rng(11)
    for trial in range(10):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        gt_map, gt_ids = _relabel(_blocky(rng, h, w, 6), rng)
        pred_map, pred_ids = _relabel(_blocky(rng, h, w, 6), rng)
        args = _tables(rng, gt_map, gt_ids, pred_ids, 3)
        isthing = np.array([1, 0, 1], np.uint8)
        r = core.match_image(gt_map, pred_map, *args, isthing)
        graw = bytes(zlib.decompress(zlib.compress(core.png_filtered_scanlines(gt_map))))
        praw = bytes(core.png_filtered_scanlines(pred_map))
        r_png = core.match_png(graw, praw, h, w, *args, isthing)
        m = core.PngPairMatcher(h, w, *args, isthing)
        m.feed(graw[:5], praw[:3])
        m.feed(graw[5:], praw[3:])
        r_stream = m.finish()
        for key in ("sem_inter", "sem_gt", "sem_pred"):
            np.testing.assert_array_equal(r_png[key], r[key])
            np.testing.assert_array_equal(r_stream[key], r[key])


def test_unknown_ids_and_bad_tables_with_dilation():
    """The one-pass count behind dilation >= 1 reports what count_pairs reports."""
    gt = np.array([[1, 1, 5, 5], [1, 1, 5, 0], [6, 1, 1, 0]], np.uint32)
    pred = np.array([[2, 2, 2, 9], [2, 2, 0, 0], [2, 2, 2, 2]], np.uint32)
    args = (np.array([1], np.uint32), np.zeros(1, np.int32), np.zeros(1, np.uint8),
            np.array([5.0]), np.array([2], np.uint32), np.zeros(1, np.int32), 1)
    plain = core.match_image(gt, pred, *args)
    for d in (1, 2):
        r = core.match_image(gt, pred, *args, dilation=d)
        assert r["unknown_gt"].tolist() == [5, 6] and r["unknown_pred"].tolist() == [9]
        for k, v in plain.items():
            np.testing.assert_array_equal(r[k], v)
    for bad_ids, side, index in ((np.array([1, 1], np.uint32), "gt", 1),
                                 (np.array([0, 3], np.uint32), "gt", 0)):
        a = (bad_ids, np.zeros(2, np.int32), np.zeros(2, np.uint8), np.ones(2)) + args[4:]
        for d in (0, 1):
            with pytest.raises(core.TableError) as e:
                core.match_image(gt, pred, *a, dilation=d)
            assert (e.value.side, e.value.index) == (side, index)


def test_large_tables_use_the_sparse_count():
    """Over 2^20 (GT x prediction) cells the tables are hash maps: same results."""
    rng = np.random.default_rng(1)
    h, w = 64, 80
    gt_l = np.arange(h * w).reshape(h, w) // 3 % 1500 + 1
    pred_l = np.roll(gt_l, 1, axis=1)
    gt_map, gt_ids = _relabel(gt_l, rng)
    pred_map, pred_ids = _relabel(pred_l, rng)
    args = _tables(rng, gt_map, gt_ids, pred_ids, 2)
    r = core.match_image(gt_map, pred_map, *args, dilation=1)
    band = core.boundary_band(gt_map, 1).astype(bool)
    assert r["gt_band_pixels"].tolist() == [int((band & (gt_map == i)).sum()) for i in gt_ids]
    plain = core.match_image(gt_map, pred_map, *args)
    for k, v in plain.items():
        np.testing.assert_array_equal(r[k], v)


def test_large_dilation_paths():
    """d = 255 (run ends of the last d + 1 rows kept) and d = 256 (rows compared again) on an
    image where both leave interior pixels."""
    rng = np.random.default_rng(2)
    h, w = 530, 540
    gt_l = np.zeros((h, w), np.int64)
    gt_l[:, :] = 1
    gt_l[:10, :10] = 2
    gt_l[520:, 530:] = 3
    gt_l[3:6, 100:400] = 4
    pred_l = np.roll(gt_l, 2, axis=0)
    pred_l[:2, :] = 0
    gt_map, gt_ids = _relabel(gt_l, rng)
    pred_map, pred_ids = _relabel(pred_l, rng)
    args = (gt_ids, np.zeros(len(gt_ids), np.int32), np.zeros(len(gt_ids), np.uint8),
            np.array([(gt_map == i).sum() for i in gt_ids], np.float64), pred_ids,
            np.zeros(len(pred_ids), np.int32), 1)
    plain = core.match_image(gt_map, pred_map, *args)
    for d in (255, 256):
        r = core.match_image(gt_map, pred_map, *args, dilation=d)
        for ids, id_map, key in ((gt_ids, gt_map, "gt_band_pixels"),
                                 (pred_ids, pred_map, "pred_band_pixels")):
            band = core.boundary_band(id_map, d).astype(bool)
            assert not band.all()
            assert r[key].tolist() == [int((band & (id_map == i)).sum()) for i in ids]
        for k, v in plain.items():
            np.testing.assert_array_equal(r[k], v)
    # the band intersection through the boundary IoU: one matched segment, checked by hand
    gband = core.boundary_band(gt_map, 255).astype(bool)
    pband = core.boundary_band(pred_map, 255).astype(bool)
    r = core.match_image(gt_map, pred_map, *args, dilation=255)
    for g in np.nonzero(r["b_gt_match"] >= 0)[0]:
        p = r["b_gt_match"][g]
        gm, pm = gt_map == gt_ids[g], pred_map == pred_ids[p]
        bi = (gband & gm & pband & pm).sum()
        bu = (gband & gm).sum() + (pband & pm).sum() - bi - (pband & pm & (gt_map == 0)).sum()
        mi = (gm & pm).sum() / (args[3][g] + pm.sum() - (gm & pm).sum() - (pm & (gt_map == 0)).sum())
        assert r["b_gt_match_iou"][g] == min(mi, bi / bu)
