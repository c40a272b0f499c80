# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# distutils: language = c++
"""Thin typed layer over the C++ kernels in ``csrc/``.

The kernels' declarations are in ``_core.pxd`` (one ``cdef extern`` block per header). Every
wrapper checks shapes, dtypes and ranges here, and every kernel checks its inputs again (C++
never trusts its inputs); the pixel work runs without the GIL. Public, documented wrappers live
in the Python modules (:mod:`panoseg.io.codec`, :mod:`panoseg.io.png`, :mod:`panoseg.io.rle`,
:mod:`panoseg.evaluation`, :mod:`panoseg.merge`); call those.

One error convention: a fallible kernel returns a ``Status`` (``csrc/common/status.hpp``: a
code, the input it concerns, the offending index in it, the offending value), and
:func:`_raise_status` turns a failed one into one exception family, :class:`CoreError` (a
``ValueError``) with ``code``, ``side``, ``index`` and ``value``; its subclasses
:class:`TableError`, :class:`RleError` and :class:`PngDataError` keep the constructors and
attributes callers use. Errors of a wrapper's own argument checks are plain ``ValueError``,
including an integer argument outside its range (:func:`_int_arg`: never an ``OverflowError``
about C types). A C++ exception (``except +`` on every extern in ``_core.pxd``) becomes
``MemoryError`` for ``std::bad_alloc`` and ``ValueError`` for the ``std::invalid_argument`` the
kernels throw where they cannot return a Status.
"""
from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.number cimport PyNumber_Index
from libc.stdint cimport INT32_MAX, INT64_MAX, INT64_MIN
from libc.math cimport INFINITY, NAN
from libc.string cimport memcmp, memcpy
from libcpp.algorithm cimport sort as _sort

from os import fsencode as _fsencode


class _Numpy:
    """numpy, imported at its first use: a run that never needs it (``tools/merge.py`` through
    :func:`merge_rles_png`) starts without numpy's import, ~0.1 s. The first use rebinds ``np``
    to the module itself."""

    def __getattr__(self, name):
        global np
        import numpy
        np = numpy
        return getattr(numpy, name)


np = _Numpy()

MAX_SEGMENT_ID = kMaxSegmentId
#: Inflated bytes per piece and PNG in match_png_files (tests place piece boundaries with it).
PNG_PIECE_BYTES = kPngPieceBytes


# ------------------------------------------------------------------------------------------------
# The error family
# ------------------------------------------------------------------------------------------------


class CoreError(ValueError):
    """Bad input a compiled kernel found.

    ``code``: the name of the C++ ``StatusCode`` (e.g. ``"kBadIntervals"``); ``side``: the input
    concerned: ``"gt"``, ``"pred"``, ``"instance"``, ``"stuff"``, ``"segment"`` (a segment
    table), ``"mask"`` (a list of masks or RLEs), ``"pixel"`` (an id or label map) or None;
    ``index``: the offending row / mask / scanline of that input, or None; ``value``: the
    offending value (an id, a category index, a label), or None; ``pixel``: ``(x, y)`` for an
    error at a pixel of a map, else None.
    """

    def __init__(self, message, side=None, index=None, *, code=None, value=None, pixel=None):
        super().__init__(message)
        self.side = side
        self.index = index
        self.code = code
        self.value = value
        self.pixel = pixel


class TableError(CoreError):
    """A segment table or a list of masks is inconsistent; ``side`` says which, ``index`` the
    row (None when the error is not about one row)."""

    def __init__(self, message, side, index, **kwargs):
        super().__init__(message, side, index, **kwargs)


class RleError(CoreError):
    """An RLE that cannot be decoded; ``index`` is its position in the input list."""

    def __init__(self, message, index, **kwargs):
        kwargs.setdefault("side", "mask")
        super().__init__(message, index=index, **kwargs)


class PngDataError(CoreError):
    """Corrupt image data in a PNG; ``side``: 'gt' or 'pred' (:func:`match_png`), None for a
    single PNG; ``index``: the scanline, when one is to blame."""

    def __init__(self, message, side, index=None, **kwargs):
        super().__init__(message, side, index, **kwargs)


_CODE_NAMES = {
    StatusCode.kOk: "kOk", StatusCode.kBadId: "kBadId", StatusCode.kDuplicateId: "kDuplicateId",
    StatusCode.kUnknownId: "kUnknownId", StatusCode.kIdTooLarge: "kIdTooLarge",
    StatusCode.kBadCategory: "kBadCategory", StatusCode.kBadLabel: "kBadLabel",
    StatusCode.kBadIntervals: "kBadIntervals", StatusCode.kBadBox: "kBadBox",
    StatusCode.kBadMask: "kBadMask", StatusCode.kPngSizeMismatch: "kPngSizeMismatch",
    StatusCode.kPngBadFilter: "kPngBadFilter", StatusCode.kRleBadCharacter: "kRleBadCharacter",
    StatusCode.kRleTruncated: "kRleTruncated", StatusCode.kRleNegativeCount: "kRleNegativeCount",
    StatusCode.kRleWrongTotal: "kRleWrongTotal", StatusCode.kBadArgument: "kBadArgument",
}

_SIDES = {
    StatusWhere.kNone: None, StatusWhere.kGt: "gt", StatusWhere.kPred: "pred",
    StatusWhere.kInstance: "instance", StatusWhere.kStuff: "stuff",
    StatusWhere.kSegment: "segment", StatusWhere.kMask: "mask", StatusWhere.kPixel: "pixel",
}

# What a table row / mask is called in messages, by side.
_ROW_NAMES = {"gt": "GT segment", "pred": "predicted segment", "instance": "instance",
              "stuff": "stuff mask", "segment": "segment table row", "mask": "mask"}

_RLE_ERRORS = {
    StatusCode.kRleBadCharacter: "invalid character in RLE counts string",
    StatusCode.kRleTruncated: "RLE counts string ends inside a number",
    StatusCode.kRleNegativeCount: "RLE counts string decodes to a negative or huge run",
    StatusCode.kRleWrongTotal: "RLE runs do not add up to height x width of its 'size'",
}

_PASTE_ERRORS = {
    StatusCode.kBadBox: "box must be finite with x2 >= x1, y2 >= y1 (|coordinate| <= 1e7)",
    StatusCode.kBadMask: "mask must be between 1x1 and 1024x1024 with finite values",
}


cdef _raise_status(const Status& st, int64_t width=0, int64_t height=0, int64_t limit=0):
    """Raises the :class:`CoreError` of a failed Status: the one place kernel statuses become
    Python errors, with all their messages. ``width`` / ``height``: the image size (to locate a
    pixel, to state a PNG's expected size); ``limit``: the bound a value broke (the number of
    categories, labels or pixels)."""
    if st.ok():
        return
    cdef StatusCode code = st.code
    side = _SIDES.get(st.where)
    name = _CODE_NAMES.get(code, str(<int>code))
    index = st.index if st.index >= 0 else None
    value = st.value
    row = _ROW_NAMES.get(side, "row")
    pixel = None
    if side == "pixel" and index is not None and width > 0:
        pixel = (index % width, index // width)
        index = None
    kw = dict(code=name, value=value, pixel=pixel)

    if code == StatusCode.kBadId:
        if side == "segment":
            raise TableError(f"segment table row {index}: id {value} is VOID, not a segment",
                             side, index, **kw)
        raise TableError(f"{row} id {value} is outside 1..{MAX_SEGMENT_ID}", side, index, **kw)
    if code == StatusCode.kDuplicateId:
        if side == "segment":
            raise TableError(f"segment table row {index}: duplicate id {value}", side, index, **kw)
        raise TableError(f"duplicate {row} id {value}", side, index, **kw)
    if code == StatusCode.kUnknownId:
        where = f"pixel (x={pixel[0]}, y={pixel[1]})" if pixel else "a pixel"
        raise TableError(f"{where} has id {value}, which no segment lists", side, index, **kw)
    if code == StatusCode.kIdTooLarge:
        where = f" (x={pixel[0]}, y={pixel[1]})" if pixel else ""
        raise CoreError(f"pixel{where} holds id {value}: ids above {MAX_SEGMENT_ID} (24 bits) do "
                        "not fit in an RGB PNG", side, index, **kw)
    if code == StatusCode.kBadCategory:
        if side == "instance":
            message = f"instance {index}: category index is not a thing category"
        elif side == "stuff":
            message = f"stuff mask {index}: category index out of range"
        else:
            message = f"{row} row {index} has a category index outside 0..{limit - 1}"
        raise TableError(message, side, index, **kw)
    if code == StatusCode.kBadLabel:
        raise CoreError(f"label map holds values >= {limit} (e.g. {value})", side, index, **kw)
    if code == StatusCode.kBadIntervals:
        if side == "mask":
            raise TableError(f"mask {index}: runs must be sorted, non-empty and within "
                             f"[0, {limit})", side, index, **kw)
        raise TableError(f"{row} {index}: mask intervals are unsorted, overlapping or outside "
                         "the image", side, index, **kw)
    if code in _PASTE_ERRORS:
        raise TableError(f"{row} {index}: {_PASTE_ERRORS[code]}", side, index, **kw)
    if code == StatusCode.kPngSizeMismatch:
        raise PngDataError(f"corrupt PNG: image data has {value} bytes after inflate, expected "
                           f"{(width * 3 + 1) * height} for {width}x{height} pixels (truncated or "
                           "corrupt)", side, None, **kw)
    if code == StatusCode.kPngBadFilter:
        raise PngDataError(f"corrupt PNG: scanline {index} has an invalid filter type",
                           side, index, **kw)
    if code in _RLE_ERRORS:
        raise RleError(_RLE_ERRORS[code], index, **kw)
    raise CoreError(f"invalid input to a compiled kernel ({name})", side, index, **kw)


# ------------------------------------------------------------------------------------------------
# std::vector -> numpy
# ------------------------------------------------------------------------------------------------


ctypedef fused _Vector:
    vector[int64_t]
    vector[int32_t]
    vector[uint32_t]
    vector[uint8_t]
    vector[double]


#: The largest image side and pixel count the kernels take: sides fit 31 bits, so products of
#: sizes cannot overflow int64, and 2^40 pixels is far beyond any image (a bad size, not a file).
MAX_SIDE = (1 << 31) - 1
MAX_PIXELS = 1 << 40


cdef int64_t _int_arg(value, str name, int64_t lo=INT64_MIN, int64_t hi=INT64_MAX) except? -1:
    """An integer argument as an int64 in [lo, hi], or a ValueError naming it: never Python's
    "Python int too large to convert to C long" (an OverflowError) for a huge value, nor a
    silent wrap. Non-integers raise TypeError (PyNumber_Index), as a typed argument did."""
    v = PyNumber_Index(value)
    if v < lo:
        if lo == 0:
            raise ValueError(f"{name} {v} is negative")
        if lo < 0:
            raise ValueError(f"{name} {v} is negative and too large (at least {lo})")
        raise ValueError(f"{name} must be >= {lo}, got {v}")
    if v > hi:
        raise ValueError(f"{name} {v} is too large (at most {hi})")
    return v


cdef int64_t _side(value, str name) except? -1:
    """An image side: an integer in 0..MAX_SIDE (``name``: "height" or "width")."""
    return _int_arg(value, f"image {name}", 0, MAX_SIDE)


cdef int64_t _checked_pixels(int64_t height, int64_t width) except -1:
    """height * width, after checking both (so the product never wraps)."""
    if height < 0 or width < 0:
        raise ValueError(f"image size {width}x{height} is negative")
    if height > MAX_SIDE or width > MAX_SIDE or height * width > MAX_PIXELS:
        raise ValueError(f"image size {width}x{height} is too large")
    return height * width


cdef object _vec(const _Vector& v):
    """A numpy copy of a std::vector; the dtype follows the element type. (Dozens are made per
    evaluated image: the copy goes through the buffer protocol, not a typed memoryview, and the
    dtypes are looked up once.)"""
    global _DTYPES
    if _DTYPES is None:
        _DTYPES = (np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.uint32),
                   np.dtype(np.uint8), np.dtype(np.float64))
    if _Vector is vector[int64_t]:
        dtype = _DTYPES[0]
    elif _Vector is vector[int32_t]:
        dtype = _DTYPES[1]
    elif _Vector is vector[uint32_t]:
        dtype = _DTYPES[2]
    elif _Vector is vector[uint8_t]:
        dtype = _DTYPES[3]
    else:
        dtype = _DTYPES[4]
    out = _np_empty(v.size(), dtype)
    cdef Py_buffer buf
    if v.size():
        PyObject_GetBuffer(out, &buf, PyBUF_WRITABLE)
        memcpy(buf.buf, v.data(), v.size() * sizeof(v[0]))
        PyBuffer_Release(&buf)
    return out


