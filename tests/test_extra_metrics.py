"""PQ-dagger, Parsing Covering, PQ by size and the confusion table (panoseg.evaluation.extra_metrics).

Checked three ways: small cases computed by hand; an independent plain-numpy implementation of
the definitions (module docstring of panoseg.evaluation.extra_metrics) on generated images with VOID and
crowd; and torchmetrics' ModifiedPanopticQuality on inputs where its conventions agree with
ours (no VOID in the prediction, no crowd in the GT), from stored values and, when torchmetrics
is installed, live.
"""
import json
import os
import sys

import numpy as np
import pytest

from panoseg import PQEvaluator, PQStats
from panoseg.evaluation.extra_metrics import (confusion_rows, extra_results, parsing_covering, pq_by_size,
                                   pq_dagger)
from panoseg.testing.synthetic import default_categories, make_image_pair

CATS = [{"id": 1, "name": "person", "isthing": 1}, {"id": 3, "name": "car", "isthing": 1},
        {"id": 18, "name": "dog", "isthing": 1}, {"id": 187, "name": "sky", "isthing": 0},
        {"id": 193, "name": "grass", "isthing": 0}]
GOLDEN = os.path.join(os.path.dirname(__file__), "data", "torchmetrics_pq_dagger.json")


def seg(i, c, **kw):
    return {"id": i, "category_id": c, **kw}


def evaluate_maps(pairs, categories=CATS):
    ev = PQEvaluator(categories)
    for gt, gs, pred, ps in pairs:
        for s in gs:
            s.setdefault("iscrowd", 0)
            s.setdefault("area", int((gt == s["id"]).sum()))
        ev.add(gt.astype(np.uint32), gs, pred.astype(np.uint32), ps)
    return ev.stats


# ------------------------------------------------------------------ hand-computed cases

def test_stuff_split_in_two_predictions():
    # GT: sky = pixels 0-5, grass = 6-9. Prediction: sky as two segments (0-2, 3-4), grass 5-9.
    gt = np.array([[1, 1, 1, 1, 1, 1, 2, 2, 2, 2]])
    pred = np.array([[7, 7, 7, 8, 8, 9, 9, 9, 9, 9]])
    stats = evaluate_maps([(gt, [seg(1, 187), seg(2, 193)], pred,
                            [seg(7, 187), seg(8, 187), seg(9, 193)])])
    # PQ: sky is missed (IoUs 3/6 and 2/6 are not > 0.5), grass matched with IoU 4/5
    assert stats.summarize()["All"]["pq"] == pytest.approx((0 + 0.8 / 1) / 2)
    d = pq_dagger(stats)
    # PQ-dagger: sky scores the union of its predictions, 5/6; grass 4/5; no FP / FN for stuff
    assert d["per_class"][187] == pytest.approx({"pq": 5 / 6, "sq": 5 / 6, "rq": 1.0})
    assert d["Stuff"]["pq"] == pytest.approx((5 / 6 + 0.8) / 2) and d["Stuff"]["n"] == 2
    assert d["Things"]["n"] == 0
    pc = parsing_covering(stats)
    # covering: sky 6 * max(3/6, 2/6) / 6, grass 4 * 4/5 / 4
    assert pc["per_class"] == pytest.approx({187: 0.5, 193: 0.8}) and pc["pc"] == pytest.approx(0.65)
    assert confusion_rows(stats) == [{"gt_category_id": 187, "pred_category_id": 187, "count": 1}]


