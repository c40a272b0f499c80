"""Property tests of the PQ matching kernel and the additive statistics.

An independent, plain-numpy model of panopticapi's per-image rules (``pq_compute_single_core``)
is checked against :class:`panoseg.PQEvaluator` on small random blocky images, plus invariants,
additivity / merging / pickling of the statistics, and end-to-end agreement with panopticapi.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import pickle
import tempfile
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import panoseg
from panoseg import PQEvaluator, PQStats

try:  # the reference; absent on test legs with numpy >= 2
    from panopticapi.evaluation import pq_compute as panopticapi_pq_compute
except ImportError:  # pragma: no cover - depends on the test leg
    panopticapi_pq_compute = None

VOID = 0
OFFSET = 256 * 256 * 256
MAX_ID = 2 ** 24 - 1

# Deliberately not sorted by id and mixing things / stuff, so dense indices != ids.
CATEGORIES = [
    {"id": 50, "name": "sky", "isthing": 0},
    {"id": 1, "name": "person", "isthing": 1},
    {"id": 7, "name": "dog", "isthing": 1},
    {"id": 2, "name": "car", "isthing": 1},
    {"id": 51, "name": "grass", "isthing": 0},
]
CAT_IDS = [c["id"] for c in CATEGORIES]
THING = {c["id"]: bool(c["isthing"]) for c in CATEGORIES}

GT_PALETTE = [0, 1, 2, 3, 7, 255, 256, 65535, 65536, 1234567, MAX_ID - 1, MAX_ID]
PRED_PALETTE = [0, 1, 4, 5, 200, 511, 70000, 9999999, MAX_ID]

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# The model: panopticapi's pq_compute_single_core rules for one image, in plain numpy.
# ---------------------------------------------------------------------------------------------

@dataclass
class ModelResult:
    stats: dict          # category id -> [tp, fp, fn, iou_sum]
    gt_matched: dict     # gt id -> (pred id, iou)  (last match wins, as a dict update would)
    pred_matched: dict   # pred id -> gt id
    pred_ignored: set    # unmatched pred ids mostly on VOID / crowd


def model_image(gt_map, gt_segs, pred_map, pred_segs) -> ModelResult:
    gt_map = np.asarray(gt_map)
    pred_map = np.asarray(pred_map)
    combined = gt_map.astype(np.uint64) * np.uint64(OFFSET) + pred_map.astype(np.uint64)
    labels, counts = np.unique(combined, return_counts=True)
    inter = {}
    for label, count in zip(labels.tolist(), counts.tolist()):
        inter[(label // OFFSET, label % OFFSET)] = count

    gt = {s["id"]: s for s in gt_segs}  # list order kept
    pred = {s["id"]: s for s in pred_segs}
    ids, cnts = np.unique(pred_map, return_counts=True)
    pred_area = {i: c for i, c in zip(ids.tolist(), cnts.tolist()) if i != VOID}

    stats = defaultdict(lambda: [0, 0, 0, 0.0])
    gt_matched, pred_matched = {}, {}
    # np.unique sorts the keys: ascending (gt id, pred id), as panopticapi visits them.
    for (g, p), i in inter.items():
        if g not in gt or p not in pred:
            continue
        if gt[g]["iscrowd"] == 1:
            continue
        if gt[g]["category_id"] != pred[p]["category_id"]:
            continue
        union = pred_area[p] + gt[g]["area"] - i - inter.get((VOID, p), 0)
        iou = i / union
        if iou > 0.5:
            st_ = stats[gt[g]["category_id"]]
            st_[0] += 1
            st_[3] += iou
            gt_matched[g] = (p, iou)
            pred_matched[p] = g

    crowd_region = {}
    for g, s in gt.items():
        if g in gt_matched:
            continue
        if s["iscrowd"] == 1:
            crowd_region[s["category_id"]] = g  # the last one in list order wins
            continue
        stats[s["category_id"]][2] += 1

    ignored = set()
    for p, s in pred.items():
        if p in pred_matched:
            continue
        covered = inter.get((VOID, p), 0)
        if s["category_id"] in crowd_region:
            covered += inter.get((crowd_region[s["category_id"]], p), 0)
        if covered / pred_area[p] > 0.5:
            ignored.add(p)
            continue
        stats[s["category_id"]][1] += 1
    return ModelResult(dict(stats), gt_matched, pred_matched, ignored)


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

@st.composite
def blocky_map(draw, h, w, palette):
    """An HxW id map: a tiny random grid upscaled with uneven cuts, plus random rectangles."""
    gh = draw(st.integers(1, min(h, 4)))
    gw = draw(st.integers(1, min(w, 4)))
    grid = draw(hnp.arrays(np.int64, (gh, gw), elements=st.sampled_from(palette)))
    # Uneven block sizes: up to gh - 1 cut rows in 1..h-1 (likewise for columns).
    rcuts = sorted(set(draw(st.lists(st.integers(1, h - 1), max_size=gh - 1)))) if h > 1 else []
    ccuts = sorted(set(draw(st.lists(st.integers(1, w - 1), max_size=gw - 1)))) if w > 1 else []
    rows = np.searchsorted(rcuts, np.arange(h), side="right")
    cols = np.searchsorted(ccuts, np.arange(w), side="right")
    m = grid[rows][:, cols]
    draw_rects(draw, m, palette, max_rects=4)
    return m.astype(np.uint32)


def draw_rects(draw, m, palette, max_rects):
    h, w = m.shape
    for _ in range(draw(st.integers(0, max_rects))):
        y0 = draw(st.integers(0, h - 1))
        y1 = draw(st.integers(y0 + 1, h))
        x0 = draw(st.integers(0, w - 1))
        x1 = draw(st.integers(x0 + 1, w))
        m[y0:y1, x0:x1] = draw(st.sampled_from(palette))


def present_ids(m):
    return [int(i) for i in np.unique(m) if i != VOID]


def pixel_counts(m):
    ids, cnts = np.unique(m, return_counts=True)
    return {int(i): int(c) for i, c in zip(ids, cnts)}


@st.composite
def gt_segments_for(draw, gt_map, crowd=True, distort_area=False):
    counts = pixel_counts(gt_map)
    ids = draw(st.permutations(present_ids(gt_map)))  # list order matters for crowd regions
    segs = []
    for i in ids:
        cat = draw(st.sampled_from(CAT_IDS))
        iscrowd = draw(st.sampled_from([0, 0, 1])) if (crowd and THING[cat]) else 0
        area = counts[i]
        if distort_area and draw(st.booleans()):
            area = draw(st.one_of(st.integers(1, 2 * counts[i] + 2),
                                  st.sampled_from([counts[i] * 0.75, counts[i] + 0.5])))
        segs.append({"id": i, "category_id": cat, "iscrowd": iscrowd, "area": area})
    return segs


@st.composite
def pred_for(draw, gt_map, gt_segs):
    """A prediction: independent, or a relabelled (and possibly perturbed / shifted) GT copy."""
    h, w = gt_map.shape
    mode = draw(st.sampled_from(["independent", "copy", "perturb", "perturb", "shift"]))
    gt_cat = {s["id"]: s["category_id"] for s in gt_segs}
    origin = {}  # pred id -> category of the GT segment it came from
    if mode == "independent":
        pm = draw(blocky_map(h, w, PRED_PALETTE))
    else:
        pm = np.zeros((h, w), np.uint32)
        for g in np.unique(gt_map).tolist():
            if g == VOID:
                p = draw(st.sampled_from([0, 0, 0] + PRED_PALETTE))
            else:
                p = draw(st.sampled_from(PRED_PALETTE))  # may merge segments or drop to VOID
                if p != VOID:
                    origin.setdefault(p, gt_cat[g])
            pm[gt_map == g] = p
        if mode == "shift":
            axis = draw(st.integers(0, 1))
            pm = np.roll(pm, draw(st.sampled_from([-1, 1])), axis=axis)
        if mode in ("perturb", "shift"):
            draw_rects(draw, pm, PRED_PALETTE, max_rects=3)
    segs = []
    for p in draw(st.permutations(present_ids(pm))):
        if p in origin and draw(st.integers(0, 3)) > 0:
            cat = origin[p]
        else:
            cat = draw(st.sampled_from(CAT_IDS))
        segs.append({"id": p, "category_id": cat})
    return pm.astype(np.uint32), segs


@st.composite
def images(draw, crowd=True, distort_area=False, max_side=24):
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    gt_map = draw(blocky_map(h, w, GT_PALETTE))
    gt_segs = draw(gt_segments_for(gt_map, crowd=crowd, distort_area=distort_area))
    pred_map, pred_segs = draw(pred_for(gt_map, gt_segs))
    return gt_map, gt_segs, pred_map, pred_segs


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

EV = PQEvaluator(CATEGORIES)
EV_JSON_AREA = PQEvaluator(CATEGORIES, gt_area="json")
INDEX = {c: k for k, c in enumerate(CAT_IDS)}


def assert_matches_model(result, model: ModelResult, gt_segs, pred_segs):
    for cat, k in INDEX.items():
        tp, fp, fn, iou = model.stats.get(cat, [0, 0, 0, 0.0])
        got = (int(result.tp[k]), int(result.fp[k]), int(result.fn[k]))
        assert got == (tp, fp, fn), f"category {cat}: panoseg {got} != model {(tp, fp, fn)}"
        assert abs(float(result.iou[k]) - iou) <= 1e-12, (cat, float(result.iou[k]), iou)
    # Per-segment outputs agree with the model as well.
    pred_row = {s["id"]: j for j, s in enumerate(pred_segs)}
    for i, s in enumerate(gt_segs):
        if s["id"] in model.gt_matched:
            p, iou = model.gt_matched[s["id"]]
            assert result.gt_match[i] == pred_row[p]
            assert abs(result.gt_match_iou[i] - iou) <= 1e-12
        else:
            assert result.gt_match[i] == -1
    gt_row = {s["id"]: i for i, s in enumerate(gt_segs)}
    for j, s in enumerate(pred_segs):
        if s["id"] in model.pred_matched:
            assert result.pred_match[j] == gt_row[model.pred_matched[s["id"]]]
        else:
            assert result.pred_match[j] == -1
        assert bool(result.pred_ignored[j]) == (s["id"] in model.pred_ignored)


def close(a, b, tol=1e-12):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=0, abs_tol=tol)
    return a == b


def stats_equal(a: PQStats, b: PQStats, tol=1e-12):
    return (np.array_equal(a.tp, b.tp) and np.array_equal(a.fp, b.fp)
            and np.array_equal(a.fn, b.fn) and np.allclose(a.iou, b.iou, rtol=0, atol=tol)
            and a.n_images == b.n_images)


# ---------------------------------------------------------------------------------------------
# 1-3. panoseg == model
# ---------------------------------------------------------------------------------------------

@settings(max_examples=300, **SETTINGS)
@given(images())
def test_kernel_matches_model(img):
    gt_map, gt_segs, pred_map, pred_segs = img
    model = model_image(gt_map, gt_segs, pred_map, pred_segs)
    result = EV.evaluate(gt_map, gt_segs, pred_map, pred_segs)
    assert_matches_model(result, model, gt_segs, pred_segs)
    # The per-image summary is panopticapi's class average over this image's counts.
    assert close(result.summary, model_average(model.stats), tol=1e-12)


def model_average(stats):
    pq = sq = rq = 0.0
    n = 0
    for cat in CAT_IDS:
        tp, fp, fn, iou = stats.get(cat, [0, 0, 0, 0.0])
        if tp + fp + fn == 0:
            continue
        n += 1
        pq += iou / (tp + 0.5 * fp + 0.5 * fn)
        sq += iou / tp if tp else 0.0
        rq += tp / (tp + 0.5 * fp + 0.5 * fn)
    if n == 0:
        return {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}
    return {"pq": pq / n, "sq": sq / n, "rq": rq / n, "n": n}


@settings(max_examples=100, **SETTINGS)
@given(images())
def test_rgb_and_int64_input_give_same_result(img):
    gt_map, gt_segs, pred_map, pred_segs = img
    model = model_image(gt_map, gt_segs, pred_map, pred_segs)
    rgb = EV.evaluate(panoseg.id2rgb(gt_map), gt_segs, panoseg.id2rgb(pred_map), pred_segs)
    assert_matches_model(rgb, model, gt_segs, pred_segs)
    rgb_f = EV.evaluate(np.asfortranarray(panoseg.id2rgb(gt_map)), gt_segs,
                        panoseg.id2rgb(pred_map)[::-1][::-1], pred_segs)
    assert_matches_model(rgb_f, model, gt_segs, pred_segs)
    i64 = EV.evaluate(gt_map.astype(np.int64), gt_segs, pred_map.astype(np.int64), pred_segs)
    assert_matches_model(i64, model, gt_segs, pred_segs)
    # Non-contiguous views of the same maps.
    gt_t = np.ascontiguousarray(gt_map.T).T
    pred_t = np.ascontiguousarray(pred_map.T).T
    assert_matches_model(EV.evaluate(gt_t, gt_segs, pred_t, pred_segs), model, gt_segs, pred_segs)


@settings(max_examples=200, **SETTINGS)
@given(images(distort_area=True))
def test_json_gt_area_is_used_for_union(img):
    """panopticapi takes the GT area from the JSON, not from the PNG; so does panoseg with
    gt_area="json" (and counts the disagreeing segments)."""
    gt_map, gt_segs, pred_map, pred_segs = img
    model = model_image(gt_map, gt_segs, pred_map, pred_segs)
    result = EV_JSON_AREA.evaluate(gt_map, gt_segs, pred_map, pred_segs)
    wrong = sum(s["area"] != int((gt_map == s["id"]).sum()) for s in gt_segs)
    assert result.n_area_mismatch == wrong
    for cat, k in INDEX.items():
        tp, fp, fn, iou = model.stats.get(cat, [0, 0, 0, 0.0])
        assert (int(result.tp[k]), int(result.fp[k]), int(result.fn[k])) == (tp, fp, fn), cat
        assert abs(float(result.iou[k]) - iou) <= 1e-12 * max(1.0, abs(iou)), cat


def _seg(i, cat, crowd=0, area=None, m=None):
    s = {"id": i, "category_id": cat, "iscrowd": crowd}
    if m is not None:
        s["area"] = int((m == i).sum()) if area is None else area
    return s


def _check_by_hand(gt_map, gt_segs, pred_map, pred_segs, expected, ev=EV):
    gt_map = np.asarray(gt_map, np.uint32)
    pred_map = np.asarray(pred_map, np.uint32)
    model = model_image(gt_map, gt_segs, pred_map, pred_segs)
    result = ev.evaluate(gt_map, gt_segs, pred_map, pred_segs)
    assert_matches_model(result, model, gt_segs, pred_segs)
    for cat, (tp, fp, fn) in expected.items():
        k = INDEX[cat]
        assert (int(result.tp[k]), int(result.fp[k]), int(result.fn[k])) == (tp, fp, fn), cat
    return result


def test_iou_exactly_half_is_not_a_match():
    # GT 1 (4 px) with one VOID pixel on the left; pred 5 covers VOID + 2 px of GT 1.
    # inter = 2, pred_area = 3, on VOID = 1, union = 3 + 4 - 2 - 1 = 4 -> IoU = 0.5 exactly.
    gt = np.array([[0, 1, 1, 1, 1]])
    pred = np.array([[5, 5, 5, 0, 0]])
    r = _check_by_hand(gt, [_seg(1, 1, m=gt)], pred, [{"id": 5, "category_id": 1}],
                       {1: (0, 1, 1)})  # pred only 1/3 on VOID -> FP
    assert r.gt_match[0] == -1 and not r.pred_ignored[0]
    # Without VOID: GT 2 px, pred 1 px inside it: inter 1, union 1 + 2 - 1 = 2 -> 0.5.
    gt = np.array([[1, 1, 2, 2]])
    pred = np.array([[5, 6, 6, 6]])
    _check_by_hand(gt, [_seg(1, 1, m=gt), _seg(2, 50, m=gt)], pred,
                   [{"id": 5, "category_id": 1}, {"id": 6, "category_id": 50}],
                   {1: (0, 1, 1), 50: (1, 0, 0)})
    # One pixel more of overlap: 3 / 5 > 0.5 -> match.
    gt = np.array([[0, 1, 1, 1, 1]])
    pred = np.array([[5, 5, 5, 5, 0]])
    r = _check_by_hand(gt, [_seg(1, 1, m=gt)], pred, [{"id": 5, "category_id": 1}],
                       {1: (1, 0, 0)})
    assert r.iou[INDEX[1]] == 3 / 4  # union = 4 + 4 - 3 - 1


def test_ignore_threshold_is_strict():
    # Pred 5 (category 2, no GT of that category): exactly half on VOID -> FP.
    gt = np.array([[0, 1, 1, 1]])
    pred = np.array([[5, 5, 0, 0]])
    r = _check_by_hand(gt, [_seg(1, 1, m=gt)], pred, [{"id": 5, "category_id": 2}],
                       {1: (0, 0, 1), 2: (0, 1, 0)})
    assert not r.pred_ignored[0]
    # Two thirds on VOID -> ignored.
    gt = np.array([[0, 0, 1, 1]])
    pred = np.array([[5, 5, 5, 0]])
    r = _check_by_hand(gt, [_seg(1, 1, m=gt)], pred, [{"id": 5, "category_id": 2}],
                       {1: (0, 0, 1), 2: (0, 0, 0)})
    assert r.pred_ignored[0]


@pytest.mark.parametrize("order", [(10, 11), (11, 10)])
def test_crowd_region_is_last_crowd_segment_of_category(order):
    # Two crowd segments of category 1; pred 5 lies on crowd 10, pred 6 on crowd 11.
    gt = np.array([[10, 10, 11, 11]])
    pred = np.array([[5, 5, 6, 6]])
    gt_segs = [_seg(i, 1, crowd=1, m=gt) for i in order]
    pred_segs = [{"id": 5, "category_id": 1}, {"id": 6, "category_id": 1}]
    last = order[-1]
    r = _check_by_hand(gt, gt_segs, pred, pred_segs, {1: (0, 1, 0)})
    assert list(map(bool, r.pred_ignored)) == [last == 10, last == 11]
    # A crowd segment of another category does not make a prediction ignored.
    gt_segs = [_seg(10, 1, crowd=1, m=gt), _seg(11, 7, crowd=1, m=gt)]
    pred_segs = [{"id": 5, "category_id": 7}, {"id": 6, "category_id": 7}]
    r = _check_by_hand(gt, gt_segs, pred, pred_segs, {7: (0, 1, 0), 1: (0, 0, 0)})
    assert list(map(bool, r.pred_ignored)) == [False, True]


def test_crowd_gt_is_never_matched():
    gt = np.array([[3, 3, 3, 3]])
    pred = np.array([[5, 5, 5, 5]])
    r = _check_by_hand(gt, [_seg(3, 2, crowd=1, m=gt)], pred, [{"id": 5, "category_id": 2}],
                       {2: (0, 0, 0)})
    assert r.gt_match[0] == -1 and r.pred_ignored[0]


def test_json_area_differs_from_pixel_count():
    # With gt_area="json" (panopticapi's behaviour; the default "png" refuses these).
    # GT 1 has 4 pixels but its JSON area says 2: union = 2 + 2 - 2 - 0 = 2 -> IoU 1 (match);
    # with the pixel count it would be 2 / 4 = 0.5 (no match).
    gt = np.array([[1, 1, 1, 1]])
    pred = np.array([[5, 5, 0, 0]])
    r = _check_by_hand(gt, [_seg(1, 1, area=2, m=gt)], pred, [{"id": 5, "category_id": 1}],
                       {1: (1, 0, 0)}, ev=EV_JSON_AREA)
    assert r.iou[INDEX[1]] == 1.0
    # JSON area larger than the pixel count lowers the IoU below the threshold.
    gt = np.array([[1, 1, 1, 0]])
    pred = np.array([[5, 5, 5, 0]])
    _check_by_hand(gt, [_seg(1, 1, area=7, m=gt)], pred, [{"id": 5, "category_id": 1}],
                   {1: (0, 1, 1)}, ev=EV_JSON_AREA)
    # A float area is used as is.
    r = _check_by_hand(gt, [_seg(1, 1, area=3.5, m=gt)], pred, [{"id": 5, "category_id": 1}],
                       {1: (1, 0, 0)}, ev=EV_JSON_AREA)
    assert r.iou[INDEX[1]] == 3 / 3.5
    assert r.n_area_mismatch == 1
    with pytest.raises(panoseg.PanopticFormatError, match="segment 1: area is 3.5"):
        EV.evaluate(gt, [_seg(1, 1, area=3.5, m=gt)], pred, [{"id": 5, "category_id": 1}])


@settings(max_examples=6, **SETTINGS)
@given(st.integers(0, 2 ** 32 - 1))
def test_many_segments_match_model(seed):
    """Over 2^20 (GT x pred) cells: the kernel's overlap table switches to its sparse form."""
    rng = np.random.default_rng(seed)
    h, w = 48, 48
    n_seg = h * w // 2
    gt_ids = rng.choice(MAX_ID, size=n_seg, replace=False).astype(np.uint32) + 1
    gt_ids[rng.random(n_seg) < 0.05] = VOID
    gt_map = np.repeat(gt_ids, 2).reshape(h, w)
    pred_ids = rng.choice(MAX_ID, size=n_seg, replace=False).astype(np.uint32) + 1
    pred_map = np.repeat(pred_ids, 2).reshape(h, w)
    pred_map = np.roll(pred_map, int(rng.integers(0, h)), axis=0)
    noise = rng.random((h, w)) < 0.1
    pred_map[noise] = rng.choice(pred_ids, size=int(noise.sum()))
    pred_map[rng.random((h, w)) < 0.02] = VOID
    cats = np.array(CAT_IDS)
    gt_segs = [{"id": int(i), "category_id": int(c), "area": n,
                "iscrowd": int(THING[int(c)] and rng.random() < 0.1)}
               for (i, n), c in zip(pixel_counts(gt_map).items(), rng.choice(cats, n_seg))
               if i != VOID]
    rng.shuffle(gt_segs)
    # Predictions take the category of the GT segment they were drawn for, mostly.
    pred_cat = {int(p): int(rng.choice(cats)) for p in pred_ids}
    gt_cat = {s["id"]: s["category_id"] for s in gt_segs}
    for g, p in zip(gt_ids.tolist(), pred_ids.tolist()):
        if g in gt_cat and rng.random() < 0.9:
            pred_cat[p] = gt_cat[g]
    pred_segs = [{"id": p, "category_id": pred_cat[p]} for p in present_ids(pred_map)]
    assert len(gt_segs) * len(pred_segs) > 2 ** 20
    model = model_image(gt_map, gt_segs, pred_map, pred_segs)
    result = EV.evaluate(gt_map, gt_segs, pred_map, pred_segs)
    assert_matches_model(result, model, gt_segs, pred_segs)
    assert result.tp.sum() > 0 and result.fp.sum() > 0 and result.fn.sum() > 0


