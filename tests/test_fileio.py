"""Evaluation inputs read through fsspec URLs (object stores), here fsspec's memory filesystem."""
import os

import pytest

fsspec = pytest.importorskip("fsspec")

from panoseg import PanopticFormatError, pq_compute  # noqa: E402
from panoseg.util.fileio import is_url, join, read_bytes  # noqa: E402

SAMPLE = os.path.join(os.path.dirname(__file__), "data", "coco_panoptic_sample")
PRED = os.path.join(os.path.dirname(__file__), "data", "sample_prediction")


def upload(fs, local_folder, url_folder):
    for name in os.listdir(local_folder):
        with open(os.path.join(local_folder, name), "rb") as f, fs.open(f"{url_folder}/{name}", "wb") as g:
            g.write(f.read())


def test_eval_from_urls_equals_local():
    fs = fsspec.filesystem("memory")
    upload(fs, os.path.join(SAMPLE, "panoptic_examples"), "/bucket/gt")
    upload(fs, os.path.join(PRED, "panoptic_pred"), "/bucket/pred")
    with open(os.path.join(SAMPLE, "panoptic_examples.json"), "rb") as f, fs.open("/bucket/gt.json", "wb") as g:
        g.write(f.read())
    with open(os.path.join(PRED, "panoptic_pred.json"), "rb") as f, fs.open("/bucket/pred.json", "wb") as g:
        g.write(f.read())
    local = pq_compute(os.path.join(SAMPLE, "panoptic_examples.json"),
                       os.path.join(PRED, "panoptic_pred.json"),
                       os.path.join(SAMPLE, "panoptic_examples"), os.path.join(PRED, "panoptic_pred"))
    remote = pq_compute("memory://bucket/gt.json", "memory://bucket/pred.json",
                        "memory://bucket/gt", "memory://bucket/pred")
    assert remote == local
    with pytest.raises(PanopticFormatError, match="memory://bucket/nope.json: cannot read JSON"):
        pq_compute("memory://bucket/nope.json", "memory://bucket/pred.json")


def test_helpers(tmp_path):
    assert is_url("s3://b/k") and not is_url("/data/x") and not is_url("file:///data/x")
    assert join("s3://b/gt", "1.png") == "s3://b/gt/1.png"
    assert join("file:///data/gt", "1.png") == "/data/gt/1.png"
    from panoseg.util.fileio import is_dir

    assert is_dir("file://" + str(tmp_path)) and is_dir("s3://bucket/anything")
    (tmp_path / "a").write_bytes(b"xyz")
    assert read_bytes(str(tmp_path / "a")) == b"xyz" == read_bytes("file://" + str(tmp_path / "a"))


def test_url_reads_are_bounded():
    fs = fsspec.filesystem("memory")
    with fs.open("/bucket/big.bin", "wb") as f:
        f.write(b"q" * 3_000_001)  # three reads of a block, and one byte
    assert read_bytes("memory://bucket/big.bin", 3_000_001) == b"q" * 3_000_001
    with pytest.raises(OSError, match="more than the limit of 3,000,000 bytes"):
        read_bytes("memory://bucket/big.bin", 3_000_000)


def test_png_limits_apply_to_urls_too(monkeypatch):
    """A PNG read through a URL has the limits of a local one: the size its IHDR allows, the
    signature from its first bytes."""
    from panoseg import _core

    monkeypatch.delenv("PANOSEG_MAX_FILE_BYTES", raising=False)
    fs = fsspec.filesystem("memory")
    upload(fs, os.path.join(SAMPLE, "panoptic_examples"), "/b2/gt")
    upload(fs, os.path.join(SAMPLE, "panoptic_examples"), "/b2/pred")
    for name in ("gt", "pred"):
        with open(os.path.join(SAMPLE, "panoptic_examples.json"), "rb") as f, \
                fs.open(f"/b2/{name}.json", "wb") as g:
            g.write(f.read())
    png = "/b2/pred/000000142238.png"
    data = fs.cat(png)
    limit = _core.max_png_file_bytes(640 * 427)
    fs.pipe(png, data + b"\0" * (limit + 1 - len(data)))
    with pytest.raises(PanopticFormatError, match=f"more than the limit of {limit:,} bytes"):
        pq_compute("memory://b2/gt.json", "memory://b2/pred.json")
    fs.pipe(png, b"GIF89a" + b"\0" * 100_000)
    with pytest.raises(PanopticFormatError, match="not a PNG file"):
        pq_compute("memory://b2/gt.json", "memory://b2/pred.json")
