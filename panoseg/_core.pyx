# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# distutils: language = c++
"""Thin typed layer over the C++ kernels in ``csrc/``.

Every function checks shapes, dtypes and ranges here, because the kernels trust their inputs,
then releases the GIL for the pixel work. Public, documented wrappers live in the Python modules
(:mod:`panoseg.codec`, :mod:`panoseg.png`, :mod:`panoseg.evaluation`); call those.
"""
from libc.stdint cimport uint8_t, uint32_t, int32_t, int64_t
from libc.string cimport memcpy
from libcpp cimport bool as cbool
from libcpp.vector cimport vector

import numpy as np

cdef extern from "rgb_id.hpp" namespace "panoseg" nogil:
    void rgb_to_id(const uint8_t* rgb, int64_t height, int64_t width, int64_t stride_row,
                   int64_t stride_col, int64_t stride_channel, uint32_t* ids)
    int64_t id_to_rgb(const uint32_t* ids, int64_t height, int64_t width, int64_t stride_row,
                      int64_t stride_col, uint8_t* rgb, uint32_t* first_bad)

cdef extern from "png_unfilter.hpp" namespace "panoseg" nogil:
    cdef enum class PngStatus(int):
        kOk
        kSizeMismatch
        kBadFilter
    PngStatus png_unfilter(const uint8_t* data, size_t size, int64_t height, int64_t width,
                           int bpp, uint8_t* out, int64_t* bad_row)
    PngStatus png_unfilter_rgb_to_id(const uint8_t* data, size_t size, int64_t height,
                                     int64_t width, uint32_t* ids, int64_t* bad_row)

cdef extern from "pair_count.hpp" namespace "panoseg" nogil:
    cdef struct PairArea:
        int32_t gt
        int32_t pred
        int64_t area
    cdef cppclass PairCountResult:
        vector[PairArea] pairs
        vector[uint32_t] unknown_gt
        vector[uint32_t] unknown_pred
    cdef enum class PairCountStatus(int):
        kOk
        kDuplicateGtId
        kDuplicatePredId
        kBadGtId
        kBadPredId
    PairCountStatus count_pairs(const uint32_t* gt_map, const uint32_t* pred_map,
                                int64_t n_pixels, const uint32_t* gt_ids, int64_t n_gt,
                                const uint32_t* pred_ids, int64_t n_pred,
                                PairCountResult* out, uint32_t* bad_id)

cdef extern from "pq_match.hpp" namespace "panoseg" nogil:
    cdef cppclass SegmentTable:
        const uint32_t* ids
        const int32_t* category
        const uint8_t* iscrowd
        const double* area
        int64_t n
    cdef cppclass ImageMatch:
        vector[int64_t] tp, fp, fn
        vector[double] iou_sum
        vector[int64_t] gt_pixels, pred_pixels
        vector[int32_t] gt_match
        vector[double] gt_match_iou
        vector[int32_t] pred_match
        vector[uint8_t] pred_ignored
    cdef enum class MatchStatus(int):
        kOk
        kBadCategory
    MatchStatus pq_match(const vector[PairArea]& pairs, const SegmentTable& gt,
                         const SegmentTable& pred, int32_t n_categories, ImageMatch* out,
                         int64_t* bad_segment)

MAX_SEGMENT_ID = (1 << 24) - 1


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
    cdef uint32_t first_bad = 0
    cdef int64_t n_bad = 0
    if h == 0 or w == 0:
        return out
    with nogil:
        n_bad = id_to_rgb(&ids[0, 0], h, w, ids.strides[0], ids.strides[1], &rgb[0, 0, 0],
                          &first_bad)
    if n_bad:
        raise ValueError(f"{n_bad} pixel(s) hold ids above {MAX_SEGMENT_ID} (e.g. {first_bad}), "
                         "which do not fit in an RGB PNG")
    return out


def _png_check(PngStatus status, int64_t bad_row, size_t size, int64_t h, int64_t w, int bpp):
    if status == PngStatus.kSizeMismatch:
        raise ValueError(f"corrupt PNG: image data has {size} bytes after inflate, expected "
                         f"{(w * bpp + 1) * h} for {w}x{h} pixels (truncated or corrupt)")
    if status == PngStatus.kBadFilter:
        raise ValueError(f"corrupt PNG: scanline {bad_row} has an invalid filter type")