cdef object _DTYPES = None


cdef object _np_empty(size_t n, dtype):
    global _EMPTY
    if _EMPTY is None:
        _EMPTY = np.empty
    return _EMPTY(n, dtype)


cdef object _EMPTY = None


# ------------------------------------------------------------------------------------------------
# io: the RGB <-> id codec, PNG scanlines, COCO RLE, segment statistics
# ------------------------------------------------------------------------------------------------


def rgb2id(const uint8_t[:, :, :] rgb):
    """uint8 HxWx3 (any strides) -> C-contiguous uint32 HxW ids."""
    if rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB array, got shape {tuple(rgb.shape)[:3]}")
    cdef int64_t h = rgb.shape[0], w = rgb.shape[1]
    out = np.empty((h, w), dtype=np.uint32)
    cdef uint32_t[:, ::1] ids = out
    if h == 0 or w == 0:
        return out
    with nogil:
        rgb_to_id(&rgb[0, 0, 0], h, w, rgb.strides[0], rgb.strides[1], rgb.strides[2], &ids[0, 0])
    return out


def id2rgb(const uint32_t[:, :] ids):
    """uint32 HxW ids (any strides) -> C-contiguous uint8 HxWx3; ids must fit in 24 bits."""
    cdef int64_t h = ids.shape[0], w = ids.shape[1]
    out = np.empty((h, w, 3), dtype=np.uint8)
    cdef uint8_t[:, :, ::1] rgb = out
    cdef Status st
    if h == 0 or w == 0:
        return out
    with nogil:
        st = id_to_rgb(&ids[0, 0], h, w, ids.strides[0], ids.strides[1], &rgb[0, 0, 0])
    _raise_status(st, w, h)
    return out


def png_unfilter_ids(const uint8_t[::1] data, height, width):
    """Inflated IDAT bytes of an 8-bit RGB, non-interlaced PNG -> uint32 HxW ids."""
    cdef int64_t h = _side(height, "height"), w = _side(width, "width")
    _checked_pixels(h, w)
    cdef Status st
    cdef size_t size = data.shape[0]
    # The data must hold h * (1 + 3w) bytes (< 2^42 after _checked_pixels) before the h x w
    # output is allocated: a header claiming a huge size with little data allocates nothing.
    if <int64_t>size != h * (1 + 3 * w):
        st.code = StatusCode.kPngSizeMismatch
        st.value = size
        _raise_status(st, w, h)
    height, width = h, w
    out = np.empty((height, width), dtype=np.uint32)
    cdef uint32_t[:, ::1] ids = out
    with nogil:
        st = png_unfilter_rgb_to_id(&data[0] if size else NULL, size, h, w,
                                    &ids[0, 0] if h * w else NULL)
    _raise_status(st, w, h)
    return out


def png_filtered_scanlines(const uint32_t[:, ::1] ids, out=None):
    """HxW ids -> PNG-filtered 8-bit RGB scanlines ready for zlib, in ``out`` (a bytearray of
    at least h * (1 + 3w) bytes, reused when given) or a new bytearray; returns a view of them."""
    cdef int64_t h = ids.shape[0], w = ids.shape[1]
    # The kernel's limits (its int32 per-row counters need w <= MAX_SIDE); then n < 2^42.
    _checked_pixels(h, w)
    cdef int64_t n = h * (1 + 3 * w)
    cdef uint8_t[::1] o
    if out is not None:
        o = out
        if o.shape[0] < n:  # the buffer's length in bytes, not len() of whatever `out` is
            out = None
    if out is None:
        out = bytearray(n)
        o = out
    cdef Status st
    if h and w:
        with nogil:
            st = png_filter_ids(&ids[0, 0], h, w, &o[0])
        _raise_status(st, w, h)
    return memoryview(out)[:n]


def png_encode_sparse(const int32_t[::1] ys, const int32_t[::1] xs, const uint8_t[:, ::1] rgb,
                      height, width, filter=2):
    """The bytes of an 8-bit RGB PNG whose scanlines all use ``filter`` and whose filtered bytes
    are zero except ``rgb[k]`` at pixel ``(xs[k], ys[k])`` (sorted by y, then x), deflated by
    the core without the GIL (the merge's writer; this form is for tests)."""
    cdef int64_t h = _side(height, "height"), w = _side(width, "width"), n = ys.shape[0], k
    cdef int64_t f = _int_arg(filter, "filter", 0, 4)
    _checked_pixels(h, w)
    if h < 1 or w < 1:
        raise ValueError("cannot write an empty image")
    if xs.shape[0] != n or rgb.shape[0] != n or rgb.shape[1] != 3:
        raise ValueError("ys, xs and rgb (N x 3) must describe the same N pixels")
    cdef vector[FilteredPixel] pixels
    pixels.resize(n)
    for k in range(n):
        pixels[k].y = ys[k]
        pixels[k].x = xs[k]
        pixels[k].rgb[0] = rgb[k, 0]
        pixels[k].rgb[1] = rgb[k, 1]
        pixels[k].rgb[2] = rgb[k, 2]
    cdef vector[uint8_t] out
    cdef Status st
    with nogil:
        st = png_encode_sparse_rgb(pixels.data(), n, h, w, <uint8_t>f, &out)
    if not st.ok() and st.index >= 0:
        raise ValueError(f"pixel {st.index}: outside the image or not after the one before")
    _raise_status(st, w, h)
    return (<char*>out.data())[:out.size()]


