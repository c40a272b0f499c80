"""Bad merge inputs: a clear error naming the file and image, exit 1 from the CLI, no partial
output; a re-run after an interruption gives the same files as an uninterrupted run."""
import json
from pathlib import Path

import numpy as np
import pytest

from panoseg.cli import main
from panoseg.errors import PanopticFormatError
from panoseg.merge import combine_predictions, merge_panoptic
from panoseg.testing.synthetic import make_merge_inputs

from conftest import DATA

CATEGORIES = json.loads((DATA / "panoptic_coco_categories.json").read_text())


@pytest.fixture
def inputs(tmp_path):
    return make_merge_inputs(tmp_path / "in", n_images=4, height=60, width=80, seed=2)


def edit(path, fn):
    data = json.loads(Path(path).read_text())
    fn(data)
    Path(path).write_text(json.dumps(data))


def cli(inputs, out, *extra):
    return main(["merge", "--semseg_json_file", inputs.semseg_json, "--instseg_json_file",
                 inputs.instseg_json, "--images_json_file", inputs.images_json,
                 "--categories_json_file", inputs.categories_json, "--panoptic_json_file",
                 str(out), "--no-progress", *extra])


def expect(inputs, tmp_path, capsys, *needles, extra=()):
    out = tmp_path / "out" / "panoptic.json"
    out.parent.mkdir(exist_ok=True)
    assert cli(inputs, out, *extra) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("panoseg merge: error: ")
    for needle in needles:
        assert str(needle) in err, err
    assert not out.exists()
    return err


def first_instance_image(inputs):
    return json.loads(Path(inputs.instseg_json).read_text())[0]["image_id"]


def test_undecodable_rle(inputs, tmp_path, capsys):
    image = first_instance_image(inputs)
    edit(inputs.instseg_json, lambda d: d[0]["segmentation"].update(counts="!!!bad"))
    expect(inputs, tmp_path, capsys, "instseg.json", f"image {image}", "undecodable RLE",
           "invalid character")


def test_rle_of_wrong_size(inputs, tmp_path, capsys):
    image = first_instance_image(inputs)
    edit(inputs.instseg_json, lambda d: d[0]["segmentation"].update(size=[61, 80]))
    expect(inputs, tmp_path, capsys, "instseg.json", f"image {image}", "RLE size [61, 80]",
           "[60, 80]")


def test_semantic_rle_of_wrong_total(inputs, tmp_path, capsys):
    image = json.loads(Path(inputs.semseg_json).read_text())[0]["image_id"]
    edit(inputs.semseg_json, lambda d: d[0]["segmentation"].update(counts=[5, 10]))
    expect(inputs, tmp_path, capsys, "semseg.json", f"image {image}", "do not add up")


def test_image_missing_from_images_json(inputs, tmp_path, capsys):
    edit(inputs.instseg_json, lambda d: d[0].update(image_id=999))
    expect(inputs, tmp_path, capsys, "instseg.json", "image 999", "not in the images JSON")


@pytest.mark.parametrize("score", [float("nan"), 1.5, -0.1, "0.5", None])
def test_bad_scores(inputs, tmp_path, capsys, score):
    edit(inputs.instseg_json, lambda d: d[2].update(score=score))
    expect(inputs, tmp_path, capsys, "instseg.json", "results[2]: score")


def test_missing_score(inputs, tmp_path, capsys):
    edit(inputs.instseg_json, lambda d: d[2].pop("score"))
    expect(inputs, tmp_path, capsys, "instseg.json", "results[2] has no 'score'")


def test_unknown_category(inputs, tmp_path, capsys):
    edit(inputs.semseg_json, lambda d: d[1].update(category_id=4242))
    expect(inputs, tmp_path, capsys, "semseg.json", "results[1]", "unknown category_id 4242")


