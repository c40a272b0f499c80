"""Reading and listing input images for ``panoseg infer`` (no MXNet needed for these)."""
import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("mxnet", reason="panoseg.infer needs MXNet")  # the package imports it

from panoseg.infer.images import (  # noqa: E402
    ImageError, images_from_json, images_in_folder, images_in_list, read_image)


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)


def test_rgb_png_and_jpeg(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png"), rgb)
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    got = read_image(tmp_path / "a.jpg")
    assert got.shape == (20, 30, 3) and got.dtype == np.uint8


def test_grayscale_palette_rgba_cmyk(tmp_path, rgb):
    gray = rgb[:, :, 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    assert np.array_equal(read_image(tmp_path / "g.png"), np.repeat(gray[:, :, None], 3, 2))
    rgba = np.dstack([rgb, np.full((20, 30), 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png"), rgb)  # alpha dropped
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (20, 30, 3)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg")
    assert read_image(tmp_path / "c.jpg").shape == (20, 30, 3)
    Image.fromarray(rgb).convert("1").save(tmp_path / "b.png")
    assert set(np.unique(read_image(tmp_path / "b.png"))) <= {0, 255}


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    a = np.array([[0, 257, 65535, 32896]], np.uint16)
    Image.fromarray(a).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    got = read_image(tmp_path / "d.png")
    assert got[0, :, 0].tolist() == [0, 1, 255, 128]


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_corrupt_files_name_the_file(tmp_path, content):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match="bad.jpg: cannot read the image"):
        read_image(path)


def test_truncated_jpeg(tmp_path, rgb):
    Image.fromarray(rgb).resize((300, 200)).save(tmp_path / "t.jpg")
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[:len(data) // 2])
    with pytest.raises(ImageError, match="t.jpg"):
        read_image(tmp_path / "t.jpg")


def test_missing_and_too_large(tmp_path, rgb):
    with pytest.raises(ImageError, match="nope.png: no such file"):
        read_image(tmp_path / "nope.png")
    Image.fromarray(rgb).save(tmp_path / "a.png")
    with pytest.raises(ImageError, match=r"a.png: image is 30x20 = 600 pixels.*max-pixels"):
        read_image(tmp_path / "a.png", max_pixels=100)


def test_listing(tmp_path, rgb):
    for name in ("000000000139.jpg", "b.png", "notes.txt"):
        Image.fromarray(rgb).save(tmp_path / name) if name != "notes.txt" else \
            (tmp_path / name).write_text("x")
    items = images_in_folder(tmp_path)
    assert [(i.image_id, i.file_name, i.png_name) for i in items] == \
        [(139, "000000000139.jpg", "000000000139.png"), ("b", "b.png", "b.png")]
    (tmp_path / "list.txt").write_text("# two images\nb.png\n\n000000000139.jpg\n")
    assert [i.file_name for i in images_in_list(tmp_path / "list.txt")] == \
        ["b.png", "000000000139.jpg"]
    (tmp_path / "images.json").write_text(json.dumps(
        {"images": [{"id": 7, "file_name": "b.png", "height": 20, "width": 30}]}))
    items = images_from_json(tmp_path, tmp_path / "images.json")
    assert (items[0].image_id, items[0].path, items[0].height) == (7, str(tmp_path / "b.png"), 20)


def test_listing_errors(tmp_path, rgb):
    with pytest.raises(ImageError, match="no image files"):
        images_in_folder(tmp_path)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb).save(tmp_path / "a.jpg")
    with pytest.raises(ImageError, match="is used by both a.jpg and a.png"):
        images_in_folder(tmp_path)
    (tmp_path / "dup.json").write_text(json.dumps(
        {"images": [{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "a.jpg"}]}))
    with pytest.raises(ImageError, match="image id 1 is used by both"):
        images_from_json(tmp_path, tmp_path / "dup.json")
    (tmp_path / "bad.json").write_text(json.dumps({"images": [{"file_name": "a.png"}]}))
    with pytest.raises(ImageError, match=r"images\[0\] needs 'id'"):
        images_from_json(tmp_path, tmp_path / "bad.json")


def test_jpeg_with_data_after_its_end_is_fine(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "m.jpg", quality=95)
    with open(tmp_path / "m.jpg", "ab") as f:
        f.write(b"\0ftypmp42" + bytes(6000))  # e.g. a motion photo's video
    assert read_image(tmp_path / "m.jpg").shape == (20, 30, 3)


def test_truncated_jpeg_is_refused_even_when_pillow_would_accept_it(tmp_path, rgb, monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # as importing GluonCV does
    Image.fromarray(rgb).resize((300, 200)).save(tmp_path / "t.jpg")
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[:len(data) // 2])
    with pytest.raises(ImageError, match="t.jpg: .*truncated"):
        read_image(tmp_path / "t.jpg")