def test_things_sizes_void_and_confusion():
    h, w = 60, 100
    gt = np.zeros((h, w), int)
    pred = np.zeros((h, w), int)
    gt[0:40, 0:40] = 1          # person, 1600 px: medium
    pred[0:40, 0:30] = 11       # person prediction, IoU 1200 / 1600 = 0.75: TP
    gt[50:60, 50:60] = 2        # car, 100 px: small ...
    pred[50:60, 50:60] = 12     # ... predicted as dog: FN car (small), FP dog (small)
    gt[0:60, 60:100] = 3        # sky, 2400 px
    pred[0:60, 60:100] = 13
    pred[45:50, 0:5] = 14       # a person prediction on VOID only: ignored
    gt[55:60, 0:10] = 4         # a car nothing predicts: FN, confused with nothing
    stats = evaluate_maps([(gt, [seg(1, 1), seg(2, 3), seg(3, 187), seg(4, 3)], pred,
                            [seg(11, 1), seg(12, 18), seg(13, 187), seg(14, 1)])])
    sizes = pq_by_size(stats)
    assert sizes["medium"] == pytest.approx({"pq": 0.75, "sq": 0.75, "rq": 1.0, "n": 1})
    # small: car tp 0 fn 2 -> 0; dog fp 1 -> 0; two categories
    assert sizes["small"] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 2}
    assert sizes["large"]["n"] == 0
    assert confusion_rows(stats) == [
        {"gt_category_id": 3, "pred_category_id": 18, "count": 1},
        {"gt_category_id": 3, "pred_category_id": None, "count": 1}]
    d = pq_dagger(stats)
    assert d["Things"] == stats.summarize()["Things"]  # things are scored as PQ
    assert d["per_class"][187]["pq"] == 1.0


def test_crowd_is_left_out_of_covering_and_dagger():
    gt = np.array([[1, 1, 2, 2, 3, 3]])
    pred = np.array([[5, 5, 5, 5, 6, 6]])
    gs = [seg(1, 1), seg(2, 1, iscrowd=1), seg(3, 187)]
    stats = evaluate_maps([(gt, gs, pred, [seg(5, 1), seg(6, 187)])])
    # person: the one non-crowd segment (2 px) has IoU 2 / (4 + 2 - 2) = 0.5 with the prediction
    assert parsing_covering(stats)["per_class"][1] == pytest.approx(0.5)
    assert stats.cover_area[0] == 2  # the crowd segment is not a region to cover


# ------------------------------------------------------------------ plain-numpy model

def model_extra(gt, gt_segs, pred, pred_segs, cats):
    """The definitions, written out directly with numpy on the id maps."""
    isthing = {c["id"]: bool(c["isthing"]) for c in cats}
    index = {c["id"]: k for k, c in enumerate(cats)}
    n = len(cats)
    out = {"dagger_iou": np.zeros(n), "dagger_count": np.zeros(n, int), "cover_iou": np.zeros(n),
           "cover_area": np.zeros(n), "size_tp": np.zeros((n, 3), int),
           "size_fn": np.zeros((n, 3), int), "size_fp": np.zeros((n, 3), int),
           "confusion": np.zeros((n, n + 1), int)}
    gvoid = gt == 0
    parea = {s["id"]: int((pred == s["id"]).sum()) for s in pred_segs}

    def iou(gmask, garea, pmask, pa):
        inter = int((gmask & pmask).sum())
        return inter / (pa + garea - inter - int((pmask & gvoid).sum())) if inter else 0.0

    def bucket(a):
        return 0 if a < 1024 else (1 if a < 9216 else 2)

    matched_pred = set()
    for g in gt_segs:
        if g["iscrowd"]:
            continue
        gm = gt == g["id"]
        c = g["category_id"]
        ious = [iou(gm, g["area"], pred == p["id"], parea[p["id"]]) for p in pred_segs
                if p["category_id"] == c]
        best = max(ious, default=0.0)
        out["cover_iou"][index[c]] += g["area"] * best
        out["cover_area"][index[c]] += g["area"]
        if best > 0.5:
            out["size_tp"][index[c], bucket(g["area"])] += 1
            matched_pred |= {p["id"] for p in pred_segs if p["category_id"] == c
                             and iou(gm, g["area"], pred == p["id"], parea[p["id"]]) > 0.5}
        else:
            out["size_fn"][index[c], bucket(g["area"])] += 1
            overlaps = [(int((gm & (pred == p["id"])).sum()), -k, p) for k, p in enumerate(pred_segs)]
            top = max(overlaps, key=lambda t: (t[0], t[1]), default=(0, 0, None))
            col = index[top[2]["category_id"]] if top[0] > 0 else n
            out["confusion"][index[c], col] += 1
    for c in isthing:
        if isthing[c]:
            continue
        gm = np.isin(gt, [g["id"] for g in gt_segs if g["category_id"] == c and not g["iscrowd"]])
        if not gm.any():
            continue
        pm = np.isin(pred, [p["id"] for p in pred_segs if p["category_id"] == c])
        out["dagger_count"][index[c]] += 1
        out["dagger_iou"][index[c]] += iou(gm, int(gm.sum()), pm, int(pm.sum()))
    crowd_region = {}
    for g in gt_segs:
        if g["iscrowd"]:
            crowd_region[g["category_id"]] = gt == g["id"]  # the last one wins, as panopticapi
    for p in pred_segs:
        if p["id"] in matched_pred:
            continue
        pm = pred == p["id"]
        covered = int((pm & gvoid).sum()) + int((pm & crowd_region.get(p["category_id"], False)).sum())
        if covered / parea[p["id"]] > 0.5:
            continue
        out["size_fp"][index[p["category_id"]], bucket(parea[p["id"]])] += 1
    return out