# ---------------------------------------------------------------------------------------------
# 4. Invariants
# ---------------------------------------------------------------------------------------------

@settings(max_examples=200, **SETTINGS)
@given(images())
def test_count_invariants_and_per_segment_fields(img):
    gt_map, gt_segs, pred_map, pred_segs = img
    r = EV.evaluate(gt_map, gt_segs, pred_map, pred_segs)
    n_gt = np.zeros(len(CAT_IDS), np.int64)
    for s in gt_segs:
        if not s["iscrowd"]:
            n_gt[INDEX[s["category_id"]]] += 1
    assert np.array_equal(r.tp + r.fn, n_gt)

    pred_cat = np.array([INDEX[s["category_id"]] for s in pred_segs], np.int64)
    n_pred = np.bincount(pred_cat, minlength=len(CAT_IDS))
    ignored = np.bincount(pred_cat[r.pred_ignored.astype(bool)], minlength=len(CAT_IDS))
    unmatched_fp = np.bincount(pred_cat[(r.pred_match < 0) & ~r.pred_ignored.astype(bool)],
                               minlength=len(CAT_IDS))
    assert np.array_equal(r.tp + r.fp + ignored, n_pred)
    assert np.array_equal(r.fp, unmatched_fp)
    assert not np.any(r.pred_ignored.astype(bool) & (r.pred_match >= 0))

    # gt_match / pred_match are a partial bijection between same-category non-crowd segments.
    matched_per_cat = np.zeros(len(CAT_IDS), np.int64)
    iou_per_cat = np.zeros(len(CAT_IDS))
    for i, j in enumerate(r.gt_match.tolist()):
        if j < 0:
            assert r.gt_match_iou[i] == 0.0
            continue
        assert r.pred_match[j] == i
        assert not gt_segs[i]["iscrowd"]
        assert gt_segs[i]["category_id"] == pred_segs[j]["category_id"]
        assert 0.5 < r.gt_match_iou[i] <= 1.0
        matched_per_cat[INDEX[gt_segs[i]["category_id"]]] += 1
        iou_per_cat[INDEX[gt_segs[i]["category_id"]]] += r.gt_match_iou[i]
    for j, i in enumerate(r.pred_match.tolist()):
        if i >= 0:
            assert r.gt_match[i] == j
    assert np.array_equal(matched_per_cat, r.tp)
    assert np.allclose(iou_per_cat, r.iou, rtol=0, atol=1e-12)
    counts = pixel_counts(pred_map)
    assert r.pred_area.tolist() == [counts[s["id"]] for s in pred_segs]