def png_unfilter_ids(const uint8_t[::1] data, int64_t height, int64_t width):
    """Inflated IDAT bytes of an 8-bit RGB, non-interlaced PNG -> uint32 HxW ids."""
    if height < 0 or width < 0:
        raise ValueError("negative PNG size")
    out = np.empty((height, width), dtype=np.uint32)
    cdef uint32_t[:, ::1] ids = out
    cdef int64_t bad_row = -1
    cdef PngStatus status
    cdef size_t size = data.shape[0]
    if size != <size_t>((width * 3 + 1) * height):
        _png_check(PngStatus.kSizeMismatch, 0, size, height, width, 3)
    if height == 0 or width == 0:
        return out
    with nogil:
        status = png_unfilter_rgb_to_id(&data[0], size, height, width, &ids[0, 0], &bad_row)
    _png_check(status, bad_row, size, height, width, 3)
    return out


def png_unfilter_bytes(const uint8_t[::1] data, int64_t height, int64_t width, int bpp):
    """Inflated IDAT bytes of an 8-bit, non-interlaced PNG -> uint8 HxWxbpp samples."""
    if height < 0 or width < 0 or bpp < 1 or bpp > 8:
        raise ValueError("bad PNG geometry")
    out = np.empty((height, width, bpp), dtype=np.uint8)
    cdef uint8_t[:, :, ::1] px = out
    cdef int64_t bad_row = -1
    cdef PngStatus status
    cdef size_t size = data.shape[0]
    if size != <size_t>((width * bpp + 1) * height):
        _png_check(PngStatus.kSizeMismatch, 0, size, height, width, bpp)
    if height == 0 or width == 0:
        return out
    with nogil:
        status = png_unfilter(&data[0], size, height, width, bpp, &px[0, 0, 0], &bad_row)
    _png_check(status, bad_row, size, height, width, bpp)
    return out


cdef object _vec_i64(const vector[int64_t]& v):
    out = np.empty(v.size(), dtype=np.int64)
    cdef int64_t[::1] m = out
    if v.size():
        memcpy(&m[0], v.data(), v.size() * sizeof(int64_t))
    return out


cdef object _vec_i32(const vector[int32_t]& v):
    out = np.empty(v.size(), dtype=np.int32)
    cdef int32_t[::1] m = out
    if v.size():
        memcpy(&m[0], v.data(), v.size() * sizeof(int32_t))
    return out


cdef object _vec_f64(const vector[double]& v):
    out = np.empty(v.size(), dtype=np.float64)
    cdef double[::1] m = out
    if v.size():
        memcpy(&m[0], v.data(), v.size() * sizeof(double))
    return out


cdef object _vec_u32(const vector[uint32_t]& v):
    out = np.empty(v.size(), dtype=np.uint32)
    cdef uint32_t[::1] m = out
    if v.size():
        memcpy(&m[0], v.data(), v.size() * sizeof(uint32_t))
    return out


cdef object _vec_bool(const vector[uint8_t]& v):
    out = np.empty(v.size(), dtype=np.uint8)
    cdef uint8_t[::1] m = out
    if v.size():
        memcpy(&m[0], v.data(), v.size())
    return out.view(np.bool_)


class TableError(ValueError):
    """A segment table is inconsistent; ``side`` is 'gt' or 'pred', ``index`` its row."""

    def __init__(self, message, side, index):
        super().__init__(message)
        self.side = side
        self.index = index