@pytest.mark.parametrize("seed", range(12))
def test_generated_images_match_the_numpy_model(seed):
    rng = np.random.default_rng(seed)
    cats = default_categories()
    gt, gs, pred, ps = make_image_pair(rng, 48, 64, cats, crowd_prob=0.4, void_frac=0.1)
    stats = evaluate_maps([(gt, gs, pred, ps)], cats)
    model = model_extra(gt, gs, pred, ps, cats)
    for name in ("dagger_count", "size_tp", "size_fn", "size_fp", "confusion"):
        assert np.array_equal(getattr(stats, name), model[name]), name
    for name in ("dagger_iou", "cover_iou", "cover_area"):
        np.testing.assert_allclose(getattr(stats, name), model[name], rtol=1e-12, atol=1e-12)
    assert stats.size_tp.sum() == stats.tp.sum() and stats.size_fn.sum() == stats.fn.sum()
    assert stats.size_fp.sum() == stats.fp.sum()
    assert stats.confusion.sum() == stats.fn.sum()


def test_extra_statistics_add_merge_and_pickle():
    import pickle

    rng = np.random.default_rng(5)
    cats = default_categories()
    pairs = [make_image_pair(rng, 40, 50, cats) for _ in range(4)]
    whole = evaluate_maps(pairs, cats)
    parts = [evaluate_maps([p], cats) for p in pairs]
    total = sum(parts[1:], parts[0].copy())
    again = pickle.loads(pickle.dumps(total))
    for name in PQStats._EXTRA:
        np.testing.assert_allclose(getattr(again, name), getattr(whole, name), rtol=1e-12)
    assert again.n_images_extra == 4
    a, b = extra_results(again), extra_results(whole)
    assert a["confusion"] == b["confusion"]
    assert a["pq_dagger"]["All"] == pytest.approx(b["pq_dagger"]["All"])
    assert a["parsing_covering"]["pc"] == pytest.approx(b["parsing_covering"]["pc"])
    assert json.dumps(a)  # JSON-ready


# ------------------------------------------------------------------ torchmetrics

def torchmetrics_case(seed, h=60, w=80):
    """A generated pair without GT crowd, whose prediction's VOID becomes one more stuff
    segment: the inputs on which torchmetrics' conventions and ours agree."""
    rng = np.random.default_rng(seed)
    cats = default_categories()
    gt, gs, pred, ps = make_image_pair(rng, h, w, cats, crowd_prob=0.0, void_frac=0.08)
    if (pred == 0).any():
        used = {s["id"] for s in gs + ps}
        new = next(i for i in range(1, 1 << 24) if i not in used)
        stuff = [c["id"] for c in cats if not c["isthing"]]
        pred = np.where(pred == 0, new, pred).astype(np.uint32)
        ps = ps + [{"id": new, "category_id": stuff[seed % len(stuff)], "iscrowd": 0,
                    "area": int((pred == new).sum())}]
    return gt, gs, pred, ps