@settings(max_examples=100, **SETTINGS)
@given(st.integers(1, 24), st.integers(1, 24), st.data())
def test_identical_prediction_is_perfect(h, w, data):
    gt_map = data.draw(blocky_map(h, w, GT_PALETTE))
    gt_segs = data.draw(gt_segments_for(gt_map, crowd=False))
    pred_segs = [{"id": s["id"], "category_id": s["category_id"]} for s in gt_segs]
    assume(gt_segs)
    ev = PQEvaluator(CATEGORIES)
    r = ev.add(gt_map, gt_segs, gt_map.copy(), pred_segs)
    assert not r.fp.any() and not r.fn.any()
    assert r.tp.sum() == len(gt_segs)
    assert r.pq == r.sq == r.rq == 1.0
    assert (r.gt_match == np.arange(len(gt_segs))).all()
    assert (r.gt_match_iou == 1.0).all()
    present = {s["category_id"] for s in gt_segs}
    res = ev.summarize()
    for cat in CAT_IDS:
        expected = 1.0 if cat in present else 0.0
        assert res["per_class"][cat] == {"pq": expected, "sq": expected, "rq": expected}
    assert res["All"] == {"pq": 1.0, "sq": 1.0, "rq": 1.0, "n": len(present)}


# ---------------------------------------------------------------------------------------------
# 5. Additivity, merging, pickling
# ---------------------------------------------------------------------------------------------