def runs_to_rle_strings(const int64_t[::1] offsets, const int64_t[::1] intervals, n_pixels):
    """Interval masks (CSR: mask k is intervals[2*offsets[k]:2*offsets[k+1]], column-major runs
    of 1s) -> pycocotools' compressed RLE strings, one str per mask."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, k
    cdef vector[string] out
    cdef Status st
    cdef int64_t n_pix = _int_arg(n_pixels, "n_pixels", 0, MAX_PIXELS)
    if n < 0 or offsets[0] != 0:
        raise ValueError("offsets must start with 0")
    for k in range(n):
        if offsets[k + 1] < offsets[k]:
            raise ValueError(f"offsets must not decrease (mask {k})")
    # offsets[n] > runs, not 2 * offsets[n] > values: the doubling wraps for offsets >= 2^62
    # and let a mask read past the end of `intervals`.
    if offsets[n] > intervals.shape[0] // 2:
        raise ValueError(f"offsets end at run {offsets[n]} but there are "
                         f"{intervals.shape[0] // 2} runs")
    with nogil:
        st = rle_encode_intervals(&offsets[0], n, &intervals[0] if intervals.shape[0] else NULL,
                                  intervals.shape[0], n_pix, &out)
    _raise_status(st, 0, 0, n_pix)
    return [out[k].decode("ascii") for k in range(n)]


def rle_intervals(list rles, height, width):
    """RLEs (compressed str/bytes or uint32 count arrays) -> column-major interval masks (CSR).

    Returns (offsets int64[n+1], intervals int64[2*k]) of the runs of 1s.
    """
    cdef Py_ssize_t n = len(rles), k
    cdef int64_t n_pixels = _checked_pixels(_int_arg(height, "RLE height"),
                                            _int_arg(width, "RLE width"))
    cdef vector[int64_t] offsets, intervals
    cdef vector[RleRef] refs
    cdef const uint32_t[::1] arr
    cdef Status st
    keep = []
    # Gather raw pointers with the GIL, decode without it.
    refs.resize(n)
    for k in range(n):
        r = rles[k]
        if isinstance(r, str):
            r = (<str>r).encode("ascii", "replace")
        if isinstance(r, bytes):
            keep.append(r)
            refs[k].chars = <const char*>(<bytes>r)
            refs[k].length = len(<bytes>r)
        else:
            a = np.asarray(r)
            if a.dtype != np.uint32 and a.size:
                # numpy would wrap 2^32 + 5 to 5 (or -1 to 2^32 - 1) and decode garbage.
                if a.dtype.kind not in "iub" or a.min() < 0 or a.max() > 0xFFFFFFFF:
                    raise ValueError(f"RLE {k}: uncompressed counts must be integers in "
                                     "0..4294967295")
            a = np.ascontiguousarray(a, dtype=np.uint32)
            keep.append(a)
            arr = a
            refs[k].chars = NULL
            refs[k].counts = &arr[0] if arr.shape[0] else NULL
            refs[k].length = arr.shape[0]
    with nogil:
        st = rle_decode_intervals(refs.data(), n, n_pixels, &offsets, &intervals)
    _raise_status(st)
    return _vec(offsets), _vec(intervals)


def segment_ids(const uint32_t[:, ::1] id_map):
    """The distinct nonzero ids of a row-major id map, ascending (uint32)."""
    cdef vector[uint32_t] ids
    cdef int64_t n = id_map.shape[0] * id_map.shape[1]
    if n:
        with nogil:
            distinct_ids(&id_map[0, 0], n, &ids)
    return _vec(ids)


def segment_areas_bboxes(const uint32_t[:, ::1] id_map, const uint32_t[::1] ids):
    """Pixel count and COCO bbox [x, y, w, h] of each id in a row-major id map."""
    cdef int64_t n = ids.shape[0]
    area = np.zeros(n, np.int64)
    bbox = np.zeros((n, 4), np.int64)
    cdef int64_t[::1] a = area
    cdef int64_t[:, ::1] b = bbox
    cdef Status st
    if n == 0:
        return area, bbox
    with nogil:
        st = segment_stats(&id_map[0, 0] if id_map.shape[0] * id_map.shape[1] else NULL,
                           id_map.shape[0], id_map.shape[1], &ids[0], n, &a[0], &b[0, 0])
    _raise_status(st, id_map.shape[1], id_map.shape[0])
    return area, bbox


# ------------------------------------------------------------------------------------------------
# eval: overlap counting, PQ matching, extra metrics
# ------------------------------------------------------------------------------------------------


def segment_table_arrays(list segments, dict index_of, bint is_gt):
    """``segments_info`` (a list of dicts) as the core's table arrays ``(ids uint32, category
    int32 (dense index through ``index_of``), iscrowd uint8, area float64)``, or None at the
    first entry that is not plainly valid: the caller's slow path then says what is wrong.

    Valid: ``id`` an int in 1..MAX_SEGMENT_ID, ids distinct, ``category_id`` an int key of
    ``index_of``, ``iscrowd`` absent, 0 or 1 (ints), and for the GT (``is_gt``) ``area`` a
    positive finite int or float (else the areas are NaN). Every image of an evaluation goes
    through this (twice) while holding the GIL: a C loop, not Python's.
    """
    cdef Py_ssize_t n = len(segments)
    ids = np.empty(n, np.uint32)
    category = np.empty(n, np.int32)
    iscrowd = np.empty(n, np.uint8)
    area = np.empty(n, np.float64)
    cdef uint32_t[::1] vi = ids
    cdef int32_t[::1] vc = category
    cdef uint8_t[::1] vk = iscrowd
    cdef double[::1] va = area
    if n and not _segment_rows(segments, index_of, is_gt, &vi[0], &vc[0], &vk[0], &va[0]):
        return None
    return ids, category, iscrowd, area


def segment_tables(list annotations, dict index_of, bint is_gt):
    """:func:`segment_table_arrays` of many annotations' ``segments_info`` in one call (one set
    of arrays instead of four per image): ``(bounds, valid, ids, category, iscrowd, area)``,
    annotation j's rows being ``bounds[j]:bounds[j + 1]`` of the four arrays when ``valid[j]``
    (a list of bools); an annotation that is not a dict with a plainly valid ``segments_info``
    list is not valid (the caller's slow path says what is wrong)."""
    cdef Py_ssize_t m = len(annotations), j, total = 0, start
    cdef object ann, segments
    rows = []
    for j in range(m):
        ann = annotations[j]
        segments = (<dict>ann).get("segments_info") if type(ann) is dict else None
        if type(segments) is not list:
            segments = None
        rows.append(segments)
        if segments is not None:
            total += len(<list>segments)
    ids = np.empty(total, np.uint32)
    category = np.empty(total, np.int32)
    iscrowd = np.empty(total, np.uint8)
    area = np.empty(total, np.float64)
    bounds = np.empty(m + 1, np.int64)
    cdef uint32_t[::1] vi = ids
    cdef int32_t[::1] vc = category
    cdef uint8_t[::1] vk = iscrowd
    cdef double[::1] va = area
    cdef int64_t[::1] vb = bounds
    valid = [False] * m
    start = 0
    for j in range(m):
        vb[j] = start
        segments = rows[j]
        if segments is None:
            continue
        if len(<list>segments) == 0:
            valid[j] = True
            continue
        if _segment_rows(segments, index_of, is_gt, &vi[start], &vc[start], &vk[start],
                         &va[start]):
            valid[j] = True
            start += len(<list>segments)
    vb[m] = start
    return bounds, valid, ids, category, iscrowd, area


cdef class ScannedPanopticJson:
    """What :func:`scan_panoptic_json` read of a panoptic JSON: per annotation (file order)
    ``image_ids`` and ``file_names``; ``images`` and ``categories``: those top-level values'
    bytes (None where absent), for a JSON parser; the segments, as tables by :meth:`tables`."""

    cdef PanopticJsonScan* _scan
    cdef readonly list image_ids, file_names
    cdef readonly object images, categories

    def __cinit__(self):
        self._scan = new PanopticJsonScan()

    def __dealloc__(self):
        del self._scan

    def image_sizes(self, max_pixels):
        """``{image id: (height, width)}`` of the ``images`` entries that give a size, when
        every entry is plainly valid (an integer id; both sizes or neither, positive, at most
        ``max_pixels`` pixels); None when ``images`` is absent or not in that form (the Python
        loader then reads it or says what is wrong)."""
        max_pixels = int(max_pixels)
        if not self._scan.images_read or max_pixels < 1:
            return None
        cdef int64_t cap = min(max_pixels, INT64_MAX)
        cdef dict sizes = {}
        cdef ScannedImage im
        for im in self._scan.image_sizes:
            if im.has == 0:
                continue
            if (im.has != (kHasHeight | kHasWidth) or im.height <= 0 or im.width <= 0
                    or im.height > cap // im.width):  # (h * w > cap, without overflow)
                return None
            sizes[im.id] = (im.height, im.width)
        return sizes

    def tables(self, const int64_t[::1] annotations, const int64_t[::1] category_ids,
               const int32_t[::1] category_index, bint is_gt):
        """The segment tables of annotations ``annotations`` (indices into the file's list), as
        :func:`segment_tables` makes them from parsed dicts: ``(bounds, valid, ids, category,
        iscrowd, area)``. ``category_ids`` ascending, ``category_index`` their dense indices."""
        cdef int64_t n = annotations.shape[0], n_cat = category_ids.shape[0], total
        cdef cbool ok
        if category_index.shape[0] != n_cat:
            raise ValueError("category_ids and category_index differ in length")
        with nogil:
            total = scanned_segment_count(self._scan[0], &annotations[0] if n else NULL, n)
        if total < 0:
            raise ValueError("an annotation index out of range")
        ids = np.empty(total, np.uint32)
        category = np.empty(total, np.int32)
        iscrowd = np.empty(total, np.uint8)
        area = np.empty(total, np.float64)
        bounds = np.empty(n + 1, np.int64)
        valid = np.empty(n, np.uint8)
        cdef uint32_t[::1] vi = ids
        cdef int32_t[::1] vc = category
        cdef uint8_t[::1] vk = iscrowd
        cdef double[::1] va = area
        cdef int64_t[::1] vb = bounds
        cdef uint8_t[::1] vv = valid
        with nogil:
            ok = scanned_segment_tables(
                self._scan[0], &annotations[0] if n else NULL, n,
                &category_ids[0] if n_cat else NULL, &category_index[0] if n_cat else NULL,
                n_cat, is_gt, &vb[0], &vv[0] if n else NULL, &vi[0] if total else NULL,
                &vc[0] if total else NULL, &vk[0] if total else NULL, &va[0] if total else NULL)
        if not ok:
            raise ValueError("category ids not ascending")
        return bounds, valid.view(np.bool_).tolist(), ids, category, iscrowd, area


def scan_panoptic_json(const uint8_t[::1] data):
    """Reads a COCO panoptic JSON's annotations without the GIL and without a Python object per
    segment (``csrc/io/panoptic_json_scan.hpp``): a :class:`ScannedPanopticJson`, or None when
    the file is not plainly well formed (the Python loader then reads it or says what is
    wrong). What it accepts reads as the Python loader reads it."""
    cdef ScannedPanopticJson out = ScannedPanopticJson()
    cdef size_t n = data.shape[0]
    cdef cbool ok
    with nogil:
        ok = scan_json(&data[0] if n else NULL, n, out._scan)
    if not ok:
        return None
    cdef PanopticJsonScan* scan = out._scan
    cdef const char* base = <const char*>&data[0]
    cdef size_t k
    out.image_ids = [v for v in scan.image_id]
    out.file_names = [base[scan.file_name[k].begin:scan.file_name[k].end].decode("ascii")
                      for k in range(scan.file_name.size())]
    out.images = (base[scan.images.begin:scan.images.end] if scan.images.present else None)
    out.categories = (base[scan.categories.begin:scan.categories.end]
                      if scan.categories.present else None)
    return out


cdef int _segment_rows(list segments, dict index_of, bint is_gt, uint32_t* ids,
                       int32_t* category, uint8_t* iscrowd, double* area) except -1:
    """Fills a table's rows from ``segments_info`` (see :func:`segment_table_arrays`); 0 at
    the first entry that is not plainly valid."""
    cdef Py_ssize_t n = len(segments), k
    cdef double a
    cdef object seg, v, c, crowd, index
    cdef vector[uint32_t] ordered
    for k in range(n):
        seg = segments[k]
        if type(seg) is not dict:
            return 0
        v = (<dict>seg).get("id")
        if type(v) is not int or not (0 < v <= MAX_SEGMENT_ID):
            return 0
        ids[k] = v
        c = (<dict>seg).get("category_id")
        if type(c) is not int:
            return 0
        index = index_of.get(c)
        if index is None:
            return 0
        category[k] = index
        crowd = (<dict>seg).get("iscrowd", 0)
        if type(crowd) is not int or not (crowd == 0 or crowd == 1):
            return 0
        iscrowd[k] = crowd
        if is_gt:
            v = (<dict>seg).get("area")
            if type(v) is int:
                if not (0 < v < 2 ** 62):  # also: no int too large for a double
                    return 0
            elif type(v) is not float:
                return 0
            a = v
            if not (a > 0 and a < INFINITY):
                return 0
            area[k] = a
        else:
            area[k] = NAN
    if n > 1:  # ids distinct
        ordered.assign(ids, ids + n)
        _sort(ordered.begin(), ordered.end())
        for k in range(1, n):
            if ordered[k] == ordered[k - 1]:
                return 0
    return 1


cdef _fill_tables(const uint32_t[::1] gt_ids, const int32_t[::1] gt_category,
                  const uint8_t[::1] gt_iscrowd, const double[::1] gt_area,
                  const uint32_t[::1] pred_ids, const int32_t[::1] pred_category,
                  int n_categories, SegmentTable* gt, SegmentTable* pred):
    cdef int64_t ng = gt_ids.shape[0], npred = pred_ids.shape[0]
    if gt_category.shape[0] != ng or gt_iscrowd.shape[0] != ng or gt_area.shape[0] != ng:
        raise ValueError("GT segment arrays differ in length")
    if pred_category.shape[0] != npred:
        raise ValueError("prediction segment arrays differ in length")
    if n_categories < 1:
        raise ValueError("n_categories must be positive")
    if ng >= (1 << 31) - 2 or npred >= (1 << 31) - 2:
        raise ValueError("too many segments")
    gt.n = ng
    pred.n = npred
    if ng:
        gt.ids = &gt_ids[0]
        gt.category = &gt_category[0]
        gt.iscrowd = &gt_iscrowd[0]
        gt.area = &gt_area[0]
    if npred:
        pred.ids = &pred_ids[0]
        pred.category = &pred_category[0]


cdef _check_isthing(category_isthing, int n_categories):
    if category_isthing is None:
        return None
    cdef const uint8_t[::1] flags = category_isthing
    if flags.shape[0] != n_categories:
        raise ValueError(f"category_isthing must have n_categories = {n_categories} entries")
    return flags


cdef const uint8_t* _flags_pointer(flags) except? NULL:
    """The data of a checked uint8 flags array (:func:`_check_isthing`), NULL for None; valid
    while the caller holds ``flags``."""
    cdef const uint8_t[::1] fv
    if flags is None:
        return NULL
    fv = flags
    return &fv[0] if fv.shape[0] else NULL


cdef cbool _consistent(ImageMatch& match, PairCountResult& counted, SegmentTable& gt) noexcept nogil:
    """Whether every id of both maps is in its table, every segment has a pixel and every GT
    area equals its pixel count (compared as doubles, as numpy compares them): the common
    case, which then skips matching.py's checks one by one."""
    cdef size_t k
    if counted.unknown_gt.size() or counted.unknown_pred.size():
        return False
    for k in range(match.gt_pixels.size()):
        if match.gt_pixels[k] == 0 or <double>match.gt_pixels[k] != gt.area[k]:
            return False
    for k in range(match.pred_pixels.size()):
        if match.pred_pixels[k] == 0:
            return False
    return True


cdef dict _match_dict(ImageMatch& match, PairCountResult& counted, SegmentTable& gt):
    return {
        # A numpy bool, as every other value is numpy's.
        "consistent": np.True_ if _consistent(match, counted, gt) else np.False_,
        "tp": _vec(match.tp), "fp": _vec(match.fp), "fn": _vec(match.fn),
        "iou_sum": _vec(match.iou_sum),
        "gt_pixels": _vec(match.gt_pixels), "pred_pixels": _vec(match.pred_pixels),
        "gt_match": _vec(match.gt_match), "gt_match_iou": _vec(match.gt_match_iou),
        "pred_match": _vec(match.pred_match),
        "pred_ignored": _vec(match.pred_ignored).view(np.bool_),
        "unknown_gt": _vec(counted.unknown_gt), "unknown_pred": _vec(counted.unknown_pred),
    }


cdef dict _extra_dict(ExtraMetrics& extra, int n_categories):
    return {
        "dagger_iou": _vec(extra.dagger_iou), "dagger_count": _vec(extra.dagger_count),
        "cover_iou": _vec(extra.cover_iou), "cover_area": _vec(extra.cover_area),
        "size_tp": _vec(extra.size_tp).reshape(n_categories, 3),
        "size_fp": _vec(extra.size_fp).reshape(n_categories, 3),
        "size_fn": _vec(extra.size_fn).reshape(n_categories, 3),
        "size_iou": _vec(extra.size_iou).reshape(n_categories, 3),
        "confusion_gt": _vec(extra.confusion_gt),
        "confusion_pred": _vec(extra.confusion_pred),
        "sem_inter": _vec(extra.sem_inter), "sem_gt": _vec(extra.sem_gt),
        "sem_pred": _vec(extra.sem_pred),
    }


cdef dict _boundary_dict(ImageMatch& match, vector[int64_t]& gt_band,
                         vector[int64_t]& pred_band):
    return {
        "b_tp": _vec(match.tp), "b_fp": _vec(match.fp), "b_fn": _vec(match.fn),
        "b_iou_sum": _vec(match.iou_sum),
        "b_gt_match": _vec(match.gt_match), "b_gt_match_iou": _vec(match.gt_match_iou),
        "b_pred_match": _vec(match.pred_match),
        "b_pred_ignored": _vec(match.pred_ignored).view(np.bool_),
        "gt_band_pixels": _vec(gt_band), "pred_band_pixels": _vec(pred_band),
    }


def boundary_band(const uint32_t[:, ::1] id_map, dilation):
    """Band flags of a row-major id map (uint8 HxW, 1 = band): the pixels whose chessboard
    distance to a pixel of another id, or to outside the image, is at most ``dilation`` (>= 1),
    i.e. boundary-iou-api's ``mask_to_boundary`` of every id's mask at once (VOID included)."""
    cdef int64_t d = _int_arg(dilation, "dilation", 1, kMaxDilation)
    cdef int64_t h = id_map.shape[0], w = id_map.shape[1]
    _checked_pixels(h, w)
    out = np.empty((h, w), np.uint8)
    cdef uint8_t[:, ::1] ov = out
    cdef Status st
    if h * w == 0:
        return out
    with nogil:
        st = boundary_band_flags(&id_map[0, 0], h, w, d, &ov[0, 0])
    _raise_status(st, w, h)
    return out


def match_image(const uint32_t[:, ::1] gt_map, const uint32_t[:, ::1] pred_map,
                const uint32_t[::1] gt_ids, const int32_t[::1] gt_category,
                const uint8_t[::1] gt_iscrowd, const double[::1] gt_area,
                const uint32_t[::1] pred_ids, const int32_t[::1] pred_category,
                n_categories, category_isthing=None, dilation=0):
    """Counts overlaps and applies panopticapi's matching rules for one image.

    Returns a dict of numpy arrays: per category ``tp, fp, fn, iou_sum``; per GT segment
    ``gt_pixels, gt_match, gt_match_iou``; per prediction ``pred_pixels, pred_match,
    pred_ignored``; ``unknown_gt, unknown_pred``, ids present in a map but not in its table;
    and ``consistent``: no such id, every segment has a pixel and every GT area is its count.
    With ``category_isthing`` (uint8 per category), also the additive statistics of PQ-dagger,
    Parsing Covering, PQ by size and the confusion of unmatched GT segments (extra_metrics.hpp):
    ``dagger_iou, dagger_count, cover_iou, cover_area, size_tp/fp/fn/iou`` (categories x 3),
    ``confusion_gt, confusion_pred``, and the semantic segmentation pixel counts ``sem_inter,
    sem_gt, sem_pred`` (per category; hotcoco's conventions). With ``dilation`` d >= 1 (in
    pixels; 0 = off), also Boundary PQ from the same maps (boundary-iou-api's matching, with
    each segment's band computed from its own id): ``b_tp, b_fp, b_fn, b_iou_sum`` (per
    category), ``b_gt_match, b_gt_match_iou, gt_band_pixels`` (per GT segment), ``b_pred_match,
    b_pred_ignored, pred_band_pixels`` (per prediction). Bad tables raise :class:`TableError`
    (side 'gt' / 'pred', index = the row).
    """
    cdef int32_t n_cat = _int_arg(n_categories, "n_categories", 1, INT32_MAX)
    n_categories = n_cat
    cdef int64_t d = _int_arg(dilation, "dilation", 0, kMaxDilation)
    flags = _check_isthing(category_isthing, n_categories)
    cdef const uint8_t* isthing = _flags_pointer(flags)
    cdef ExtraMetrics extra
    if gt_map.shape[0] != pred_map.shape[0] or gt_map.shape[1] != pred_map.shape[1]:
        raise ValueError(f"GT map is {gt_map.shape[1]}x{gt_map.shape[0]} but prediction map is "
                         f"{pred_map.shape[1]}x{pred_map.shape[0]} (width x height)")
    cdef SegmentTable gt, pred
    _fill_tables(gt_ids, gt_category, gt_iscrowd, gt_area, pred_ids, pred_category,
                 n_categories, &gt, &pred)
    cdef int64_t n_pixels = gt_map.shape[0] * gt_map.shape[1]
    cdef const uint32_t* gp = NULL
    cdef const uint32_t* pp = NULL
    if n_pixels:
        gp = &gt_map[0, 0]
        pp = &pred_map[0, 0]
    cdef int64_t h = gt_map.shape[0], w = gt_map.shape[1]
    if d:
        _checked_pixels(h, w)
    cdef PairCountResult counted, band
    cdef ImageMatch match, bmatch
    cdef vector[int64_t] gt_band, pred_band
    cdef Status st
    with nogil:
        if d:  # both overlap tables in one pass
            st = count_band_pairs(gp, pp, h, w, d, gt.ids, gt.n, pred.ids, pred.n, &band,
                                  &counted)
        else:
            st = count_pairs(gp, pp, n_pixels, gt.ids, gt.n, pred.ids, pred.n, &counted)
        if st.ok():
            st = pq_match(counted.pairs, gt, pred, n_cat, &match)
            if st.ok() and isthing != NULL:
                st = extra_metrics(counted.pairs, gt, pred, isthing, n_cat, match,
                                   &extra)
        if st.ok() and d:
            st = pq_match_boundary(counted.pairs, band.pairs, gt, pred, n_cat, &bmatch,
                                   &gt_band, &pred_band)
    _raise_status(st, 0, 0, n_categories)
    out = _match_dict(match, counted, gt)
    if isthing != NULL:
        out.update(_extra_dict(extra, n_categories))
    if d:
        out.update(_boundary_dict(bmatch, gt_band, pred_band))
    return out


cdef cbool _match_counted(Status& st, PairCountResult& counted, SegmentTable& gt,
                          SegmentTable& pred, int32_t n_cat, const uint8_t* isthing,
                          ImageMatch* match, ExtraMetrics* extra) except * nogil:
    """The matching (and extra metrics) of a pair count, unless it failed (st) or holds an id
    missing from a table (returns True: the caller decodes the maps to list them)."""
    cdef size_t k
    if not st.ok():
        return False
    for k in range(counted.pairs.size()):
        if counted.pairs[k].gt == kUnknownSlot or counted.pairs[k].pred == kUnknownSlot:
            return True
    st = pq_match(counted.pairs, gt, pred, n_cat, match)
    if st.ok() and isthing != NULL:
        st = extra_metrics(counted.pairs, gt, pred, isthing, n_cat, match[0], extra)
    return False


cdef struct _Matched:
    ImageMatch match, bmatch
    ExtraMetrics extra
    vector[int64_t] gt_band, pred_band


cdef cbool _match_all(Status& st, PairCountResult& counted, PairCountResult* band,
                      SegmentTable& gt, SegmentTable& pred, int32_t n_cat,
                      const uint8_t* isthing, _Matched* m) except * nogil:
    """:func:`_match_counted`, then with a band table (Boundary PQ) its matching too."""
    cdef cbool unknown = _match_counted(st, counted, gt, pred, n_cat, isthing, &m.match,
                                        &m.extra)
    if st.ok() and not unknown and band != NULL:
        st = pq_match_boundary(counted.pairs, band[0].pairs, gt, pred, n_cat, &m.bmatch,
                               &m.gt_band, &m.pred_band)
    return unknown


cdef dict _matched_dict(_Matched& m, PairCountResult& counted, SegmentTable& gt, cbool extra,
                        cbool boundary, int32_t n_cat):
    out = _match_dict(m.match, counted, gt)
    if extra:
        out.update(_extra_dict(m.extra, n_cat))
    if boundary:
        out.update(_boundary_dict(m.bmatch, m.gt_band, m.pred_band))
    return out


def match_png(const uint8_t[::1] gt_raw, const uint8_t[::1] pred_raw, height, width,
              const uint32_t[::1] gt_ids, const int32_t[::1] gt_category,
              const uint8_t[::1] gt_iscrowd, const double[::1] gt_area,
              const uint32_t[::1] pred_ids, const int32_t[::1] pred_category, n_categories,
              category_isthing=None):
    """:func:`match_image` straight from the inflated image data of two 8-bit RGB,
    non-interlaced height x width PNGs, decoded row by row (the id maps are never stored).

    Corrupt image data raises :class:`PngDataError` (side 'gt' / 'pred'). Returns None when a
    map holds an id missing from its table: the caller then decodes the maps and calls
    :func:`match_image`, which lists the ids.
    """
    cdef int32_t n_cat = _int_arg(n_categories, "n_categories", 1, INT32_MAX)
    n_categories = n_cat
    cdef int64_t h = _side(height, "height"), w = _side(width, "width")
    flags = _check_isthing(category_isthing, n_categories)
    cdef const uint8_t* isthing = _flags_pointer(flags)
    cdef ExtraMetrics extra
    if h < 1 or w < 1:
        raise ValueError("image size must be positive")
    _checked_pixels(h, w)  # the kernel's limits, before it forms (3w + 1) * h
    cdef SegmentTable gt, pred
    _fill_tables(gt_ids, gt_category, gt_iscrowd, gt_area, pred_ids, pred_category,
                 n_categories, &gt, &pred)
    cdef PairCountResult counted
    cdef ImageMatch match
    cdef Status st
    cdef cbool unknown = False
    with nogil:
        st = count_pairs_png(&gt_raw[0] if gt_raw.shape[0] else NULL, gt_raw.shape[0],
                             &pred_raw[0] if pred_raw.shape[0] else NULL, pred_raw.shape[0],
                             h, w, gt.ids, gt.n, pred.ids, pred.n, &counted)
        unknown = _match_counted(st, counted, gt, pred, n_cat, isthing, &match, &extra)
    _raise_status(st, w, h, n_categories)
    if unknown:
        return None
    out = _match_dict(match, counted, gt)
    if isthing != NULL:
        out.update(_extra_dict(extra, n_categories))
    return out


cdef class PngPairMatcher:
    """:func:`match_png` fed in chunks, as the two PNGs are inflated: each :meth:`feed` takes
    the next inflated bytes of the GT's and the prediction's image data (any sizes) and counts
    the row pairs they complete, without the GIL; :meth:`finish` returns what
    :func:`match_png` returns. Only a row's worth of bytes is kept between chunks, so the
    inflated images never need to be held whole (and stay in the CPU cache while decoded).

    With ``dilation`` d >= 1, also Boundary PQ: :meth:`finish` returns what
    :func:`match_image` returns for the two maps with that ``dilation`` (the ``b_*`` and band
    keys too), the bands computed from the rows as they come (a count per column and the last
    d + 1 rows' runs kept, never the maps).

    Corrupt image data raises :class:`PngDataError` (side 'gt' / 'pred'), from :meth:`feed`
    or, for missing data, :meth:`finish`. One matcher is for one thread (it keeps the bytes of
    an incomplete row between calls).
    """
    cdef PngPairStream* _stream
    cdef int64_t _h, _w, _d
    cdef int32_t _n_cat
    cdef cbool _finished
    cdef object _tables, _flags

    def __cinit__(self, height, width, const uint32_t[::1] gt_ids,
                  const int32_t[::1] gt_category, const uint8_t[::1] gt_iscrowd,
                  const double[::1] gt_area, const uint32_t[::1] pred_ids,
                  const int32_t[::1] pred_category, n_categories, category_isthing=None,
                  dilation=0):
        self._stream = NULL
        self._n_cat = _int_arg(n_categories, "n_categories", 1, INT32_MAX)
        self._d = _int_arg(dilation, "dilation", 0, kMaxDilation)
        self._h = _side(height, "height")
        self._w = _side(width, "width")
        if self._h < 1 or self._w < 1:
            raise ValueError("image size must be positive")
        _checked_pixels(self._h, self._w)  # the kernel's limits, before it forms (3w + 1) * h
        self._flags = _check_isthing(category_isthing, self._n_cat)
        cdef SegmentTable gt, pred
        _fill_tables(gt_ids, gt_category, gt_iscrowd, gt_area, pred_ids, pred_category,
                     self._n_cat, &gt, &pred)  # checks the tables fit together
        self._tables = (gt_ids, gt_category, gt_iscrowd, gt_area, pred_ids, pred_category)
        self._stream = new PngPairStream(self._h, self._w, gt.ids, gt.n, pred.ids, pred.n,
                                         self._d)
        _raise_status(self._stream.status(), self._w, self._h, self._n_cat)

    def __dealloc__(self):
        del self._stream

    def feed(self, const uint8_t[::1] gt_chunk, const uint8_t[::1] pred_chunk):
        """Counts the rows the next inflated bytes of each image complete."""
        cdef Status st
        cdef size_t ng = gt_chunk.shape[0], npr = pred_chunk.shape[0]
        with nogil:
            st = self._stream.feed(&gt_chunk[0] if ng else NULL, ng,
                                   &pred_chunk[0] if npr else NULL, npr)
        _raise_status(st, self._w, self._h, self._n_cat)

    def finish(self):
        """After the last :meth:`feed`: :func:`match_png`'s dict (with ``dilation``,
        :func:`match_image`'s with it), or None when a map holds an id missing from its
        table."""
        # The stream's tables are final once finish() ran: a second call would count the last
        # rows' bands again.
        if self._finished:
            raise RuntimeError("PngPairMatcher.finish() was already called")
        self._finished = True
        cdef SegmentTable gt, pred
        gi, gc, gk, ga, pi, pc = self._tables
        _fill_tables(gi, gc, gk, ga, pi, pc, self._n_cat, &gt, &pred)
        cdef const uint8_t* isthing = _flags_pointer(self._flags)
        cdef PairCountResult counted, band
        cdef _Matched m
        cdef Status st
        cdef cbool unknown
        cdef cbool boundary = self._d > 0
        with nogil:
            st = self._stream.finish(&counted, &band if boundary else NULL)
            unknown = _match_all(st, counted, &band if boundary else NULL, gt, pred,
                                 self._n_cat, isthing, &m)
        _raise_status(st, self._w, self._h, self._n_cat)
        if unknown:
            return None
        return _matched_dict(m, counted, gt, isthing != NULL, boundary, self._n_cat)


def boundary_dilation_pixels(height, width, dilation_ratio):
    """Boundary IoU's band width d for a height x width image: ``max(1, round(ratio *
    diagonal))`` pixels, rounded half to even as boundary-iou-api (Python's ``round``)."""
    cdef int64_t h = _side(height, "height"), w = _side(width, "width")
    cdef double ratio = dilation_ratio
    if not (ratio > 0 and ratio <= 1):
        raise ValueError(f"dilation_ratio must lie in (0, 1], got {dilation_ratio!r}")
    _checked_pixels(h, w)
    return boundary_dilation(h, w, ratio)


cdef class StatsSink:
    """The dataset statistics of the images evaluated by :func:`match_png_files` with
    ``sink=`` this, added up in C++ (``csrc/eval/stats_sink.hpp``) instead of coming back as
    arrays: for the images whose counts nobody needs one by one. Several threads may add to one
    sink at once. :meth:`drain` hands the totals over (``PQStats.add_sink``) and empties it.
    ``boundary``: the images are Boundary PQ's (``dilation_ratio`` > 0)."""

    cdef CStatsSink* _sink

    def __cinit__(self, n_categories, boundary):
        cdef int32_t n_cat = _int_arg(n_categories, "n_categories", 1, INT32_MAX)
        self._sink = new CStatsSink(n_cat, bool(boundary))

    def __dealloc__(self):
        del self._sink

    @property
    def n_categories(self):
        return self._sink.n_categories()

    @property
    def boundary(self):
        return self._sink.boundary()

    def drain(self):
        """``(n_images, n_images_extra, ints, confusion_gt, confusion_pred, cells, values)``
        added since the last drain, and the sink emptied: ``ints`` (int64, 19 x n_categories)
        holds the integer fields of ``PQStats._INT`` one after the other (the size fields
        n_categories x 3 each), ``confusion_gt`` / ``confusion_pred`` (int32) the categories of
        each unmatched GT segment and of the prediction overlapping it most (-1: none), and
        ``cells`` / ``values`` (int64 / float64) every nonzero float value an image had, in
        PQStats' cell numbering, for it to sum exactly. (A MemoryError here loses the totals:
        the evaluation they belong to fails with it.)"""
        cdef SinkTotals t
        with nogil:
            self._sink.drain(&t)
        return (t.n_images, t.n_images_extra, _vec(t.ints), _vec(t.confusion_gt),
                _vec(t.confusion_pred), _vec(t.cells), _vec(t.values))


def max_png_file_bytes(max_pixels):
    """The largest PNG file read for an image of at most ``max_pixels`` pixels (capped at
    MAX_PIXELS): 4 bytes a pixel (RGBA, the widest pixels a panoptic reader takes; deflate adds
    ~0.01%) plus 64 MiB of other chunks. A larger file is refused before it is read whole."""
    return png_file_limit(min(max(int(max_pixels), 0), MAX_PIXELS))


def max_png_bytes_for_head(const uint8_t[::1] head, max_pixels):
    """:func:`max_png_file_bytes` for a PNG file that starts with ``head``: of the size its
    IHDR gives where that is an 8-bit image within ``max_pixels`` pixels, else of
    ``max_pixels``; 0 without the PNG signature. (The core's own reader's limit.)"""
    cdef int64_t cap = min(max(int(max_pixels), 0), MAX_PIXELS)
    return png_head_limit(&head[0] if head.shape[0] else NULL, head.shape[0], cap)


cdef _file_pair_limits(max_pixels, dilation_ratio, int32_t n_cat, StatsSink sink,
                       PngPairLimits* limits):
    """The checked limits of :func:`match_png_files` and its block twin (no GT size yet), and
    the check that ``sink``, if any, takes these categories and this iou_type."""
    # No PNG the kernels take has more than MAX_PIXELS pixels: a larger cap is that one.
    limits.max_pixels = _int_arg(min(max_pixels, MAX_PIXELS), "max_pixels", 0)
    limits.gt_height = -1
    limits.gt_width = -1
    limits.dilation_ratio = dilation_ratio
    if not (limits.dilation_ratio >= 0 and limits.dilation_ratio <= 1):
        raise ValueError(f"dilation_ratio must lie in [0, 1], got {dilation_ratio!r}")
    if sink is not None and (sink._sink.n_categories() != n_cat
                             or sink._sink.boundary() != (limits.dilation_ratio > 0)):
        raise ValueError("the sink is for other categories or another iou_type")


def match_png_files(gt_png, pred_png, max_pixels, gt_size, const uint32_t[::1] gt_ids, const int32_t[::1] gt_category,
                    const uint8_t[::1] gt_iscrowd, const double[::1] gt_area,
                    const uint32_t[::1] pred_ids, const int32_t[::1] pred_category,
                    n_categories, category_isthing=None, dilation_ratio=0.0,
                    StatsSink sink=None):
    """One image evaluated straight from its two PNG files, in one call without the GIL:
    ``gt_png`` / ``pred_png`` are the files' bytes or local paths (``str``: the core reads the
    file; one without the PNG signature, or larger than :func:`max_png_file_bytes` of
    ``max_pixels`` or of the size its IHDR gives, comes back as None, unread past its head);
    chunks and checksums checked, both headers checked (8-bit RGB, not interlaced, at most
    ``max_pixels`` pixels, the GT of ``gt_size`` = (height, width) unless None, the prediction
    of the GT's size) before either is inflated (zlib-ng, a piece at a time, never whole), then
    what :class:`PngPairMatcher`'s ``finish()`` returns; ``dilation_ratio`` > 0: Boundary PQ
    with :func:`boundary_dilation_pixels` bands.

    Returns None when a file is not one the core reads (corrupt, truncated, another colour type,
    interlaced, too large, of the wrong size) or a map holds an id missing from its table: the
    caller then reads the files with ``panoseg.io.png``, which decodes them or says what is
    wrong.

    With a :class:`StatsSink` (of these categories, Boundary PQ iff ``dilation_ratio`` > 0) and
    an image whose result would say ``consistent``, the image's statistics are added to the
    sink and True is returned instead of the arrays; the extra metrics' too when
    ``category_isthing`` is given.
    """
    cdef int32_t n_cat = _int_arg(n_categories, "n_categories", 1, INT32_MAX)
    cdef CStatsSink* sink_ptr = NULL
    cdef cbool absorbed = False
    flags = _check_isthing(category_isthing, n_cat)
    cdef const uint8_t* isthing = _flags_pointer(flags)
    cdef PngPairLimits limits
    _file_pair_limits(max_pixels, dilation_ratio, n_cat, sink, &limits)
    if gt_size is not None:
        if not (0 < gt_size[0] <= MAX_SIDE and 0 < gt_size[1] <= MAX_SIDE):
            return None  # no PNG has that size: the caller's reader says so
        limits.gt_height = gt_size[0]
        limits.gt_width = gt_size[1]
    if sink is not None:
        sink_ptr = sink._sink
    cdef SegmentTable gt, pred
    _fill_tables(gt_ids, gt_category, gt_iscrowd, gt_area, pred_ids, pred_category, n_cat,
                 &gt, &pred)
    cdef PngPairCount counted
    cdef _Matched m
    cdef Status st
    cdef cbool unknown = False
    cdef const uint8_t[::1] gt_data, pred_data
    cdef bytes gt_path, pred_path
    cdef const char* gp = NULL
    cdef const char* pp = NULL
    cdef size_t ng = 0, npr = 0
    cdef cbool paths = isinstance(gt_png, str)
    if paths != isinstance(pred_png, str):
        raise TypeError("gt_png and pred_png must both be paths (str) or both bytes")
    if paths:
        try:
            gt_path, pred_path = _fsencode(gt_png), _fsencode(pred_png)
        except UnicodeError:
            return None  # not a path this system can name: the caller's reader says so
        if b"\0" in gt_path or b"\0" in pred_path:
            return None  # not a path the C library can open: the caller's reader says so
        gp, pp = gt_path, pred_path
    else:
        gt_data, pred_data = gt_png, pred_png
        ng, npr = gt_data.shape[0], pred_data.shape[0]
    with nogil:
        if paths:
            st = count_pairs_png_paths(gp, pp, limits, gt.ids, gt.n, pred.ids, pred.n,
                                       &counted)
        else:
            st = count_pairs_png_files(&gt_data[0] if ng else NULL, ng,
                                       &pred_data[0] if npr else NULL, npr, limits, gt.ids,
                                       gt.n, pred.ids, pred.n, &counted)
        if st.code != StatusCode.kPngFile:
            unknown = _match_all(st, counted.pairs, &counted.band if counted.dilation else NULL,
                                 gt, pred, n_cat, isthing, &m)
            if (sink_ptr != NULL and st.ok() and not unknown
                    and _consistent(m.match, counted.pairs, gt)):
                st = sink_ptr.add(m.match, &m.bmatch if counted.dilation else NULL,
                                  &m.extra if isthing != NULL else NULL)
                absorbed = st.ok()
    if st.code == StatusCode.kPngFile:
        return None
    _raise_status(st, counted.width, counted.height, n_cat)
    if unknown:
        return None
    if absorbed:
        return True
    return _matched_dict(m, counted.pairs, gt, isthing != NULL, counted.dilation > 0, n_cat)


cdef int _file_pair_into_sink(const char* gp, const char* pp, const PngPairLimits& limits,
                              SegmentTable& gt, SegmentTable& pred, int32_t n_cat,
                              const uint8_t* isthing, CStatsSink* sink) except -1 nogil:
    """:func:`match_png_files` of two local files, all the way into ``sink``: 1 if the image
    went there, 0 for anything else (the caller redoes it with match_png_files). (An int with
    ``except -1``: a bool's error value would be True, and the GIL taken to check every image
    that went well.)"""
    cdef PngPairCount counted
    cdef _Matched m
    cdef Status st = count_pairs_png_paths(gp, pp, limits, gt.ids, gt.n, pred.ids, pred.n,
                                           &counted)
    if st.code == StatusCode.kPngFile:
        return 0
    cdef cbool unknown = _match_all(st, counted.pairs,
                                    &counted.band if counted.dilation else NULL, gt, pred,
                                    n_cat, isthing, &m)
    if not st.ok() or unknown or not _consistent(m.match, counted.pairs, gt):
        return 0
    st = sink.add(m.match, &m.bmatch if counted.dilation else NULL,
                  &m.extra if isthing != NULL else NULL)
    return 1 if st.ok() else 0


def match_png_files_into_sink(gt_pngs, pred_pngs, gt_sizes, gt_tables, pred_tables,
                              max_pixels, n_categories, category_isthing=None,
                              dilation_ratio=0.0, StatsSink sink=None):
    """:func:`match_png_files` with ``sink`` for a block of images (local paths, ``str``), in
    one call without the GIL: the images are evaluated in order while each one's statistics go
    into the sink; it stops at the first that does not (``match_png_files`` would return
    anything but True: a file it does not read, something to report, an error) and returns
    how many did. The caller evaluates that one with :func:`match_png_files`, then calls again
    for the rest.

    ``gt_sizes``: per image, (height, width) or None (as ``gt_size``); ``gt_tables``,
    ``pred_tables``: per image, objects with the table arrays as attributes (``ids``,
    ``category``, ``iscrowd``, ``area``; a prediction's ``ids`` and ``category``), as
    ``panoseg.io.panoptic_json.SegmentTable``.
    """
    cdef Py_ssize_t n = len(gt_pngs), i
    if not (len(pred_pngs) == len(gt_sizes) == len(gt_tables) == len(pred_tables) == n):
        raise ValueError("the per-image lists differ in length")
    if sink is None:
        raise ValueError("a sink is needed")
    cdef int32_t n_cat = _int_arg(n_categories, "n_categories", 1, INT32_MAX)
    flags = _check_isthing(category_isthing, n_cat)
    cdef const uint8_t* isthing = _flags_pointer(flags)
    cdef PngPairLimits limits
    _file_pair_limits(max_pixels, dilation_ratio, n_cat, sink, &limits)
    # The images up to the first the kernels cannot take as given (a size no PNG has, a path
    # with a NUL or that does not encode, not a str, tables that do not fit): that one is the
    # caller's, whose own path raises its error, if any, in order.
    cdef vector[SegmentTable] gts, preds
    cdef vector[const char*] gps, pps
    cdef vector[int64_t] heights, widths
    cdef SegmentTable gt, pred
    cdef int64_t height, width
    keep = []  # the encoded paths and the table arrays the pointers point into, alive to the end
    for i in range(n):
        gt_png, pred_png, size = gt_pngs[i], pred_pngs[i], gt_sizes[i]
        if not (isinstance(gt_png, str) and isinstance(pred_png, str)):
            break
        try:
            height, width = (-1, -1) if size is None else (size[0], size[1])
            if size is not None and not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
                break
            gp, pp = _fsencode(gt_png), _fsencode(pred_png)
            if b"\0" in gp or b"\0" in pp:
                break
            g, q = gt_tables[i], pred_tables[i]
            arrays = (g.ids, g.category, g.iscrowd, g.area, q.ids, q.category)
            _fill_tables(arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], arrays[5],
                         n_cat, &gt, &pred)
        except Exception:
            break
        keep.append((gp, pp, arrays))
        gts.push_back(gt)
        preds.push_back(pred)
        gps.push_back(gp)
        pps.push_back(pp)
        heights.push_back(height)
        widths.push_back(width)
    cdef Py_ssize_t ready = gps.size(), done = 0
    with nogil:
        while done < ready:
            limits.gt_height = heights[done]
            limits.gt_width = widths[done]
            if _file_pair_into_sink(gps[done], pps[done], limits, gts[done], preds[done],
                                    n_cat, isthing, sink._sink) == 0:
                break
            done += 1
    return done


# ------------------------------------------------------------------------------------------------
# merge: mask pasting, interval masks, segment ids, the merge heuristic
# ------------------------------------------------------------------------------------------------


cdef _check_paste_args(probs, boxes, int64_t height, int64_t width, threads):
    if boxes.shape[0] != probs.shape[0] or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be N x 4 with N = {probs.shape[0]} masks, got "
                         f"{tuple(boxes.shape)[:2]}")
    if probs.shape[1] < 1 or probs.shape[2] < 1:
        raise ValueError(f"masks must be at least 1x1, got {probs.shape[1]}x{probs.shape[2]}")
    if height < 1 or width < 1:
        raise ValueError("image size must be positive")
    _checked_pixels(height, width)
    _int_arg(threads, "threads", 1, INT32_MAX)


