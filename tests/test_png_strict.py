"""PNG chunk rules as strict as Pillow's, sizes checked before anything is inflated, and bounded
inflation (issue 11, points 1, 2 and 6, for the PNG decoder)."""
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from pngtools import build_png, encode, pillow_refuses, png_chunks

from panoseg import PanopticFormatError
from panoseg.io import png

RGB = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)


def _header(w, h, depth=8, color=2, compression=0, filter_method=0, interlace=0):
    return struct.pack(">IIBBBBB", w, h, depth, color, compression, filter_method, interlace)


def test_a_sound_png_still_decodes():
    np.testing.assert_array_equal(png.decode_ids(encode(RGB)),
                                  RGB[..., 0] + 256 * RGB[..., 1].astype(np.uint32)
                                  + 65536 * RGB[..., 2].astype(np.uint32))


def _variants():
    good = png_chunks(encode(RGB, idat_split=20))
    ihdr, idats, iend = good[0], [c for c in good if c[0] == b"IDAT"], good[-1]
    assert len(idats) >= 2
    text = (b"tEXt", b"Comment\x00x")
    return {
        "IDAT before IHDR": ([idats[0], ihdr] + idats[1:] + [iend], "before IHDR"),
        "text chunk before IHDR": ([text, ihdr] + idats + [iend], "before IHDR"),
        "IHDR twice": ([ihdr, ihdr] + idats + [iend], "second IHDR"),
        "IDATs not consecutive": ([ihdr, idats[0], text] + idats[1:] + [iend], "not consecutive"),
        "filter method 1": ([(b"IHDR", _header(5, 6, filter_method=1))] + idats + [iend],
                            "filter method 1"),
        "compression method 1": ([(b"IHDR", _header(5, 6, compression=1))] + idats + [iend],
                                 "compression method 1"),
    }


@pytest.mark.parametrize("case", sorted(_variants()))
def test_chunk_rules(case):
    chunks, message = _variants()[case]
    data = build_png(chunks)
    with pytest.raises(PanopticFormatError, match=message) as e:
        png.decode_ids(data, "x.png")
    assert str(e.value).startswith("x.png: ")
    # Pillow refuses these too; the others break the PNG specification where Pillow lets them
    # pass (README, "PNG decoding").
    if case in ("IDAT before IHDR", "filter method 1"):
        assert pillow_refuses(data)


def test_critical_chunk_checksums():
    data = bytearray(encode(RGB))
    idat_at = data.index(b"IDAT")
    length = struct.unpack_from(">I", data, idat_at - 4)[0]
    data[idat_at + 4 + length] ^= 0xFF  # the IDAT's CRC
    with pytest.raises(PanopticFormatError, match="IDAT checksum mismatch"):
        png.decode_ids(bytes(data), "x.png")


def test_size_is_checked_before_inflating():
    """A header claiming 4294967295 x 1 or 100000 x 100000: refused from the header alone."""
    for w, h in ((2 ** 32 - 1, 1), (100_000, 100_000)):
        data = build_png([(b"IHDR", _header(w, h)), (b"IDAT", zlib.compress(b"\0" * 100)),
                       (b"IEND", b"")])
        with pytest.raises(PanopticFormatError, match="PNG|pixels") as e:
            png.decode_ids(data, "big.png")
        assert "big.png" in str(e.value)
    with pytest.raises(PanopticFormatError, match="more than the 20 pixels"):
        png.inflate(encode(RGB), "x.png", max_pixels=20)


def test_a_bomb_is_refused_without_inflating_it():
    """A 4x4 header over a stream that inflates to 64 MB: an error, and only the 4x4 image's
    bytes are ever produced."""
    bomb = zlib.compress(b"\0" * (64 << 20), 9)
    data = build_png([(b"IHDR", _header(4, 4)), (b"IDAT", bomb), (b"IEND", b"")])
    with pytest.raises(PanopticFormatError, match="more than the 4x4 image"):
        png.decode_ids(data, "bomb.png")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_bomb_memory_stays_bounded(tmp_path):
    """Peak memory of decoding a 2 GB bomb behind a 64x64 header, in a fresh process: far below
    what inflating it would take."""
    bomb = tmp_path / "bomb.png"
    raw = zlib.compressobj(9)
    stream = b"".join(raw.compress(b"\0" * (1 << 24)) for _ in range(128)) + raw.flush()
    bomb.write_bytes(build_png([(b"IHDR", _header(64, 64)), (b"IDAT", stream), (b"IEND", b"")]))
    # VmHWM, this process's own peak (ru_maxrss would carry over the forking pytest's peak).
    code = (
        "from panoseg.io.png import read_ids\n"
        "from panoseg import PanopticFormatError\n"
        "try:\n"
        f"    read_ids({str(bomb)!r})\n"
        "except PanopticFormatError as e:\n"
        "    print('refused', e)\n"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines[0].startswith("refused") and "more than the 64x64 image" in lines[0]
    assert int(lines[-1]) < 400 * 1024, f"peak RSS {int(lines[-1]) // 1024} MB"  # KB on Linux