@settings(max_examples=60, **SETTINGS)
@given(st.lists(images(max_side=12), min_size=1, max_size=6), st.data())
def test_stats_are_additive_mergeable_and_picklable(imgs, data):
    ev = PQEvaluator(CATEGORIES)
    results = [ev.add(*img, image_id=k) for k, img in enumerate(imgs)]

    expected = PQStats(CATEGORIES)
    for r in results:
        expected.tp += r.tp
        expected.fp += r.fp
        expected.fn += r.fn
        expected.iou += r.iou
    expected.n_images = len(imgs)
    assert stats_equal(ev.stats, expected)
    # Model totals too.
    for cat, k in INDEX.items():
        tot = np.zeros(4)
        for img in imgs:
            tot += model_image(*img).stats.get(cat, [0, 0, 0, 0.0])
        assert [int(ev.stats.tp[k]), int(ev.stats.fp[k]), int(ev.stats.fn[k])] == tot[:3].tolist()
        assert abs(ev.stats.iou[k] - tot[3]) <= 1e-12

    # Any order.
    order = data.draw(st.permutations(range(len(imgs))))
    ev2 = PQEvaluator(CATEGORIES)
    for k in order:
        ev2.add(*imgs[k])
    assert stats_equal(ev2.stats, ev.stats)
    assert close(ev2.summarize(), ev.summarize())

    # Split in two evaluators, merged (both directions), also via PQStats +, sum() and merge().
    cut = data.draw(st.integers(0, len(imgs)))
    a, b = PQEvaluator(CATEGORIES), PQEvaluator(CATEGORIES)
    for k in order[:cut]:
        a.add(*imgs[k])
    for k in order[cut:]:
        b.add(*imgs[k])
    sa, sb = a.stats.copy(), b.stats.copy()
    assert stats_equal(sa + sb, ev.stats)
    assert stats_equal(sum([sa, sb]), ev.stats)
    assert stats_equal(sb.copy().merge(sa), ev.stats)
    assert stats_equal(sa, a.stats) and stats_equal(sb, b.stats)  # + leaves operands alone
    # Pickle before merging (as a process pool would).
    a2 = pickle.loads(pickle.dumps(a))
    b2 = pickle.loads(pickle.dumps(b))
    assert stats_equal(a2.stats, a.stats) and a2.categories == a.categories
    merged = PQEvaluator(CATEGORIES).merge(a2, b2.stats)
    assert stats_equal(merged.stats, ev.stats)
    assert close(merged.summarize(), ev.summarize())
    b2.merge(a)
    assert stats_equal(b2.stats, ev.stats)
    assert close(b2.summarize(), ev.summarize())
    # A merged evaluator keeps working after a pickle round trip.
    m3 = pickle.loads(pickle.dumps(merged))
    m3.add(*imgs[0])
    ev.add(*imgs[0])
    assert stats_equal(m3.stats, ev.stats)
    s3 = pickle.loads(pickle.dumps(ev.stats))
    assert stats_equal(s3, ev.stats) and close(s3.summarize(), ev.summarize(), tol=0)