def to_torchmetrics(ids, segs, cats):
    """An id map as torchmetrics' (category, instance) pixels; category 0 = VOID."""
    thing = {c["id"]: c["isthing"] for c in cats}
    out = np.zeros(ids.shape + (2,), np.int64)
    count = {}
    for s in segs:
        m = ids == s["id"]
        out[m, 0] = s["category_id"]
        if thing[s["category_id"]]:
            count[s["category_id"]] = count.get(s["category_id"], 0) + 1
            out[m, 1] = count[s["category_id"]]
    return out


def ours_on(seeds):
    cats = default_categories()
    return pq_dagger(evaluate_maps([torchmetrics_case(s) for s in seeds], cats))


def test_pq_dagger_equals_stored_torchmetrics_values():
    golden = json.load(open(GOLDEN))["results"]
    for key, ref in golden.items():
        d = ours_on([int(s) for s in key.split(",")])
        assert d["All"]["pq"] == pytest.approx(ref["pq"], abs=1e-6)
        assert d["All"]["n"] == len(ref["per_class"])
        for cat, value in ref["per_class"].items():
            assert d["per_class"][int(cat)]["pq"] == pytest.approx(value, abs=1e-6)


def torchmetrics_values(seeds):
    torch = pytest.importorskip("torch")
    from torchmetrics.detection import ModifiedPanopticQuality
    from torchmetrics.functional.detection import _panoptic_quality_common as tmc

    cats = default_categories()
    things = {c["id"] for c in cats if c["isthing"]}
    stuffs = {c["id"] for c in cats if not c["isthing"]}
    void = tmc._get_void_color(things, stuffs)
    cmap = tmc._get_category_id_to_continuous_id(things, stuffs)
    metric, total = ModifiedPanopticQuality(things=things, stuffs=stuffs), None
    for s in seeds:
        gt, gs, pred, ps = torchmetrics_case(s)
        p = torch.from_numpy(to_torchmetrics(pred, ps, cats))[None]
        t = torch.from_numpy(to_torchmetrics(gt, gs, cats))[None]
        metric.update(p, t)
        parts = tmc._panoptic_quality_update(
            tmc._prepocess_inputs(things, stuffs, p, void, False),
            tmc._prepocess_inputs(things, stuffs, t, void, True), cmap, void,
            modified_metric_stuffs=stuffs)
        total = parts if total is None else tuple(a + b for a, b in zip(total, parts))
    per_class = tmc._panoptic_quality_compute(*total)[0]
    present = (total[1] + 0.5 * total[2] + 0.5 * total[3]) > 0
    inverse = {v: k for k, v in cmap.items()}
    return {"pq": float(metric.compute()),
            "per_class": {str(inverse[k]): float(per_class[k]) for k in range(len(per_class))
                          if present[k]}}


@pytest.mark.parametrize("seeds", [[0], [1], [2, 3, 4, 5], [6, 7]])
def test_pq_dagger_equals_live_torchmetrics(seeds):
    ref = torchmetrics_values(seeds)
    d = ours_on(seeds)
    assert d["All"]["pq"] == pytest.approx(ref["pq"], abs=1e-6)
    for cat, value in ref["per_class"].items():
        assert d["per_class"][int(cat)]["pq"] == pytest.approx(value, abs=1e-6)


if __name__ == "__main__":  # regenerate the stored torchmetrics values
    import torch  # noqa: F401
    import torchmetrics

    results = {",".join(map(str, s)): torchmetrics_values(s) for s in ([0], [1], [2, 3, 4, 5])}
    json.dump({"about": f"torchmetrics {torchmetrics.__version__} ModifiedPanopticQuality on "
                        "torchmetrics_case(seed); regenerate with `python "
                        "tests/test_extra_metrics.py` where torch + torchmetrics are installed",
               "results": results}, open(GOLDEN, "w"), indent=1)
    print("wrote", GOLDEN, file=sys.stderr)
