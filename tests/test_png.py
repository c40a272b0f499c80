"""panoseg's PNG decoder: same ids as Pillow + rgb2id for every PNG feature panoptic files use."""
import io

import numpy as np
import pytest
from PIL import Image

import panoseg
from panoseg.io import png
from panoseg.errors import PanopticFormatError

from pngtools import encode


def segment_image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.zeros((h, w), np.uint32)
    for _ in range(30):
        y, x = rng.integers(0, h), rng.integers(0, w)
        ids[y:y + rng.integers(1, h // 2 + 2), x:x + rng.integers(1, w // 2 + 2)] = rng.integers(1, 2**24)
    return ids


def pillow_ids(data):
    return panoseg.rgb2id(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


@pytest.mark.parametrize("shape", [(1, 1), (1, 17), (13, 1), (37, 53), (480, 640)])
@pytest.mark.parametrize("filters", ["cycle", 0, 1, 2, 3, 4])
def test_every_filter_type(shape, filters):
    ids = segment_image(*shape)
    rgb = panoseg.id2rgb(ids)
    # also noise, so Average and Paeth see all byte combinations
    rgb[::3] ^= np.random.default_rng(1).integers(0, 256, rgb[::3].shape, dtype=np.uint8)
    fl = None if filters == "cycle" else [filters] * shape[0]
    data = encode(rgb, filters=fl)
    assert np.array_equal(png.decode_ids(data), pillow_ids(data))
    assert np.array_equal(png.decode_ids(data), panoseg.rgb2id(rgb))


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_pillow_written_pngs(tmp_path, level):
    ids = segment_image(200, 300, seed=level)
    Image.fromarray(panoseg.id2rgb(ids)).save(tmp_path / "a.png", compress_level=level)
    assert np.array_equal(png.read_ids(tmp_path / "a.png"), ids)


def test_write_ids_round_trip(tmp_path):
    ids = segment_image(64, 48)
    panoseg.write_ids(tmp_path / "x.png", ids)
    assert np.array_equal(panoseg.read_ids(tmp_path / "x.png"), ids)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]  # no temp file left behind


def test_many_idat_chunks():
    rgb = panoseg.id2rgb(segment_image(100, 100))
    data = encode(rgb, idat_split=7)
    assert np.array_equal(png.decode_ids(data), panoseg.rgb2id(rgb))


def test_interlaced_goes_through_pillow():
    rgb = panoseg.id2rgb(segment_image(29, 31))
    data = encode(rgb, interlace=True)
    assert np.array_equal(pillow_ids(data), panoseg.rgb2id(rgb))  # the test encoder is right
    assert np.array_equal(png.decode_ids(data), panoseg.rgb2id(rgb))


def test_coco_sample_pngs_match_pillow():
    from pathlib import Path

    folder = Path(__file__).parent / "data" / "coco_panoptic_sample" / "panoptic_examples"
    for f in folder.glob("*.png"):
        assert np.array_equal(png.read_ids(f), pillow_ids(f.read_bytes()))


@pytest.mark.parametrize("channels,what", [(1, "grayscale"), (2, "grayscale\\+alpha"), (4, "RGBA")])
def test_non_rgb_is_rejected(channels, what):
    img = np.zeros((4, 4, channels), np.uint8)
    with pytest.raises(PanopticFormatError, match=f"8-bit RGB, this one is 8-bit {what}"):
        png.decode_ids(encode(img), name="x.png")


def test_palette_and_16_bit_are_rejected(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).convert("P").save(tmp_path / "p.png")
    with pytest.raises(PanopticFormatError, match="palette"):
        png.read_ids(tmp_path / "p.png")
    sixteen = encode(np.zeros((2, 2, 6), np.uint8), color_type=2, bit_depth=16, filters=[0, 0])
    with pytest.raises(PanopticFormatError, match="16-bit RGB"):
        png.decode_ids(sixteen)


def test_corrupt_files(tmp_path):
    good = encode(panoseg.id2rgb(segment_image(50, 50)))
    cases = {
        "missing.png": None,
        "text.png": b"hello, not a png",
        "empty.png": b"",
        "truncated.png": good[: len(good) // 2],
        "no_iend.png": good[:-12],
    }
    flipped = bytearray(good)
    flipped[60] ^= 0xFF  # inside the IDAT stream
    cases["flipped.png"] = bytes(flipped)
    for name, data in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
        with pytest.raises(PanopticFormatError) as info:
            png.read_ids(tmp_path / name)
        assert name in str(info.value)


def test_bad_filter_byte():
    rgb = np.zeros((3, 3, 3), np.uint8)
    import zlib
    import struct
    from pngtools import chunk

    raw = b"".join(bytes([7]) + bytes(9) for _ in range(3))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 3, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    with pytest.raises(PanopticFormatError, match="filter type"):
        png.decode_ids(data)
    assert rgb.sum() == 0


def test_wrong_length_data():
    import zlib
    import struct
    from pngtools import chunk

    raw = bytes(3 * 10 - 5)  # too short for 3 rows of 3 RGB pixels
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 3, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    with pytest.raises(PanopticFormatError, match="truncated or corrupt"):
        png.decode_ids(data)


def test_write_ids_any_memory_order(tmp_path):
    ids = segment_image(37, 53)
    for view in (np.asfortranarray(ids), ids[:, ::-1], ids.T.copy().T):
        panoseg.write_ids(tmp_path / "v.png", view)
        assert np.array_equal(panoseg.read_ids(tmp_path / "v.png"), view)