def paste_intervals(const float[:, :, ::1] probs, const float[:, ::1] boxes, height, width,
                    bint column_major, threads=1, bint pillow13_order=True):
    """Mask R-CNN masks (N x Mh x Mw probabilities) in boxes (N x 4 xyxy) -> interval masks.

    ``pillow13_order``: resample as Pillow >= 13 orders its two passes (see mask_paste.hpp),
    else as older Pillow (horizontal pass first). A bad mask or box raises :class:`TableError`
    (side 'instance', index = the first bad one)."""
    cdef int64_t h = _side(height, "height"), w = _side(width, "width")
    _check_paste_args(probs, boxes, h, w, threads)
    cdef int n_threads = threads
    cdef PassOrder order = PassOrder.kPillow13 if pillow13_order else PassOrder.kHorizontalFirst
    cdef vector[int64_t] offsets, intervals
    cdef Status st
    if probs.shape[0] == 0:
        return np.zeros(1, np.int64), np.zeros(0, np.int64)
    with nogil:
        st = paste_masks_intervals(&probs[0, 0, 0], probs.shape[0], probs.shape[1],
                                   probs.shape[2], &boxes[0, 0], h, w, column_major,
                                   n_threads, &offsets, &intervals, order)
    _raise_status(st)
    return _vec(offsets), _vec(intervals)


