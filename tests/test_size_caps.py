"""The pixel cap (``--max-pixels``) of every command that reads or makes images, sizes checked
before anything is decoded (an expected size too, e.g. the GT's for an interlaced prediction),
and ``--debug`` / the one-line report of an unexpected error."""
import json
import shutil

import numpy as np
import pytest
from pngtools import encode
from test_cli_conventions import COMMANDS

import panoseg.io.png as png_module
from panoseg.cli import build_parser, main
from panoseg.testing.synthetic import make_merge_inputs


def _one_error_line(capsys, prog):
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: ") and "Traceback" not in err
    return lines[0]


def test_every_command_that_reads_images_has_max_pixels():
    have = {words for words, parser in COMMANDS
            if any("--max-pixels" in a.option_strings for a in parser._actions)}
    # train-semantic reads its images through infer's own loader.
    assert have >= {("eval",), ("merge",), ("tune",), ("viz",), ("infer",),
                    ("convert", "2ch-to-panoptic"), ("convert", "panoptic-to-detection"),
                    ("convert", "detection-to-panoptic"), ("convert", "panoptic-to-semantic")}
    ns = build_parser().parse_args(["viz", "--panoptic_json_file", "a.json", "--output_folder",
                                    "o", "--max_pixels", "7"])
    assert ns.max_pixels == 7


@pytest.fixture(scope="module")
def merge_inputs(tmp_path_factory):
    return make_merge_inputs(tmp_path_factory.mktemp("caps"), n_images=2, height=60, width=80,
                             seed=3)


def test_eval_convert_viz_refuse_a_png_over_the_cap(sample_copy, tmp_path, capsys):
    # The sample's images are 640x427 and 640x360: a cap of 230000 pixels refuses both.
    gt = sample_copy / "gt.json"
    cases = [
        (["eval", "--gt-json-file", gt, "--pred-json-file", sample_copy / "pred.json"],
         "panoseg eval"),
        (["convert", "panoptic-to-detection", "--input-json-file", gt, "--json-out",
          tmp_path / "d.json"], "panoseg convert panoptic-to-detection"),
        (["convert", "panoptic-to-semantic", "--input-json-file", gt, "--output-folder",
          tmp_path / "sem"], "panoseg convert panoptic-to-semantic"),
        (["viz", "--panoptic-json-file", gt, "--output-folder", tmp_path / "viz"],
         "panoseg viz"),
    ]
    for argv, prog in cases:
        argv = [str(a) for a in argv] + ["--max-pixels", "230000", "--no-progress"]
        assert main(argv) == 1, argv
        line = _one_error_line(capsys, prog)
        assert "--max-pixels" in line and "230000" in line, line
        assert ".png" in line or "'images' says 640x" in line, line  # the PNG or the JSON
        assert "image" in line, line
    assert not (tmp_path / "d.json").exists()
    assert not any((tmp_path / "sem").glob("*.png")) and not any((tmp_path / "viz").glob("*.png"))
    # The default cap lets them through.
    assert main(["viz", "--panoptic-json-file", str(gt), "--output-folder", str(tmp_path / "v"),
                 "--no-progress"]) == 0


def test_merge_tune_and_detection_to_panoptic_refuse_json_sizes_over_the_cap(
        merge_inputs, tmp_path, capsys):
    m = merge_inputs  # 80x60 = 4800 pixels per image
    merge_argv = ["--semseg-json-file", m.semseg_json, "--instseg-json-file", m.instseg_json,
                  "--images-json-file", m.images_json, "--categories-json-file",
                  m.categories_json]
    det = tmp_path / "det.json"
    images = json.loads(open(m.images_json).read())["images"]
    det.write_text(json.dumps({"images": images, "annotations": []}))
    cases = [
        (["merge"] + merge_argv + ["--json-out", tmp_path / "m.json"], "panoseg merge"),
        (["tune"] + merge_argv + ["--gt-json-file", m.gt.gt_json, "--confidence-thr", "0.5",
                                  "--overlap-thr", "0.5", "--stuff-area-limit", "0"],
         "panoseg tune"),
        (["convert", "detection-to-panoptic", "--input-json-file", det, "--json-out",
          tmp_path / "p.json", "--categories-json-file", m.categories_json],
         "panoseg convert detection-to-panoptic"),
    ]
    for argv, prog in cases:
        argv = [str(a) for a in argv] + ["--no-progress"]
        assert main(argv + ["--max-pixels", "4799"]) == 1, argv
        line = _one_error_line(capsys, prog)
        assert "80x60" in line and "4799" in line and "--max-pixels" in line, line
        assert main(argv + ["--max-pixels", "4800"]) == 0, argv
        capsys.readouterr()


