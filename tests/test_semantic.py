"""Semantic metrics from the panoptic pass (mIoU, fwIoU, mAcc, aAcc): equal to hotcoco's
``PanopticEval(...).report()["metrics"]`` and to a per-pixel numpy model, through every way eval
runs (files, in memory, per image, bootstrap, dask, report)."""
import contextlib
import io
import json

import numpy as np
import pytest

import panoseg
from panoseg.cli import main
from panoseg.evaluation import PQEvaluator, evaluate
from panoseg.evaluation.semantic import semantic_from_counts
from panoseg.testing.synthetic import make_dataset

from conftest import DATA

KEYS = ("mIoU", "fwIoU", "mAcc", "aAcc")


def pixel_model(gt_json, pred_json, gt_folder, pred_folder):
    """Per-category (inter, gt, pred) pixel counts, pixel by pixel (hotcoco's conventions)."""
    gt, pred = (json.loads(open(p).read()) for p in (gt_json, pred_json))
    index = {c["id"]: k for k, c in enumerate(gt["categories"])}
    n = len(index)
    inter, gtc, prc = (np.zeros(n, np.int64) for _ in range(3))
    pred_by = {a["image_id"]: a for a in pred["annotations"]}
    for ga in gt["annotations"]:
        pa = pred_by[ga["image_id"]]
        g = panoseg.read_ids(f"{gt_folder}/{ga['file_name']}")
        p = panoseg.read_ids(f"{pred_folder}/{pa['file_name']}")
        gl, pl = np.full(g.shape, -1), np.full(p.shape, -1)
        for s in ga["segments_info"]:
            gl[g == s["id"]] = index[s["category_id"]]  # crowd included
        for s in pa["segments_info"]:
            pl[p == s["id"]] = index[s["category_id"]]
        labelled = gl >= 0
        gtc += np.bincount(gl[labelled], minlength=n)
        both = labelled & (pl >= 0)
        prc += np.bincount(pl[both], minlength=n)
        inter += np.bincount(gl[both & (gl == pl)], minlength=n)
    return inter, gtc, prc


def hotcoco_metrics(gt_json, pred_json, gt_folder, pred_folder):
    panoptic = pytest.importorskip("hotcoco.panoptic")
    ev = panoptic.PanopticEval(str(gt_json), str(pred_json), gt_folder=str(gt_folder),
                               pred_folder=str(pred_folder))
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
    return ev.report()


@pytest.mark.parametrize("height,width,n_images,seed", [
    (120, 160, 6, 3), (480, 640, 3, 0), (33, 200, 5, 1)])
def test_generated_sets_equal_hotcoco_and_the_pixel_model(tmp_path, height, width, n_images,
                                                          seed):
    ds = make_dataset(tmp_path, n_images=n_images, height=height, width=width, seed=seed)
    ev = evaluate(ds.gt_json, ds.pred_json)
    counts = pixel_model(ds.gt_json, ds.pred_json, ds.gt_folder, ds.pred_folder)
    for ours, model in zip((ev.stats.sem_inter, ev.stats.sem_gt, ev.stats.sem_pred), counts):
        np.testing.assert_array_equal(ours, model)
    from panoseg.evaluation.semantic import semantic_results

    sem = semantic_results(ev.stats)
    report = hotcoco_metrics(ds.gt_json, ds.pred_json, ds.gt_folder, ds.pred_folder)
    for key in KEYS:
        assert abs(sem[key] - report["metrics"][key]) <= 1e-9, key
    names = {c["id"]: c["name"] for c in ds.categories}
    for cid, values in sem["per_class"].items():
        theirs = report["per_class"][names[cid]]
        assert abs(values["IoU"] - theirs["IoU"]) <= 1e-9
        assert ("Acc" in values) == ("Acc" in theirs)
        if "Acc" in values:
            assert abs(values["Acc"] - theirs["Acc"]) <= 1e-9


def test_coco_sample_with_crowd_and_void():
    gt_json = DATA / "panoptic_examples.json"
    pred_json = DATA.parent / "sample_prediction" / "panoptic_pred.json"
    ev = evaluate(gt_json, pred_json)
    from panoseg.evaluation.semantic import semantic_results

    sem = semantic_results(ev.stats)
    report = hotcoco_metrics(gt_json, pred_json, DATA / "panoptic_examples",
                             DATA.parent / "sample_prediction" / "panoptic_pred")
    for key in KEYS:
        assert abs(sem[key] - report["metrics"][key]) <= 1e-9, key
    self_sem = semantic_results(evaluate(gt_json, gt_json).stats)
    assert all(self_sem[k] == 1.0 for k in KEYS)