def paste_dense(const float[:, :, ::1] probs, const float[:, ::1] boxes, height, width,
                threads=1, bint pillow13_order=True):
    """Like GluonCV's fill: N x height x width uint8 masks (``pillow13_order`` and errors as
    paste_intervals)."""
    cdef int64_t h = _side(height, "height"), w = _side(width, "width")
    _check_paste_args(probs, boxes, h, w, threads)
    cdef int n_threads = threads
    cdef PassOrder order = PassOrder.kPillow13 if pillow13_order else PassOrder.kHorizontalFirst
    out = np.zeros((probs.shape[0], h, w), dtype=np.uint8)
    if probs.shape[0] == 0:
        return out
    cdef uint8_t[:, :, ::1] o = out
    cdef Status st
    with nogil:
        st = paste_masks_dense(&probs[0, 0, 0], probs.shape[0], probs.shape[1], probs.shape[2],
                               &boxes[0, 0], h, w, n_threads, &o[0, 0, 0], order)
    _raise_status(st)
    return out


def label_intervals(const int32_t[:, ::1] labels, n_labels):
    """Label map (values < 0 skipped) -> interval masks per label, in the map's memory order."""
    cdef vector[int64_t] offsets, intervals
    cdef Status st
    cdef int64_t n_pixels = labels.shape[0] * labels.shape[1]
    # The output has n_labels + 1 offsets whatever the map holds: capped (as the kernel does)
    # at 2^24, the number of segment ids, before anything is allocated.
    cdef int32_t nl = _int_arg(n_labels, "n_labels", 0, MAX_SEGMENT_ID + 1)
    with nogil:
        st = label_map_intervals(&labels[0, 0] if n_pixels else NULL, n_pixels, nl,
                                 &offsets, &intervals)
    _raise_status(st, labels.shape[1], labels.shape[0], nl)
    return _vec(offsets), _vec(intervals)


