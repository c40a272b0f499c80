"""Outputs stay where they belong (issue 11, points 4 and 5): file names from input data never
write outside the output folder, two images never write one file, output flags are checked
before any work, and write errors are one line naming the file."""
import json
import os
from pathlib import Path

import pytest

from panoseg.cli import main
from panoseg.errors import PanopticFormatError
from panoseg.io.paths import output_path, output_paths, png_output_paths
from panoseg.testing.synthetic import make_dataset, make_merge_inputs
from panoseg.util.atomic import atomic_open, atomic_write_bytes


def files_under(folder) -> set:
    return {str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file()}


def edit(path, fn):
    data = json.loads(Path(path).read_text())
    fn(data)
    Path(path).write_text(json.dumps(data))


def one_error_line(capsys, prefix) -> str:
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(prefix + ": error: "), err
    assert lines[0] != prefix + ": error: "
    return lines[0]


# ---------------------------------------------------------------------------------------------
# the path rule
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, problem", [
    ("../../x.png", "'..' component"),
    ("sub/../../x.png", "'..' component"),
    ("/abs/x.png", "absolute path"),
    ("", "not a non-empty string"),
    ("a\0b.png", "NUL byte"),
    (None, "not a non-empty string"),
    (7, "not a non-empty string"),
    (".", "not to a file inside the output folder"),
])
def test_output_path_refuses(tmp_path, name, problem):
    with pytest.raises(PanopticFormatError, match=problem) as e:
        output_path(tmp_path, name, file="in.json", image_id=3)
    assert e.value.file == "in.json" and e.value.image_id == 3
    assert "\0" not in str(e.value)


def test_output_path_follows_symlinks(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "link").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(PanopticFormatError, match="outside|not to a file inside"):
        output_path(out, "link/x.png", file="in.json", image_id=1)


def test_output_path_allows_subfolders(tmp_path):
    assert output_path(tmp_path, "sub/x.png") == os.path.join(str(tmp_path), "sub/x.png")


def test_two_images_one_output(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "a.png"}]
    with pytest.raises(PanopticFormatError, match="image 1 \\(a.jpg\\)") as e:
        png_output_paths(tmp_path, images, file="in.json")
    assert e.value.image_id == 2 and "would both write" in str(e.value)
    with pytest.raises(PanopticFormatError, match="would both write"):
        output_paths(tmp_path, [(1, "x", "s/x.png"), (2, "y", "s/./x.png")])


# ---------------------------------------------------------------------------------------------
# merge
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def merge_inputs(tmp_path):
    return make_merge_inputs(tmp_path / "in", n_images=3, height=32, width=48, seed=1)


def run_merge(inputs, out_json, *extra):
    return main(["merge", "--semseg-json-file", inputs.semseg_json, "--instseg-json-file",
                 inputs.instseg_json, "--images-json-file", inputs.images_json,
                 "--categories-json-file", inputs.categories_json, "--json-out", str(out_json),
                 "--no-progress", "--workers", "2", *extra])


def set_file_name(index, name):
    def fn(data):
        data["images"][index]["file_name"] = name
    return fn


@pytest.mark.parametrize("name, needle", [("../../x.jpg", "'..' component"),
                                          ("ABSOLUTE", "absolute path")])
def test_merge_refuses_names_outside(merge_inputs, tmp_path, capsys, name, needle):
    if name == "ABSOLUTE":
        name = str(tmp_path / "abs" / "x.jpg")
    edit(merge_inputs.images_json, set_file_name(1, name))
    image_id = json.loads(Path(merge_inputs.images_json).read_text())["images"][1]["id"]
    before = files_under(tmp_path)
    out = tmp_path / "run" / "deep" / "out" / "pan.json"
    assert run_merge(merge_inputs, out) == 1
    line = one_error_line(capsys, "panoseg merge")
    assert needle in line and "images.json" in line and f"image {image_id}" in line
    assert name in line
    after = files_under(tmp_path)
    assert not [f for f in after - before if f.endswith(".png")]  # no PNG anywhere
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "abs").exists()
    assert not out.exists()