# ---------------------------------------------------------------------------------------------
# 6. End to end against panopticapi
# ---------------------------------------------------------------------------------------------

def _write_dataset(root, imgs):
    gt_json = {"images": [], "annotations": [], "categories": CATEGORIES}
    pred_json = {"annotations": []}
    os.makedirs(os.path.join(root, "gt"))
    os.makedirs(os.path.join(root, "pred"))
    for k, (gt_map, gt_segs, pred_map, pred_segs) in enumerate(imgs):
        name = f"img{k:03d}.png"
        panoseg.write_ids(os.path.join(root, "gt", name), gt_map)
        panoseg.write_ids(os.path.join(root, "pred", name), pred_map)
        gt_json["images"].append({"id": k, "file_name": name, "height": int(gt_map.shape[0]),
                                  "width": int(gt_map.shape[1])})
        gt_json["annotations"].append({"image_id": k, "file_name": name,
                                       "segments_info": gt_segs})
        pred_json["annotations"].append({"image_id": k, "file_name": name,
                                         "segments_info": pred_segs})
    paths = [os.path.join(root, f) for f in ("gt.json", "pred.json", "gt", "pred")]
    with open(paths[0], "w") as f:
        json.dump(gt_json, f)
    with open(paths[1], "w") as f:
        json.dump(pred_json, f)
    return paths


