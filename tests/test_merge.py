"""The panoptic merge: equal to panopticapi's combine (up to segment-id relabeling),
deterministic, GluonCV-exact mask pasting, clear errors."""
import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import panoseg
from panoseg.merge import (combine_predictions, installed_pass_order, merge_panoptic,
                           paste_masks, rle_to_mask)
from panoseg.testing.synthetic import _rle, make_merge_inputs

from conftest import DATA
from gluoncv_reference import gluoncv_fill

try:
    from panopticapi.combine_semantic_and_instance_predictions import combine_predictions as reference
except ImportError:  # numpy >= 2 leg
    reference = None
needs_panopticapi = pytest.mark.skipif(reference is None, reason="panopticapi not installed")
CATEGORIES = json.loads((DATA / "panoptic_coco_categories.json").read_text())


def run_reference(inp, folder, conf, overlap, limit):
    with contextlib.redirect_stdout(io.StringIO()):
        reference(inp.semseg_json, inp.instseg_json, inp.images_json, inp.categories_json,
                  str(folder), str(folder) + ".json", conf, overlap, limit)
    return json.loads(Path(str(folder) + ".json").read_text())


def assert_same_partition(ours_folder, ours_json, ref_folder, ref_json):
    """Same pixel partition and same category on every pixel; segment ids may differ."""
    ref_by_image = {a["image_id"]: a for a in ref_json["annotations"]}
    for ann in ours_json["annotations"]:
        ref = ref_by_image[ann["image_id"]]
        ours_ids = panoseg.read_ids(Path(ours_folder) / ann["file_name"])
        ref_ids = panoseg.read_ids(Path(ref_folder) / ref["file_name"])
        pairs = np.unique(np.stack([ours_ids.ravel(), ref_ids.ravel()]), axis=1)
        assert len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1], ann["image_id"]
        cat_ours = {s["id"]: s["category_id"] for s in ann["segments_info"]}
        cat_ref = {s["id"]: s["category_id"] for s in ref["segments_info"]}
        for a, b in pairs.T:
            assert (a == 0) == (b == 0)
            if a:
                assert cat_ours[int(a)] == cat_ref[int(b)]
        # our segments_info describes our PNG exactly (panopticapi's may list empty segments)
        present = set(np.unique(ours_ids).tolist()) - {0}
        assert present == set(cat_ours)
        for s in ann["segments_info"]:
            mask = ours_ids == s["id"]
            ys, xs = np.nonzero(mask)
            assert s["area"] == mask.sum()
            assert s["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


@needs_panopticapi
@pytest.mark.parametrize("height,width,seed,thresholds", [
    (240, 320, 0, (0.5, 0.5, 64 * 64)),
    (480, 640, 1, (0.5, 0.5, 64 * 64)),
    (97, 131, 2, (0.3, 0.2, 100)),
    (200, 150, 3, (0.0, 0.9, 0)),
    (120, 160, 4, (0.7, 0.0, 500)),
])
def test_equal_to_panopticapi(tmp_path, height, width, seed, thresholds):
    inp = make_merge_inputs(tmp_path, n_images=6, height=height, width=width, seed=seed)
    ref = run_reference(inp, tmp_path / "ref", *thresholds)
    ours = combine_predictions(inp.semseg_json, inp.instseg_json, inp.images_json,
                               inp.categories_json, tmp_path / "ours", tmp_path / "ours.json",
                               *thresholds, workers=2)
    assert ours == json.loads((tmp_path / "ours.json").read_text())
    assert [a["image_id"] for a in ours["annotations"]] == [a["image_id"] for a in ref["annotations"]]
    assert_same_partition(tmp_path / "ours", ours, tmp_path / "ref", ref)


def test_deterministic_across_runs_and_workers(tmp_path):
    inp = make_merge_inputs(tmp_path, n_images=8, height=90, width=120, seed=5)
    outputs = []
    for k, workers in enumerate((1, 3, 3)):
        folder = tmp_path / f"run{k}"
        out = combine_predictions(inp.semseg_json, inp.instseg_json, inp.images_json,
                                  inp.categories_json, folder, str(folder) + ".json", workers=workers)
        pngs = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
        outputs.append((out["annotations"], pngs))
    assert outputs[0] == outputs[1] == outputs[2]
    ids = [s["id"] for a in outputs[0][0] for s in a["segments_info"]]
    assert all(0 < i < 2**24 for i in ids)
    for a in outputs[0][0]:
        assert len({s["id"] for s in a["segments_info"]}) == len(a["segments_info"])


def coco_sample_as_predictions(tmp_path):
    """The COCO sample GT as perfect combine inputs: things -> instances, stuff -> semantic."""
    gt = json.loads((DATA / "panoptic_examples.json").read_text())
    isthing = {c["id"]: c["isthing"] for c in gt["categories"]}
    inst, sem = [], []
    for ann in gt["annotations"]:
        ids = panoseg.read_ids(DATA / "panoptic_examples" / ann["file_name"])
        for s in ann["segments_info"]:
            r = {"image_id": ann["image_id"], "category_id": s["category_id"],
                 "segmentation": _rle(ids == s["id"])}
            if isthing[s["category_id"]]:
                inst.append(dict(r, score=1.0))
            else:
                sem.append(r)
    paths = {}
    for name, data in (("semseg", sem), ("instseg", inst), ("images", {"images": gt["images"]}),
                       ("categories", gt["categories"])):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(data))
    return paths