def test_merge_refuses_duplicate_names_before_writing(merge_inputs, tmp_path, capsys):
    images = json.loads(Path(merge_inputs.images_json).read_text())["images"]
    edit(merge_inputs.images_json, set_file_name(2, images[0]["file_name"]))
    out = tmp_path / "out" / "pan.json"
    assert run_merge(merge_inputs, out) == 1
    line = one_error_line(capsys, "panoseg merge")
    assert f"image {images[0]['id']}" in line and f"image {images[2]['id']}" in line
    assert "would both write" in line
    assert not list((tmp_path / "out").rglob("*.png")) and not out.exists()


def test_merge_same_png_from_two_extensions(merge_inputs, tmp_path, capsys):
    images = json.loads(Path(merge_inputs.images_json).read_text())["images"]
    stem = os.path.splitext(images[0]["file_name"])[0]
    edit(merge_inputs.images_json, set_file_name(1, stem + ".png"))
    out = tmp_path / "out" / "pan.json"
    assert run_merge(merge_inputs, out) == 1
    assert "would both write" in one_error_line(capsys, "panoseg merge")
    assert not list((tmp_path / "out").rglob("*.png"))


def test_merge_subfolder_names_are_created(merge_inputs, tmp_path, capsys):
    images = json.loads(Path(merge_inputs.images_json).read_text())["images"]
    edit(merge_inputs.images_json, set_file_name(0, "sub/dir/" + images[0]["file_name"]))
    out = tmp_path / "out" / "pan.json"
    assert run_merge(merge_inputs, out) == 0
    capsys.readouterr()
    stem = os.path.splitext(images[0]["file_name"])[0]
    assert (tmp_path / "out" / "pan" / "sub" / "dir" / (stem + ".png")).is_file()


# ---------------------------------------------------------------------------------------------
# convert
# ---------------------------------------------------------------------------------------------
def images_json(tmp_path, names, size=True):
    images = [{"id": k + 1, "file_name": n, **({"height": 4, "width": 5} if size else {})}
              for k, n in enumerate(names)]
    path = tmp_path / "images.json"
    path.write_text(json.dumps({"images": images, "annotations": []}))
    return path


BAD_NAMES = [(["a.jpg", "../../x.jpg"], "'..' component", 2),
             (["/tmp/panoseg-abs-test/x.jpg", "b.jpg"], "absolute path", 1),
             (["a.jpg", "b.jpg", "a.jpg"], "would both write", 3)]


@pytest.mark.parametrize("names, needle, bad_id", BAD_NAMES)
def test_detection_to_panoptic_refuses(tmp_path, capsys, names, needle, bad_id):
    src = images_json(tmp_path, names)
    out = tmp_path / "o" / "p" / "pan.json"
    assert main(["convert", "detection-to-panoptic", "--input-json-file", str(src),
                 "--json-out", str(out), "--no-progress"]) == 1
    line = one_error_line(capsys, "panoseg convert detection-to-panoptic")
    assert needle in line and "images.json" in line and f"image {bad_id}" in line
    assert not list(tmp_path.rglob("*.png")) and not out.exists()
    assert not Path("/tmp/panoseg-abs-test").exists()


@pytest.mark.parametrize("names, needle, bad_id", BAD_NAMES)
def test_2ch_to_panoptic_refuses(tmp_path, capsys, names, needle, bad_id):
    src = images_json(tmp_path, names, size=False)
    (tmp_path / "two_channel").mkdir()
    out = tmp_path / "o" / "p" / "pan.json"
    assert main(["convert", "2ch-to-panoptic", "--input-folder", str(tmp_path / "two_channel"),
                 "--images-json-file", str(src), "--json-out", str(out), "--no-progress"]) == 1
    line = one_error_line(capsys, "panoseg convert 2ch-to-panoptic")
    assert needle in line and "images.json" in line and f"image {bad_id}" in line
    assert not list(tmp_path.rglob("*.png")) and not out.exists()