def test_two_channel_png_over_the_cap(tmp_path, capsys):
    img = np.zeros((40, 50, 3), np.uint8)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(encode(img))
    (tmp_path / "images.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}]}))
    argv = ["convert", "2ch-to-panoptic", "--input-folder", str(tmp_path / "in"),
            "--images-json-file", str(tmp_path / "images.json"), "--json-out",
            str(tmp_path / "p.json"), "--no-progress"]
    assert main(argv + ["--max-pixels", "1999"]) == 1
    line = _one_error_line(capsys, "panoseg convert 2ch-to-panoptic")
    assert "50x40" in line and "a.png" in line and "image 1" in line.replace("id 1", "image 1")
    assert main(argv + ["--max-pixels", "2000"]) == 0


def _never_decode_with_pillow(monkeypatch):
    def refuse(data, name):
        raise AssertionError(f"{name} decoded before its size was checked")
    monkeypatch.setattr(png_module, "_decode_with_pillow", refuse)


def test_an_interlaced_prediction_larger_than_the_gt_is_refused_before_decoding(
        sample_copy, monkeypatch, capsys):
    data = json.loads((sample_copy / "pred.json").read_text())
    name = data["annotations"][0]["file_name"]
    (sample_copy / "pred" / name).write_bytes(
        encode(np.zeros((1000, 1200, 3), np.uint8), interlace=True))
    _never_decode_with_pillow(monkeypatch)
    assert main(["eval", "--gt-json-file", str(sample_copy / "gt.json"), "--pred-json-file",
                 str(sample_copy / "pred.json"), "--no-progress"]) == 1
    line = _one_error_line(capsys, "panoseg eval")
    assert "1200x1000" in line and name in line, line


def test_a_png_whose_size_differs_from_images_is_refused_before_decoding(
        sample_copy, tmp_path, monkeypatch, capsys):
    data = json.loads((sample_copy / "gt.json").read_text())
    name = data["annotations"][0]["file_name"]
    (sample_copy / "gt" / name).write_bytes(
        encode(np.zeros((1000, 1200, 3), np.uint8), interlace=True))
    _never_decode_with_pillow(monkeypatch)
    for argv, prog in [
            (["convert", "panoptic-to-semantic", "--input-json-file", sample_copy / "gt.json",
              "--output-folder", tmp_path / "sem"], "panoseg convert panoptic-to-semantic"),
            (["eval", "--gt-json-file", sample_copy / "gt.json", "--pred-json-file",
              sample_copy / "pred.json"], "panoseg eval")]:
        assert main([str(a) for a in argv] + ["--no-progress"]) == 1
        line = _one_error_line(capsys, prog)
        assert "1200x1000" in line and "'images'" in line and name in line, line


# ------------------------------------------------------------------ --debug, internal errors

def test_debug_adds_the_traceback_to_the_one_line(tmp_path, capsys, monkeypatch):
    argv = ["eval", "--gt-json-file", str(tmp_path / "missing.json"), "--pred-json-file",
            str(tmp_path / "missing.json")]
    assert main(argv) == 1
    assert "Traceback" not in capsys.readouterr().err
    for extra, env in ((["--debug"], None), ([], "1")):
        if env:
            monkeypatch.setenv("PANOSEG_DEBUG", env)
        assert main(argv + extra) == 1
        err = capsys.readouterr().err
        assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith(
            "panoseg eval: error: ") and "missing.json" in err
    # Before the conversion's name too (a parent's flag is not reset by the child parser).
    monkeypatch.delenv("PANOSEG_DEBUG")
    assert build_parser().parse_args(["convert", "--debug", "panoptic-to-semantic",
                                      "--input-json-file", "a", "--output-folder", "b"]).debug


def test_an_unexpected_exception_is_one_line_not_a_traceback(sample_copy, monkeypatch, capsys):
    import panoseg.cli.eval as cli_eval

    def broken(*args, **kwargs):
        raise KeyError("oops")
    monkeypatch.setattr(cli_eval, "format_summary", broken)
    argv = ["eval", "--gt-json-file", str(sample_copy / "gt.json"), "--pred-json-file",
            str(sample_copy / "pred.json"), "--no-progress"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("panoseg eval: internal error: KeyError") and "--debug" in lines[0]
    assert main(argv + ["--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_pillow_fallback_still_decodes_interlaced_pngs_of_the_right_size(sample_copy, capsys):
    data = json.loads((sample_copy / "pred.json").read_text())
    from panoseg.io.png import read_ids
    for ann in data["annotations"]:
        path = sample_copy / "pred" / ann["file_name"]
        ids = read_ids(path)
        rgb = np.stack([ids & 255, (ids >> 8) & 255, ids >> 16], -1).astype(np.uint8)
        path.write_bytes(encode(rgb, interlace=True))
    shutil.rmtree(sample_copy / "gt")
    shutil.copytree(sample_copy / "pred", sample_copy / "gt")
    assert main(["eval", "--gt-json-file", str(sample_copy / "gt.json"), "--pred-json-file",
                 str(sample_copy / "pred.json"), "--no-progress"]) == 0
    assert "100.0" in capsys.readouterr().out