@pytest.mark.parametrize("limit", [0, 64 * 64, 20000])
def test_coco_sample_round_trip(tmp_path, limit):
    """GT -> detection + semantic form -> merge gives back the GT partition.

    The GT masks do not overlap, so every instance (score 1.0) is kept whole and every stuff
    mask keeps all its pixels: the partition is exactly the original one and PQ = 1.0 (the
    crowd segments come back as ordinary segments, which PQ ignores because they lie on the GT
    crowd region of their own category). The sample's smallest stuff segment has 8,204 px, so
    the default stuff_area_limit (4096) drops nothing either; with 20000 the stuff segments
    under 20000 px become VOID: exactly those are false negatives, nothing else changes.
    """
    p = coco_sample_as_predictions(tmp_path)
    out = combine_predictions(p["semseg"], p["instseg"], p["images"], p["categories"],
                              tmp_path / "merged", tmp_path / "merged.json", 0.5, 0.5, limit)
    evaluation = panoseg.evaluate(DATA / "panoptic_examples.json", tmp_path / "merged.json",
                                  gt_folder=DATA / "panoptic_examples", pred_folder=tmp_path / "merged")
    gt = json.loads((DATA / "panoptic_examples.json").read_text())
    stuff = {c["id"] for c in gt["categories"] if not c["isthing"]}
    small = sum(1 for a in gt["annotations"] for s in a["segments_info"]
                if s["category_id"] in stuff and s["area"] < limit)
    assert int(evaluation.stats.fp.sum()) == 0
    assert int(evaluation.stats.fn.sum()) == small
    assert evaluation.results["Things"]["pq"] == 1.0
    if small == 0:
        assert evaluation.results["All"]["pq"] == 1.0
        for ann, gt_ann in zip(out["annotations"], gt["annotations"]):
            ours = panoseg.read_ids(tmp_path / "merged" / ann["file_name"])
            orig = panoseg.read_ids(DATA / "panoptic_examples" / gt_ann["file_name"])
            pairs = np.unique(np.stack([ours.ravel(), orig.ravel()]), axis=1)
            assert pairs.shape[1] == len(np.unique(orig)) == len(np.unique(ours))
    else:
        assert limit == 20000 and evaluation.results["All"]["pq"] < 1.0


# ---------------------------------------------------------------------------------------------
# Mask pasting: bit-identical to GluonCV's fill (fast_fill=True)
# ---------------------------------------------------------------------------------------------

