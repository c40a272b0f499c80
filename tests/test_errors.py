"""Tests of panoseg.evaluation.errors: the error breakdown of PQ ("where PQ is lost").

One hand-built image per error type (counts and dPQ worked out by hand), an independent model
of the definitions (loops over boolean masks) compared with the module on synthetic images, and
the invariants the definitions imply:

* every FP and every FN gets exactly one type (per category, the types' FPs add up to ``fp``
  and their FNs to ``fn``);
* every oracle only helps: dPQ >= 0 for All / Things / Stuff and every category;
* applying every oracle at once gives PQ = 1 in every group left with a category;
* the statistics add up over images (``+``, ``sum``, pickle) and the base PQ is the
  evaluation's.
"""
import json
import pickle

import numpy as np
import pytest

from panoseg.evaluation.errors import (
    LOC_IOU,
    TYPES,
    ImageErrors,
    format_table,
    image_errors,
    print_table,
    segment_errors,
    summarize,
    viz_marks,
)
from panoseg.evaluation.matching import match_image
from panoseg.evaluation.stats import PQStats
from panoseg.io.categories import Categories, as_categories
from panoseg.io.panoptic_json import SegmentTable
from panoseg.testing.synthetic import default_categories, make_image_pair

CATS = Categories([
    {"id": 1, "name": "person", "isthing": 1},
    {"id": 2, "name": "car", "isthing": 1},
    {"id": 10, "name": "sky", "isthing": 0},
    {"id": 11, "name": "grass", "isthing": 0},
])
PERSON, CAR, SKY, GRASS = 1, 2, 10, 11


def segments(ids, cats_by_id, crowd=()):
    """segments_info of an id map: {id: category id}; areas counted."""
    return [{"id": i, "category_id": c, "iscrowd": int(i in crowd),
             "area": int((ids == i).sum())} for i, c in cats_by_id.items()]


def analyse(gt, gt_cats, pred, pred_cats, categories=CATS, crowd=()):
    gt = np.asarray(gt, np.uint32)
    pred = np.asarray(pred, np.uint32)
    gs, ps = segments(gt, gt_cats, crowd), segments(pred, pred_cats)
    gt_t = SegmentTable.from_segments_info(gs, categories, is_gt=True)
    pred_t = SegmentTable.from_segments_info(ps, categories, is_gt=False)
    result = match_image(gt, gt_t, pred, pred_t, categories, extra=False)
    return image_errors(gt, pred, result), result, gs, ps


def cols(spec, height=10, width=10):
    """An id map from {id: (first column, last column)} (full height), else 0."""
    ids = np.zeros((height, width), np.uint32)
    for i, (a, b) in spec.items():
        ids[:, a:b + 1] = i
    return ids


def types_of(errors):
    return {t: int(errors.count(t).sum()) for t in TYPES}


# --------------------------------------------------------------------------- one type each

def test_classification():
    # GT: a car on the left half, sky on the right; the car is predicted as a person.
    gt = cols({1: (0, 4), 2: (5, 9)})
    pred = cols({7: (0, 4), 8: (5, 9)})
    e, r, _, _ = analyse(gt, {1: CAR, 2: SKY}, pred, {7: PERSON, 8: SKY})
    assert types_of(e) == {"cls": 1, "split": 0, "merge": 0, "loc": 0, "missed": 0,
                           "background": 0, "sq": 0}
    s = summarize(e)
    cls = s["types"]["cls"]
    assert (cls["count"], cls["fp"], cls["fn"]) == (1, 1, 1)
    # Before: car 0 (FN), person 0 (FP), sky 1 -> 1/3; fixed: car 1, sky 1 (person gone).
    assert s["pq"]["All"]["pq"] == pytest.approx(1 / 3)
    assert cls["dpq"]["All"] == pytest.approx(2 / 3)
    assert cls["dpq"]["Things"] == pytest.approx(1.0)
    assert cls["dpq"]["Stuff"] == pytest.approx(0.0)
    assert cls["per_class"][CAR]["dpq"] == pytest.approx(1.0)
    assert cls["per_class"][PERSON]["dpq"] is None  # the category leaves the average
    seg = segment_errors(gt, pred, r)
    assert seg.gt_type == ["cls", ""] and seg.pred_type == ["cls", ""]
    assert seg.gt_partner.tolist() == [0, -1] and seg.pred_partner.tolist() == [0, -1]