def test_stuff_category_as_instance(inputs, tmp_path, capsys):
    edit(inputs.instseg_json, lambda d: d[0].update(category_id=184))
    expect(inputs, tmp_path, capsys, "instseg.json", "results[0]", "stuff category")


@pytest.mark.parametrize("flag,value,needle", [
    ("--confidence_thr", "1.01", "--confidence-thr: must lie in [0, 1]"),
    ("--overlap_thr", "-0.5", "--overlap-thr: must lie in [0, 1]"),
    ("--stuff_area_limit", "-1", "--stuff-area-limit: must be a number >= 0"),
    ("--overlap_thr", "nan", "--overlap-thr: must lie in [0, 1]"),
])
def test_thresholds_out_of_range(inputs, tmp_path, capsys, flag, value, needle):
    # A bad value is a usage error: exit 2 with merge's usage, before anything is read.
    with pytest.raises(SystemExit) as info:
        cli(inputs, tmp_path / "out" / "panoptic.json", flag, value)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: panoseg merge") and needle in err
    assert not (tmp_path / "out").exists()


def test_malformed_json(inputs, tmp_path, capsys):
    Path(inputs.images_json).write_text("{")
    expect(inputs, tmp_path, capsys, "images.json", "malformed JSON")


def test_array_api_errors():
    h, w = 20, 30
    with pytest.raises(ValueError, match="masks must be N x 20 x 30"):
        merge_panoptic(CATEGORIES, h, w, masks=np.zeros((1, 21, 30)), scores=[0.9], category_ids=[1])
    with pytest.raises(ValueError, match="semantic map is 31x20"):
        merge_panoptic(CATEGORIES, h, w, semantic=np.zeros((20, 31), int))
    with pytest.raises(ValueError, match="instance 0: unknown category_id 4242"):
        merge_panoptic(CATEGORIES, h, w, masks=np.zeros((1, h, w)), scores=[0.9], category_ids=[4242])
    with pytest.raises(ValueError, match="instance 1: score nan"):
        merge_panoptic(CATEGORIES, h, w, masks=np.zeros((2, h, w)), scores=[0.9, float("nan")],
                       category_ids=[1, 1])
    with pytest.raises(ValueError, match="box must be finite"):
        merge_panoptic(CATEGORIES, h, w, boxes=[[5, 5, 1, 1]], mask_probs=np.ones((1, 4, 4)),
                       scores=[0.9], category_ids=[1])
    with pytest.raises(ValueError, match="instance 0: category index is not a thing"):
        merge_panoptic(CATEGORIES, h, w, masks=np.ones((1, h, w)), scores=[0.9], category_ids=[184])


def test_interrupted_run_then_rerun_gives_the_same_files(inputs, tmp_path):
    clean = tmp_path / "clean"
    combine_predictions(inputs.semseg_json, inputs.instseg_json, inputs.images_json,
                        inputs.categories_json, clean, str(clean) + ".json")
    # Break the third image's first instance: the run stops part-way with an error.
    images = [i["id"] for i in json.loads(Path(inputs.images_json).read_text())["images"]]
    original = Path(inputs.instseg_json).read_text()
    data = json.loads(original)
    k = next(i for i, r in enumerate(data) if r["image_id"] == images[2] and r["score"] >= 0.5)
    data[k]["segmentation"]["counts"] = "~~~"
    Path(inputs.instseg_json).write_text(json.dumps(data))
    run = tmp_path / "run"
    with pytest.raises(PanopticFormatError, match=f"image {images[2]}"):
        combine_predictions(inputs.semseg_json, inputs.instseg_json, inputs.images_json,
                            inputs.categories_json, run, str(run) + ".json", workers=1)
    assert not Path(str(run) + ".json").exists()
    assert all(not p.name.startswith(".tmp") for p in run.iterdir())
    Path(inputs.instseg_json).write_text(original)
    combine_predictions(inputs.semseg_json, inputs.instseg_json, inputs.images_json,
                        inputs.categories_json, run, str(run) + ".json")
    assert Path(str(run) + ".json").read_text() == Path(str(clean) + ".json").read_text()
    assert {p.name: p.read_bytes() for p in run.iterdir()} == \
        {p.name: p.read_bytes() for p in clean.iterdir()}


