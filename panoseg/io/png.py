"""Reading and writing panoptic PNGs (RGB-encoded segment ids).

Panoptic PNGs are 8-bit RGB images. panoseg reads them with its own small decoder: the chunk
structure is parsed here, the zlib stream is inflated by the fastest available zlib (zlib-ng,
then isal, then the standard library's: all release the GIL) and the scanlines are reconstructed
and turned into ids in one pass by the compiled core. That is several times faster than Pillow
and scales over threads. Anything the fast path does not handle (interlaced PNGs) goes through
Pillow; the ids are identical either way.
"""
from __future__ import annotations

import struct
import zlib as _stdlib_zlib
from typing import Callable, Optional

import numpy as np

from .. import _core
from ..errors import PanopticFormatError
from ..util.atomic import atomic_write_bytes
from ..util.fileio import read_bytes
from ..util.parallel import thread_buffer
from .codec import as_id_map

try:  # Optional accelerators, same API as the stdlib module.
    from zlib_ng import zlib_ng as _zlib
    ZLIB_BACKEND = "zlib-ng"
except ImportError:  # pragma: no cover - depends on the environment
    try:
        from isal import isal_zlib as _zlib
        ZLIB_BACKEND = "isal"
    except ImportError:
        _zlib = _stdlib_zlib
        ZLIB_BACKEND = "zlib"

