"""Issue 11, point 3: a GT segment's JSON ``area`` is checked against its PNG, never trusted.

``gt_area="png"`` (default): a disagreement is a PanopticFormatError naming the file, the image
and the segment. ``gt_area="json"``: panopticapi's behaviour (the JSON area is used), the
disagreeing segments counted in ``PQStats.n_area_mismatch``.
"""
import contextlib
import io
import json
import pickle

import numpy as np
import pytest
from conftest import DATA

import panoseg
from panoseg import PanopticFormatError, PQEvaluator
from panoseg.evaluation import EvaluationJob, PQStats, evaluate, pq_compute
from panoseg.evaluation.extra_metrics import extra_results
from panoseg.io.png import read_ids
from panoseg.testing.synthetic import make_dataset

CATEGORIES = [{"id": 1, "name": "person", "isthing": 1}, {"id": 2, "name": "sky", "isthing": 0}]


def in_memory_image():
    gt = np.array([[1, 1, 1, 1], [2, 2, 2, 2]], np.uint32)
    pred = np.array([[5, 5, 5, 0], [6, 6, 6, 6]], np.uint32)
    gt_segs = [{"id": 1, "category_id": 1, "iscrowd": 0, "area": 4},
               {"id": 2, "category_id": 2, "iscrowd": 0, "area": 4}]
    pred_segs = [{"id": 5, "category_id": 1}, {"id": 6, "category_id": 2}]
    return gt, gt_segs, pred, pred_segs


def test_in_memory_wrong_area_is_an_error_naming_image_and_segment():
    gt, gt_segs, pred, pred_segs = in_memory_image()
    gt_segs[1]["area"] = 3
    ev = PQEvaluator(CATEGORIES)
    with pytest.raises(PanopticFormatError) as info:
        ev.add(gt, gt_segs, pred, pred_segs, image_id=42)
    err = info.value
    assert (err.image_id, err.segment_id) == (42, 2)
    assert "image 42" in str(err) and "segment 2" in str(err)
    assert "area is 3" in str(err) and "4 pixels" in str(err) and "gt_area" in str(err)
    assert ev.stats.n_images == 0  # nothing added


def test_in_memory_json_mode_uses_and_counts_the_json_area():
    gt, gt_segs, pred, pred_segs = in_memory_image()
    gt_segs[0]["area"] = 3  # union 3 + 3 - 3 = 3: IoU 1 instead of 3/4
    gt_segs[1]["area"] = 4.5
    ev = PQEvaluator(CATEGORIES, gt_area="json")
    r = ev.add(gt, gt_segs, pred, pred_segs, image_id=1)
    assert r.n_area_mismatch == 2
    assert r.iou[0] == 1.0 and r.iou[1] == 4 / 4.5
    ev.add(*in_memory_image(), image_id=2)  # areas right: nothing counted
    assert ev.stats.n_area_mismatch == 2
    assert pickle.loads(pickle.dumps(ev)).stats.n_area_mismatch == 2
    assert pickle.loads(pickle.dumps(ev)).gt_area == "json"
    # With correct areas the two modes agree exactly.
    png = PQEvaluator(CATEGORIES).evaluate(*in_memory_image())
    json_mode = PQEvaluator(CATEGORIES, gt_area="json").evaluate(*in_memory_image())
    assert png.iou.tolist() == json_mode.iou.tolist() and png.n_area_mismatch == 0


def test_prediction_areas_are_ignored():
    """panopticapi ignores a prediction's area; so does panoseg (it counts the PNG)."""
    gt, gt_segs, pred, pred_segs = in_memory_image()
    pred_segs[0]["area"] = 1000
    r = PQEvaluator(CATEGORIES).evaluate(gt, gt_segs, pred, pred_segs)
    assert r.pred_area.tolist() == [3, 4] and r.n_area_mismatch == 0


