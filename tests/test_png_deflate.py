"""The core's PNG writer (csrc/io/png_deflate.cpp, the merge's default): any reader decodes its
PNGs to the ids they were made from -- Pillow, the standard library's zlib (+ unfiltering here)
and panoseg's own reader -- for random maps and edge sizes; bad pixel lists are refused."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import panoseg
from panoseg import _core
from panoseg.io.png import decode_ids
from panoseg.merge import combine_predictions
from panoseg.testing.synthetic import make_merge_inputs


def up_filtered_pixels(ids):
    """The pixels whose Up-filtered RGB bytes are not zero: (ys, xs, bytes), row by row."""
    rgb = np.stack([(ids >> (8 * c)) & 0xFF for c in range(3)], -1).astype(np.uint8)
    above = np.zeros_like(rgb)
    above[1:] = rgb[:-1]
    diff = rgb - above  # uint8: modulo 256, as PNG's filters
    ys, xs = np.nonzero(np.any(diff != 0, axis=2))
    return ys.astype(np.int32), xs.astype(np.int32), np.ascontiguousarray(diff[ys, xs])


def encode(ids):
    h, w = ids.shape
    return _core.png_encode_sparse(*up_filtered_pixels(ids), h, w)


def decode_with_zlib(data):
    """IHDR + IDAT -> ids with the standard library's zlib and the Up filter undone here."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        n, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(ctype + body)
        if ctype == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat += body
        pos += 12 + n
    w, h = header[:2]
    assert header[2:] == (8, 2, 0, 0, 0)
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    assert (raw[:, 0] == 2).all()
    rgb = np.cumsum(raw[:, 1:].astype(np.int64), axis=0) % 256  # undo Up
    rgb = rgb.reshape(h, w, 3)
    return (rgb[..., 0] | rgb[..., 1] << 8 | rgb[..., 2] << 16).astype(np.uint32)


def random_map(rng, h, w, kind):
    if kind == "noise":
        return rng.integers(0, 2**24, (h, w), dtype=np.uint32)
    if kind == "void":
        return np.zeros((h, w), np.uint32)
    if kind == "few ids":  # small ids: many equal and zero filtered bytes
        return (rng.integers(0, 3, (h, w)) * 0x010203).astype(np.uint32)
    if kind == "stripes":  # horizontal edges: rows of equal changes (distance-3 matches)
        return np.repeat(rng.integers(0, 2**24, (h, 1), dtype=np.uint32), w, axis=1)
    # blocks: a piecewise-constant map as panoptic maps are
    ys = np.sort(rng.integers(0, h + 1, 3))
    xs = np.sort(rng.integers(0, w + 1, 3))
    out = np.zeros((h, w), np.uint32)
    for a, b in zip(ys[:-1], ys[1:]):
        for c, d in zip(xs[:-1], xs[1:]):
            out[a:b, c:d] = rng.integers(1, 2**24)
    return out


KINDS = ["noise", "void", "few ids", "stripes", "blocks"]
SIZES = [(1, 1), (1, 2), (1, 5), (7, 1), (2, 3), (17, 33), (480, 640), (1, 100_000),
         (3, 30_000)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("kind", KINDS)
def test_every_reader_decodes_the_ids(size, kind):
    rng = np.random.default_rng(hash((size, kind)) % 2**32)
    ids = random_map(rng, *size, kind)
    data = encode(ids)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "RGB" and im.size == (size[1], size[0])
        assert np.array_equal(panoseg.rgb2id(np.asarray(im)), ids)
    assert np.array_equal(decode_with_zlib(data), ids)
    assert np.array_equal(decode_ids(data), ids)


def test_long_runs_of_one_pixel_and_of_zeros():
    """Runs longer than deflate's longest match (258 bytes), of each length around it."""
    for w in range(80, 100):
        ids = np.zeros((3, w), np.uint32)
        ids[1, 1:] = 0x0A0B0C  # one row of w - 1 equal changes
        ids[2, : w // 2] = 0x0A0B0C
        assert np.array_equal(decode_with_zlib(encode(ids)), ids)
    for w in (85, 86, 87, 172, 173):  # zero stretches of 255..519 bytes
        ids = np.zeros((2, w), np.uint32)
        ids[:, -1] = 7
        assert np.array_equal(decode_with_zlib(encode(ids)), ids)


def test_compresses_like_zlib_on_panoptic_maps():
    """Not a format requirement, a regression guard: within 2x of zlib's level 6."""
    rng = np.random.default_rng(0)
    ids = random_map(rng, 480, 640, "blocks")
    raw = _core.png_filtered_scanlines(ids)
    assert len(encode(ids)) < 2 * len(zlib.compress(bytes(raw), 6)) + 100


@pytest.mark.parametrize("ys, xs", [([0, 0], [1, 1]), ([1, 0], [0, 0]), ([0, 0], [2, 1]),
                                    ([0], [5]), ([3], [0]), ([-1], [0]), ([0], [-1])])
def test_bad_pixel_lists_are_refused(ys, xs):
    rgb = np.ones((len(ys), 3), np.uint8)
    with pytest.raises(ValueError):
        _core.png_encode_sparse(np.array(ys, np.int32), np.array(xs, np.int32), rgb, 3, 5)


@pytest.mark.parametrize("h, w, f", [(0, 5, 2), (5, 0, 2), (2, 2, 5), (2, 2, -1)])
def test_bad_sizes_and_filters_are_refused(h, w, f):
    with pytest.raises(ValueError):
        _core.png_encode_sparse(np.zeros(0, np.int32), np.zeros(0, np.int32),
                                np.zeros((0, 3), np.uint8), h, w, f)


def test_merge_writes_the_same_ids_as_with_zlib(tmp_path):
    """The merge's default writer and zlib (--png-compression) give the same JSON and ids."""
    i = make_merge_inputs(tmp_path / "in", n_images=6, height=60, width=80, seed=3)
    out = {}
    for name, level in (("core", None), ("zlib", 6)):
        folder = tmp_path / name
        out[name] = combine_predictions(i.semseg_json, i.instseg_json, i.images_json,
                                        i.categories_json, folder, str(folder) + ".json",
                                        compress_level=level, workers=2)
    assert out["core"] == out["zlib"]
    for ann in out["core"]["annotations"]:
        core = (tmp_path / "core" / ann["file_name"]).read_bytes()
        ref = panoseg.read_ids(tmp_path / "zlib" / ann["file_name"])
        assert np.array_equal(decode_ids(core), ref)
        assert np.array_equal(decode_with_zlib(core), ref)
        with Image.open(io.BytesIO(core)) as im:
            assert np.array_equal(panoseg.rgb2id(np.asarray(im)), ref)
