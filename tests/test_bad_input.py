"""Every bad input of the evaluator gives a clear error naming file, image and segment, and the
CLI exits with status 1 and one line on stderr, never a traceback."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import panoseg
from panoseg.cli import main
from panoseg.errors import PanopticFormatError

IMAGE_A = 142238  # 000000142238.png, 640x427
PNG_A = "000000142238.png"


def edit_json(folder, name, fn):
    path = folder / f"{name}.json"
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def ann(data, image_id=IMAGE_A):
    return next(a for a in data["annotations"] if a["image_id"] == image_id)


def run_cli(folder, *extra):
    return main(["eval", "--gt_json_file", str(folder / "gt.json"),
                 "--pred_json_file", str(folder / "pred.json"), "--no-progress", *extra])


def expect_error(folder, capsys, *needles):
    with pytest.raises(PanopticFormatError) as info:
        panoseg.pq_compute(folder / "gt.json", folder / "pred.json", workers=2)
    message = str(info.value)
    for needle in needles:
        assert str(needle) in message, message
    assert run_cli(folder) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"panoseg eval: error: {message}" in err
    return message


def test_baseline_is_valid(sample_copy):
    assert panoseg.pq_compute(sample_copy / "gt.json", sample_copy / "pred.json")["All"]["pq"] == 1.0


def test_missing_png(sample_copy, capsys):
    (sample_copy / "pred" / PNG_A).unlink()
    expect_error(sample_copy, capsys, "pred", PNG_A, "cannot read PNG", IMAGE_A)


def test_corrupt_png(sample_copy, capsys):
    path = sample_copy / "pred" / PNG_A
    data = bytearray(path.read_bytes())
    data[200:220] = bytes(20)
    path.write_bytes(bytes(data))
    expect_error(sample_copy, capsys, PNG_A, "corrupt PNG", IMAGE_A)


def test_truncated_png(sample_copy, capsys):
    path = sample_copy / "gt" / PNG_A
    path.write_bytes(path.read_bytes()[:1000])
    expect_error(sample_copy, capsys, PNG_A, "truncated PNG", IMAGE_A)


def test_png_size_differs_from_gt(sample_copy, capsys):
    path = sample_copy / "pred" / PNG_A
    ids = panoseg.read_ids(path)
    panoseg.write_ids(path, ids[:-1])
    expect_error(sample_copy, capsys, PNG_A, IMAGE_A, "640x426", "640x427")


def test_png_size_differs_from_images_json(sample_copy, capsys):
    def shrink(d):
        next(i for i in d["images"] if i["id"] == IMAGE_A)["height"] = 400
    edit_json(sample_copy, "gt", shrink)
    expect_error(sample_copy, capsys, PNG_A, IMAGE_A, "640x427", "640x400", "'images'")


def test_non_rgb_png(sample_copy, capsys):
    path = sample_copy / "pred" / PNG_A
    Image.open(path).convert("RGBA").save(path)
    expect_error(sample_copy, capsys, PNG_A, IMAGE_A, "8-bit RGB", "RGBA")


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_id_in_png_not_in_json(sample_copy, capsys, side):
    def drop(d):
        ann(d)["segments_info"].pop(3)
    dropped = ann(json.loads((sample_copy / f"{side}.json").read_text()))["segments_info"][3]["id"]
    edit_json(sample_copy, side, drop)
    msg = expect_error(sample_copy, capsys, PNG_A, IMAGE_A, f"segment {dropped}", "not in segments_info")
    assert ("GT PNG" if side == "gt" else "prediction PNG") in msg


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_id_in_json_not_in_png(sample_copy, capsys, side):
    def add(d):
        ann(d)["segments_info"].append({"id": 4242, "category_id": 1, "iscrowd": 0, "area": 10,
                                        "bbox": [0, 0, 1, 1]})
    edit_json(sample_copy, side, add)
    expect_error(sample_copy, capsys, f"{side}.json", IMAGE_A, "segment 4242", "no pixel in the PNG")


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_unknown_category(sample_copy, capsys, side):
    def relabel(d):
        ann(d)["segments_info"][0]["category_id"] = 999
    seg = ann(json.loads((sample_copy / f"{side}.json").read_text()))["segments_info"][0]["id"]
    edit_json(sample_copy, side, relabel)
    expect_error(sample_copy, capsys, f"{side}.json", IMAGE_A, f"segment {seg}", "unknown category_id 999")


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_duplicate_segment_id(sample_copy, capsys, side):
    def dup(d):
        segs = ann(d)["segments_info"]
        segs.append(dict(segs[0]))
    seg = ann(json.loads((sample_copy / f"{side}.json").read_text()))["segments_info"][0]["id"]
    edit_json(sample_copy, side, dup)
    expect_error(sample_copy, capsys, f"{side}.json", IMAGE_A, f"segment {seg}", "duplicate segment id")


def test_gt_image_without_prediction(sample_copy, capsys):
    def drop(d):
        d["annotations"] = [a for a in d["annotations"] if a["image_id"] != IMAGE_A]
    edit_json(sample_copy, "pred", drop)
    expect_error(sample_copy, capsys, "pred.json", IMAGE_A, "no prediction")


def test_malformed_json(sample_copy, capsys):
    (sample_copy / "pred.json").write_text('{"annotations": [')
    expect_error(sample_copy, capsys, "pred.json", "malformed JSON")


@pytest.mark.parametrize("breakage,needle", [
    (lambda d: d.pop("annotations"), "no 'annotations' list"),
    (lambda d: d.pop("categories"), "no 'categories' list"),
    (lambda d: ann(d).pop("segments_info"), "has no 'segments_info'"),
    (lambda d: ann(d)["segments_info"][0].update(id=0), "id must lie in 1..16777215"),
    (lambda d: ann(d)["segments_info"][0].update(id="7"), "no integer 'id'"),
    (lambda d: ann(d)["segments_info"][0].update(area=0), "GT 'area' must be a positive number"),
    (lambda d: ann(d)["segments_info"][0].update(iscrowd=2), "iscrowd must be 0 or 1"),
    (lambda d: d["categories"].append(dict(d["categories"][0])), "appears twice"),
])
def test_structural_errors_in_gt(sample_copy, capsys, breakage, needle):
    edit_json(sample_copy, "gt", breakage)
    expect_error(sample_copy, capsys, "gt.json", needle)


def test_missing_json_and_folder(sample_copy, capsys):
    (sample_copy / "pred.json").unlink()
    expect_error(sample_copy, capsys, "pred.json", "cannot read JSON")


def test_empty_group_gets_n_zero(sample_copy):
    """panopticapi raises ZeroDivisionError when a group has no segments; panoseg reports n = 0."""
    def things_only(d):
        cats = {c["id"]: c for c in d["categories"]}
        for a in d["annotations"]:
            for s in a["segments_info"]:
                if not cats[s["category_id"]]["isthing"]:
                    s["category_id"] = 1  # every stuff segment becomes a person
    edit_json(sample_copy, "gt", things_only)
    edit_json(sample_copy, "pred", things_only)
    r = panoseg.pq_compute(sample_copy / "gt.json", sample_copy / "pred.json")
    assert r["Stuff"] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}
    assert r["Things"]["n"] > 0


def test_in_memory_shape_and_dtype_checks():
    cats = [{"id": 1, "isthing": 1}]
    ev = panoseg.PQEvaluator(cats)
    seg = [{"id": 5, "category_id": 1, "iscrowd": 0, "area": 4}]
    gt = np.full((2, 2), 5)
    with pytest.raises(PanopticFormatError, match="prediction is 3x2"):
        ev.add(gt, seg, np.full((2, 3), 5), seg)
    with pytest.raises(ValueError, match="24 bits"):
        ev.add(gt, seg, np.full((2, 2), 2**25), seg)
    with pytest.raises(ValueError, match="integers"):
        ev.add(gt, seg, np.full((2, 2), 5.0), seg)
    with pytest.raises(ValueError, match="RGB"):
        ev.add(gt, seg, np.zeros((2, 2, 4), np.uint8), seg)
    assert ev.stats.n_images == 0


def test_tools_script_exit_code(sample_copy):
    (sample_copy / "pred" / PNG_A).unlink()
    proc = subprocess.run([sys.executable, "tools/eval_pq.py", "--gt_json_file", str(sample_copy / "gt.json"),
                           "--pred_json_file", str(sample_copy / "pred.json"), "--no-progress"],
                          capture_output=True, text=True, cwd=__import__("pathlib").Path(__file__).parents[1])
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "cannot read PNG" in proc.stderr