def test_bad_gt_area_mode():
    with pytest.raises(ValueError, match="gt_area"):
        PQEvaluator(CATEGORIES, gt_area="pixels")
    with pytest.raises(ValueError, match="gt_area"):
        evaluate("gt.json", "pred.json", gt_area="PNG")


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory):
    """A generated dataset whose GT JSON has two wrong areas (one too small, one too large)."""
    ds = make_dataset(tmp_path_factory.mktemp("gt_area"), n_images=6, height=64, width=80,
                      seed=4)
    with open(ds.gt_json) as f:
        gt = json.load(f)
    wrong = []
    for ann, change in ((gt["annotations"][1], lambda a: a // 2),
                        (gt["annotations"][4], lambda a: a + 37)):
        seg = ann["segments_info"][0]
        seg["area"] = change(seg["area"])
        wrong.append((ann["image_id"], ann["file_name"], seg["id"]))
    with open(ds.gt_json, "w") as f:
        json.dump(gt, f)
    return ds, wrong


def test_file_evaluation_refuses_a_wrong_area(corrupted):
    ds, wrong = corrupted
    image_id, file_name, segment_id = wrong[0]
    for run in (lambda: evaluate(ds.gt_json, ds.pred_json, workers=2),
                lambda: pq_compute(ds.gt_json, ds.pred_json),
                lambda: panoseg.pq_compute(ds.gt_json, ds.pred_json, None, None, 1)):
        with pytest.raises(PanopticFormatError) as info:
            run()
        err = info.value
        assert (err.image_id, err.file_name, err.segment_id) == (image_id, file_name, segment_id)
        assert str(err).startswith(f"{ds.gt_json}: image {image_id} ({file_name}): "
                                   f"segment {segment_id}: area is ")
        assert file_name in str(err).split("GT PNG", 1)[1]  # the PNG is named too


def test_file_evaluation_json_mode_counts_across_threads_and_chunks(corrupted):
    ds, wrong = corrupted
    result = evaluate(ds.gt_json, ds.pred_json, workers=3, gt_area="json")
    assert result.stats.n_area_mismatch == len(wrong)
    assert pq_compute(ds.gt_json, ds.pred_json, gt_area="json") == result.results
    job = pickle.loads(pickle.dumps(EvaluationJob(ds.gt_json, ds.pred_json, gt_area="json")))
    total = PQStats(job.categories)
    for a, b in ((0, 2), (2, 5), (5, 6)):
        chunk = job.subset(a, b).evaluate_chunk()
        total += pickle.loads(pickle.dumps(chunk.stats))
    assert total.n_area_mismatch == len(wrong)
    assert total.summarize() == result.results
    assert extra_results(total) == extra_results(result.stats)


def test_json_mode_equals_panopticapi(corrupted):
    evaluation = pytest.importorskip("panopticapi.evaluation")
    ds, _ = corrupted
    with contextlib.redirect_stdout(io.StringIO()):
        ref = evaluation.pq_compute(ds.gt_json, ds.pred_json)
    ours = pq_compute(ds.gt_json, ds.pred_json, gt_area="json")
    for group in ("All", "Things", "Stuff"):
        assert ours[group]["n"] == ref[group]["n"]
        for key in ("pq", "sq", "rq"):
            assert abs(ours[group][key] - ref[group][key]) <= 1e-9, (group, key)
    assert set(ours["per_class"]) == set(ref["per_class"])
    for cat, values in ref["per_class"].items():
        for key in ("pq", "sq", "rq"):
            assert abs(ours["per_class"][cat][key] - values[key]) <= 1e-9, (cat, key)


def test_coco_sample_areas_agree_with_its_pngs():
    """COCO's own GT areas equal their PNG pixel counts (crowd segments included), so the
    default gt_area="png" works on real COCO data."""
    gt = json.loads((DATA / "panoptic_examples.json").read_text())
    n = 0
    for ann in gt["annotations"]:
        ids = read_ids(str(DATA / "panoptic_examples" / ann["file_name"]))
        for seg in ann["segments_info"]:
            assert seg["area"] == int((ids == seg["id"]).sum()), (ann["image_id"], seg["id"])
            n += 1
    assert n > 0
    result = evaluate(DATA / "panoptic_examples.json", DATA / "panoptic_examples.json")
    assert result.stats.n_area_mismatch == 0
    assert result.results["All"]["pq"] == 1.0


def test_tune_checks_gt_areas(tmp_path):
    from panoseg.merge import MergeParams
    from panoseg.merge.job import MergeJob
    from panoseg.merge.tune import tune
    from panoseg.testing.synthetic import make_merge_inputs

    inputs = make_merge_inputs(tmp_path, n_images=2, height=48, width=64, seed=2)
    job = MergeJob.from_files(inputs.semseg_json, inputs.instseg_json, inputs.images_json,
                              inputs.categories_json, MergeParams())
    grid = [MergeParams()]
    good = tune(job, inputs.gt.gt_json, grid=grid, workers=1)
    with open(inputs.gt.gt_json) as f:
        gt = json.load(f)
    seg = gt["annotations"][0]["segments_info"][0]
    seg["area"] += 1
    with open(inputs.gt.gt_json, "w") as f:
        json.dump(gt, f)
    with pytest.raises(PanopticFormatError, match=f"segment {seg['id']}: area is"):
        tune(job, inputs.gt.gt_json, grid=grid, workers=1)
    counted = tune(job, inputs.gt.gt_json, grid=grid, workers=1, gt_area="json")
    assert counted[0].stats.n_area_mismatch == 1 and good[0].stats.n_area_mismatch == 0
    with pytest.raises(ValueError, match="gt_area"):
        tune(job, inputs.gt.gt_json, grid=grid, gt_area="nope")


def test_cli_gt_area(tmp_path, capsys):
    """eval: exit 1 and one line naming image and segment; --gt-area json: exit 0 and one
    warning line with the count."""
    from panoseg.cli import main

    ds = make_dataset(tmp_path, n_images=3, height=24, width=32, seed=5)
    gt = json.loads(open(ds.gt_json).read())
    seg = gt["annotations"][1]["segments_info"][0]
    seg["area"] += 1
    with open(ds.gt_json, "w") as f:
        json.dump(gt, f)
    args = ["eval", "--gt-json-file", str(ds.gt_json), "--pred-json-file", str(ds.pred_json),
            "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"segment {seg['id']}" in err[0] and "--gt-area json" in err[0]
    assert main(args + ["--gt_area", "json"]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 GT segment(s) have a JSON area" in err
