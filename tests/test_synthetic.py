"""Tests for the synthetic COCO-panoptic dataset generator."""

import io
import json
import os
import time
from contextlib import redirect_stdout

import numpy as np
import pytest
from PIL import Image

from panoseg.testing import synthetic
from panoseg.testing.synthetic import SyntheticDataset, make_dataset, make_image_pair

COCO_CATS = synthetic.default_categories()
CAT_BY_ID = {c["id"]: c for c in COCO_CATS}


def _decode_png(path):
    img = Image.open(path)
    assert img.mode == "RGB"
    rgb = np.asarray(img, dtype=np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def _check_segments(ids, segments, cat_by_id, *, is_pred):
    """Assert the COCO invariants between an id map and its segments_info."""
    assert ids.dtype == np.uint32
    seg_ids = [s["id"] for s in segments]
    assert len(seg_ids) == len(set(seg_ids)), "segment ids must be unique"
    present = set(np.unique(ids).tolist()) - {0}
    assert present == set(seg_ids), "ids in map and list differ"
    stuff_seen = []
    for s in segments:
        assert set(s) == {"id", "category_id", "iscrowd", "area", "bbox"}
        for key in ("id", "category_id", "iscrowd", "area"):
            assert type(s[key]) is int, (key, type(s[key]))
        assert all(type(v) is int for v in s["bbox"])
        assert 0 < s["id"] < 2 ** 24
        assert s["category_id"] in cat_by_id
        mask = ids == s["id"]
        assert s["area"] == int(mask.sum()) > 0
        ys, xs = np.nonzero(mask)
        x0, y0 = int(xs.min()), int(ys.min())
        assert s["bbox"] == [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]
        isthing = cat_by_id[s["category_id"]]["isthing"] == 1
        if s["iscrowd"]:
            assert not is_pred, "predictions must not contain crowd segments"
            assert isthing, "crowd only on thing categories"
        else:
            assert s["iscrowd"] == 0
        if not isthing:
            stuff_seen.append(s["category_id"])
    if not is_pred:
        assert len(stuff_seen) == len(set(stuff_seen)), "a stuff category appears twice in the GT"


def _match(gt_ids, gt_segs, pred_ids, pred_segs, cat_by_id):
    """PQ-style matching (as in panopticapi) that also reports error kinds."""
    gt = {s["id"]: s for s in gt_segs}
    pr = {s["id"]: s for s in pred_segs}
    key = gt_ids.astype(np.uint64) * (1 << 24) + pred_ids.astype(np.uint64)
    u, n = np.unique(key, return_counts=True)
    inter = {(int(k) >> 24, int(k) & 0xFFFFFF): int(c) for k, c in zip(u, n)}
    out = dict(tp=0, fn=0, fp=0, ignored_fp=0, merges=0, relabels=0, imperfect_tp=0,
               pred_void=int((pred_ids == 0).sum()), gt_void=int((gt_ids == 0).sum()),
               crowd=sum(s["iscrowd"] for s in gt_segs))
    gm, pm = set(), set()
    for (g, p), i in inter.items():
        if g not in gt or p not in pr:
            continue
        union = pr[p]["area"] + gt[g]["area"] - i - inter.get((0, p), 0)
        iou = i / union
        if gt[g]["category_id"] != pr[p]["category_id"]:
            if iou > 0.5:
                out["relabels"] += 1
            continue
        if gt[g]["iscrowd"]:
            continue
        if iou > 0.5:
            out["tp"] += 1
            out["imperfect_tp"] += iou < 0.999
            gm.add(g)
            pm.add(p)
    crowd_by_cat = {}
    for g, s in gt.items():
        if s["iscrowd"]:
            crowd_by_cat.setdefault(s["category_id"], []).append(g)
        elif g not in gm:
            out["fn"] += 1
    for p, s in pr.items():
        # a prediction covering most of two same-category GT things is a merge
        covering = [g for g in gt if gt[g]["category_id"] == s["category_id"] and not gt[g]["iscrowd"]
                    and inter.get((g, p), 0) > 0.5 * gt[g]["area"]]
        out["merges"] += len(covering) >= 2
        if p in pm:
            continue
        ign = inter.get((0, p), 0) + sum(inter.get((g, p), 0) for g in crowd_by_cat.get(s["category_id"], []))
        if ign / s["area"] > 0.5:
            out["ignored_fp"] += 1
        else:
            out["fp"] += 1
    return out


# ---------------------------------------------------------------------------
# make_image_pair
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(12))
def test_pair_consistency(seed):
    rng = np.random.default_rng(seed)
    gt_ids, gt_segs, pred_ids, pred_segs = make_image_pair(rng, 120, 160)
    assert gt_ids.shape == pred_ids.shape == (120, 160)
    _check_segments(gt_ids, gt_segs, CAT_BY_ID, is_pred=False)
    _check_segments(pred_ids, pred_segs, CAT_BY_ID, is_pred=True)
    # predictions use fresh ids
    assert not {s["id"] for s in gt_segs} & {s["id"] for s in pred_segs}