@st.composite
def paste_cases(draw):
    m = draw(st.one_of(st.integers(1, 30), st.integers(60, 100)))  # > 64: several bit words
    n = draw(st.integers(1, 4))
    width, height = draw(st.integers(1, 90)), draw(st.integers(1, 90))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    probs = rng.random((n, m, m)).astype(np.float32)
    kind = draw(st.sampled_from(["uniform", "blob", "near-half", "quarters", "huge"]))
    if kind == "blob":  # smooth blobs, like real mask heads
        yy, xx = np.mgrid[0:m, 0:m]
        probs = np.exp(-((yy - m / 2) ** 2 + (xx - m / 2) ** 2) / (2 * (m / 4 + 0.5) ** 2))
        probs = np.repeat(probs[None].astype(np.float32), n, axis=0)
    elif kind == "near-half":  # every output within the float32 pass's margin: all exact
        probs = (0.5 + (probs - 0.5) * 1e-5).astype(np.float32)
    elif kind == "quarters":  # outputs landing exactly on 0.5
        probs = (rng.integers(0, 3, (n, m, m)) * 0.25).astype(np.float32)
    elif kind == "huge":  # magnitudes where float32 sums could overflow, and negatives
        probs = ((probs - 0.3) * 1e32).astype(np.float32)
    x1 = rng.uniform(-30, width + 10, n)
    y1 = rng.uniform(-30, height + 10, n)
    scale = draw(st.sampled_from([0.3, 1.0, 5.0, 40.0]))
    boxes = np.stack([x1, y1, x1 + rng.uniform(0, scale * m, n), y1 + rng.uniform(0, scale * m, n)], 1)
    if draw(st.booleans()):
        boxes = np.round(boxes * 2) / 2  # half-integers: the rounding edge cases
    return probs, boxes.astype(np.float32), (width, height)


@given(paste_cases())
@settings(max_examples=150, deadline=None)
def test_paste_is_bit_identical_to_gluoncv(case):
    probs, boxes, size = case
    expected = gluoncv_fill(probs, boxes, size)
    assert np.array_equal(paste_masks(probs, boxes, size), expected)
    # the interval forms the merge uses, row-major and column-major
    from panoseg import _core

    w, h = size
    for column_major in (False, True):
        offsets, intervals = _core.paste_intervals(probs, boxes, h, w, column_major, 1,
                                                   installed_pass_order() == "pillow13")
        for k, mask in enumerate(expected):
            flat = np.zeros(h * w, np.uint8)
            for b, e in intervals[2 * offsets[k]:2 * offsets[k + 1]].reshape(-1, 2):
                flat[b:e] = 1
            got = flat.reshape(w, h).T if column_major else flat.reshape(h, w)
            assert np.array_equal(got, mask)


@given(paste_cases(), st.sampled_from(["pillow13", "horizontal-first"]))
@settings(max_examples=100, deadline=None)
def test_paste_follows_each_pillow_pass_order(case, order):
    """Pillow 13 runs the vertical pass first when the height shrinks more than the width;
    older Pillow (and Pillow-SIMD 12.1) always run the horizontal one first. Both are
    reproduced, whichever Pillow is installed (the reference composes one-dimensional resizes
    in that order)."""
    probs, boxes, size = case
    expected = gluoncv_fill(probs, boxes, size, pass_order=order)
    assert np.array_equal(paste_masks(probs, boxes, size, pass_order=order), expected)


def test_pass_order_matters_and_the_installed_pillow_is_followed():
    """A mask whose outputs land on 0.5 in one order and above it in the other."""
    rng = np.random.default_rng(7)
    probs = (0.5 + (rng.random((1, 34, 34)) - 0.5) * 1e-5).astype(np.float32)
    boxes = np.array([[3.3629634, -2.5176888, 138.41139, 27.951714]], np.float32)  # shrinks in y
    size = (73, 16)
    old, new = (paste_masks(probs, boxes, size, pass_order=o)
                for o in ("horizontal-first", "pillow13"))
    assert not np.array_equal(old, new)
    assert np.array_equal(old, gluoncv_fill(probs, boxes, size, pass_order="horizontal-first"))
    assert np.array_equal(new, gluoncv_fill(probs, boxes, size, pass_order="pillow13"))
    assert np.array_equal(paste_masks(probs, boxes, size), gluoncv_fill(probs, boxes, size))
    with pytest.raises(ValueError, match="pass_order"):
        paste_masks(probs, boxes, size, pass_order="vertical")