def dense_intervals(const uint8_t[:, :, ::1] masks):
    """N x H x W binary masks -> interval masks (row-major)."""
    cdef int64_t n_pixels = masks.shape[1] * masks.shape[2]
    cdef vector[int64_t] offsets, intervals
    cdef Status st
    with nogil:
        st = dense_masks_intervals(&masks[0, 0, 0] if masks.shape[0] and n_pixels else NULL,
                                   masks.shape[0], n_pixels, &offsets, &intervals)
    _raise_status(st)
    return _vec(offsets), _vec(intervals)


cdef class SegmentIdAssigner:
    """panoseg's one segment-id scheme for one image (C++ ``SegmentIdAssigner``), as the merge
    uses it: ``stuff_colour_ids`` (rgb2id of every stuff category colour) are reserved for stuff;
    :meth:`thing_id` gives a thing its category colour if still free, else a jitter of it (up to
    +-30 per channel) drawn from splitmix64 seeded by ``seed`` (``image_seed(seed, image_id)``);
    :meth:`stuff_id` gives a stuff segment its colour the first time, a thing-style id after.
    ``expected_segments`` only sizes the table.
    """
    cdef CSegmentIdAssigner* _ids

    def __cinit__(self, stuff_colour_ids, seed, expected_segments=0):
        colours = np.ascontiguousarray(stuff_colour_ids, dtype=np.int64).reshape(-1)
        if colours.size and (colours.min() < 0 or colours.max() > MAX_SEGMENT_ID):
            raise ValueError(f"stuff colour ids must lie in 0..{MAX_SEGMENT_ID}")
        cdef uint64_t s = _seed_arg(seed)
        # Only a hint for the table size (the kernel clamps it): any int64 is fine.
        cdef int64_t e = _int_arg(expected_segments, "expected_segments", 0)
        cdef const uint32_t[::1] c = colours.astype(np.uint32)
        cdef int64_t n = c.shape[0]
        self._ids = new CSegmentIdAssigner(&c[0] if n else NULL, n, s, e)

    def __dealloc__(self):
        del self._ids

    def thing_id(self, colour_id):
        """The id of the next thing of a category whose colour is ``colour_id`` (rgb2id)."""
        return self._ids.thing_id(_colour_id(colour_id))

    def stuff_id(self, colour_id):
        """The id of the next stuff segment of a category whose colour is ``colour_id``."""
        return self._ids.stuff_id(_colour_id(colour_id))


cdef uint32_t _colour_id(colour_id) except? 0:
    return <uint32_t>_int_arg(colour_id, "colour id", 0, MAX_SEGMENT_ID)


cdef uint64_t _seed_arg(seed) except? 0:
    """A seed: an integer in 0..2**64-1 (uint64 has no room for the int64 check of _int_arg)."""
    seed = PyNumber_Index(seed)
    if not 0 <= seed < (1 << 64):
        raise ValueError(f"seed must lie in 0..2**64-1, got {seed}")
    return <uint64_t>seed


cdef _merge_settings(double overlap_thr, double stuff_area_limit, category_colour,
                     category_isthing, vector[MergeCategory]* cats,
                     vector[uint32_t]* stuff_colours):
    """The merge's thresholds checked and its category table built (both merge wrappers)."""
    if not (0.0 <= overlap_thr <= 1.0):
        raise ValueError(f"overlap_thr must lie in [0, 1], got {overlap_thr}")
    if not (stuff_area_limit >= 0.0):
        raise ValueError(f"stuff_area_limit must be >= 0, got {stuff_area_limit}")
    _merge_categories(category_colour, category_isthing, cats, stuff_colours)


cdef _merge_categories(const uint32_t[::1] category_colour, const uint8_t[::1] category_isthing,
                       vector[MergeCategory]* cats, vector[uint32_t]* stuff_colours):
    """The merge kernel's category table, checked, and the colours of the stuff categories
    (their segment ids). The arrays have equal lengths (checked by the callers)."""
    cdef MergeCategory c
    cdef int64_t k
    for k in range(category_colour.shape[0]):
        if category_colour[k] > MAX_SEGMENT_ID:  # a stuff segment's id is its colour
            raise ValueError(f"category {k}: colour id {category_colour[k]} is above "
                             f"{MAX_SEGMENT_ID} (24 bits)")
        c.colour_id = category_colour[k]
        c.isthing = category_isthing[k] != 0
        cats.push_back(c)
        if not c.isthing:
            stuff_colours.push_back(c.colour_id)