def _has_group(imgs, thing):
    return any(not s["iscrowd"] and THING[s["category_id"]] == thing
               for _, gt_segs, _, _ in imgs for s in gt_segs)


@pytest.mark.skipif(panopticapi_pq_compute is None, reason="panopticapi not installed")
@settings(max_examples=8, **SETTINGS)
@given(st.lists(images(max_side=16), min_size=1, max_size=4))
def test_pq_compute_agrees_with_panopticapi(imgs):
    # panopticapi divides by zero when Things or Stuff has no (non-crowd GT) segment at all.
    assume(_has_group(imgs, True) and _has_group(imgs, False))
    reference = panopticapi_pq_compute

    with tempfile.TemporaryDirectory() as root:
        paths = _write_dataset(root, imgs)
        with contextlib.redirect_stdout(io.StringIO()):
            ref = reference(*paths)
        ours = panoseg.pq_compute(*paths, workers=2)
    assert ours.keys() == ref.keys()
    for group in ("All", "Things", "Stuff"):
        assert ours[group]["n"] == ref[group]["n"]
        for key in ("pq", "sq", "rq"):
            assert ours[group][key] == pytest.approx(ref[group][key], abs=1e-9), (group, key)
    assert ours["per_class"].keys() == ref["per_class"].keys()
    for cat, vals in ref["per_class"].items():
        for key in ("pq", "sq", "rq"):
            assert ours["per_class"][cat][key] == pytest.approx(vals[key], abs=1e-9), (cat, key)


# ---------------------------------------------------------------------------------------------
# Regression: segment-list validation must not depend on which path (fast/slow) runs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("category_id", [1.0, True])
def test_category_id_validation_does_not_depend_on_other_segments(category_id):
    gt_map = np.array([[10, 11]], np.uint32)
    pred_map = np.array([[5, 6]], np.uint32)
    pred_segs = [{"id": 5, "category_id": 1}, {"id": 6, "category_id": 1}]

    def outcome(area_of_other):
        gt_segs = [{"id": 10, "category_id": category_id, "iscrowd": 0, "area": 1},
                   {"id": 11, "category_id": 1, "iscrowd": 0, "area": area_of_other}]
        try:
            r = EV.evaluate(gt_map, gt_segs, pred_map, pred_segs)
        except panoseg.PanopticFormatError:
            return "rejected"
        return ("accepted", r.tp.tolist(), r.fp.tolist(), r.fn.tolist())

    # A plain-int area (vectorized fast path) vs a numpy-int area (per-segment slow path):
    # the first segment is the same, so the verdict on it must be the same.
    assert outcome(1) == outcome(np.int64(1)) == "rejected"
