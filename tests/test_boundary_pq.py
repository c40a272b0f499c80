"""Boundary PQ end to end: panoseg.pq_compute(..., iou_type="boundary") gives boundary-iou-api's
numbers (within 1e-9) on the COCO sample, its perturbed predictions and generated sets, at
several dilation ratios; the same through the CLI, the in-memory evaluator, --per-image,
--bootstrap, --dask and the report; and the reference's id-collision quirk is not reproduced."""
import contextlib
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import panoseg
from panoseg.cli import main
from panoseg.evaluation import PQEvaluator, evaluate
from panoseg.evaluation.matching import dilation_pixels
from panoseg.testing.synthetic import make_dataset

from conftest import DATA
from test_golden import assert_same_results, write_prediction

pytest.importorskip("cv2")
pytest.importorskip("panopticapi.evaluation")
sys.path.insert(0, str(Path(__file__).parent / "reference" / "boundary-iou-api"))
boundary_evaluation = pytest.importorskip("boundary_iou.coco_panoptic_api.evaluation")


def reference(gt_json, pred_json, gt_folder=None, pred_folder=None, ratio=0.02):
    with contextlib.redirect_stdout(io.StringIO()):
        return boundary_evaluation.pq_compute(str(gt_json), str(pred_json),
                                              gt_folder and str(gt_folder),
                                              pred_folder and str(pred_folder),
                                              iou_type="boundary", dilation_ratio=ratio)


def boundary_id(categories):
    """The id boundary-iou-api gives segment interiors (a real segment with it collides)."""
    return max(c["id"] for c in categories) + 1


def assert_no_collision(gt_json, pred_json):
    gt, pred = (json.loads(open(p).read()) for p in (gt_json, pred_json))
    marker = boundary_id(gt["categories"])
    for data in (gt, pred):
        for ann in data["annotations"]:
            assert all(s["id"] != marker for s in ann["segments_info"]), "regenerate the data"


SAMPLE_GT = DATA / "panoptic_examples.json"


@pytest.mark.parametrize("ratio", [0.005, 0.02, 0.05])
def test_coco_sample_against_itself(ratio):
    ours = panoseg.pq_compute(SAMPLE_GT, SAMPLE_GT, iou_type="boundary", dilation_ratio=ratio)
    assert_same_results(ours, reference(SAMPLE_GT, SAMPLE_GT, ratio=ratio), tol=0)
    assert ours["All"]["pq"] == 1.0


@pytest.mark.parametrize("seed,ratio", [(0, 0.02), (1, 0.005), (2, 0.05), (3, 0.02)])
def test_coco_sample_with_perturbed_predictions(tmp_path, seed, ratio):
    pred_json = write_prediction(tmp_path, SAMPLE_GT, seed)
    assert_no_collision(SAMPLE_GT, pred_json)
    ours = panoseg.pq_compute(SAMPLE_GT, pred_json, workers=2, iou_type="boundary",
                              dilation_ratio=ratio)
    assert_same_results(ours, reference(SAMPLE_GT, pred_json, ratio=ratio))
    mask = panoseg.pq_compute(SAMPLE_GT, pred_json)
    # Boundary IoU <= mask IoU on coarse perturbations: boundary PQ is the harsher measure.
    assert ours["All"]["pq"] <= mask["All"]["pq"] + 1e-12


@pytest.mark.parametrize("height,width,n_images,seed,ratios", [
    (480, 640, 4, 0, (0.005, 0.02, 0.05)),
    (1024, 2048, 2, 1, (0.005, 0.02, 0.05)),
    (17, 300, 5, 4, (0.02, 0.05)),      # thin images: bands reach across them
    (40, 48, 6, 5, (0.005, 0.3)),       # d = 1 and d larger than the image
])
def test_generated_datasets(tmp_path, height, width, n_images, seed, ratios):
    ds = make_dataset(tmp_path, n_images=n_images, height=height, width=width, seed=seed)
    assert_no_collision(ds.gt_json, ds.pred_json)
    for ratio in ratios:
        ours = panoseg.pq_compute(ds.gt_json, ds.pred_json, iou_type="boundary",
                                  dilation_ratio=ratio)
        assert_same_results(ours, reference(ds.gt_json, ds.pred_json, ratio=ratio))