_crc32 = getattr(_zlib, "crc32", _stdlib_zlib.crc32)

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# zlib level of written PNGs: on panoptic maps level 2 is within ~10% of level 6's size at a
# quarter of the time (measured with zlib-ng on 640x480 maps: 9.5 KB in 0.22 ms vs 8.3 KB in 1 ms).
DEFAULT_COMPRESS_LEVEL = 2
_COLOR_TYPES = {0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale+alpha", 6: "RGBA"}


def decoder_name() -> str:
    """The decoder panoseg uses for PNGs, e.g. ``'panoseg+zlib-ng'``."""
    return f"panoseg+{ZLIB_BACKEND}"


def read_ids(path, max_pixels: Optional[int] = None,
             check_size: Optional[Callable[[int, int], None]] = None) -> np.ndarray:
    """Reads a panoptic PNG into an HxW uint32 map of segment ids (``R + 256 G + 256^2 B``).
    ``max_pixels``: the largest image accepted (default :data:`MAX_PIXELS`), checked from the
    header before anything is inflated. ``check_size(height, width)``, if given, is called
    with the header's size before anything is inflated too (to refuse a size that differs from
    the expected one by raising).

    Raises
    ------
    PanopticFormatError
        The file is missing, not a PNG, corrupt, or not an 8-bit RGB image.
    """
    try:
        data = read_bytes(path)
    except OSError as e:
        raise PanopticFormatError(f"cannot read PNG: {e.strerror or e}", file=path) from None
    return decode_ids(data, name=path, max_pixels=max_pixels, check_size=check_size)


def decode_ids(data: bytes, name="<bytes>", max_pixels: Optional[int] = None,
               check_size: Optional[Callable[[int, int], None]] = None) -> np.ndarray:
    """Decodes the bytes of a panoptic PNG into an HxW uint32 id map (see :func:`read_ids`)."""
    height, width, raw = inflate(data, name, max_pixels, check_size)
    if raw is None:  # interlaced: Pillow, only after the header's size was checked
        return _decode_with_pillow(data, name)
    try:
        return _core.png_unfilter_ids(raw, height, width)
    except ValueError as e:
        raise PanopticFormatError(str(e), file=name) from None


def read_inflated(path, max_pixels: Optional[int] = None):
    """Reads a panoptic PNG up to its inflated, still filtered image data (see :func:`inflate`).

    Returns ``(height, width, data)``; ``data`` is None for an interlaced PNG (decode it with
    :func:`read_ids`, once its size is known to be the expected one). The evaluator hands this to the core, which reconstructs the rows of the
    GT and the prediction together without storing either id map.
    """
    try:
        data = read_bytes(path)
    except OSError as e:
        raise PanopticFormatError(f"cannot read PNG: {e.strerror or e}", file=path) from None
    return inflate(data, path, max_pixels)


#: The largest image panoseg decodes, in pixels (checked from the PNG header, before anything
#: is allocated or inflated): 400 megapixels, e.g. 20000 x 20000, 1.2 GB of RGB.
MAX_PIXELS = 400_000_000

#: Chunks a decoder must understand: their CRCs are checked (Pillow checks them too).
_CRITICAL = (b"IHDR", b"PLTE", b"IDAT", b"IEND")


def inflate(data: bytes, name="<bytes>", max_pixels: Optional[int] = None,
            check_size: Optional[Callable[[int, int], None]] = None):
    """Checks a panoptic PNG's chunks and inflates its image data: ``(height, width, data)``.

    ``data`` is None for an interlaced PNG (its size is checked all the same). Raises :class:`PanopticFormatError` for anything but a sound
    8-bit RGB PNG. The header's size is checked against ``max_pixels`` before anything is
    inflated, and the image data is inflated into at most the size the header implies: a
    stream that holds more (a decompression bomb) is an error, never stored.
    """
    try:
        width, height, depth, color, interlace, idat = _parse_chunks(data)
    except ValueError as e:
        raise PanopticFormatError(str(e), file=name) from None
    if color != 2 or depth != 8:
        kind = _COLOR_TYPES.get(color, f"color type {color}")
        raise PanopticFormatError(
            f"panoptic PNGs must be 8-bit RGB, this one is {depth}-bit {kind}", file=name)
    check_pixels(width, height, name, MAX_PIXELS if max_pixels is None else max_pixels)
    if check_size is not None:
        check_size(height, width)
    if interlace:
        return height, width, None
    expected = (3 * width + 1) * height
    try:
        inflater = _zlib.decompressobj()
        raw = inflater.decompress(idat, expected)
        # A stream that ended is whole (bytes after its end are ignored, as Pillow does); one
        # that did not may hold more output: ask for one byte only then.
        overflow = bool(inflater.unconsumed_tail) or (
            not inflater.eof and bool(inflater.decompress(b"", 1)))
    except Exception as e:  # zlib.error and its twins in zlib-ng / isal
        raise PanopticFormatError(f"corrupt PNG image data ({e or type(e).__name__})",
                                  file=name) from None
    if overflow:
        raise PanopticFormatError(f"corrupt PNG image data (more than the {width}x{height} "
                                  "image its header declares)", file=name)
    return height, width, raw


def check_pixels(width: int, height: int, name, max_pixels: int = MAX_PIXELS) -> None:
    """A PNG's declared size against the pixel cap, before anything is allocated."""
    if width * height > max_pixels:
        raise PanopticFormatError(f"PNG is {width}x{height} ({width * height} pixels), more than "
                                  f"the {max_pixels} pixels allowed (--max-pixels)", file=name)


def _parse_chunks(data: bytes):
    """The header fields and the joined IDAT data, checked as strictly as Pillow: IHDR first,
    IDAT after it (and consecutive), compression and filter method 0, the CRC of every critical
    chunk."""
    if data[:8] != _SIGNATURE:
        raise ValueError("not a PNG file (bad signature)")
    pos, n = 8, len(data)
    header = None
    idat = []
    idat_done = False
    while True:
        if pos + 8 > n:
            raise ValueError("truncated PNG (no IEND chunk)")
        length, ctype = struct.unpack_from(">I4s", data, pos)
        start, end = pos + 8, pos + 8 + length
        if end + 4 > n:
            raise ValueError(f"truncated PNG (chunk {ctype.decode('latin-1')!r} is cut short)")
        shown = ctype.decode("latin-1")
        if header is None and ctype != b"IHDR":
            raise ValueError(f"corrupt PNG (chunk {shown!r} before IHDR; IHDR must come first)")
        if ctype in _CRITICAL:
            crc = struct.unpack_from(">I", data, end)[0]
            if _crc32(data[pos + 4:end]) != crc:
                raise ValueError(f"corrupt PNG ({shown} checksum mismatch)")
        if ctype == b"IHDR":
            if header is not None:
                raise ValueError("corrupt PNG (a second IHDR chunk)")
            if length != 13:
                raise ValueError("corrupt PNG (bad IHDR chunk)")
            header = struct.unpack_from(">IIBBBBB", data, start)
        elif ctype == b"IDAT":
            if idat_done:
                raise ValueError("corrupt PNG (IDAT chunks are not consecutive)")
            idat.append(data[start:end])
        elif ctype == b"IEND":
            break
        elif idat:
            idat_done = True
        pos = end + 4
    width, height, depth, color, compression, filter_method, interlace = header
    if width == 0 or height == 0:
        raise ValueError("PNG has zero width or height")
    if width > 2 ** 31 - 1 or height > 2 ** 31 - 1:
        raise ValueError(f"corrupt PNG (size {width}x{height} beyond the PNG limit of 2^31 - 1)")
    if compression != 0:
        raise ValueError(f"corrupt PNG (unknown compression method {compression})")
    if filter_method != 0:
        raise ValueError(f"corrupt PNG (unknown filter method {filter_method})")
    if interlace not in (0, 1):
        raise ValueError(f"corrupt PNG (unknown interlace method {interlace})")
    if not idat:
        raise ValueError("corrupt PNG (no IDAT chunk)")
    return width, height, depth, color, interlace, b"".join(idat)


def _decode_with_pillow(data: bytes, name) -> np.ndarray:
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode != "RGB":
                raise PanopticFormatError(
                    f"panoptic PNGs must be 8-bit RGB, this one is {im.mode}", file=name)
            rgb = np.asarray(im)
    except PanopticFormatError:
        raise
    except Exception as e:
        raise PanopticFormatError(f"corrupt PNG ({e})", file=name) from None
    return _core.rgb2id(rgb)


def encode_ids(ids, compress_level: int = DEFAULT_COMPRESS_LEVEL) -> bytes:
    """Encodes an HxW id map as the bytes of an 8-bit RGB panoptic PNG.

    The scanlines are filtered by the compiled core and deflated by the fastest available zlib;
    any PNG reader (Pillow, libpng, pyspng) decodes the result. ``compress_level`` is zlib's 0-9.
    """
    ids = as_id_map(ids)
    if not 0 <= compress_level <= 9:
        raise ValueError(f"compress_level must lie in 0..9, got {compress_level}")
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        raise ValueError("cannot write an empty image")
    height, width = ids.shape
    scratch = thread_buffer("png_scanlines", (height * (1 + 3 * width),), np.uint8)
    raw = _core.png_filtered_scanlines(np.ascontiguousarray(ids), scratch)
    return png_from_scanlines(raw, height, width, compress_level)


def png_from_scanlines(raw, height: int, width: int,
                       compress_level: int = DEFAULT_COMPRESS_LEVEL) -> bytes:
    """The bytes of an 8-bit RGB PNG from its filtered scanlines (height * (1 + 3 * width))."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join((_SIGNATURE, _chunk(b"IHDR", header),
                     _chunk(b"IDAT", _zlib.compress(raw, compress_level)), _chunk(b"IEND", b"")))


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + ctype + data
            + struct.pack(">I", _stdlib_zlib.crc32(data, _stdlib_zlib.crc32(ctype))))


def write_ids(path, ids, compress_level: int = DEFAULT_COMPRESS_LEVEL) -> None:
    """Writes an HxW id map as an RGB panoptic PNG, atomically (temp file + rename).

    A crash or an interrupt never leaves a half-written PNG at ``path``.
    """
    atomic_write_bytes(path, encode_ids(ids, compress_level))