@pytest.mark.parametrize("hw", [(1, 1), (2, 3), (7, 5), (17, 300), (300, 17), (64, 64), (481, 641)])
def test_pair_odd_sizes(hw):
    for seed in range(4):
        g, gs, p, ps = make_image_pair(np.random.default_rng(seed), *hw)
        assert g.shape == p.shape == hw
        _check_segments(g, gs, CAT_BY_ID, is_pred=False)
        _check_segments(p, ps, CAT_BY_ID, is_pred=True)


def test_pair_default_shape_counts():
    g, gs, p, ps = make_image_pair(np.random.default_rng(3), 480, 640)
    stuff = [s for s in gs if not CAT_BY_ID[s["category_id"]]["isthing"]]
    things = [s for s in gs if CAT_BY_ID[s["category_id"]]["isthing"] and not s["iscrowd"]]
    assert 2 <= len(stuff) <= 6
    assert 1 <= len(things) <= 15
    assert 0.02 <= (g == 0).mean() <= 0.1  # void_frac=0.05 roughly


def test_determinism():
    a = make_image_pair(np.random.default_rng(123), 96, 128)
    b = make_image_pair(np.random.default_rng(123), 96, 128)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[2], b[2])
    assert a[1] == b[1] and a[3] == b[3]
    c = make_image_pair(np.random.default_rng(124), 96, 128)
    assert not np.array_equal(a[0], c[0])


def test_custom_categories_and_options():
    cats = [
        {"id": 1, "name": "a", "isthing": 1},
        {"id": 2, "name": "b", "isthing": 1, "color": [10, 20, 30]},
        {"id": 10, "name": "s1", "isthing": 0},
        {"id": 11, "name": "s2", "isthing": 0},
    ]
    cat_by_id = {c["id"]: c for c in cats}
    for seed in range(10):
        g, gs, p, ps = make_image_pair(np.random.default_rng(seed), 80, 90, cats, n_stuff=(2, 6),
                                       n_things=5, crowd_prob=0.5, void_frac=0.0)
        _check_segments(g, gs, cat_by_id, is_pred=False)
        _check_segments(p, ps, cat_by_id, is_pred=True)
        assert not (g == 0).any(), "void_frac=0 with stuff coverage leaves no void"
    # only things: background is void
    g, gs, p, ps = make_image_pair(np.random.default_rng(0), 50, 50, cats[:2])
    _check_segments(g, gs, cat_by_id, is_pred=False)
    assert (g == 0).any()
    # only stuff
    g, gs, p, ps = make_image_pair(np.random.default_rng(0), 50, 50, cats[2:])
    _check_segments(g, gs, cat_by_id, is_pred=False)
    _check_segments(p, ps, cat_by_id, is_pred=True)
    assert all(s["iscrowd"] == 0 for s in gs)


def test_error_situations_across_seeds():
    totals = {}
    images_with = {}
    for seed in range(20):
        g, gs, p, ps = make_image_pair(np.random.default_rng(seed), 240, 320)
        r = _match(g, gs, p, ps, CAT_BY_ID)
        for k, v in r.items():
            totals[k] = totals.get(k, 0) + v
            images_with[k] = images_with.get(k, 0) + (v > 0)
    assert images_with["crowd"] >= 2
    assert images_with["gt_void"] == 20
    assert images_with["pred_void"] >= 15
    assert images_with["fn"] >= 5
    assert images_with["fp"] >= 5
    assert images_with["ignored_fp"] >= 3
    assert totals["merges"] >= 2
    assert totals["relabels"] >= 2
    assert totals["imperfect_tp"] >= 0.9 * totals["tp"] > 0
    # predictions are imperfect but mostly right
    assert totals["tp"] > totals["fn"] and totals["tp"] > totals["fp"]