def test_paste_of_samples_near_float32_max():
    """The float32 pass overflows (inf * 0 = NaN) near FLT_MAX; those outputs are computed
    exactly, like every output of a mask above 1e30."""
    probs = np.full((1, 6, 6), np.finfo(np.float32).max, np.float32)
    boxes = np.array([[5, 5, 6.48, 10]], np.float32)
    for order in ("pillow13", "horizontal-first"):
        expected = gluoncv_fill(probs, boxes, (40, 40), pass_order=order)
        assert expected.any()
        assert np.array_equal(paste_masks(probs, boxes, (40, 40), pass_order=order), expected)


def _large_paste_batch(n=120, seed=3):
    rng = np.random.default_rng(seed)
    probs = rng.random((n, 28, 28)).astype(np.float32)
    x1, y1 = rng.uniform(-50, 600, n), rng.uniform(-50, 440, n)
    w, h = rng.uniform(1, 400, (2, n))
    boxes = np.stack([x1, y1, x1 + w, y1 + h], 1).astype(np.float32)
    return probs, boxes


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_threaded_paste_equals_single_thread_and_gluoncv(threads):
    """Large batches are split over threads; the output must not depend on it."""
    from panoseg import _core

    probs, boxes = _large_paste_batch()
    expected = gluoncv_fill(probs, boxes, (640, 480))
    assert np.array_equal(paste_masks(probs, boxes, (640, 480), workers=threads), expected)
    for column_major in (False, True):
        one = _core.paste_intervals(probs, boxes, 480, 640, column_major, 1)
        many = _core.paste_intervals(probs, boxes, 480, 640, column_major, threads)
        assert np.array_equal(one[0], many[0]) and np.array_equal(one[1], many[1])
        assert len(one[0]) == len(probs) + 1


@pytest.mark.parametrize("threads", [1, 2])
def test_paste_masks_rle_equals_pycocotools_encode_of_gluoncv(threads):
    """The RLE form: what COCO results get from GluonCV's fill + pycocotools.mask.encode."""
    from pycocotools import mask as mask_utils

    from panoseg.merge import paste_masks_rle

    probs, boxes = _large_paste_batch()
    expected = gluoncv_fill(probs, boxes, (640, 480))
    rles = paste_masks_rle(probs, boxes, (640, 480), workers=threads)
    assert len(rles) == len(expected)
    for rle, mask in zip(rles, expected):
        ref = mask_utils.encode(np.asfortranarray(mask))
        assert rle == {"size": ref["size"], "counts": ref["counts"].decode("ascii")}
    assert paste_masks_rle(probs[:0], boxes[:0], (640, 480)) == []