@pytest.mark.parametrize("a_last, fp, fn, before, after", [
    (4, 2, 1, 0.0, 1.0),    # two halves, IoU 0.5 each: nothing matched; merged: IoU 1
    (5, 1, 0, 0.4, 1.0),    # 60 % matched (IoU 0.6), the 40 % fragment is an FP
])
def test_split(a_last, fp, fn, before, after):
    gt = np.full((10, 10), 1, np.uint32)
    pred = cols({7: (0, a_last), 8: (a_last + 1, 9)})
    e, _, _, _ = analyse(gt, {1: CAR}, pred, {7: CAR, 8: CAR})
    assert types_of(e)["split"] == 1
    assert sum(types_of(e).values()) - types_of(e)["sq"] == 1
    s = summarize(e)["types"]["split"]
    assert (s["fp"], s["fn"]) == (fp, fn)
    assert s["dpq"]["All"] == pytest.approx(after - before)


@pytest.mark.parametrize("first_last, fn, fp, before, after", [
    (4, 2, 1, 0.0, 1.0),                      # one car over two halves: nothing matched
    (6, 1, 0, 0.7 / 1.5, (0.7 + 1.0) / 2),    # matched to the 70 % car, the 30 % one missed
])
def test_merge(first_last, fn, fp, before, after):
    gt = cols({1: (0, first_last), 2: (first_last + 1, 9)})
    pred = np.full((10, 10), 7, np.uint32)
    e, _, _, _ = analyse(gt, {1: CAR, 2: CAR}, pred, {7: CAR})
    assert types_of(e)["merge"] == 1
    s = summarize(e)["types"]["merge"]
    assert (s["fn"], s["fp"]) == (fn, fp)
    assert summarize(e)["pq"]["All"]["pq"] == pytest.approx(before)
    assert s["dpq"]["All"] == pytest.approx(after - before)


def test_localisation():
    # GT car columns 0-3, sky 4-9; predicted car 2-5 (IoU 20/60), sky 6-9, columns 0-1 unlabelled.
    gt = cols({1: (0, 3), 2: (4, 9)})
    pred = cols({7: (2, 5), 8: (6, 9)})
    e, r, _, _ = analyse(gt, {1: CAR, 2: SKY}, pred, {7: CAR, 8: SKY})
    t = types_of(e)
    assert t["loc"] == 1 and t["missed"] == t["background"] == 0
    s = summarize(e)
    # car: FN + FP -> one TP at IoU 1/3; sky matched at 40/60 throughout.
    sky = 40 / 60
    assert s["pq"]["All"]["pq"] == pytest.approx(sky / 2)
    assert s["types"]["loc"]["dpq"]["All"] == pytest.approx((1 / 3 + sky) / 2 - sky / 2)
    assert 1 / 3 >= LOC_IOU