def test_evaluation_keeps_the_mask_pq_of_the_same_pass(tmp_path):
    ds = make_dataset(tmp_path, n_images=4, height=96, width=128, seed=7)
    ev = evaluate(ds.gt_json, ds.pred_json, iou_type="boundary")
    assert ev.stats.iou_type == "boundary"
    assert_same_results(ev.stats.summarize_segm(), panoseg.pq_compute(ds.gt_json, ds.pred_json),
                        tol=1e-12)
    with pytest.raises(ValueError, match="iou_type"):
        evaluate(ds.gt_json, ds.pred_json, iou_type="bondary")
    with pytest.raises(ValueError, match="dilation_ratio"):
        evaluate(ds.gt_json, ds.pred_json, iou_type="boundary", dilation_ratio=0)


def test_dilation_rounds_as_the_reference():
    # round() halves to even, as boundary-iou-api's int(round(ratio * diagonal)).
    assert dilation_pixels(3, 4, 0.5) == 2      # 2.5 -> 2
    assert dilation_pixels(3, 4, 0.7) == 4      # 3.5 -> 4
    assert dilation_pixels(480, 640, 0.02) == 16
    assert dilation_pixels(1, 1, 0.001) == 1    # never below 1
    assert dilation_pixels(1024, 2048, 0.02) == round(0.02 * math.hypot(1024, 2048))


def test_in_memory_evaluator_matches_files(tmp_path):
    ds = make_dataset(tmp_path, n_images=3, height=80, width=120, seed=8)
    gt, pred = (json.loads(open(p).read()) for p in (ds.gt_json, ds.pred_json))
    ev = PQEvaluator(gt["categories"], iou_type="boundary", dilation_ratio=0.05)
    for g, p in zip(gt["annotations"], pred["annotations"]):
        ev.add(panoseg.read_ids(f"{ds.gt_folder}/{g['file_name']}"), g["segments_info"],
               panoseg.read_ids(f"{ds.pred_folder}/{p['file_name']}"), p["segments_info"])
    assert_same_results(ev.summarize(), panoseg.pq_compute(
        ds.gt_json, ds.pred_json, iou_type="boundary", dilation_ratio=0.05), tol=0)


def test_reference_collision_quirk_is_not_reproduced(tmp_path):
    """boundary-iou-api marks interiors with max category id + 1 and recomputes each segment's
    mask from that marked map: a real segment with that id then takes in the interiors of the
    segments before it (their borders join its band), and the marked interiors count in its
    boundary intersections. panoseg computes every band from the real ids, so the id of a
    segment never changes a number: here the prediction is the GT itself, with the colliding
    segment under another id; panoseg scores 1, the reference less."""
    marker = boundary_id(json.loads(SAMPLE_GT.read_text())["categories"])
    folder = DATA / "panoptic_examples"
    work = {}
    for name, gt_id in (("collide", marker), ("renumbered", marker + 1000)):
        d = tmp_path / name
        for side, new_id in (("gt", gt_id), ("pred", marker + 2000)):
            (d / side).mkdir(parents=True)
            data = json.loads(SAMPLE_GT.read_text())
            for ann in data["annotations"]:
                ids = panoseg.read_ids(folder / ann["file_name"])
                last = ann["segments_info"][-1]  # processed after the others' interiors
                ids[ids == last["id"]] = new_id
                last["id"] = new_id
                panoseg.write_ids(d / side / ann["file_name"], ids)
            (d / f"{side}.json").write_text(json.dumps(data))
        work[name] = (d / "gt.json", d / "pred.json", d / "gt", d / "pred")
    ours = {k: panoseg.pq_compute(*v, iou_type="boundary") for k, v in work.items()}
    refs = {k: reference(*v) for k, v in work.items()}
    assert ours["collide"]["All"]["pq"] == 1.0
    assert_same_results(ours["collide"], ours["renumbered"], tol=0)  # ids are only labels
    assert_same_results(ours["collide"], refs["renumbered"])
    assert refs["collide"]["All"]["pq"] < 0.99


