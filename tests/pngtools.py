"""Hand-made PNG encoders for tests: every scanline filter, interlacing, odd colour types."""
import struct
import zlib

import numpy as np


def chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def filter_rows(img: np.ndarray, filters) -> bytes:
    """Filters the scanlines of an HxWxC uint8 image; ``filters[y]`` is row y's filter type."""
    h, w, c = img.shape
    rows = img.reshape(h, w * c).astype(np.int32)
    out = []
    prev = np.zeros(w * c, np.int32)
    for y in range(h):
        cur = rows[y]
        left = np.concatenate([np.zeros(c, np.int32), cur[:-c]])
        upleft = np.concatenate([np.zeros(c, np.int32), prev[:-c]])
        f = filters[y]
        pred = {0: 0 * cur, 1: left, 2: prev, 3: (left + prev) // 2, 4: _paeth(left, prev, upleft)}[f]
        out.append(bytes([f]) + ((cur - pred) % 256).astype(np.uint8).tobytes())
        prev = cur
    return b"".join(out)


def encode(img: np.ndarray, filters=None, color_type=None, bit_depth=8, idat_split=None,
           interlace=False) -> bytes:
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[:, :, None]
    h, w, c = img.shape
    if color_type is None:
        color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    if interlace:
        raw = b"".join(filter_rows(img[y0::dy, x0::dx], [0] * len(range(y0, h, dy)))
                       for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                                              (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
                       if x0 < w and y0 < h)
    else:
        if filters is None:
            filters = [y % 5 for y in range(h)]
        raw = filter_rows(img, filters)
    data = zlib.compress(raw, 6)
    parts = [data] if not idat_split else [data[i:i + idat_split] for i in range(0, len(data), idat_split)]
    header = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, int(interlace))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + b"".join(chunk(b"IDAT", p) for p in parts)
            + chunk(b"IEND", b""))


def pillow_refuses(data: bytes) -> bool:
    """Whether Pillow refuses to load these PNG bytes (truncated images not tolerated)."""
    import io

    from PIL import Image, ImageFile

    lenient = ImageFile.LOAD_TRUNCATED_IMAGES  # importing GluonCV sets it
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
        return False
    except Exception:  # noqa: BLE001 - any refusal
        return True
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = lenient


SIGNATURE = b"\x89PNG\r\n\x1a\n"


def build_png(chunks) -> bytes:
    """The PNG signature and these (type, payload) chunks, CRCs computed."""
    return SIGNATURE + b"".join(chunk(t, d) for t, d in chunks)


def png_chunks(data: bytes):
    """(type, payload) of each chunk of a PNG."""
    pos, out = 8, []
    while pos < len(data):
        length, ctype = struct.unpack_from(">I4s", data, pos)
        out.append((ctype, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out
