"""Reading and writing panoptic PNGs (RGB-encoded segment ids).

Panoptic PNGs are 8-bit RGB images. panoseg reads them with its own small decoder: the chunk
structure is parsed here, the zlib stream is inflated by the fastest available zlib (zlib-ng,
then isal, then the standard library's: all release the GIL) and the scanlines are reconstructed
and turned into ids in one pass by the compiled core. That is several times faster than Pillow
and scales over threads. Anything the fast path does not handle (interlaced PNGs) goes through
Pillow; the ids are identical either way.
"""
from __future__ import annotations

import errno
import struct
import zlib as _stdlib_zlib
from typing import Callable, Optional

import numpy as np

from .. import _core
from ..errors import PanopticFormatError
from ..util.atomic import atomic_write_bytes
from ..util.fileio import env_max_bytes, read_bytes
from ..util.limits import MAX_PIXELS
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
    data = read_png_file(path, max_pixels)
    return decode_ids(data, name=path, max_pixels=max_pixels, check_size=check_size)


def read_png_file(path, max_pixels: Optional[int] = None) -> bytes:
    """A PNG file's bytes; a file larger than any PNG of ``max_pixels`` pixels could be
    (:func:`panoseg._core.max_png_file_bytes`) is refused before it is read whole. Errors are a
    :class:`PanopticFormatError` naming the file."""
    max_pixels = MAX_PIXELS if max_pixels is None else max_pixels
    try:
        raised = env_max_bytes() or 0  # a PNG with more metadata than 64 MiB, say

        def head_limit(head):
            limit = _head_limit(head, max_pixels)
            return limit if limit is None else max(limit, raised)

        return read_bytes(path, max(_core.max_png_file_bytes(max_pixels), raised), head_limit)
    except OSError as e:
        reason = e.strerror or e
        if e.errno == errno.EFBIG:
            reason = f"{reason} for a PNG of its size (PANOSEG_MAX_FILE_BYTES raises the limit)"
        raise PanopticFormatError(f"cannot read PNG: {reason}", file=path) from None


def _head_limit(head: bytes, max_pixels: int):
    """read_bytes' ``head_check`` for a PNG: the core's reader's limit
    (:func:`panoseg._core.max_png_bytes_for_head`), None (read no further) without the PNG
    signature, which the parser reports first whatever follows (a pipe of garbage is not read
    up to the limit)."""
    return _core.max_png_bytes_for_head(head, max_pixels) or None


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


def read_inflated(path, max_pixels: Optional[int] = None,
                  check_size: Optional[Callable[[int, int], None]] = None):
    """Reads a panoptic PNG up to its inflated, still filtered image data (see :func:`inflate`).

    Returns ``(height, width, data)``; ``data`` is None for an interlaced PNG (decode it with
    :func:`read_ids`, once its size is known to be the expected one). The evaluator hands this to the core, which reconstructs the rows of the
    GT and the prediction together without storing either id map.
    """
    data = read_png_file(path, max_pixels)
    return inflate(data, path, max_pixels, check_size)


#: Chunks a decoder must understand: their CRCs are checked (Pillow checks them too).
_CRITICAL = (b"IHDR", b"PLTE", b"IDAT", b"IEND")


def inflate(data: bytes, name="<bytes>", max_pixels: Optional[int] = None,
            check_size: Optional[Callable[[int, int], None]] = None):
    """Checks a panoptic PNG's chunks and inflates its image data: ``(height, width, data)``.

    ``data`` is None for an interlaced PNG (decode it with :func:`decode_ids`; its size and
    stream are checked all the same). Raises :class:`PanopticFormatError` for anything but a
    sound 8-bit RGB PNG. The header's size is checked against ``max_pixels`` (and by
    ``check_size(height, width)``) before anything is inflated, and the image data is inflated
    into at most the size the header implies: a stream that holds more (a decompression bomb)
    is an error, never stored.
    """
    return _checked_inflate(data, name, max_pixels, check_size, {2: 3},
                            "panoptic PNGs must be 8-bit RGB")


#: Bytes per pixel of the 8-bit colour types.
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
#: Adam7's passes: (x0, y0, dx, dy).
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))