def test_cli_boundary_outputs(tmp_path):
    ds = make_dataset(tmp_path, n_images=5, height=64, width=96, seed=9)
    out, per_image, report = tmp_path / "r.json", tmp_path / "im.jsonl", tmp_path / "rep"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(["eval", "--gt_json_file", str(ds.gt_json), "--pred-json-file",
                   str(ds.pred_json), "--iou_type", "boundary", "--dilation-ratio", "0.05",
                   "--json-out", str(out), "--per_image", str(per_image), "--bootstrap", "50",
                   "--report", str(report), "--no-progress"])
    assert rc == 0
    text = stdout.getvalue()
    assert text.splitlines()[0].startswith("Boundary")
    assert "Mask PQ of the same pass" in text and "mIoU" in text
    res = json.loads(out.read_text())
    ref = panoseg.pq_compute(ds.gt_json, ds.pred_json, iou_type="boundary", dilation_ratio=0.05)
    assert res["All"]["pq"] == pytest.approx(ref["All"]["pq"], abs=1e-12)
    assert res["iou_type"] == "boundary" and res["dilation_ratio"] == 0.05
    segm = panoseg.pq_compute(ds.gt_json, ds.pred_json)
    assert res["segm"]["All"]["pq"] == pytest.approx(segm["All"]["pq"], abs=1e-12)
    assert set(res["bootstrap"]["semantic"]) == {"mIoU", "fwIoU", "mAcc", "aAcc"}
    rows = [json.loads(line) for line in per_image.read_text().splitlines()]
    assert len(rows) == 5 and all("segm_pq" in r and "miou" in r for r in rows)
    html = (report / "index.html").read_text()
    assert "Boundary Panoptic Quality" in html and "Mask PQ (same pass)" in html


def test_cli_dilation_ratio_needs_boundary(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["eval", "--gt_json_file", str(SAMPLE_GT), "--pred_json_file", str(SAMPLE_GT),
              "--dilation_ratio", "0.05"])
    assert e.value.code == 2
    for bad in ("0", "1.5", "nan", "x"):
        with pytest.raises(SystemExit) as e:
            main(["eval", "--gt_json_file", str(SAMPLE_GT), "--pred_json_file",
                  str(SAMPLE_GT), "--iou-type", "boundary", "--dilation-ratio", bad])
        assert e.value.code == 2


def test_dask_gives_the_same_numbers(tmp_path):
    pytest.importorskip("distributed")
    ds = make_dataset(tmp_path, n_images=6, height=64, width=96, seed=10)
    outs = []
    for extra in ([], ["--dask", "local:2"]):
        out = tmp_path / f"r{len(outs)}.json"
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["eval", "--gt_json_file", str(ds.gt_json), "--pred_json_file",
                         str(ds.pred_json), "--iou-type", "boundary", "--json-out", str(out),
                         "--no-progress", *extra]) == 0
        outs.append(json.loads(out.read_text()))
    assert outs[0] == outs[1]



def test_extra_metrics_stay_on_the_mask_matching(tmp_path):
    ds = make_dataset(tmp_path, n_images=4, height=96, width=128, seed=14)
    from panoseg.evaluation.extra_metrics import extra_results

    mask = extra_results(evaluate(ds.gt_json, ds.pred_json).stats)
    boundary = extra_results(evaluate(ds.gt_json, ds.pred_json, iou_type="boundary").stats)
    assert boundary == mask


def test_cli_spells_the_evaluator_constants():
    # cli/eval.py spells them so that building the parser does not import the evaluator.
    from panoseg.cli import eval as cli_eval
    from panoseg.evaluation.matching import DILATION_RATIO
    from panoseg.evaluation.stats import IOU_TYPES

    assert cli_eval.IOU_TYPES == IOU_TYPES and cli_eval.DILATION_RATIO == DILATION_RATIO