def test_core_rle_encoding_equals_pycocotools():
    """Touching runs (a column's last pixel, the next column's first), masks starting at pixel 0
    or ending on the last one, empty and full masks: the strings pycocotools makes."""
    from pycocotools import mask as mask_utils

    from panoseg import _core
    from panoseg.io.rle import intervals_to_rles

    h, w = 5, 4
    masks = [np.zeros((h, w), np.uint8), np.ones((h, w), np.uint8)]
    touching = np.zeros((h, w), np.uint8)
    touching[h - 1, 0] = touching[0, 1] = touching[1, 1] = 1
    masks.append(touching)
    corners = np.zeros((h, w), np.uint8)
    corners[0, 0] = corners[h - 1, w - 1] = 1
    masks.append(corners)
    rng = np.random.default_rng(0)
    masks += [(rng.random((h, w)) < p).astype(np.uint8) for p in (0.2, 0.5, 0.9) for _ in range(5)]
    offsets, runs = [0], []
    for m in masks:
        flat = np.concatenate(([0], m.T.ravel(), [0]))
        edges = np.flatnonzero(np.diff(flat))
        runs += edges.tolist()
        offsets.append(len(runs) // 2)
    # split one run in two touching halves: still one run for pycocotools
    offsets_split, runs_split = [0, 1], [0, 7]
    got = intervals_to_rles(np.array(offsets), np.array(runs), h, w)
    for rle, m in zip(got, masks):
        ref = mask_utils.encode(np.asfortranarray(m))
        assert rle == {"size": [h, w], "counts": ref["counts"].decode("ascii")}
    split = _core.runs_to_rle_strings(np.array([0, 2]), np.array([0, 3, 3, 7]), h * w)
    assert split == _core.runs_to_rle_strings(np.array(offsets_split), np.array(runs_split), h * w)
    for bad in ([0, 3, 2, 7], [3, 3], [0, 21], [-1, 2]):
        with pytest.raises(ValueError, match="mask 0"):
            _core.runs_to_rle_strings(np.array([0, len(bad) // 2]), np.array(bad), h * w)
    with pytest.raises(ValueError, match="runs"):
        _core.runs_to_rle_strings(np.array([0, 5]), np.array([0, 1]), h * w)


def test_threaded_paste_reports_the_first_bad_mask():
    from panoseg import _core

    probs, boxes = _large_paste_batch()
    probs[90, 3, 4] = np.nan
    boxes[100, 2] = boxes[100, 0] - 5
    with pytest.raises(ValueError, match="instance 90: mask"):
        paste_masks(probs, boxes, (640, 480), workers=2)
    with pytest.raises(ValueError, match="instance 90: mask"):
        _core.paste_intervals(probs, boxes, 480, 640, False, 2)
    with pytest.raises(ValueError, match="threads"):
        _core.paste_intervals(probs, boxes, 480, 640, False, 0)


def test_paste_against_installed_gluoncv():
    fill = pytest.importorskip("gluoncv.data.transforms.mask").fill
    rng = np.random.default_rng(0)
    probs = rng.random((20, 28, 28)).astype(np.float32)
    boxes = np.sort(rng.uniform(0, 400, (20, 4)).astype(np.float32).reshape(20, 2, 2), axis=1)
    boxes = boxes.transpose(0, 2, 1).reshape(20, 4)[:, [0, 2, 1, 3]]
    assert np.array_equal(paste_masks(probs, boxes, (640, 480)), fill(probs, boxes, (640, 480)))


def test_array_api_mask_forms_agree():
    rng = np.random.default_rng(3)
    h, w, n = 60, 80, 6
    probs = rng.random((n, 14, 14)).astype(np.float32)
    x1, y1 = rng.uniform(0, w - 20, n), rng.uniform(0, h - 20, n)
    boxes = np.stack([x1, y1, x1 + 25, y1 + 18], 1).astype(np.float32)
    scores = np.round(rng.random(n), 1)
    cats = [1, 2, 1, 3, 1, 2]
    dense = paste_masks(probs, boxes, (w, h))
    semantic = np.full((h, w), 184)  # tree-merged (stuff)
    semantic[:, :20] = 1  # a thing class in the semantic map: ignored
    kwargs = dict(scores=scores, category_ids=cats, semantic=semantic, stuff_area_limit=10)
    by_boxes = merge_panoptic(CATEGORIES, h, w, boxes=boxes, mask_probs=probs, **kwargs)
    by_masks = merge_panoptic(CATEGORIES, h, w, masks=dense, **kwargs)
    by_rles = merge_panoptic(CATEGORIES, h, w, rles=[_rle(m) for m in dense], **kwargs)
    for other in (by_masks, by_rles):
        assert np.array_equal(other.id_map, by_boxes.id_map)
        assert other.segments_info == by_boxes.segments_info
    stuff = [s for s in by_boxes.segments_info if not s["isthing"]]
    assert [s["category_id"] for s in stuff] == [184]
    assert stuff[0]["id"] == panoseg.rgb2id(next(c["color"] for c in CATEGORIES if c["id"] == 184))
    assert not np.any(np.isin(by_boxes.id_map[:, :20], [stuff[0]["id"]]))


def test_merge_rules_by_hand():
    """Score order, ties in input order, the overlap filter, empty masks, the stuff limit."""
    h, w = 10, 10
    a = np.zeros((h, w), bool); a[0:4, 0:4] = True          # 16 px
    b = np.zeros((h, w), bool); b[2:6, 2:6] = True          # 16 px, 4 px on a
    c = np.zeros((h, w), bool); c[0:4, 0:3] = True          # fully on a: dropped
    empty = np.zeros((h, w), bool)
    masks = np.stack([b, a, c, empty, a])
    r = merge_panoptic(CATEGORIES, h, w, masks=masks, scores=[0.8, 0.9, 0.7, 0.99, 0.9],
                       category_ids=[1, 1, 1, 1, 2], semantic=np.full((h, w), 184),
                       stuff_area_limit=55)
    things = [s for s in r.segments_info if s["isthing"]]
    # a (0.9, first of the tie) then the second a (0.9, fully covered: dropped), then b (4/16 covered)
    assert [(s["category_id"], s["score"], s["area"]) for s in things] == [(1, 0.9, 16), (1, 0.8, 12)]
    assert [s["area"] for s in r.segments_info if not s["isthing"]] == [100 - 28]
    r2 = merge_panoptic(CATEGORIES, h, w, masks=masks, scores=[0.8, 0.9, 0.7, 0.99, 0.9],
                        category_ids=[1, 1, 1, 1, 2], semantic=np.full((h, w), 184),
                        stuff_area_limit=73, overlap_thr=0.25, confidence_thr=0.85)
    # only scores >= 0.85: the empty mask (skipped), a, and a again (fully covered: dropped)
    assert [s["score"] for s in r2.segments_info if s["isthing"]] == [0.9]
    assert [s["area"] for s in r2.segments_info if not s["isthing"]] == [84]
    r3 = merge_panoptic(CATEGORIES, h, w, masks=masks, scores=[0.8, 0.9, 0.7, 0.99, 0.9],
                        category_ids=[1, 1, 1, 1, 2], semantic=np.full((h, w), 184),
                        stuff_area_limit=85, confidence_thr=0.85)
    assert [s["isthing"] for s in r3.segments_info] == [1]  # 84 px of stuff < 85: VOID
    assert np.count_nonzero(r3.id_map) == 16


def numpy_merge(masks, scores, cats, stuff_masks, stuff_cats, isthing, conf, overlap, limit):
    """The heuristic on a plain numpy canvas (labels = 1-based instance / 1000+stuff index)."""
    h, w = masks.shape[1:]
    canvas = np.zeros((h, w), np.int64)
    kept = [k for k in np.argsort(-np.asarray(scores), kind="stable") if scores[k] >= conf]
    segments = []
    for k in kept:
        area = masks[k].sum()
        if area == 0:
            continue
        taken = (masks[k] & (canvas != 0)).sum()
        if taken / area > overlap or taken == area:
            continue
        canvas[masks[k] & (canvas == 0)] = k + 1
        segments.append(("thing", cats[k], k))
    for j, m in enumerate(stuff_masks):
        if isthing[stuff_cats[j]]:
            continue
        left = m & (canvas == 0)
        if left.sum() < limit or left.sum() == 0:
            continue
        canvas[left] = 1000 + stuff_cats[j]  # one segment per stuff category
        if ("stuff", stuff_cats[j]) not in [s[:2] for s in segments]:
            segments.append(("stuff", stuff_cats[j], j))
    return canvas, segments


@st.composite
def merge_cases(draw):
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, m = draw(st.integers(0, 7)), draw(st.integers(0, 5))

    def blob():
        mask = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(0, 3))):
            y, x = rng.integers(0, h), rng.integers(0, w)
            mask[y:y + rng.integers(1, h + 1), x:x + rng.integers(1, w + 1)] = True
        return mask

    masks = np.array([blob() for _ in range(n)], bool).reshape(n, h, w)
    stuff = np.array([blob() for _ in range(m)], bool).reshape(m, h, w)
    scores = np.round(rng.random(n), 1).tolist()
    things = [1, 2, 3]
    stuffs = [184, 187, 193, 3]  # 3: a thing class in the semantic prediction (ignored)
    cats = [int(rng.choice(things)) for _ in range(n)]
    stuff_cats = [int(rng.choice(stuffs)) for _ in range(m)]
    thr = (draw(st.sampled_from([0.0, 0.3, 0.5])), draw(st.sampled_from([0.0, 0.25, 0.5, 1.0])),
           draw(st.sampled_from([0, 3, 20])))
    return h, w, masks, scores, cats, stuff, stuff_cats, thr


@given(merge_cases())
@settings(max_examples=200, deadline=None)
def test_merge_equals_numpy_model(case):
    """The run-list merge of the core against the heuristic on a numpy canvas, pixel for pixel."""
    h, w, masks, scores, cats, stuff, stuff_cats, (conf, overlap, limit) = case
    isthing = {c["id"]: c["isthing"] for c in CATEGORIES}
    canvas, segments = numpy_merge(masks, scores, cats, stuff, stuff_cats, isthing, conf, overlap, limit)
    for form in ("masks", "rles"):
        kwargs = {"masks": masks} if form == "masks" else {"rles": [_rle(m) for m in masks]}
        if not len(masks):
            kwargs = {}
        sem = dict(semantic_rles=[_rle(m) for m in stuff], semantic_category_ids=stuff_cats) \
            if len(stuff) else {}
        r = merge_panoptic(CATEGORIES, h, w, scores=scores, category_ids=cats, confidence_thr=conf,
                           overlap_thr=overlap, stuff_area_limit=limit, **kwargs, **sem)
        pairs = np.unique(np.stack([r.id_map.ravel(), canvas.ravel()]), axis=1)
        assert len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]
        assert [(("thing" if s["isthing"] else "stuff"), s["category_id"]) for s in r.segments_info] \
            == [s[:2] for s in segments]
        for s in r.segments_info:
            ys, xs = np.nonzero(r.id_map == s["id"])
            assert s["area"] == len(ys) > 0
            assert s["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_rle_decoding_matches_pycocotools(h, w, seed):
    from pycocotools import mask as mask_utils

    mask = np.random.default_rng(seed).random((h, w)) < 0.4
    rle = _rle(mask)
    assert np.array_equal(rle_to_mask(rle, h, w), mask_utils.decode(rle))
    uncompressed = mask_utils.frPyObjects({"size": [h, w], "counts": list(_runs(mask))}, h, w)
    assert np.array_equal(rle_to_mask({"size": [h, w], "counts": list(_runs(mask))}, h, w),
                          mask_utils.decode(uncompressed))


def _runs(mask):
    """Uncompressed COCO RLE counts (column-major, starting with zeros)."""
    flat = mask.T.ravel()
    counts, value, run = [], False, 0
    for v in flat:
        if v == value:
            run += 1
        else:
            counts.append(run)
            value, run = v, 1
    counts.append(run)
    return counts


def test_merged_pngs_decode_the_same_with_pillow(tmp_path):
    """The merge writes its PNG scanlines itself (Up filter from the run list): any reader agrees."""
    from PIL import Image

    inp = make_merge_inputs(tmp_path, n_images=3, height=70, width=90, seed=8)
    out = combine_predictions(inp.semseg_json, inp.instseg_json, inp.images_json,
                              inp.categories_json, tmp_path / "m", tmp_path / "m.json")
    for ann in out["annotations"]:
        path = tmp_path / "m" / ann["file_name"]
        ids = panoseg.rgb2id(np.asarray(Image.open(path).convert("RGB")))
        assert np.array_equal(ids, panoseg.read_ids(path))
        assert set(np.unique(ids).tolist()) - {0} == {s["id"] for s in ann["segments_info"]}


def test_tools_merge_script(tmp_path):
    """tools/merge.py (which leaves by os._exit after flushing): the API's outputs, its summary
    on stdout; bad input: status 1 and one line on stderr, no output."""
    import subprocess
    import sys

    i = make_merge_inputs(tmp_path / "in", n_images=3, height=40, width=50, seed=5)
    args = ["--semseg_json_file", i.semseg_json, "--instseg_json_file", i.instseg_json,
            "--images_json_file", i.images_json, "--categories_json_file", i.categories_json]
    script = [sys.executable, str(Path(__file__).resolve().parents[1] / "tools" / "merge.py")]
    proc = subprocess.run(script + args + ["--panoptic_json_file", str(tmp_path / "t.json"),
                                           "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("merged 3 images")
    ref = combine_predictions(i.semseg_json, i.instseg_json, i.images_json, i.categories_json,
                              tmp_path / "r", tmp_path / "r.json")
    assert json.loads((tmp_path / "t.json").read_text()) == ref
    for ann in ref["annotations"]:
        assert np.array_equal(panoseg.read_ids(tmp_path / "t" / ann["file_name"]),
                              panoseg.read_ids(tmp_path / "r" / ann["file_name"]))
    (tmp_path / "bad.json").write_text("[{}]")
    args[1] = str(tmp_path / "bad.json")
    proc = subprocess.run(script + args + ["--panoptic_json_file", str(tmp_path / "b.json")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "b.json").exists()