def test_image_of_100000_x_100000(inputs, tmp_path, capsys):
    """Refused from the images JSON before any canvas is allocated (it was a MemoryError)."""
    edit(inputs.images_json, lambda d: d["images"][0].update(height=100_000, width=100_000))
    expect(inputs, tmp_path, capsys, "100000x100000", "more than the")


@pytest.mark.parametrize("bad", [[1], {"a": 1}, None])
def test_image_id_of_another_type(inputs, tmp_path, capsys, bad):
    edit(inputs.images_json, lambda d: d["images"][0].update(id=bad))
    expect(inputs, tmp_path, capsys, "is not an integer or a string")


def test_a_huge_unknown_label_in_a_semantic_map_sizes_nothing():
    """Found by fuzz/fuzz_merge.py: a label of 10**12 once sized a 3.6 TiB lookup table."""
    import numpy as np

    from panoseg.merge.heuristic import merge_panoptic

    cats = [{"id": 1, "name": "p", "isthing": 1, "color": [220, 20, 60]},
            {"id": 149, "name": "r", "isthing": 0, "color": [128, 64, 128]}]
    for labels in (np.array([[10 ** 12, 149], [149, -5]]),
                   np.array([[2 ** 31 - 1, 149], [149, 149]], np.int32),
                   np.array([[2 ** 64 - 1, 149], [149, 149]], np.uint64)):
        result = merge_panoptic(cats, 2, 2, semantic=labels, stuff_area_limit=0)
        assert [s["category_id"] for s in result.segments_info] == [149]
        assert result.segments_info[0]["area"] == 3 - int(labels[1, 1] < 0)


@pytest.mark.parametrize("which", ["instseg", "semseg"])
def test_a_bad_rle_is_named_by_its_place_in_its_file(inputs, tmp_path, capsys, which):
    # Not by its rank among the image's instances that passed the threshold ("instance 0"),
    # which cannot be found in the file: results[k], as the merge's other errors say.
    path = inputs.instseg_json if which == "instseg" else inputs.semseg_json
    results = json.loads(Path(path).read_text())
    # The last result that the default threshold (0.5) keeps, with others of its image before.
    k = max(j for j, r in enumerate(results) if r.get("score", 1.0) >= 0.5
            and any(q["image_id"] == r["image_id"] for q in results[:j]))
    edit(path, lambda d: d[k]["segmentation"].update(counts="!!!bad"))
    err = expect(inputs, tmp_path, capsys, f"{which}.json", f"image {results[k]['image_id']}",
                 f"results[{k}]: undecodable RLE")
    assert "instance" not in err and "semantic mask" not in err


def test_the_error_says_which_pngs_were_left(inputs, tmp_path, capsys):
    # The images merged before the error keep their PNGs (each complete): the error line says
    # how many and where, and that the JSON was not written.
    results = json.loads(Path(inputs.instseg_json).read_text())
    images = [img["id"] for img in json.loads(Path(inputs.images_json).read_text())["images"]]
    k = max(j for j, r in enumerate(results)
            if r.get("score", 1.0) >= 0.5 and r["image_id"] == images[-1])
    edit(inputs.instseg_json, lambda d: d[k]["segmentation"].update(counts="!!!bad"))
    err = expect(inputs, tmp_path, capsys, f"results[{k}]", extra=("--workers", "1"))
    pngs = list((tmp_path / "out" / "panoptic").rglob("*.png"))
    assert len(pngs) == len(images) - 1
    assert f"{len(pngs)} PNGs merged before the error were left in" in err
    assert "panoptic.json was not written" in err and len(err.strip().splitlines()) == 1