def test_detection_to_panoptic_subfolder(tmp_path, capsys):
    src = images_json(tmp_path, ["sub/a.jpg", "b.jpg"])
    out = tmp_path / "o" / "pan.json"
    assert main(["convert", "detection-to-panoptic", "--input-json-file", str(src),
                 "--json-out", str(out), "--no-progress"]) == 0
    assert files_under(tmp_path / "o" / "pan") == {"sub/a.png", "b.png"}


# ---------------------------------------------------------------------------------------------
# eval's output flags: checked before the evaluation
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ds"), n_images=3, height=32, width=48)


def run_eval(dataset, *extra):
    return main(["eval", "--gt-json-file", dataset.gt_json, "--pred-json-file",
                 dataset.pred_json, "--no-progress", *extra])


def test_json_out_into_missing_folder_is_created(dataset, tmp_path, capsys):
    out = tmp_path / "a" / "b" / "r.json"
    assert run_eval(dataset, "--json-out", str(out), "--per-image",
                    str(tmp_path / "c" / "p.jsonl")) == 0
    capsys.readouterr()
    assert out.is_file() and (tmp_path / "c" / "p.jsonl").is_file()


@pytest.mark.parametrize("flag", ["--json-out", "--per-image"])
def test_output_file_onto_a_folder(dataset, tmp_path, capsys, flag):
    assert run_eval(dataset, flag, str(tmp_path)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before the evaluation: no table
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("panoseg eval: error: ")
    assert flag in lines[0] and str(tmp_path) in lines[0] and "is a folder" in lines[0]


@pytest.mark.parametrize("flag", ["--json-out", "--per-image"])
def test_output_file_under_a_file(dataset, tmp_path, capsys, flag):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    for target in (blocker / "r.json", blocker / "deeper" / "r.json"):
        assert run_eval(dataset, flag, str(target)) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and flag in lines[0] and str(target) in lines[0]
        assert "Traceback" not in captured.err
    assert blocker.read_text() == "x"


def test_report_onto_a_file(dataset, tmp_path, capsys):
    target = tmp_path / "report.html"
    target.write_text("keep")
    assert run_eval(dataset, "--report", str(target)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    line = captured.err.strip()
    assert "\n" not in line and "--report" in line and "not a folder" in line
    assert target.read_text() == "keep"


def test_report_into_an_existing_folder(dataset, tmp_path, capsys):
    (tmp_path / "rep").mkdir()
    assert run_eval(dataset, "--report", str(tmp_path / "rep")) == 0
    capsys.readouterr()
    assert (tmp_path / "rep" / "index.html").is_file()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_output_folder_not_writable(dataset, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert run_eval(dataset, "--json-out", str(locked / "sub" / "r.json")) == 1
        captured = capsys.readouterr()
        assert captured.out == "" and "--json-out" in captured.err
        assert len(captured.err.strip().splitlines()) == 1
    finally:
        locked.chmod(0o700)


def test_merge_json_out_onto_folder_before_work(merge_inputs, tmp_path, capsys):
    (tmp_path / "taken.json").mkdir()
    assert run_merge(merge_inputs, tmp_path / "taken.json") == 1
    line = one_error_line(capsys, "panoseg merge")
    assert "--json-out" in line and "is a folder" in line
    assert not (tmp_path / "taken").exists()  # no PNG folder made


def test_viz_output_folder_is_a_file(dataset, tmp_path, capsys):
    target = tmp_path / "pictures"
    target.write_text("x")
    assert main(["viz", "--panoptic-json-file", dataset.gt_json, "--output-folder", str(target),
                 "--no-progress"]) == 1
    line = one_error_line(capsys, "panoseg viz")
    assert "--output-folder" in line and "not a folder" in line


# ---------------------------------------------------------------------------------------------
# OSError while writing: one line naming the file
# ---------------------------------------------------------------------------------------------
def test_atomic_write_errors_name_the_target(tmp_path, monkeypatch):
    target = tmp_path / "out.png"

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError) as e:
        atomic_write_bytes(target, b"abc")
    assert e.value.filename == str(target) and "No space left" in e.value.strerror
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    with pytest.raises(OSError) as e:
        atomic_write_bytes(tmp_path / "missing" / "x.png", b"abc")
    assert e.value.filename == str(tmp_path / "missing" / "x.png")
    with pytest.raises(OSError) as e:
        with atomic_open(tmp_path / "missing" / "x.json") as f:
            f.write("x")
    assert e.value.filename == str(tmp_path / "missing" / "x.json")


def test_disk_full_in_merge_is_one_line(merge_inputs, tmp_path, capsys, monkeypatch):
    import panoseg.util.atomic as atomic

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "write", full)
    out = tmp_path / "out" / "pan.json"
    assert run_merge(merge_inputs, out) == 1
    line = one_error_line(capsys, "panoseg merge")
    assert "No space left on device" in line and ".png" in line and "Errno" not in line
    assert not list((tmp_path / "out").rglob("*.png"))


# ---------------------------------------------------------------------------------------------
# panoptic-to-semantic, infer
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, needle", [("../x.png", "'..' component"),
                                          ("/tmp/panoseg-abs-test/x.png", "absolute path")])