def _image_data_size(width: int, height: int, channels: int, interlace: int) -> int:
    """The size of the inflated image data an 8-bit PNG of this header holds."""
    if not interlace:
        return (channels * width + 1) * height
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        w, h = (width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy
        if w > 0 and h > 0:
            total += (channels * w + 1) * h
    return total


class PngImageData:
    """A PNG's header, checked, and its image data, inflated on demand: whole
    (:meth:`inflate`) or in chunks (:meth:`chunks`, which the evaluator decodes as they come).

    The chunk structure is checked as strictly as Pillow, the colour type against
    ``channels_of`` (colour type -> channels; ``rule`` says which in the error), the size
    against ``max_pixels`` and by ``check_size(height, width)``, all before anything is
    inflated; the stream is inflated into at most the size the header implies (a stream that
    holds more, a decompression bomb, is an error, never stored) and must hold exactly that.
    """

    def __init__(self, data: bytes, name, max_pixels: Optional[int] = None,
                 check_size: Optional[Callable[[int, int], None]] = None,
                 channels_of: Optional[dict] = None, rule: str = "panoptic PNGs must be 8-bit RGB"):
        channels_of = {2: 3} if channels_of is None else channels_of
        try:
            width, height, depth, color, interlace, idat = _parse_chunks(data)
        except ValueError as e:
            raise PanopticFormatError(str(e), file=name) from None
        if color not in channels_of or depth != 8:
            kind = _COLOR_TYPES.get(color, f"color type {color}")
            raise PanopticFormatError(f"{rule}, this one is {depth}-bit {kind}", file=name)
        check_pixels(width, height, name, MAX_PIXELS if max_pixels is None else max_pixels)
        if check_size is not None:
            check_size(height, width)
        self.name, self.height, self.width = name, height, width
        self.interlaced = bool(interlace)
        self.expected = _image_data_size(width, height, channels_of[color], interlace)
        self._idat = idat

    def chunks(self, size: int):
        """The inflated image data in chunks of ``size`` bytes (the last one shorter); errors
        (:class:`PanopticFormatError`) come when met: corrupt data, more data than the header
        declares (before it is stored), or less (after the last chunk)."""
        if size < 1:
            raise ValueError(f"chunk size must be >= 1, got {size}")  # 0 would mean no limit
        idat, expected, name = self._idat, self.expected, self.name
        # Compressed input in pieces that each inflate to about `size` bytes (so that the two
        # PNGs of an image come in chunks of about the same size, however each is compressed);
        # at most `size` bytes: what a piece holds beyond a chunk is copied once more, as zlib's
        # unconsumed_tail.
        n_in = len(idat)
        piece = max(4096, min(max(size, 1 << 16), n_in * size // max(expected, 1) + 1))
        view = memoryview(idat)
        inflater = _zlib.decompressobj()
        produced = pos = 0
        tail = b""
        try:
            while produced <= expected and not inflater.eof:
                if not tail and pos < n_in:
                    tail = view[pos:pos + piece]
                    pos += len(tail)
                # With the input used up, a call with none still drains what the inflater holds
                # (isal keeps decoded output back); it returns b"" once there is nothing more.
                out = inflater.decompress(tail, min(size, expected - produced + 1))
                tail = inflater.unconsumed_tail
                if not out:
                    if not tail and pos >= n_in:
                        break  # input used up and nothing more came out
                    continue
                produced += len(out)
                if produced > expected:
                    break  # more than the header declares: never yielded
                yield out
        except Exception as e:  # zlib.error and its twins in zlib-ng / isal
            raise PanopticFormatError(f"corrupt PNG image data ({e or type(e).__name__})",
                                      file=name) from None
        if produced > expected:
            raise PanopticFormatError(f"corrupt PNG image data (more than the {self.width}x"
                                      f"{self.height} image its header declares)", file=name)
        if produced != expected:
            raise PanopticFormatError(f"truncated or corrupt PNG image data ({produced} bytes "
                                      f"where the {self.width}x{self.height} image needs "
                                      f"{expected})", file=name)

    def inflate(self) -> bytes:
        """The whole inflated image data (for an interlaced PNG: checked, then dropped: b"")."""
        data = b"".join(self.chunks(max(self.expected, 1)))  # one chunk: no copy
        return b"" if self.interlaced else data


def _checked_inflate(data: bytes, name, max_pixels, check_size, channels_of: dict, rule: str):
    """:func:`inflate` for the 8-bit colour types in ``channels_of`` (see PngImageData)."""
    png = PngImageData(data, name, max_pixels, check_size, channels_of, rule)
    raw = png.inflate()
    return png.height, png.width, (None if png.interlaced else raw)


def read_image_data(path, max_pixels: Optional[int] = None,
                    check_size: Optional[Callable[[int, int], None]] = None) -> PngImageData:
    """A panoptic PNG file's :class:`PngImageData` (header checked, nothing inflated yet)."""
    data = read_png_file(path, max_pixels)
    return PngImageData(data, path, max_pixels, check_size)


def read_channels(path, max_pixels: Optional[int] = None,
                  check_size: Optional[Callable[[int, int], None]] = None,
                  rule: str = "must be an 8-bit LA, RGB or RGBA PNG") -> np.ndarray:
    """Reads an 8-bit LA, RGB or RGBA PNG (e.g. a 2-channel panoptic PNG) as an HxWxC uint8
    array, with the checks of :func:`inflate` first (chunks as strict as for panoptic PNGs,
    the size against ``max_pixels`` and ``check_size``, the stream bounded by the header);
    only then does Pillow decode it."""
    data = read_png_file(path, max_pixels)
    _checked_inflate(data, path, max_pixels, check_size, {4: 2, 2: 3, 6: 4}, rule)
    return _pillow_array(data, path)


def check_pixels(width: int, height: int, name, max_pixels: int = MAX_PIXELS,
                 what: str = "PNG is", **where) -> None:
    """A declared image size (a PNG header's, an ``images`` entry's: ``what`` says which)
    against the pixel cap, before anything of that size is allocated; ``where``: the image."""
    if width * height > max_pixels:
        raise PanopticFormatError(f"{what} {width}x{height} ({width * height} pixels), more than "
                                  f"the {max_pixels} pixels allowed (--max-pixels)", file=name,
                                  **where)


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


def _pillow_array(data: bytes, name) -> np.ndarray:
    """Pillow's decoding of PNG bytes whose header, chunks and stream were checked already.
    PngImageFile is used directly: ``Image.open`` would apply Pillow's own pixel limit, with a
    warning on stderr above 89 megapixels, where panoseg's ``max_pixels`` applies instead."""
    import io

    from PIL import PngImagePlugin

    try:
        with PngImagePlugin.PngImageFile(io.BytesIO(data)) as im:
            return np.asarray(im)
    except Exception as e:  # Pillow's decoders raise assorted errors on corrupt data
        detail = " ".join(str(e).split()) or type(e).__name__
        raise PanopticFormatError(f"corrupt PNG ({detail})", file=name) from None


def _decode_with_pillow(data: bytes, name) -> np.ndarray:
    rgb = _pillow_array(data, name)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise PanopticFormatError("panoptic PNGs must be 8-bit RGB", file=name)
    return _core.rgb2id(np.ascontiguousarray(rgb))


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