def merge(height, width, bint column_major,
          const int64_t[::1] inst_offsets, const int64_t[::1] inst_intervals,
          const int32_t[::1] inst_category,
          const int64_t[::1] stuff_offsets, const int64_t[::1] stuff_intervals,
          const int32_t[::1] stuff_category,
          const uint32_t[::1] category_colour, const uint8_t[::1] category_isthing,
          double overlap_thr, double stuff_area_limit, seed, out=None, scanlines=None,
          bint png=False):
    """Runs the merge heuristic on interval masks; returns (id_map HxW uint32, segments).

    ``segments`` is a dict of arrays: id, category (dense index), source, isthing, area and
    bbox (N x 4, COCO [x, y, w, h]). ``out``, an optional HxW uint32 C-contiguous array,
    receives the id map (reused buffers avoid page faults). With ``scanlines`` (a writable
    buffer of at least H * (1 + 3W) bytes) and ``column_major``, no id map is made: the PNG
    scanlines of the result (Up filter) are written there instead and None is returned in place
    of the id map. With ``png`` (and ``column_major``) neither is made: the bytes of the
    result's PNG (io/png_deflate.hpp) are returned in place of the id map. Segment ids follow :class:`SegmentIdAssigner`. Bad masks or categories raise
    :class:`TableError` (side 'instance' / 'stuff', index = the mask).
    """
    cdef int64_t h = _side(height, "height"), w = _side(width, "width")
    cdef uint64_t seed_ = _seed_arg(seed)
    cdef int64_t n_inst = inst_category.shape[0], n_stuff = stuff_category.shape[0]
    cdef int64_t n_cat = category_colour.shape[0], k
    if inst_offsets.shape[0] != n_inst + 1 or stuff_offsets.shape[0] != n_stuff + 1:
        raise ValueError("offsets must have one entry more than there are masks")
    if category_isthing.shape[0] != n_cat or n_cat == 0:
        raise ValueError("category arrays must be non-empty and of equal length")
    if n_cat > INT32_MAX or n_inst >= INT32_MAX or n_stuff >= INT32_MAX:
        raise ValueError("too many categories or masks (at most 2**31 - 2)")
    # Compared as offsets[n] * 2 == len without the doubling, which wraps for offsets >= 2^62
    # (the kernel checks every offset against the length too).
    if (inst_intervals.shape[0] % 2 or inst_offsets[n_inst] != inst_intervals.shape[0] // 2
            or stuff_intervals.shape[0] % 2
            or stuff_offsets[n_stuff] != stuff_intervals.shape[0] // 2):
        raise ValueError("intervals do not match their offsets")
    if h < 1 or w < 1:
        raise ValueError("image size must be positive")
    cdef vector[MergeCategory] cats
    cdef vector[uint32_t] stuff_colours
    _merge_settings(overlap_thr, stuff_area_limit, category_colour, category_isthing, &cats,
                    &stuff_colours)
    cdef IntervalMasks inst, stuff
    inst.offsets = &inst_offsets[0]
    inst.intervals = &inst_intervals[0] if inst_intervals.shape[0] else NULL
    inst.n = n_inst
    inst.n_values = inst_intervals.shape[0]
    stuff.offsets = &stuff_offsets[0]
    stuff.intervals = &stuff_intervals[0] if stuff_intervals.shape[0] else NULL
    stuff.n = n_stuff
    stuff.n_values = stuff_intervals.shape[0]
    cdef MergeParams params
    params.overlap_thr = overlap_thr
    params.stuff_area_limit = stuff_area_limit
    cdef int64_t n_pixels = _checked_pixels(h, w)
    cdef bint to_png = scanlines is not None or png
    cdef uint8_t[::1] sv
    cdef uint32_t[:, ::1] ov
    if png:
        if not column_major:
            raise ValueError("png needs column-major masks")
    elif to_png:
        if not column_major:
            raise ValueError("scanlines need column-major masks")
        sv = scanlines
        if sv.shape[0] < h * (1 + 3 * w):
            raise ValueError("scanlines buffer too small")
    else:
        if out is None:
            out = np.empty((h, w), dtype=np.uint32)
        ov = out
        if ov.shape[0] != h or ov.shape[1] != w:
            raise ValueError(f"out must be {h}x{w}")
    cdef uint32_t* cv
    cdef vector[MergedSegment] segs
    cdef vector[PaintedRun] runs
    cdef Status st
    cdef vector[FilteredPixel] changed
    cdef vector[uint8_t] png_bytes
    cdef CSegmentIdAssigner* ids = new CSegmentIdAssigner(
        stuff_colours.data() if stuff_colours.size() else NULL, stuff_colours.size(), seed_, n_inst)
    try:
        with nogil:
            st = panoptic_merge(n_pixels, inst, &inst_category[0] if n_inst else NULL, stuff,
                                &stuff_category[0] if n_stuff else NULL, cats.data(),
                                <int32_t>n_cat, params, ids, &runs, &segs)
            if st.ok() and png:
                runs_to_up_pixels(runs, h, w, &changed)
                st = png_encode_sparse_rgb(changed.data(), changed.size(), h, w, 2, &png_bytes)
            elif st.ok() and to_png:
                runs_to_png_up_scanlines(runs, h, w, &sv[0])
            elif st.ok():
                # Column-major (COCO RLE order): render into a per-thread scratch canvas and
                # transpose into the output (measured faster than writing down the columns of
                # the output directly); row-major: render the output directly.
                if column_major:
                    cv = thread_scratch_canvas(n_pixels)
                    render_runs(runs, n_pixels, cv)
                    transpose_u32(cv, h, w, &ov[0, 0])
                else:
                    render_runs(runs, n_pixels, &ov[0, 0])
    finally:
        del ids
    _raise_status(st, 0, 0, n_cat)
    cdef size_t n_seg = segs.size(), j
    seg_area = np.zeros(n_seg, np.int64)
    seg_bbox = np.zeros((n_seg, 4), np.int64)
    cdef int64_t[::1] sa = seg_area
    cdef int64_t[:, ::1] sb = seg_bbox
    if n_seg:
        with nogil:
            run_stats(runs, h, w, column_major, segs, &sa[0], &sb[0, 0])
    seg_id = np.empty(n_seg, np.uint32)
    seg_cat = np.empty(n_seg, np.int32)
    seg_src = np.empty(n_seg, np.int32)
    seg_thing = np.empty(n_seg, np.bool_)
    for j in range(n_seg):
        seg_id[j] = segs[j].id
        seg_cat[j] = segs[j].category
        seg_src[j] = segs[j].source
        seg_thing[j] = segs[j].isthing
    segments = {"id": seg_id, "category": seg_cat, "source": seg_src, "isthing": seg_thing,
                "area": seg_area, "bbox": seg_bbox}
    if png:
        return (<char*>png_bytes.data())[:png_bytes.size()], segments
    return (None if to_png else out), segments


cdef _rle_refs(list rles, vector[RleRef]* refs, list keep):
    """Raw pointers to the ASCII ``counts`` strings (str or bytes) of ``rles``; ``keep`` holds
    what they point into."""
    cdef Py_ssize_t k, n = len(rles)
    refs.resize(n)
    for k in range(n):
        r = rles[k]
        if isinstance(r, str):
            if not (<str>r).isascii():
                raise RleError("RLE 'counts' is not ASCII", k)
            r = (<str>r).encode("ascii")
        if not isinstance(r, bytes):
            raise TypeError(f"RLE {k}: counts must be a str or bytes, got {type(r).__name__}")
        keep.append(r)
        refs[0][k].chars = <const char*>(<bytes>r)
        refs[0][k].counts = NULL
        refs[0][k].length = len(<bytes>r)


def merge_rles_png(height, width, list inst_rles, list inst_category, list stuff_rles,
                   list stuff_category, const uint32_t[::1] category_colour,
                   const uint8_t[::1] category_isthing, double overlap_thr,
                   double stuff_area_limit, seed, out_path=None):
    """:func:`merge` with ``png=True`` of one image whose masks are COCO compressed RLE
    ``counts`` (str or bytes, column-major, of ``height`` x ``width`` pixels; the instances
    already filtered and in merge order), in one call: the RLEs are decoded, merged and the PNG
    made without the GIL, and without numpy (``tools/merge.py``'s path, see :class:`_Numpy`).

    ``inst_category`` / ``stuff_category``: dense category indices, one per mask. Returns
    ``(png bytes, segments)``, ``segments`` a list of ``(id, category, source, isthing, area,
    [x, y, w, h])``, the values of :func:`merge`'s arrays. An undecodable RLE raises
    :class:`RleError` (``side`` 'instance' or 'stuff', ``index`` the mask); bad categories as
    :func:`merge`.

    ``out_path`` (bytes, an absolute file system path): the core also writes the PNG there, in
    the same call (``io/file_write.hpp``: as ``panoseg.util.atomic.atomic_write_bytes`` writes
    a new or regular file) and returns ``(None, segments)``. Where it does not (a path it
    leaves to that function: a link, a special file, under /dev; a system error, which that
    function then names), it returns the PNG bytes as without ``out_path``.
    """
    cdef int64_t n_inst = len(inst_rles), n_stuff = len(stuff_rles)
    if len(inst_category) != n_inst or len(stuff_category) != n_stuff:
        raise ValueError("one category per mask")
    cdef vector[int32_t] inst_cat, stuff_cat
    for c in inst_category:
        inst_cat.push_back(<int32_t>_int_arg(c, "category index", -1, INT32_MAX))
    for c in stuff_category:
        stuff_cat.push_back(<int32_t>_int_arg(c, "category index", -1, INT32_MAX))
    keep = []
    cdef vector[RleRef] inst_refs, stuff_refs
    _rle_refs(inst_rles, &inst_refs, keep)
    _rle_refs(stuff_rles, &stuff_refs, keep)
    return _merge_png(height, width, inst_refs, inst_cat, stuff_refs, stuff_cat, category_colour,
                      category_isthing, overlap_thr, stuff_area_limit, seed, out_path)


cdef tuple _merge_png(height, width, vector[RleRef]& inst_refs, vector[int32_t]& inst_cat,
                      vector[RleRef]& stuff_refs, vector[int32_t]& stuff_cat,
                      const uint32_t[::1] category_colour, const uint8_t[::1] category_isthing,
                      double overlap_thr, double stuff_area_limit, seed, out_path):
    """The body of :func:`merge_rles_png` and :func:`merge_scanned_png`: the masks as raw RLE
    strings (what they point into kept alive by the caller), one category index per mask."""
    cdef int64_t h = _side(height, "height"), w = _side(width, "width")
    cdef int64_t n_pixels = _checked_pixels(h, w)
    cdef uint64_t seed_ = _seed_arg(seed)
    cdef int64_t n_inst = inst_refs.size(), n_stuff = stuff_refs.size()
    cdef int64_t n_cat = category_colour.shape[0]
    if category_isthing.shape[0] != n_cat or n_cat == 0:
        raise ValueError("category arrays must be non-empty and of equal length")
    if n_cat > INT32_MAX or n_inst >= INT32_MAX or n_stuff >= INT32_MAX:
        raise ValueError("too many categories or masks (at most 2**31 - 2)")
    cdef vector[MergeCategory] cats
    cdef vector[uint32_t] stuff_colours
    _merge_settings(overlap_thr, stuff_area_limit, category_colour, category_isthing, &cats,
                    &stuff_colours)
    cdef vector[int64_t] io, ii, so, si
    cdef IntervalMasks inst, stuff
    cdef MergeParams params
    params.overlap_thr = overlap_thr
    params.stuff_area_limit = stuff_area_limit
    cdef vector[MergedSegment] segs
    cdef vector[PaintedRun] runs
    cdef vector[FilteredPixel] changed
    cdef vector[uint8_t] png_bytes
    cdef Status st
    cdef StatusWhere rle_side = StatusWhere.kInstance
    cdef const char* write_to = NULL
    cdef FileWrite written = FileWrite.kDeclined
    if out_path is not None:
        if type(out_path) is not bytes:
            raise TypeError("out_path must be bytes")
        if b"\0" not in out_path:  # (else declined: the caller's writer says what is wrong)
            write_to = out_path
    cdef CSegmentIdAssigner* ids = new CSegmentIdAssigner(
        stuff_colours.data() if stuff_colours.size() else NULL, stuff_colours.size(), seed_, n_inst)
    try:
        with nogil:
            st = rle_decode_intervals(inst_refs.data(), n_inst, n_pixels, &io, &ii)
            if st.ok():
                rle_side = StatusWhere.kStuff
                st = rle_decode_intervals(stuff_refs.data(), n_stuff, n_pixels, &so, &si)
            if st.ok():
                inst.offsets = io.data()
                inst.intervals = ii.data() if ii.size() else NULL
                inst.n = n_inst
                inst.n_values = ii.size()
                stuff.offsets = so.data()
                stuff.intervals = si.data() if si.size() else NULL
                stuff.n = n_stuff
                stuff.n_values = si.size()
                st = panoptic_merge(n_pixels, inst, inst_cat.data() if n_inst else NULL, stuff,
                                    stuff_cat.data() if n_stuff else NULL, cats.data(),
                                    <int32_t>n_cat, params, ids, &runs, &segs)
            if st.ok():
                runs_to_up_pixels(runs, h, w, &changed)
                st = png_encode_sparse_rgb(changed.data(), changed.size(), h, w, 2, &png_bytes)
            if st.ok() and write_to != NULL:
                written = write_file_atomic(write_to, png_bytes.data(), png_bytes.size())
    finally:
        del ids
    if not st.ok() and st.code in _RLE_ERRORS:
        raise RleError(_RLE_ERRORS[st.code], st.index, side=_SIDES[rle_side],
                       code=_CODE_NAMES[st.code])
    _raise_status(st, 0, 0, n_cat)
    cdef size_t n_seg = segs.size(), j
    cdef vector[int64_t] area, bbox
    area.resize(n_seg)
    bbox.resize(4 * n_seg)
    if n_seg:
        with nogil:
            run_stats(runs, h, w, True, segs, area.data(), bbox.data())
    segments = []
    for j in range(n_seg):
        segments.append((segs[j].id, segs[j].category, segs[j].source, segs[j].isthing, area[j],
                         [bbox[4 * j], bbox[4 * j + 1], bbox[4 * j + 2], bbox[4 * j + 3]]))
    if written == FileWrite.kWritten:
        return None, segments
    return (<char*>png_bytes.data())[:png_bytes.size()], segments



cdef class ScannedMergeResults:
    """What :func:`scan_merge_results` read of a merge's results file (``csrc/merge/
    results_scan.hpp``), grouped by image with :meth:`group`; :func:`merge_scanned_png` merges
    an image from two of them. The bytes scanned are kept: the masks point into them."""

    cdef MergeResultsScan* _scan
    cdef object _data
    cdef readonly bint with_score
    cdef bint _grouped, _group_called

    def __cinit__(self):
        self._scan = new MergeResultsScan()

    def __dealloc__(self):
        del self._scan

    def __len__(self):
        return self._scan.results.size()

    def group(self, dict image_index, const int64_t[::1] heights, const int64_t[::1] widths,
              const int64_t[::1] category_ids, const int32_t[::1] category_index,
              const uint8_t[::1] allowed, double confidence_thr=0.0):
        """Groups the results by image in merge order (see ``group_merge_results``):
        ``image_index`` maps an image id (int or str) to its position, whose size is
        ``heights`` / ``widths`` at that position; ``category_ids`` ascending, with their dense
        indices and whether results may have them (instances: things only). True when every
        result passes; False at the first that does not (the caller then reads the file another
        way). Called once: a second grouping would rewrite what merges may be reading."""
        cdef int64_t n_images = heights.shape[0], n_cat = category_ids.shape[0], j, k
        if self._data is None:
            raise ValueError("not made by scan_merge_results")
        if self._group_called:
            raise ValueError("the results are grouped already")
        self._group_called = True
        if widths.shape[0] != n_images or category_index.shape[0] != n_cat \
                or allowed.shape[0] != n_cat:
            raise ValueError("array lengths differ")
        cdef size_t n = self._scan.results.size()
        cdef vector[int64_t] image_of
        image_of.resize(n)
        cdef const char* base = <const char*>self._data if n else NULL
        cdef ScannedResult* r
        cdef ScannedResult* last = NULL
        cdef int64_t last_image = -1
        for j in range(<int64_t>n):
            r = &self._scan.results[j]
            # Consecutive results mostly share an image: its id is looked up once.
            if last != NULL and r.image_id_is_string == last.image_id_is_string and (
                    (not r.image_id_is_string and r.image_id == last.image_id) or
                    (r.image_id_is_string and r.image_id_string.end - r.image_id_string.begin
                     == last.image_id_string.end - last.image_id_string.begin and
                     memcmp(base + r.image_id_string.begin, base + last.image_id_string.begin,
                            r.image_id_string.end - r.image_id_string.begin) == 0)):
                image_of[j] = last_image
                continue
            index = image_index.get(self._image_id(r))
            if index is None:
                k = -1
            else:
                k = index
                if not 0 <= k < n_images:
                    raise ValueError("an image index out of range")
            image_of[j] = k
            last, last_image = r, k
        cdef cbool ok
        with nogil:
            ok = group_merge_results(
                self._scan, image_of.data() if n else NULL, n_images,
                &heights[0] if n_images else NULL, &widths[0] if n_images else NULL,
                &category_ids[0] if n_cat else NULL, &category_index[0] if n_cat else NULL,
                &allowed[0] if n_cat else NULL, n_cat, self.with_score, confidence_thr)
        self._grouped = ok
        return ok

    def entries(self):
        """Every result as read, in file order: ``(image_id, category_id, score, size, counts)``,
        ``score`` None without ``with_score``; ``size`` (``[height, width]``) and ``counts``
        (str) None where the segmentation is not a plain compressed RLE (for tests)."""
        cdef ScannedResult* r
        cdef size_t j
        out = []
        for j in range(self._scan.results.size()):
            r = &self._scan.results[j]
            size = counts = None
            if r.simple_mask:
                size = [r.height, r.width]
                counts = self._counts(r)[:r.counts_end - r.counts_begin].decode("ascii")
            out.append((self._image_id(r), r.category_id, r.score if self.with_score else None,
                        size, counts))
        return out

    def rows(self, int64_t image):
        """The positions in the file of image ``image``'s results, in merge order (after
        :meth:`group`)."""
        cdef int64_t a, b, j
        self._bounds(image, &a, &b)
        return [self._scan.rows[j] for j in range(a, b)]

    def scores(self, int64_t image):
        """The scores of image ``image``'s results, in merge order (after :meth:`group`)."""
        cdef int64_t a, b, j
        if not self.with_score:
            raise ValueError("the results were read without scores")
        self._bounds(image, &a, &b)
        return [self._scan.results[self._scan.rows[j]].score for j in range(a, b)]

    cdef int _bounds(self, int64_t image, int64_t* a, int64_t* b) except -1:
        if not self._grouped:
            raise ValueError("the results are not grouped")
        if not 0 <= image < <int64_t>self._scan.image_start.size() - 1:
            raise ValueError("image index out of range")
        a[0] = self._scan.image_start[image]
        b[0] = self._scan.image_start[image + 1]
        return 0

    cdef object _image_id(self, const ScannedResult* r):
        """A result's image id, as the stdlib parser reads it (an int or a str)."""
        if not r.image_id_is_string:
            return r.image_id
        return (<const char*>self._data)[r.image_id_string.begin:
                                         r.image_id_string.end].decode("ascii")

    cdef const char* _counts(self, const ScannedResult* r):
        """The first character of a result's counts: in the bytes scanned, or unescaped."""
        cdef const char* start = <const char*>self._data
        if r.counts_unescaped:
            start = self._scan.unescaped.data()
        return start + r.counts_begin

    cdef int _refs(self, int64_t image, vector[RleRef]* refs,
                   vector[int32_t]* category) except -1:
        cdef int64_t a, b, j
        self._bounds(image, &a, &b)
        cdef ScannedResult* r
        refs.resize(b - a)
        category.resize(b - a)
        for j in range(a, b):
            r = &self._scan.results[self._scan.rows[j]]
            refs[0][j - a].chars = self._counts(r)
            refs[0][j - a].counts = NULL
            refs[0][j - a].length = r.counts_end - r.counts_begin
            category[0][j - a] = r.category
        return 0


def scan_merge_results(data, bint with_score):
    """Reads a merge's results file (``bytes``: panopticapi's semseg or instseg JSON) without
    the GIL and without a Python object per result (``csrc/merge/results_scan.hpp``): a
    :class:`ScannedMergeResults`, or None when the file is not plainly well formed (the caller
    then reads it in Python, which says what is wrong). ``with_score``: instances."""
    if type(data) is not bytes:
        raise TypeError("data must be bytes")
    cdef ScannedMergeResults out = ScannedMergeResults()
    out._data = data
    out.with_score = with_score
    cdef const uint8_t* p = <const uint8_t*><const char*>data
    cdef size_t n = len(<bytes>data)
    cdef cbool ok
    with nogil:
        ok = scan_merge_results_c(p, n, with_score, out._scan)
    return out if ok else None


def merge_scanned_png(height, width, ScannedMergeResults instances not None,
                      ScannedMergeResults stuff not None, int64_t image,
                      const uint32_t[::1] category_colour, const uint8_t[::1] category_isthing,
                      double overlap_thr, double stuff_area_limit, seed, out_path=None):
    """:func:`merge_rles_png` of image ``image`` (its position in the images grouped by
    :meth:`ScannedMergeResults.group`), its masks those results: the same return value (a
    thing segment's ``source`` indexes ``instances.scores(image)``) and errors."""
    cdef vector[RleRef] inst_refs, stuff_refs
    cdef vector[int32_t] inst_cat, stuff_cat
    instances._refs(image, &inst_refs, &inst_cat)
    stuff._refs(image, &stuff_refs, &stuff_cat)
    return _merge_png(height, width, inst_refs, inst_cat, stuff_refs, stuff_cat, category_colour,
                      category_isthing, overlap_thr, stuff_area_limit, seed, out_path)


# ------------------------------------------------------------------------------------------------
# semantic: panoptic id map -> training labels
# ------------------------------------------------------------------------------------------------


def segment_labels(const uint32_t[:, ::1] id_map, const uint32_t[::1] seg_ids,
                   const uint8_t[::1] seg_labels, void_label):
    """Id map (HxW) -> uint8 label map: each pixel the label of its segment, VOID -> void_label.

    Raises TableError for a zero or duplicate segment id (side 'segment', index = table row),
    and for a pixel id that is not in the table (side 'pixel', index None, ``pixel`` = (x, y);
    the message names the id and the pixel).
    """
    if seg_ids.shape[0] != seg_labels.shape[0]:
        raise ValueError("seg_ids and seg_labels must have the same length")
    cdef uint8_t vl = _int_arg(void_label, "void_label", 0, 255)
    cdef int64_t h = id_map.shape[0], w = id_map.shape[1]
    out = np.empty((h, w), np.uint8)
    cdef uint8_t[:, ::1] ov = out
    cdef Status st
    if h * w == 0:
        return out
    with nogil:
        st = ids_to_labels(&id_map[0, 0], h * w, &seg_ids[0] if seg_ids.shape[0] else NULL,
                           &seg_labels[0] if seg_labels.shape[0] else NULL, seg_ids.shape[0],
                           vl, &ov[0, 0])
    _raise_status(st, w, h)
    return out