def test_panoptic_to_semantic_refuses(dataset, tmp_path, capsys, name, needle):
    data = json.loads(Path(dataset.gt_json).read_text())
    data["annotations"][1]["file_name"] = name
    src = tmp_path / "pan.json"
    src.write_text(json.dumps(data))
    out = tmp_path / "sem"
    assert main(["convert", "panoptic-to-semantic", "--input-json-file", str(src),
                 "--segmentations-folder", dataset.gt_folder, "--semantic-seg-folder", str(out),
                 "--no-progress"]) == 1
    line = one_error_line(capsys, "panoseg convert panoptic-to-semantic")
    assert needle in line and "pan.json" in line
    assert not list(tmp_path.rglob("*.png")) and not Path("/tmp/panoseg-abs-test").exists()


def test_infer_output_paths_checked_before_any_write(tmp_path):
    pytest.importorskip("mxnet")
    from panoseg.infer.images import ImageItem
    from panoseg.infer.pipeline import predict_items

    out = tmp_path / "out"
    for items, needle in (
            ([ImageItem(1, "a.jpg", "a.jpg"), ImageItem(2, "../../b.jpg", "b.jpg")], "'..'"),
            ([ImageItem(1, "a.jpg", "a.jpg"), ImageItem(2, "/abs/b.jpg", "b.jpg")], "absolute"),
            ([ImageItem(1, "a.jpg", "a.jpg"), ImageItem(2, "a.png", "a.png")], "both write")):
        with pytest.raises(PanopticFormatError, match=needle) as e:
            predict_items(None, items, out)  # refused before the predictor is used
        assert e.value.image_id == 2
        assert not out.exists()


def test_memory_error_is_one_line(monkeypatch, capsys, tmp_path):
    """A MemoryError anywhere in a command: one line, exit 1, no traceback (issue 11, point 5)."""
    from panoseg.cli import main
    from panoseg.evaluation import job
    from panoseg.testing.synthetic import make_dataset

    ds = make_dataset(tmp_path, n_images=2, height=16, width=16)

    def no_memory(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(job.EvaluationJob, "evaluate_chunk", no_memory)
    assert main(["eval", "--gt-json-file", str(ds.gt_json), "--pred-json-file", str(ds.pred_json),
                 "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("panoseg eval: error: out of memory") and err.count("\n") == 1
    assert "Traceback" not in err