def match_image(const uint32_t[:, ::1] gt_map, const uint32_t[:, ::1] pred_map,
                const uint32_t[::1] gt_ids, const int32_t[::1] gt_category,
                const uint8_t[::1] gt_iscrowd, const double[::1] gt_area,
                const uint32_t[::1] pred_ids, const int32_t[::1] pred_category,
                int n_categories):
    """Counts overlaps and applies panopticapi's matching rules for one image.

    Returns a dict of numpy arrays: per category ``tp, fp, fn, iou_sum``; per GT segment
    ``gt_pixels, gt_match, gt_match_iou``; per prediction ``pred_pixels, pred_match,
    pred_ignored``; the overlap table ``pair_gt, pair_pred, pair_area`` (rows, -1 = VOID,
    -2 = unknown id); and ``unknown_gt, unknown_pred``, ids present in a map but not in its table.
    """
    if gt_map.shape[0] != pred_map.shape[0] or gt_map.shape[1] != pred_map.shape[1]:
        raise ValueError(f"GT map is {gt_map.shape[1]}x{gt_map.shape[0]} but prediction map is "
                         f"{pred_map.shape[1]}x{pred_map.shape[0]} (width x height)")
    cdef int64_t ng = gt_ids.shape[0], npred = pred_ids.shape[0]
    if gt_category.shape[0] != ng or gt_iscrowd.shape[0] != ng or gt_area.shape[0] != ng:
        raise ValueError("GT segment arrays differ in length")
    if pred_category.shape[0] != npred:
        raise ValueError("prediction segment arrays differ in length")
    if n_categories < 1:
        raise ValueError("n_categories must be positive")
    if ng >= (1 << 31) - 2 or npred >= (1 << 31) - 2:
        raise ValueError("too many segments")

    cdef SegmentTable gt, pred
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
    cdef int64_t n_pixels = gt_map.shape[0] * gt_map.shape[1]
    cdef const uint32_t* gp = NULL
    cdef const uint32_t* pp = NULL
    if n_pixels:
        gp = &gt_map[0, 0]
        pp = &pred_map[0, 0]

    cdef PairCountResult counted
    cdef ImageMatch match
    cdef PairCountStatus pstatus
    cdef MatchStatus mstatus = MatchStatus.kOk
    cdef uint32_t bad_id = 0
    cdef int64_t bad_segment = 0
    with nogil:
        pstatus = count_pairs(gp, pp, n_pixels, gt.ids, ng, pred.ids, npred, &counted, &bad_id)
        if pstatus == PairCountStatus.kOk:
            mstatus = pq_match(counted.pairs, gt, pred, n_categories, &match, &bad_segment)
    if pstatus == PairCountStatus.kDuplicateGtId:
        raise TableError(f"duplicate GT segment id {bad_id}", "gt", None)
    if pstatus == PairCountStatus.kDuplicatePredId:
        raise TableError(f"duplicate predicted segment id {bad_id}", "pred", None)
    if pstatus == PairCountStatus.kBadGtId:
        raise TableError(f"GT segment id {bad_id} is outside 1..{MAX_SEGMENT_ID}", "gt", None)
    if pstatus == PairCountStatus.kBadPredId:
        raise TableError(f"predicted segment id {bad_id} is outside 1..{MAX_SEGMENT_ID}", "pred", None)
    if mstatus == MatchStatus.kBadCategory:
        if bad_segment >= 0:
            raise TableError(f"GT segment row {bad_segment} has a category index outside "
                             f"0..{n_categories - 1}", "gt", bad_segment)
        raise TableError(f"predicted segment row {-1 - bad_segment} has a category index outside "
                         f"0..{n_categories - 1}", "pred", -1 - bad_segment)

    cdef size_t n_pairs = counted.pairs.size(), k
    pair_gt = np.empty(n_pairs, dtype=np.int32)
    pair_pred = np.empty(n_pairs, dtype=np.int32)
    pair_area = np.empty(n_pairs, dtype=np.int64)
    cdef int32_t[::1] pg = pair_gt
    cdef int32_t[::1] ppr = pair_pred
    cdef int64_t[::1] pa = pair_area
    for k in range(n_pairs):
        pg[k] = counted.pairs[k].gt
        ppr[k] = counted.pairs[k].pred
        pa[k] = counted.pairs[k].area
    return {
        "tp": _vec_i64(match.tp), "fp": _vec_i64(match.fp), "fn": _vec_i64(match.fn),
        "iou_sum": _vec_f64(match.iou_sum),
        "gt_pixels": _vec_i64(match.gt_pixels), "pred_pixels": _vec_i64(match.pred_pixels),
        "gt_match": _vec_i32(match.gt_match), "gt_match_iou": _vec_f64(match.gt_match_iou),
        "pred_match": _vec_i32(match.pred_match), "pred_ignored": _vec_bool(match.pred_ignored),
        "pair_gt": pair_gt, "pair_pred": pair_pred, "pair_area": pair_area,
        "unknown_gt": _vec_u32(counted.unknown_gt), "unknown_pred": _vec_u32(counted.unknown_pred),
    }
