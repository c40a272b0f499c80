"""Sizes are checked before anything is allocated or inflated, in eval (issue 11, point 1)."""
import json
import struct
import zlib
from pathlib import Path

from pngtools import chunk

from panoseg.cli import main
from panoseg.testing.synthetic import make_dataset


def _args(ds, *extra):
    return ["eval", "--gt-json-file", str(ds.gt_json), "--pred-json-file", str(ds.pred_json),
            "--no-progress", *extra]


def test_max_pixels(tmp_path, capsys):
    ds = make_dataset(tmp_path, n_images=2, height=24, width=32, seed=1)
    assert main(_args(ds, "--max-pixels", "700")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "more than the 700 pixels" in err[0] and "image" in err[0]
    assert main(_args(ds, "--max_pixels", "768")) == 0


def test_images_claiming_a_huge_size(tmp_path, capsys):
    ds = make_dataset(tmp_path, n_images=2, height=24, width=32, seed=1)
    gt = json.loads(open(ds.gt_json).read())
    gt["images"][0].update(height=100_000, width=100_000)
    with open(ds.gt_json, "w") as f:
        json.dump(gt, f)
    assert main(_args(ds)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "100000x100000" in err[0] and "--max-pixels" in err[0]


def test_png_headers_claiming_4294967295_x_1(tmp_path, capsys):
    """The ~10 KB pair that aborted the process (std::bad_alloc through the core): one line."""
    ds = make_dataset(tmp_path, n_images=1, height=24, width=32, seed=1)
    gt = json.loads(open(ds.gt_json).read())
    gt.pop("images", None)
    with open(ds.gt_json, "w") as f:
        json.dump(gt, f)
    header = struct.pack(">IIBBBBB", 2 ** 32 - 1, 1, 8, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 10_000)) + chunk(b"IEND", b""))
    name = gt["annotations"][0]["file_name"]
    for folder in (ds.gt_folder, ds.pred_folder):
        (Path(folder) / name).write_bytes(data)
    assert main(_args(ds)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and name in err[0] and "4294967295x1" in err[0]