def test_conventions_on_a_hand_built_image():
    cats = [{"id": 1, "isthing": 1, "name": "a"}, {"id": 2, "isthing": 0, "name": "b"},
            {"id": 3, "isthing": 0, "name": "c"}]
    gt = np.array([[0, 0, 5, 5], [7, 7, 5, 5]], np.uint32)       # VOID, crowd (7) and 5
    pred = np.array([[9, 9, 9, 0], [9, 9, 8, 8]], np.uint32)     # predicted VOID at (0, 3)
    gt_segs = [{"id": 5, "category_id": 2, "iscrowd": 0, "area": 4},
               {"id": 7, "category_id": 1, "iscrowd": 1, "area": 2}]
    pred_segs = [{"id": 9, "category_id": 1}, {"id": 8, "category_id": 2}]
    ev = PQEvaluator(cats)
    result = ev.add(gt, gt_segs, pred, pred_segs)
    s = ev.stats
    # VOID GT pixels (0, 0), (0, 1) count nowhere; crowd pixels count as category 1.
    np.testing.assert_array_equal(s.sem_gt, [2, 4, 0])
    np.testing.assert_array_equal(s.sem_pred, [3, 2, 0])   # the predicted VOID pixel: a miss
    np.testing.assert_array_equal(s.sem_inter, [2, 2, 0])
    sem = semantic_from_counts(s.sem_inter, s.sem_gt, s.sem_pred, [1, 2, 3])
    assert sem["per_class"] == {1: {"IoU": 2 / 3, "Acc": 1.0}, 2: {"IoU": 0.5, "Acc": 0.5}}
    assert sem["mIoU"] == pytest.approx((2 / 3 + 0.5) / 2)
    assert sem["aAcc"] == pytest.approx(4 / 6)
    assert sem["fwIoU"] == pytest.approx((2 * 2 / 3 + 4 * 0.5) / 6)
    assert sem["n"] == 2
    assert result.to_dict()["miou"] == pytest.approx(sem["mIoU"])


def test_empty_dataset_scores_zero():
    sem = semantic_from_counts(np.zeros(3), np.zeros(3), np.zeros(3), [1, 2, 3])
    assert sem == {"mIoU": 0.0, "fwIoU": 0.0, "mAcc": 0.0, "aAcc": 0.0, "n": 0, "per_class": {}}


def test_cli_json_summary_bootstrap_and_report(tmp_path):
    ds = make_dataset(tmp_path, n_images=6, height=64, width=96, seed=4)
    out, report = tmp_path / "r.json", tmp_path / "rep"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["eval", "--gt_json_file", str(ds.gt_json), "--pred_json_file",
                     str(ds.pred_json), "--json-out", str(out), "--bootstrap", "200",
                     "--report", str(report), "--no-progress"]) == 0
    assert "Semantic | mIoU" in stdout.getvalue()
    res = json.loads(out.read_text())
    sem = res["semantic"]
    assert set(sem) == {"mIoU", "fwIoU", "mAcc", "aAcc", "n", "per_class"}
    for key in KEYS:
        lo, hi = res["bootstrap"]["semantic"][key]
        assert lo <= sem[key] <= hi
    some = next(iter(sem["per_class"]))
    row = next(r for r in res["per_category"] if str(r["id"]) == some)
    assert row["semantic_iou"] == sem["per_class"][some]["IoU"]
    html = (report / "index.html").read_text()
    assert "Semantic segmentation" in html and "mIoU" in html


def test_workers_and_pickling_keep_the_counts(tmp_path):
    import pickle

    ds = make_dataset(tmp_path, n_images=5, height=48, width=64, seed=6)
    one = evaluate(ds.gt_json, ds.pred_json, workers=1).stats
    two = evaluate(ds.gt_json, ds.pred_json, workers=2).stats
    back = pickle.loads(pickle.dumps(two))
    for name in ("sem_inter", "sem_gt", "sem_pred"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
        np.testing.assert_array_equal(getattr(one, name), getattr(back, name))
    total = one.copy()
    total += one
    np.testing.assert_array_equal(total.sem_gt, 2 * one.sem_gt)