def test_missed_and_background():
    # A car nobody predicted (sky predicted over it) ...
    gt = cols({1: (0, 3), 2: (4, 9)})
    pred = np.full((10, 10), 8, np.uint32)
    e, _, _, _ = analyse(gt, {1: CAR, 2: SKY}, pred, {8: SKY})
    assert types_of(e)["missed"] == 1 and types_of(e)["background"] == 0
    s = summarize(e)
    assert s["pq"]["All"]["pq"] == pytest.approx(0.3)  # car 0, sky 0.6
    assert s["types"]["missed"]["dpq"]["All"] == pytest.approx(0.3)
    assert s["types"]["missed"]["dpq"]["Things"] == 0.0  # Things had only the car: 0 -> none
    # ... and a person predicted on the sky.
    gt = np.full((10, 10), 2, np.uint32)
    pred = cols({8: (0, 7), 7: (8, 9)})
    e, _, _, _ = analyse(gt, {2: SKY}, pred, {8: SKY, 7: PERSON})
    assert types_of(e)["background"] == 1 and types_of(e)["missed"] == 0
    s = summarize(e)
    assert s["pq"]["All"]["pq"] == pytest.approx(0.4)  # sky 0.8, person 0
    assert s["types"]["background"]["dpq"]["All"] == pytest.approx(0.4)
    assert s["types"]["sq"]["dpq"]["All"] == pytest.approx((1.0 + 0.0) / 2 - 0.4)
    assert s["types"]["sq"]["count"] == 1
    assert s["types"]["all"]["dpq"]["All"] == pytest.approx(0.6)


def test_crowd_and_ignored_predictions_are_not_errors():
    gt = cols({1: (0, 4), 2: (5, 9)})
    gt[:, 8:] = 0  # VOID
    pred = cols({7: (0, 4), 8: (5, 7), 9: (8, 9)})  # 7 on the crowd, 9 on VOID
    e, r, _, _ = analyse(gt, {1: PERSON, 2: SKY}, pred, {7: PERSON, 8: SKY, 9: CAR}, crowd=(1,))
    assert r.pred_ignored.astype(int).tolist() == [1, 0, 1]  # on the crowd, on VOID
    assert all(v == 0 for k, v in types_of(e).items() if k != "sq")


def test_viz_marks():
    gt = cols({1: (0, 4), 2: (5, 9)})
    pred = cols({7: (0, 4), 8: (5, 8), 9: (9, 9)})
    gs, ps = segments(gt, {1: CAR, 2: SKY}), segments(pred, {7: PERSON, 8: SKY, 9: PERSON})
    for s in gs:
        del s["area"]  # not needed: counted from the PNG
    m = viz_marks(gt, gs, pred, ps, CATS)
    assert [g["kind"] for g in m["gt"]] == ["fn", "tp"]
    assert m["gt"][0]["error"] == "cls" and m["gt"][1]["iou"] == pytest.approx(0.8)
    assert [p["kind"] for p in m["pred"]] == ["fp", "tp", "fp"]
    assert [p["error"] for p in m["pred"]] == ["cls", "", "background"]
    assert (m["tp"], m["fp"], m["fn"]) == (1, 2, 1)


# --------------------------------------------------------------------------- the model