def test_speed():
    rng = np.random.default_rng(0)
    make_image_pair(rng, 480, 640)
    t = time.perf_counter()
    for _ in range(5):
        make_image_pair(rng, 480, 640)
    # the target is well under 50 ms; this bound only catches gross regressions
    assert (time.perf_counter() - t) / 5 < 0.25


# ---------------------------------------------------------------------------
# make_dataset
# ---------------------------------------------------------------------------
def test_make_dataset_roundtrip(tmp_path):
    ds = make_dataset(tmp_path / "ds", n_images=3, height=60, width=80, seed=5)
    assert isinstance(ds, SyntheticDataset)
    for path in (ds.gt_json, ds.gt_folder, ds.pred_json, ds.pred_folder):
        assert isinstance(path, str)
    assert ds.gt_json == os.path.join(str(tmp_path / "ds"), "gt.json")
    assert ds.gt_folder == os.path.join(str(tmp_path / "ds"), "gt")
    assert ds.pred_json == os.path.join(str(tmp_path / "ds"), "pred.json")
    assert ds.pred_folder == os.path.join(str(tmp_path / "ds"), "pred")
    assert len(ds.categories) == 133

    children = np.random.SeedSequence(5).spawn(3)
    for json_path, folder, idx in ((ds.gt_json, ds.gt_folder, 0), (ds.pred_json, ds.pred_folder, 2)):
        with open(json_path) as f:
            d = json.load(f)
        assert set(d) >= {"images", "annotations", "categories"}
        assert [im["id"] for im in d["images"]] == [1, 2, 3]
        assert d["images"][0] == {"id": 1, "file_name": "000000000001.jpg", "height": 60, "width": 80}
        assert len(d["categories"]) == 133
        for ann, child in zip(d["annotations"], children):
            assert ann["file_name"] == "%012d.png" % ann["image_id"]
            ids = _decode_png(os.path.join(folder, ann["file_name"]))
            _check_segments(ids, ann["segments_info"], CAT_BY_ID, is_pred=folder == ds.pred_folder)
            # the PNG holds exactly what make_image_pair produced
            pair = make_image_pair(np.random.default_rng(child), 60, 80)
            np.testing.assert_array_equal(ids, pair[idx])
            assert ann["segments_info"] == pair[idx + 1]


def test_make_dataset_prefix_stable_and_sizes(tmp_path):
    a = make_dataset(tmp_path / "a", n_images=2, height=(30, 50), width=(40, 60), seed=9)
    b = make_dataset(tmp_path / "b", n_images=3, height=(30, 50), width=(40, 60), seed=9)
    with open(a.gt_json) as f:
        ja = json.load(f)
    with open(b.gt_json) as f:
        jb = json.load(f)
    assert ja["images"] == jb["images"][:2]
    assert ja["annotations"] == jb["annotations"][:2]
    for im in jb["images"]:
        assert 30 <= im["height"] <= 50 and 40 <= im["width"] <= 60
        ids = _decode_png(os.path.join(b.gt_folder, "%012d.png" % im["id"]))
        assert ids.shape == (im["height"], im["width"])


def test_make_dataset_custom_categories(tmp_path):
    cats = [{"id": 1, "name": "a", "isthing": 1, "color": [1, 2, 3]},
            {"id": 7, "name": "s", "isthing": 0, "color": [9, 9, 9]}]
    ds = make_dataset(str(tmp_path), n_images=2, height=32, width=32, categories=cats, n_things=(1, 3))
    with open(ds.pred_json) as f:
        d = json.load(f)
    assert d["categories"] == cats == ds.categories
    for ann in d["annotations"]:
        assert {s["category_id"] for s in ann["segments_info"]} <= {1, 7}


def test_panopticapi_pq_in_range(tmp_path):
    pq_compute = pytest.importorskip("panopticapi.evaluation").pq_compute

    ds = make_dataset(tmp_path / "pq", n_images=4, seed=0)
    with redirect_stdout(io.StringIO()):
        res = pq_compute(ds.gt_json, ds.pred_json, ds.gt_folder, ds.pred_folder)
    assert 0.2 < res["All"]["pq"] < 0.95
    assert res["Things"]["n"] > 0 and res["Stuff"]["n"] > 0
