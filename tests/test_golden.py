"""Golden tests: panoseg.pq_compute gives panopticapi's numbers (within 1e-9) on the COCO sample
and on generated COCO-like datasets; and the same numbers for every worker count."""
import contextlib
import io
import json

import numpy as np
import pytest

import panoseg
from panoseg.testing.synthetic import make_dataset, make_prediction

from conftest import DATA

panopticapi_evaluation = pytest.importorskip("panopticapi.evaluation")


def reference(gt_json, pred_json, gt_folder=None, pred_folder=None):
    with contextlib.redirect_stdout(io.StringIO()):
        return panopticapi_evaluation.pq_compute(str(gt_json), str(pred_json),
                                                 gt_folder and str(gt_folder),
                                                 pred_folder and str(pred_folder))


def assert_same_results(ours, ref, tol=1e-9):
    assert set(ours) == set(ref) == {"All", "Things", "Stuff", "per_class"}
    for group in ("All", "Things", "Stuff"):
        assert ours[group]["n"] == ref[group]["n"]
        for key in ("pq", "sq", "rq"):
            assert abs(ours[group][key] - ref[group][key]) <= tol, (group, key)
    assert set(ours["per_class"]) == set(ref["per_class"])
    for cat, values in ref["per_class"].items():
        for key in ("pq", "sq", "rq"):
            assert abs(ours["per_class"][cat][key] - values[key]) <= tol, (cat, key)


def write_prediction(folder, gt_json_path, seed):
    """Perturbs every GT image of a COCO panoptic JSON and writes pred.json + pred/."""
    gt = json.loads(gt_json_path.read_text())
    gt_folder = gt_json_path.with_suffix("")
    (folder / "pred").mkdir()
    rng = np.random.default_rng(seed)
    annotations = []
    for ann in gt["annotations"]:
        ids = panoseg.read_ids(gt_folder / ann["file_name"])
        pred_ids, pred_segments = make_prediction(rng, ids, ann["segments_info"], gt["categories"])
        panoseg.write_ids(folder / "pred" / ann["file_name"], pred_ids)
        annotations.append({"image_id": ann["image_id"], "file_name": ann["file_name"],
                            "segments_info": pred_segments})
    (folder / "pred.json").write_text(json.dumps({"annotations": annotations,
                                                  "categories": gt["categories"]}))
    return folder / "pred.json"


def test_coco_sample_against_itself():
    gt_json = DATA / "panoptic_examples.json"
    ours = panoseg.pq_compute(gt_json, gt_json)
    assert_same_results(ours, reference(gt_json, gt_json), tol=0)
    assert ours["All"] == {"pq": 1.0, "sq": 1.0, "rq": 1.0, "n": 8}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_coco_sample_with_perturbed_predictions(tmp_path, seed):
    gt_json = DATA / "panoptic_examples.json"
    pred_json = write_prediction(tmp_path, gt_json, seed)
    ours = panoseg.pq_compute(gt_json, pred_json, workers=2)
    assert_same_results(ours, reference(gt_json, pred_json))
    assert 0.1 < ours["All"]["pq"] < 0.95


@pytest.mark.parametrize("height,width,n_images,seed", [
    (480, 640, 6, 0),
    (427, 640, 4, 1),
    ((40, 700), (40, 700), 8, 2),   # a different size per image
    (64, 48, 10, 3),
    (17, 300, 5, 4),
    (480, 640, 4, 5),
])
def test_generated_datasets(tmp_path, height, width, n_images, seed):
    ds = make_dataset(tmp_path, n_images=n_images, height=height, width=width, seed=seed)
    ref = reference(ds.gt_json, ds.pred_json)
    for workers in (1, 3):
        assert_same_results(panoseg.pq_compute(ds.gt_json, ds.pred_json, workers=workers), ref)


def test_result_does_not_depend_on_worker_count(tmp_path):
    ds = make_dataset(tmp_path, n_images=12, height=120, width=160, seed=7)
    runs = [panoseg.evaluate(ds.gt_json, ds.pred_json, workers=w) for w in (1, 2, 5)]
    for run in runs[1:]:
        assert run.results == runs[0].results  # bit for bit
        assert np.array_equal(run.stats.iou, runs[0].stats.iou)


def test_explicit_folders_and_in_memory_evaluator_agree(tmp_path):
    ds = make_dataset(tmp_path, n_images=5, height=90, width=120, seed=11)
    by_files = panoseg.pq_compute(ds.gt_json, ds.pred_json, gt_folder=ds.gt_folder,
                                  pred_folder=ds.pred_folder)
    gt, pred = json.loads(open(ds.gt_json).read()), json.loads(open(ds.pred_json).read())
    ev = panoseg.PQEvaluator(gt["categories"])
    for g, p in zip(gt["annotations"], pred["annotations"]):
        g_rgb = panoseg.id2rgb(panoseg.read_ids(f"{ds.gt_folder}/{g['file_name']}"))
        p_ids = panoseg.read_ids(f"{ds.pred_folder}/{p['file_name']}")
        ev.add(g_rgb, g["segments_info"], p_ids.astype(np.int64), p["segments_info"], g["image_id"])
    assert ev.summarize() == by_files


def test_per_image_results(tmp_path):
    ds = make_dataset(tmp_path, n_images=6, height=100, width=100, seed=5)
    images = []
    evaluation = panoseg.evaluate(ds.gt_json, ds.pred_json, on_image=images.append)
    assert [r.image_id for r in images] == [1, 2, 3, 4, 5, 6]
    total = panoseg.PQStats(evaluation.stats.categories)
    for r in images:
        total.add_image(r)
        d = r.to_dict()
        assert d["tp"] == int(r.tp.sum()) and d["fp"] == int(r.fp.sum()) and d["n"] >= 1
        assert 0.0 <= d["pq"] <= d["sq"] <= 1.0 and 0.0 <= d["rq"] <= 1.0
        # one image alone gives the same per-image numbers as the panopticapi formula on it
        alone = panoseg.PQStats(evaluation.stats.categories)
        alone.add_image(r)
        assert alone.summarize()["All"] == r.summary
    assert total.summarize() == evaluation.results


def test_bundled_sample_prediction():
    """The prediction README's first command evaluates (see tests/data/sample_prediction)."""
    gt_json = DATA / "panoptic_examples.json"
    pred_json = DATA.parent / "sample_prediction" / "panoptic_pred.json"
    ours = panoseg.pq_compute(gt_json, pred_json)
    assert_same_results(ours, reference(gt_json, pred_json))
    assert ours["All"]["n"] == 9 and abs(ours["All"]["pq"] - 0.4225243711965366) < 1e-12


def test_interlaced_pngs_take_the_decoding_path(tmp_path):
    """Interlaced PNGs skip the fused decode-and-count kernel; the numbers do not change."""
    from pngtools import encode

    ds = make_dataset(tmp_path, n_images=3, height=40, width=50, seed=13)
    expected = panoseg.pq_compute(ds.gt_json, ds.pred_json)
    first = sorted(p for p in __import__("os").listdir(ds.pred_folder))[0]
    path = f"{ds.pred_folder}/{first}"
    ids = panoseg.read_ids(path)
    open(path, "wb").write(encode(panoseg.id2rgb(ids), interlace=True))
    assert np.array_equal(panoseg.read_ids(path), ids)
    assert panoseg.pq_compute(ds.gt_json, ds.pred_json) == expected