def model(gt_ids, gt_segs, pred_ids, pred_segs, cats, result):
    """The definitions, written out with masks and loops: {type: {row: per-category array}}."""
    n = len(cats)
    G = [{"mask": gt_ids == s["id"], "cat": cats.index_of[s["category_id"]],
          "crowd": s.get("iscrowd", 0), "area": float(s["area"]), "id": s["id"]}
         for s in gt_segs]
    P = [{"mask": pred_ids == s["id"], "cat": cats.index_of[s["category_id"]], "id": s["id"]}
         for s in pred_segs]
    void = gt_ids == 0
    for p in P:
        p["area"] = int(p["mask"].sum())
        p["void"] = int((p["mask"] & void).sum())
    inter = [[int((g["mask"] & p["mask"]).sum()) for p in P] for g in G]

    def iou(a, b):
        return inter[a][b] / (P[b]["area"] + G[a]["area"] - inter[a][b] - P[b]["void"])

    fn = [a for a in range(len(G)) if not G[a]["crowd"] and result.gt_match[a] < 0]
    fp = [b for b in range(len(P)) if result.pred_match[b] < 0 and not result.pred_ignored[b]]
    out = {t: {r: np.zeros(n) for r in ("count", "tp", "fp", "fn", "iou")} for t in TYPES}

    def pairs(t, ok):
        cands = sorted((-iou(a, b), G[a]["id"], P[b]["id"], a, b) for a in fn for b in fp
                       if inter[a][b] and ok(a, b))
        for _, _, _, a, b in cands:
            if a in fn and b in fp:
                fn.remove(a)
                fp.remove(b)
                c = G[a]["cat"]
                for r in ("count", "tp", "fn"):
                    out[t][r][c] += 1
                out[t]["fp"][P[b]["cat"]] += 1
                out[t]["iou"][c] += iou(a, b)

    pairs("cls", lambda a, b: G[a]["cat"] != P[b]["cat"] and iou(a, b) > 0.5)
    for a, g in enumerate(G):
        if g["crowd"] or not (a in fn or result.gt_match[a] >= 0):
            continue
        parts = [b for b, p in enumerate(P) if p["cat"] == g["cat"]
                 and inter[a][b] > (p["area"] - p["void"]) / 2
                 and (b in fp or result.pred_match[b] == a)]
        fps = [b for b in parts if b in fp]
        if len(parts) < 2 or not fps:
            continue
        union = np.zeros(gt_ids.shape, bool)
        for b in parts:
            union |= P[b]["mask"]
        i = int((union & g["mask"]).sum())
        v = i / (union.sum() + g["area"] - i - (union & void).sum())
        o = out["split"]
        o["count"][g["cat"]] += 1
        o["fp"][g["cat"]] += len(fps)
        for b in fps:
            fp.remove(b)
        if a in fn:
            fn.remove(a)
            o["tp"][g["cat"]] += 1
            o["fn"][g["cat"]] += 1
            o["iou"][g["cat"]] += v
        else:
            o["iou"][g["cat"]] += v - result.gt_match_iou[a]
    for b, p in enumerate(P):
        if not (b in fp or result.pred_match[b] >= 0):
            continue
        covered = [a for a, g in enumerate(G) if g["cat"] == p["cat"] and not g["crowd"]
                   and inter[a][b] > g["area"] / 2 and (a in fn or result.gt_match[a] == b)]
        fns = [a for a in covered if a in fn]
        if len(covered) < 2 or not fns:
            continue
        o = out["merge"]
        o["count"][p["cat"]] += 1
        for a in fns:
            fn.remove(a)
            o["tp"][p["cat"]] += 1
            o["fn"][p["cat"]] += 1
            o["iou"][p["cat"]] += inter[a][b] / G[a]["area"]
        if b in fp:
            fp.remove(b)
            o["fp"][p["cat"]] += 1
    pairs("loc", lambda a, b: G[a]["cat"] == P[b]["cat"] and iou(a, b) >= 0.1)
    for a in fn:
        out["missed"]["count"][G[a]["cat"]] += 1
        out["missed"]["fn"][G[a]["cat"]] += 1
    for b in fp:
        out["background"]["count"][P[b]["cat"]] += 1
        out["background"]["fp"][P[b]["cat"]] += 1
    for a, g in enumerate(G):
        if result.gt_match[a] >= 0:
            out["sq"]["count"][g["cat"]] += result.gt_match_iou[a] < 1
            out["sq"]["iou"][g["cat"]] += 1 - result.gt_match_iou[a]
    return out


COCO = as_categories(default_categories())


def synthetic_images(n, seed, height=72, width=96):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        gt, gs, pred, ps = make_image_pair(rng, height, width, COCO.entries)
        gt_t = SegmentTable.from_segments_info(gs, COCO, is_gt=True)
        pred_t = SegmentTable.from_segments_info(ps, COCO, is_gt=False)
        result = match_image(gt, gt_t, pred, pred_t, COCO, extra=False)
        yield gt, gs, pred, ps, result


