"""The ``panoseg eval`` command line and tools/eval_pq.py."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import panoseg
from panoseg.cli import main
from panoseg.testing.synthetic import make_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ds"), n_images=5, height=120, width=160, seed=3)


def test_table_json_out_and_per_image(dataset, tmp_path, capsys):
    out, per_image = tmp_path / "r.json", tmp_path / "images.jsonl"
    assert main(["eval", "--gt_json_file", dataset.gt_json, "--pred_json_file", dataset.pred_json,
                 "--json-out", str(out), "--per-image", str(per_image), "--per-class",
                 "--workers", "2"]) == 0
    captured = capsys.readouterr()
    expected = panoseg.pq_compute(dataset.gt_json, dataset.pred_json)
    lines = captured.out.splitlines()
    assert lines[0].split() == ["|", "PQ", "SQ", "RQ", "N"]
    assert lines[2].split()[0] == "All" and float(lines[2].split()[2]) == round(100 * expected["All"]["pq"], 1)
    stats = panoseg.evaluate(dataset.gt_json, dataset.pred_json).stats
    present = [r for r in stats.per_category() if r["tp"] + r["fp"] + r["fn"]]
    # then PQ-dagger, Parsing Covering, PQ by size
    assert lines[5].startswith("PQ-dagger") and lines[6].startswith("Parsing Covering")
    assert lines[7].startswith("PQ things by size") and lines[8].startswith("Semantic | mIoU")
    assert lines[10].split()[:2] == ["id", "category"]
    assert len(lines) == 12 + len(present)  # summary (9), blank, header, rule, a row per class
    first = present[0]
    assert lines[12].split()[0] == str(first["id"]) and first["name"] in lines[12]
    assert "100%" in captured.err and "5/5" in captured.err  # the progress bar
    written = json.loads(out.read_text())
    assert written["All"] == expected["All"]
    assert written["per_class"] == {str(k): v for k, v in expected["per_class"].items()}
    # panopticapi's keys are unchanged; the new numbers sit beside them under their own keys
    assert {"pq_dagger", "parsing_covering", "pq_by_size", "confusion", "per_category",
            "n_images"} <= set(written)
    rows = [json.loads(line) for line in per_image.read_text().splitlines()]
    assert [r["image_id"] for r in rows] == [1, 2, 3, 4, 5]
    assert set(rows[0]) >= {"image_id", "file_name", "pq", "sq", "rq", "tp", "fp", "fn"}


def test_default_folders_and_no_progress(dataset, capsys):
    assert main(["eval", "--gt_json_file", dataset.gt_json, "--pred_json_file", dataset.pred_json,
                 "--no-progress"]) == 0
    assert "%" not in capsys.readouterr().err


def test_usage_errors_exit_2(dataset, capsys):
    with pytest.raises(SystemExit) as info:
        main(["eval", "--gt_json_file", dataset.gt_json])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["eval", "--gt_json_file", dataset.gt_json, "--pred_json_file", dataset.pred_json,
              "--workers", "0"])
    assert info.value.code == 2


def test_failed_run_leaves_no_partial_outputs(dataset, tmp_path):
    bad = tmp_path / "pred.json"
    pred = json.loads(Path(dataset.pred_json).read_text())
    pred["annotations"][3]["segments_info"][0]["category_id"] = 12345
    bad.write_text(json.dumps(pred))
    out, per_image = tmp_path / "r.json", tmp_path / "images.jsonl"
    assert main(["eval", "--gt_json_file", dataset.gt_json, "--pred_json_file", str(bad),
                 "--pred_folder", dataset.pred_folder, "--json-out", str(out),
                 "--per-image", str(per_image), "--no-progress"]) == 1
    assert not out.exists() and not per_image.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.json"]


@pytest.mark.parametrize("command", [
    [sys.executable, str(ROOT / "tools" / "eval_pq.py")],
    [sys.executable, "-m", "panoseg", "eval"],
])
def test_scripts(dataset, command):
    proc = subprocess.run(command + ["--gt_json_file", dataset.gt_json,
                                     "--pred_json_file", dataset.pred_json],
                          capture_output=True, text=True, cwd=dataset.gt_folder)
    assert proc.returncode == 0, proc.stderr
    assert "All" in proc.stdout and "Things" in proc.stdout and "Stuff" in proc.stdout


def test_outputs_get_normal_permissions(dataset, tmp_path):
    import os
    import stat

    out = tmp_path / "r.json"
    assert main(["eval", "--gt_json_file", dataset.gt_json, "--pred_json_file", dataset.pred_json,
                 "--json-out", str(out), "--no-progress"]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_report_and_bootstrap(tmp_path, capsys):
    sample = os.path.join(os.path.dirname(__file__), "data", "coco_panoptic_sample")
    gt = os.path.join(sample, "panoptic_examples.json")
    pred = os.path.join(os.path.dirname(__file__), "data", "sample_prediction", "panoptic_pred.json")
    assert main(["eval", "--gt_json_file", gt, "--gt_folder",
                 os.path.join(sample, "panoptic_examples"), "--pred_json_file", pred,
                 "--bootstrap", "50", "--report", str(tmp_path / "report"), "--images-folder",
                 os.path.join(sample, "input_images"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "95% bootstrap intervals (50 resamples" in out
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["bootstrap"]["n"] == 50 and len(report["per_image"]) == 2
    lo, hi = report["bootstrap"]["All"]["pq"]
    assert lo <= report["All"]["pq"] <= hi
    html = (tmp_path / "report" / "index.html").read_text()
    assert "Worst images" in html and html.count("data:image/") >= 2


def test_an_image_without_segments_has_no_per_image_pq(tmp_path, capsys):
    # All VOID in the GT and the prediction: nothing to count, so no PQ and no mIoU (null),
    # not a 0 that would put a perfect prediction first among the report's worst images.
    import numpy as np
    from PIL import Image

    ds = make_dataset(tmp_path / "ds", n_images=3, height=60, width=80, seed=5)
    for json_file in (ds.gt_json, ds.pred_json):
        data = json.loads(Path(json_file).read_text())
        data["annotations"].append({"image_id": 999, "file_name": "blank.png",
                                    "segments_info": []})
        if "images" in data:
            data["images"].append({"id": 999, "file_name": "blank.jpg", "height": 60,
                                   "width": 80})
        Path(json_file).write_text(json.dumps(data))
        Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(Path(json_file[:-5]) / "blank.png")
    per_image = tmp_path / "images.jsonl"
    for iou_type in ("segm", "boundary"):
        assert main(["eval", "--gt-json-file", ds.gt_json, "--pred-json-file", ds.pred_json,
                     "--per-image", str(per_image), "--report", str(tmp_path / iou_type),
                     "--report-worst", "2", "--iou-type", iou_type, "--no-progress"]) == 0
        capsys.readouterr()
        rows = {r["image_id"]: r for r in map(json.loads, per_image.read_text().splitlines())}
        blank = rows[999]
        assert blank["n"] == 0 and blank["tp"] == blank["fp"] == blank["fn"] == 0
        assert blank["pq"] is None and blank["sq"] is None and blank["rq"] is None
        assert blank["miou"] is None
        assert blank.get("segm_pq", None) is None
        assert all(isinstance(rows[k]["pq"], float) for k in (1, 2, 3))
        page = (tmp_path / iou_type / "index.html").read_text()
        worst = sorted(rows.values(), key=lambda r: (r["pq"] is None, r["pq"] or 0))[:2]
        assert "blank.png" not in page
        assert all(r["file_name"] in page for r in worst)


def test_a_ground_truth_without_annotations_is_an_error(tmp_path, capsys):
    # As compare says: a table of dashes would pass for a result.
    gt, pred = tmp_path / "gt.json", tmp_path / "pred.json"
    gt.write_text(json.dumps({"images": [], "annotations": [],
                              "categories": [{"id": 1, "name": "a", "isthing": 1}]}))
    pred.write_text(json.dumps({"annotations": []}))
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    out = tmp_path / "out" / "r.json"
    assert main(["eval", "--gt-json-file", str(gt), "--pred-json-file", str(pred),
                 "--json-out", str(out), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and str(gt) in lines[0] and "no annotations" in lines[0]
    assert not out.exists()


def test_a_one_image_bootstrap_warns_in_the_singular(tmp_path, capsys):
    ds = make_dataset(tmp_path, n_images=1, height=24, width=32, seed=2)
    assert main(["eval", "--gt-json-file", ds.gt_json, "--pred-json-file", ds.pred_json,
                 "--bootstrap", "10", "--no-progress"]) == 0
    assert "--bootstrap over 1 image: " in capsys.readouterr().err