def test_the_model_agrees_on_synthetic_images():
    seen = np.zeros(len(TYPES), np.int64)
    for gt, gs, pred, ps, result in synthetic_images(40, 7):
        e = image_errors(gt, pred, result)
        want = model(gt, gs, pred, ps, COCO, result)
        for t, name in enumerate(TYPES):
            for r, row in enumerate(("count", "tp", "fp", "fn")):
                np.testing.assert_array_equal(e.counts[t, r], want[name][row], err_msg=name + row)
            np.testing.assert_allclose(e.iou_add[t], want[name]["iou"], atol=1e-12,
                                       err_msg=name)
        seen += e.counts[:, 0].sum(axis=1)
    # Every type occurs: the comparison is not vacuous.
    assert (seen > 0).all(), dict(zip(TYPES, seen.tolist()))


def test_invariants_on_synthetic_images():
    images = list(synthetic_images(25, 11))
    per_image = [image_errors(gt, pred, r) for gt, _, pred, _, r in images]
    stats = PQStats(COCO)
    for *_, r in images:
        stats.add_image(r)
    total = sum(per_image)
    # Additive, in any grouping, and picklable.
    halves = pickle.loads(pickle.dumps(sum(per_image[:10]))) + sum(per_image[10:])
    np.testing.assert_array_equal(halves.counts, total.counts)
    np.testing.assert_allclose(halves.iou_add, total.iou_add, atol=1e-12)
    assert total.n_images == 25
    # Every FP and FN has exactly one type.
    c = total.counts[:len(TYPES) - 1]  # sq removes nothing
    np.testing.assert_array_equal(c[:, 2].sum(axis=0), total.fp)
    np.testing.assert_array_equal(c[:, 3].sum(axis=0), total.fn)
    assert total.counts[-1, 1:].sum() == 0
    s = summarize(total, COCO)
    json.dumps(s)  # JSON-ready
    base = stats.summarize()
    for group in ("All", "Things", "Stuff"):
        assert s["pq"][group]["pq"] == pytest.approx(base[group]["pq"], abs=1e-12)
        for name in TYPES:  # each oracle only helps
            assert s["types"][name]["dpq"][group] >= -1e-12, (name, group)
        # every oracle at once: PQ = 1
        assert s["pq"][group]["pq"] + s["types"]["all"]["dpq"][group] == pytest.approx(1.0)
    for name in TYPES:
        for cat, row in s["types"][name]["per_class"].items():
            assert row["dpq"] is None or row["dpq"] >= -1e-12, (name, cat)
    assert s["types"]["all"]["fp"] == int(total.fp.sum())


def test_sum_errors_and_table(capsys):
    e1 = analyse(cols({1: (0, 4), 2: (5, 9)}), {1: CAR, 2: SKY},
                 cols({7: (0, 4), 8: (5, 9)}), {7: PERSON, 8: SKY})[0]
    assert sum([e1, e1]).count("cls").sum() == 2
    with pytest.raises(ValueError):
        e1 + ImageErrors.zeros(COCO)
    with pytest.raises(TypeError):
        e1 + 1
    text = format_table(summarize(e1 + e1))
    assert "cls" in text and "background" in text and "66.67" in text
    print_table(summarize(e1))
    assert "dPQ All" in capsys.readouterr().out


def test_boundary_results_are_refused():
    gt = cols({1: (0, 4), 2: (5, 9)})
    _, r, _, _ = analyse(gt, {1: CAR, 2: SKY}, gt, {1: CAR, 2: SKY})
    r.segm = (r.tp, r.fp, r.fn, r.iou)  # as a Boundary PQ result carries
    with pytest.raises(ValueError, match="mask"):
        image_errors(gt, gt, r)


def test_maps_other_than_the_matched_ones_are_refused():
    gt = cols({1: (0, 4), 2: (5, 9)})
    _, r, _, _ = analyse(gt, {1: CAR, 2: SKY}, gt, {1: CAR, 2: SKY})
    with pytest.raises(ValueError, match="not those"):
        image_errors(gt, cols({1: (0, 5), 2: (6, 9)}), r)
    with pytest.raises(ValueError, match="size"):
        image_errors(gt, gt[:5], r)
