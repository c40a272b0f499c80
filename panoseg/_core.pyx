# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# distutils: language = c++
"""Thin typed layer over the C++ kernels in ``csrc/``.

Every function checks shapes, dtypes and ranges here, because the kernels trust their inputs,
then releases the GIL for the pixel work. Public, documented wrappers live in the Python modules
(:mod:`panoseg.codec`, :mod:`panoseg.png`, :mod:`panoseg.evaluation`); call those.
"""
from libc.stdint cimport uint8_t, uint32_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memset
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector

import numpy as np

cdef extern from "io/rgb_id.hpp" namespace "panoseg" nogil:
    void rgb_to_id(const uint8_t* rgb, int64_t height, int64_t width, int64_t stride_row,
                   int64_t stride_col, int64_t stride_channel, uint32_t* ids)
    int64_t id_to_rgb(const uint32_t* ids, int64_t height, int64_t width, int64_t stride_row,
                      int64_t stride_col, uint8_t* rgb, uint32_t* first_bad)

cdef extern from "io/png_unfilter.hpp" namespace "panoseg" nogil:
    cdef enum class PngStatus(int):
        kOk
        kSizeMismatch
        kBadFilter
    PngStatus png_unfilter_rgb_to_id(const uint8_t* data, size_t size, int64_t height,
                                     int64_t width, uint32_t* ids, int64_t* bad_row)

cdef extern from "eval/pair_count.hpp" namespace "panoseg" nogil:
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
        kBadPng
    PairCountStatus count_pairs(const uint32_t* gt_map, const uint32_t* pred_map,
                                int64_t n_pixels, const uint32_t* gt_ids, int64_t n_gt,
                                const uint32_t* pred_ids, int64_t n_pred,
                                PairCountResult* out, uint32_t* bad_id)
    PairCountStatus count_pairs_png(const uint8_t* gt_raw, size_t gt_size, const uint8_t* pred_raw,
                                    size_t pred_size, int64_t height, int64_t width,
                                    const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids,
                                    int64_t n_pred, PairCountResult* out, uint32_t* bad_id,
                                    PngStatus* png_status, int* png_which, int64_t* bad_row)

cdef extern from "eval/pq_match.hpp" namespace "panoseg" nogil:
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

cdef extern from "eval/extra_metrics.hpp" namespace "panoseg" nogil:
    cdef cppclass ExtraMetrics:
        vector[double] dagger_iou
        vector[int64_t] dagger_count
        vector[double] cover_iou, cover_area
        vector[int64_t] size_tp, size_fp, size_fn
        vector[double] size_iou
        vector[int32_t] confusion_gt, confusion_pred
    void extra_metrics(const vector[PairArea]& pairs, const SegmentTable& gt,
                       const SegmentTable& pred, const uint8_t* isthing, int32_t n_categories,
                       const ImageMatch& match, ExtraMetrics* out)

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


cdef _raise_table_errors(PairCountStatus pstatus, MatchStatus mstatus, uint32_t bad_id,
                         int64_t bad_segment, int n_categories):
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


cdef dict _extra_dict(ExtraMetrics& extra, int n_categories):
    return {
        "dagger_iou": _vec_f64(extra.dagger_iou), "dagger_count": _vec_i64(extra.dagger_count),
        "cover_iou": _vec_f64(extra.cover_iou), "cover_area": _vec_f64(extra.cover_area),
        "size_tp": _vec_i64(extra.size_tp).reshape(n_categories, 3),
        "size_fp": _vec_i64(extra.size_fp).reshape(n_categories, 3),
        "size_fn": _vec_i64(extra.size_fn).reshape(n_categories, 3),
        "size_iou": _vec_f64(extra.size_iou).reshape(n_categories, 3),
        "confusion_gt": _vec_i32(extra.confusion_gt),
        "confusion_pred": _vec_i32(extra.confusion_pred),
    }


cdef _check_isthing(category_isthing, int n_categories):
    if category_isthing is None:
        return None
    cdef const uint8_t[::1] flags = category_isthing
    if flags.shape[0] != n_categories:
        raise ValueError(f"category_isthing must have n_categories = {n_categories} entries")
    return flags


cdef dict _match_dict(ImageMatch& match, PairCountResult& counted):
    return {
        "tp": _vec_i64(match.tp), "fp": _vec_i64(match.fp), "fn": _vec_i64(match.fn),
        "iou_sum": _vec_f64(match.iou_sum),
        "gt_pixels": _vec_i64(match.gt_pixels), "pred_pixels": _vec_i64(match.pred_pixels),
        "gt_match": _vec_i32(match.gt_match), "gt_match_iou": _vec_f64(match.gt_match_iou),
        "pred_match": _vec_i32(match.pred_match), "pred_ignored": _vec_bool(match.pred_ignored),
        "unknown_gt": _vec_u32(counted.unknown_gt), "unknown_pred": _vec_u32(counted.unknown_pred),
    }


def match_image(const uint32_t[:, ::1] gt_map, const uint32_t[:, ::1] pred_map,
                const uint32_t[::1] gt_ids, const int32_t[::1] gt_category,
                const uint8_t[::1] gt_iscrowd, const double[::1] gt_area,
                const uint32_t[::1] pred_ids, const int32_t[::1] pred_category,
                int n_categories, category_isthing=None):
    """Counts overlaps and applies panopticapi's matching rules for one image.

    Returns a dict of numpy arrays: per category ``tp, fp, fn, iou_sum``; per GT segment
    ``gt_pixels, gt_match, gt_match_iou``; per prediction ``pred_pixels, pred_match,
    pred_ignored``; and ``unknown_gt, unknown_pred``, ids present in a map but not in its table.
    With ``category_isthing`` (uint8 per category), also the additive statistics of PQ-dagger,
    Parsing Covering, PQ by size and the confusion of unmatched GT segments (extra_metrics.hpp):
    ``dagger_iou, dagger_count, cover_iou, cover_area, size_tp/fp/fn/iou`` (categories x 3),
    ``confusion_gt, confusion_pred``.
    """
    flags = _check_isthing(category_isthing, n_categories)
    cdef const uint8_t* isthing = NULL
    cdef const uint8_t[::1] fv
    if flags is not None:
        fv = flags
        isthing = &fv[0]
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
    cdef PairCountResult counted
    cdef ImageMatch match
    cdef PairCountStatus pstatus
    cdef MatchStatus mstatus = MatchStatus.kOk
    cdef uint32_t bad_id = 0
    cdef int64_t bad_segment = 0
    with nogil:
        pstatus = count_pairs(gp, pp, n_pixels, gt.ids, gt.n, pred.ids, pred.n, &counted, &bad_id)
        if pstatus == PairCountStatus.kOk:
            mstatus = pq_match(counted.pairs, gt, pred, n_categories, &match, &bad_segment)
            if mstatus == MatchStatus.kOk and isthing != NULL:
                extra_metrics(counted.pairs, gt, pred, isthing, n_categories, match, &extra)
    _raise_table_errors(pstatus, mstatus, bad_id, bad_segment, n_categories)
    out = _match_dict(match, counted)
    if isthing != NULL:
        out.update(_extra_dict(extra, n_categories))
    return out


def match_png(const uint8_t[::1] gt_raw, const uint8_t[::1] pred_raw, int64_t height,
              int64_t width, const uint32_t[::1] gt_ids, const int32_t[::1] gt_category,
              const uint8_t[::1] gt_iscrowd, const double[::1] gt_area,
              const uint32_t[::1] pred_ids, const int32_t[::1] pred_category, int n_categories,
              category_isthing=None):
    """:func:`match_image` straight from the inflated image data of two 8-bit RGB,
    non-interlaced height x width PNGs, decoded row by row (the id maps are never stored).

    Returns None when a map holds an id missing from its table: the caller then decodes the
    maps and calls :func:`match_image`, which lists the ids.
    """
    flags = _check_isthing(category_isthing, n_categories)
    cdef const uint8_t* isthing = NULL
    cdef const uint8_t[::1] fv
    if flags is not None:
        fv = flags
        isthing = &fv[0]
    cdef ExtraMetrics extra
    if height < 1 or width < 1:
        raise ValueError("image size must be positive")
    cdef SegmentTable gt, pred
    _fill_tables(gt_ids, gt_category, gt_iscrowd, gt_area, pred_ids, pred_category,
                 n_categories, &gt, &pred)
    cdef PairCountResult counted
    cdef ImageMatch match
    cdef PairCountStatus pstatus
    cdef MatchStatus mstatus = MatchStatus.kOk
    cdef uint32_t bad_id = 0
    cdef int64_t bad_segment = 0, bad_row = -1
    cdef PngStatus png_status = PngStatus.kOk
    cdef int png_which = 0
    cdef cbool unknown = False
    cdef size_t k
    with nogil:
        pstatus = count_pairs_png(&gt_raw[0] if gt_raw.shape[0] else NULL, gt_raw.shape[0],
                                  &pred_raw[0] if pred_raw.shape[0] else NULL, pred_raw.shape[0],
                                  height, width, gt.ids, gt.n, pred.ids, pred.n, &counted,
                                  &bad_id, &png_status, &png_which, &bad_row)
        if pstatus == PairCountStatus.kOk:
            for k in range(counted.pairs.size()):
                if counted.pairs[k].gt == -2 or counted.pairs[k].pred == -2:
                    unknown = True
            if not unknown:
                mstatus = pq_match(counted.pairs, gt, pred, n_categories, &match, &bad_segment)
                if mstatus == MatchStatus.kOk and isthing != NULL:
                    extra_metrics(counted.pairs, gt, pred, isthing, n_categories, match, &extra)
    if pstatus == PairCountStatus.kBadPng:
        try:
            _png_check(png_status, bad_row, (gt_raw if png_which == 0 else pred_raw).shape[0],
                       height, width, 3)
        except ValueError as e:
            raise PngDataError(str(e), "gt" if png_which == 0 else "pred") from None
    _raise_table_errors(pstatus, mstatus, bad_id, bad_segment, n_categories)
    if unknown:
        return None
    out = _match_dict(match, counted)
    if isthing != NULL:
        out.update(_extra_dict(extra, n_categories))
    return out


class PngDataError(ValueError):
    """Corrupt image data in one of the two PNGs of :func:`match_png`; ``side``: 'gt' or 'pred'."""

    def __init__(self, message, side):
        super().__init__(message)
        self.side = side


# ------------------------------------------------------------------------------------------------
# Merge: RLE, mask pasting, interval masks, the merge heuristic, segment stats, PNG encoding
# ------------------------------------------------------------------------------------------------


cdef extern from "io/rle.hpp" namespace "panoseg" nogil:
    cdef enum class RleStatus(int):
        kOk
        kBadCharacter
        kTruncated
        kNegativeCount
        kWrongTotal
    RleStatus rle_decode_string(const char* s, size_t length, int64_t n_pixels,
                                vector[uint32_t]* counts)
    RleStatus rle_check_counts(const uint32_t* counts, size_t n, int64_t n_pixels)
    cbool rle_encode_runs(const int64_t* runs, int64_t n_runs, int64_t n_pixels, string* out)

cdef extern from "merge/mask_paste.hpp" namespace "panoseg" nogil:
    cdef enum class PasteStatus(int):
        kOk
        kBadBox
        kBadMask
    cdef enum class PassOrder(int):
        kHorizontalFirst
        kPillow13
    PasteStatus paste_masks_intervals(const float* probs, int64_t n, int64_t mask_h,
                                      int64_t mask_w, const float* boxes, int64_t height,
                                      int64_t width, cbool column_major, int threads,
                                      vector[int64_t]* offsets, vector[int64_t]* intervals,
                                      int64_t* bad, PassOrder order)
    PasteStatus paste_masks_dense(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                                  const float* boxes, int64_t height, int64_t width, int threads,
                                  uint8_t* out, int64_t* bad, PassOrder order)

cdef extern from "merge/panoptic_merge.hpp" namespace "panoseg" nogil:
    cdef cppclass IntervalMasks:
        const int64_t* offsets
        const int64_t* intervals
        int64_t n
    cdef cppclass SegmentIdAssigner:
        SegmentIdAssigner(const uint32_t* stuff_colour_ids, int64_t n_stuff, uint64_t seed,
                          int64_t expected_segments)
    cdef struct MergeCategory:
        uint32_t colour_id
        cbool isthing
    cdef struct MergedSegment:
        uint32_t id
        int32_t category
        int32_t source
        cbool isthing
    cdef struct PaintedRun:
        int64_t begin
        int64_t end
        uint32_t id
    cdef enum class MergeStatus(int):
        kOk
        kBadIntervals
        kBadCategory
    cdef cppclass MergeParams:
        double overlap_thr
        double stuff_area_limit
    MergeStatus panoptic_merge(int64_t n_pixels, const IntervalMasks& instances,
                               const int32_t* instance_category, const IntervalMasks& stuff,
                               const int32_t* stuff_category, const MergeCategory* categories,
                               int32_t n_categories, const MergeParams& params,
                               SegmentIdAssigner* ids, vector[PaintedRun]* runs,
                               vector[MergedSegment]* segments, int64_t* bad_index)
    void render_runs(const vector[PaintedRun]& runs, int64_t n_pixels, uint32_t* canvas)
    void runs_to_png_up_scanlines(const vector[PaintedRun]& runs, int64_t height, int64_t width,
                                  uint8_t* out)
    void run_stats(const vector[PaintedRun]& runs, int64_t height, int64_t width,
                   cbool column_major, const vector[MergedSegment]& segments, int64_t* area,
                   int64_t* bbox)
    cbool label_map_intervals(const int32_t* labels, int64_t n_pixels, int32_t n_labels,
                              vector[int64_t]* offsets, vector[int64_t]* intervals)
    void dense_mask_intervals(const uint8_t* mask, int64_t n_pixels, vector[int64_t]* intervals)
    void transpose_u32(const uint32_t* inp, int64_t height, int64_t width, uint32_t* out)
    uint32_t* thread_scratch_canvas(int64_t n)

cdef extern from "semantic/label_map.hpp" namespace "panoseg" nogil:
    cdef enum class LabelStatus(int):
        kOk
        kZeroId
        kDuplicateId
        kUnknownId
    LabelStatus ids_to_labels(const uint32_t* ids, int64_t n_pixels, const uint32_t* seg_ids,
                              const uint8_t* seg_labels, int64_t n_seg, uint8_t void_label,
                              uint8_t* out, int64_t* bad)

cdef extern from "io/segment_stats.hpp" namespace "panoseg" nogil:
    cbool segment_stats(const uint32_t* map, int64_t height, int64_t width, const uint32_t* ids,
                        int64_t n, int64_t* area, int64_t* bbox)
    void distinct_ids(const uint32_t* map, int64_t n_pixels, vector[uint32_t]* ids)

cdef extern from "io/png_filter.hpp" namespace "panoseg" nogil:
    cbool png_filter_ids(const uint32_t* ids, int64_t height, int64_t width, uint8_t* out)


_RLE_ERRORS = {
    RleStatus.kBadCharacter: "invalid character in RLE counts string",
    RleStatus.kTruncated: "RLE counts string ends inside a number",
    RleStatus.kNegativeCount: "RLE counts string decodes to a negative or huge run",
    RleStatus.kWrongTotal: "RLE runs do not add up to height x width of its 'size'",
}


class RleError(ValueError):
    """An RLE that cannot be decoded; ``index`` is its position in the input list."""

    def __init__(self, message, index):
        super().__init__(message)
        self.index = index


def runs_to_rle_strings(const int64_t[::1] offsets, const int64_t[::1] intervals,
                        int64_t n_pixels):
    """Interval masks (CSR: mask k is intervals[2*offsets[k]:2*offsets[k+1]], column-major runs
    of 1s) -> pycocotools' compressed RLE strings, one str per mask."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, k
    cdef vector[string] out
    cdef string s
    cdef int64_t bad = -1
    if n < 0 or offsets[0] != 0:
        raise ValueError("offsets must start with 0")
    for k in range(n):
        if offsets[k + 1] < offsets[k]:
            raise ValueError(f"offsets must not decrease (mask {k})")
    if 2 * offsets[n] > intervals.shape[0]:
        raise ValueError(f"offsets end at run {offsets[n]} but there are "
                         f"{intervals.shape[0] // 2} runs")
    if n_pixels < 0:
        raise ValueError("n_pixels must be >= 0")
    out.reserve(n)
    with nogil:
        for k in range(n):
            if not rle_encode_runs(&intervals[2 * offsets[k]] if offsets[k + 1] > offsets[k]
                                   else NULL, offsets[k + 1] - offsets[k], n_pixels, &s):
                bad = k
                break
            out.push_back(s)
    if bad >= 0:
        raise ValueError(f"mask {bad}: runs must be sorted, non-empty and within "
                         f"[0, {n_pixels})")
    result = []
    for k in range(n):
        result.append(out[k].decode("ascii"))
    return result


def rle_intervals(list rles, int64_t height, int64_t width):
    """RLEs (compressed str/bytes or uint32 count arrays) -> column-major interval masks (CSR).

    Returns (offsets int64[n+1], intervals int64[2*k]) of the runs of 1s.
    """
    cdef Py_ssize_t n = len(rles), k
    cdef vector[int64_t] offsets, intervals
    cdef vector[uint32_t] counts
    cdef vector[const char*] ptrs
    cdef vector[size_t] lens
    cdef RleStatus status = RleStatus.kOk
    cdef int64_t n_pixels = height * width, pos, bad = -1, i
    cdef const uint32_t[::1] arr
    keep = []
    # Gather raw pointers with the GIL, decode without it.
    for k in range(n):
        r = rles[k]
        if isinstance(r, str):
            r = (<str>r).encode("ascii", "replace")
        if isinstance(r, bytes):
            keep.append(r)
            ptrs.push_back(<const char*>(<bytes>r))
            lens.push_back(len(<bytes>r))
        else:
            a = np.ascontiguousarray(r, dtype=np.uint32)
            keep.append(a)
            arr = a
            ptrs.push_back(<const char*>&arr[0] if arr.shape[0] else NULL)
            lens.push_back(<size_t>(-1) - <size_t>arr.shape[0])  # marks a counts array
    offsets.push_back(0)
    with nogil:
        for k in range(n):
            if lens[k] > (<size_t>(-1) >> 1):
                i = <int64_t>(<size_t>(-1) - lens[k])
                counts.assign(<const uint32_t*>ptrs[k], <const uint32_t*>ptrs[k] + i)
                status = rle_check_counts(counts.data(), counts.size(), n_pixels)
            else:
                status = rle_decode_string(ptrs[k], lens[k], n_pixels, &counts)
            if status != RleStatus.kOk:
                bad = k
                break
            pos = 0
            for i in range(<int64_t>counts.size()):
                if i % 2 == 1 and counts[i] > 0:
                    intervals.push_back(pos)
                    intervals.push_back(pos + counts[i])
                pos += counts[i]
            offsets.push_back(<int64_t>(intervals.size() // 2))
    if bad >= 0:
        raise RleError(_RLE_ERRORS[status], bad)
    return _vec_i64(offsets), _vec_i64(intervals)


_PASTE_ERRORS = {PasteStatus.kBadBox: "box must be finite with x2 >= x1, y2 >= y1 (|coordinate| <= 1e7)",
                 PasteStatus.kBadMask: "mask must be between 1x1 and 1024x1024 with finite values"}


cdef _check_paste_args(probs, boxes, int64_t height, int64_t width, int threads):
    if boxes.shape[0] != probs.shape[0] or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be N x 4 with N = {probs.shape[0]} masks, got "
                         f"{tuple(boxes.shape)[:2]}")
    if probs.shape[1] < 1 or probs.shape[2] < 1:
        raise ValueError(f"masks must be at least 1x1, got {probs.shape[1]}x{probs.shape[2]}")
    if height < 1 or width < 1:
        raise ValueError("image size must be positive")
    if height * width > (1 << 40):
        raise ValueError(f"image size {width}x{height} is too large")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")


def paste_intervals(const float[:, :, ::1] probs, const float[:, ::1] boxes, int64_t height,
                    int64_t width, bint column_major, int threads=1, bint pillow13_order=True):
    """Mask R-CNN masks (N x Mh x Mw probabilities) in boxes (N x 4 xyxy) -> interval masks.

    ``pillow13_order``: resample as Pillow >= 13 orders its two passes (see mask_paste.hpp),
    else as older Pillow (horizontal pass first)."""
    _check_paste_args(probs, boxes, height, width, threads)
    cdef PassOrder order = PassOrder.kPillow13 if pillow13_order else PassOrder.kHorizontalFirst
    cdef vector[int64_t] offsets, intervals
    cdef PasteStatus status = PasteStatus.kOk
    cdef int64_t bad = -1
    if probs.shape[0] == 0:
        return np.zeros(1, np.int64), np.zeros(0, np.int64)
    with nogil:
        status = paste_masks_intervals(&probs[0, 0, 0], probs.shape[0], probs.shape[1],
                                       probs.shape[2], &boxes[0, 0], height, width, column_major,
                                       threads, &offsets, &intervals, &bad, order)
    if status != PasteStatus.kOk:
        raise TableError(f"instance {bad}: {_PASTE_ERRORS[status]}", "instance", bad)
    return _vec_i64(offsets), _vec_i64(intervals)


def paste_dense(const float[:, :, ::1] probs, const float[:, ::1] boxes, int64_t height,
                int64_t width, int threads=1, bint pillow13_order=True):
    """Like GluonCV's fill: N x height x width uint8 masks (``pillow13_order`` as
    paste_intervals)."""
    _check_paste_args(probs, boxes, height, width, threads)
    cdef PassOrder order = PassOrder.kPillow13 if pillow13_order else PassOrder.kHorizontalFirst
    out = np.zeros((probs.shape[0], height, width), dtype=np.uint8)
    if probs.shape[0] == 0:
        return out
    cdef uint8_t[:, :, ::1] o = out
    cdef PasteStatus status = PasteStatus.kOk
    cdef int64_t bad = -1
    with nogil:
        status = paste_masks_dense(&probs[0, 0, 0], probs.shape[0], probs.shape[1],
                                   probs.shape[2], &boxes[0, 0], height, width, threads,
                                   &o[0, 0, 0], &bad, order)
    if status != PasteStatus.kOk:
        raise TableError(f"instance {bad}: {_PASTE_ERRORS[status]}", "instance", bad)
    return out


def label_intervals(const int32_t[:, ::1] labels, int n_labels):
    """Label map (values < 0 skipped) -> interval masks per label, in the map's memory order."""
    cdef vector[int64_t] offsets, intervals
    cdef cbool ok
    cdef int64_t n_pixels = labels.shape[0] * labels.shape[1]
    if n_labels < 0:
        raise ValueError("n_labels must be >= 0")
    with nogil:
        ok = label_map_intervals(&labels[0, 0] if n_pixels else NULL, n_pixels, n_labels,
                                 &offsets, &intervals)
    if not ok:
        raise ValueError(f"label map holds values >= {n_labels}")
    return _vec_i64(offsets), _vec_i64(intervals)


def dense_intervals(const uint8_t[:, :, ::1] masks):
    """N x H x W binary masks -> interval masks (row-major)."""
    cdef Py_ssize_t n = masks.shape[0], k
    cdef int64_t n_pixels = masks.shape[1] * masks.shape[2]
    cdef vector[int64_t] offsets, intervals
    offsets.push_back(0)
    with nogil:
        for k in range(n):
            if n_pixels:
                dense_mask_intervals(&masks[k, 0, 0], n_pixels, &intervals)
            offsets.push_back(<int64_t>(intervals.size() // 2))
    return _vec_i64(offsets), _vec_i64(intervals)


def merge(int64_t height, int64_t width, bint column_major,
          const int64_t[::1] inst_offsets, const int64_t[::1] inst_intervals,
          const int32_t[::1] inst_category,
          const int64_t[::1] stuff_offsets, const int64_t[::1] stuff_intervals,
          const int32_t[::1] stuff_category,
          const uint32_t[::1] category_colour, const uint8_t[::1] category_isthing,
          double overlap_thr, double stuff_area_limit, uint64_t seed, out=None,
          scanlines=None):
    """Runs the merge heuristic on interval masks; returns (id_map HxW uint32, segments).

    ``segments`` is a dict of arrays: id, category (dense index), source, isthing, area and
    bbox (N x 4, COCO [x, y, w, h]). ``out``, an
    optional HxW uint32 C-contiguous array, receives the id map (reused buffers avoid page faults).
    With ``scanlines`` (a writable buffer of at least H * (1 + 3W) bytes) and ``column_major``,
    no id map is made: the PNG scanlines of the result (Up filter) are written there instead and
    None is returned in place of the id map.
    """
    cdef int64_t n_inst = inst_category.shape[0], n_stuff = stuff_category.shape[0]
    cdef int64_t n_cat = category_colour.shape[0], k
    if inst_offsets.shape[0] != n_inst + 1 or stuff_offsets.shape[0] != n_stuff + 1:
        raise ValueError("offsets must have one entry more than there are masks")
    if category_isthing.shape[0] != n_cat or n_cat == 0:
        raise ValueError("category arrays must be non-empty and of equal length")
    if inst_offsets[n_inst] * 2 != inst_intervals.shape[0] or stuff_offsets[n_stuff] * 2 != stuff_intervals.shape[0]:
        raise ValueError("intervals do not match their offsets")
    if height < 1 or width < 1:
        raise ValueError("image size must be positive")
    if not (0.0 <= overlap_thr <= 1.0):
        raise ValueError(f"overlap_thr must lie in [0, 1], got {overlap_thr}")
    if not (stuff_area_limit >= 0.0):
        raise ValueError(f"stuff_area_limit must be >= 0, got {stuff_area_limit}")
    cdef vector[MergeCategory] cats
    cdef vector[uint32_t] stuff_colours
    cdef MergeCategory c
    for k in range(n_cat):
        c.colour_id = category_colour[k]
        c.isthing = category_isthing[k] != 0
        cats.push_back(c)
        if not c.isthing:
            stuff_colours.push_back(c.colour_id)
    cdef IntervalMasks inst, stuff
    inst.offsets = &inst_offsets[0]
    inst.intervals = &inst_intervals[0] if inst_intervals.shape[0] else NULL
    inst.n = n_inst
    stuff.offsets = &stuff_offsets[0]
    stuff.intervals = &stuff_intervals[0] if stuff_intervals.shape[0] else NULL
    stuff.n = n_stuff
    cdef MergeParams params
    params.overlap_thr = overlap_thr
    params.stuff_area_limit = stuff_area_limit
    cdef int64_t n_pixels = height * width, bad = 0
    cdef bint to_png = scanlines is not None
    cdef uint8_t[::1] sv
    cdef uint32_t[:, ::1] ov
    if to_png:
        if not column_major:
            raise ValueError("scanlines need column-major masks")
        sv = scanlines
        if sv.shape[0] < height * (1 + 3 * width):
            raise ValueError("scanlines buffer too small")
    else:
        if out is None:
            out = np.empty((height, width), dtype=np.uint32)
        ov = out
        if ov.shape[0] != height or ov.shape[1] != width:
            raise ValueError(f"out must be {height}x{width}")
    cdef uint32_t* cv
    cdef vector[MergedSegment] segs
    cdef vector[PaintedRun] runs
    cdef MergeStatus status
    cdef SegmentIdAssigner* ids = new SegmentIdAssigner(
        stuff_colours.data() if stuff_colours.size() else NULL, stuff_colours.size(), seed, n_inst)
    try:
        with nogil:
            status = panoptic_merge(n_pixels, inst, &inst_category[0] if n_inst else NULL, stuff,
                                    &stuff_category[0] if n_stuff else NULL, cats.data(),
                                    <int32_t>n_cat, params, ids, &runs, &segs, &bad)
            if status == MergeStatus.kOk and to_png:
                runs_to_png_up_scanlines(runs, height, width, &sv[0])
            elif status == MergeStatus.kOk:
                # Column-major (COCO RLE order): render into a per-thread scratch canvas and
                # transpose into the output (measured faster than writing down the columns of
                # the output directly); row-major: render the output directly.
                if column_major:
                    cv = thread_scratch_canvas(n_pixels)
                    render_runs(runs, n_pixels, cv)
                    transpose_u32(cv, height, width, &ov[0, 0])
                else:
                    render_runs(runs, n_pixels, &ov[0, 0])
    finally:
        del ids
    if status == MergeStatus.kBadIntervals:
        if bad >= 0:
            raise TableError(f"instance {bad}: mask intervals are unsorted, overlapping or "
                             "outside the image", "instance", bad)
        raise TableError(f"stuff mask {-1 - bad}: mask intervals are unsorted, overlapping or "
                         "outside the image", "stuff", -1 - bad)
    if status == MergeStatus.kBadCategory:
        if bad >= 0:
            raise TableError(f"instance {bad}: category index is not a thing category",
                             "instance", bad)
        raise TableError(f"stuff mask {-1 - bad}: category index out of range", "stuff", -1 - bad)
    cdef size_t n_seg = segs.size(), j
    seg_area = np.zeros(n_seg, np.int64)
    seg_bbox = np.zeros((n_seg, 4), np.int64)
    cdef int64_t[::1] sa = seg_area
    cdef int64_t[:, ::1] sb = seg_bbox
    if n_seg:
        with nogil:
            run_stats(runs, height, width, column_major, segs, &sa[0], &sb[0, 0])
    seg_id = np.empty(n_seg, np.uint32)
    seg_cat = np.empty(n_seg, np.int32)
    seg_src = np.empty(n_seg, np.int32)
    seg_thing = np.empty(n_seg, np.bool_)
    for j in range(n_seg):
        seg_id[j] = segs[j].id
        seg_cat[j] = segs[j].category
        seg_src[j] = segs[j].source
        seg_thing[j] = segs[j].isthing
    return (None if to_png else out), {"id": seg_id, "category": seg_cat, "source": seg_src, "isthing": seg_thing,
                 "area": seg_area, "bbox": seg_bbox}


def segment_ids(const uint32_t[:, ::1] id_map):
    """The distinct nonzero ids of a row-major id map, ascending (uint32)."""
    cdef vector[uint32_t] ids
    cdef int64_t n = id_map.shape[0] * id_map.shape[1]
    if n:
        with nogil:
            distinct_ids(&id_map[0, 0], n, &ids)
    return _vec_u32(ids)


def segment_areas_bboxes(const uint32_t[:, ::1] id_map, const uint32_t[::1] ids):
    """Pixel count and COCO bbox [x, y, w, h] of each id in a row-major id map."""
    cdef int64_t n = ids.shape[0]
    area = np.zeros(n, np.int64)
    bbox = np.zeros((n, 4), np.int64)
    cdef int64_t[::1] a = area
    cdef int64_t[:, ::1] b = bbox
    cdef cbool ok = True
    if n == 0:
        return area, bbox
    with nogil:
        ok = segment_stats(&id_map[0, 0] if id_map.shape[0] * id_map.shape[1] else NULL,
                           id_map.shape[0], id_map.shape[1], &ids[0], n, &a[0], &b[0, 0])
    if not ok:
        raise ValueError("segment ids must be nonzero and unique")
    return area, bbox


def png_filtered_scanlines(const uint32_t[:, ::1] ids, out=None):
    """HxW ids -> PNG-filtered 8-bit RGB scanlines ready for zlib, in ``out`` (a bytearray of
    at least h * (1 + 3w) bytes, reused when given) or a new bytearray; returns a view of them."""
    cdef int64_t h = ids.shape[0], w = ids.shape[1]
    cdef int64_t n = h * (1 + 3 * w)
    if out is None or len(out) < n:
        out = bytearray(n)
    cdef uint8_t[::1] o = out
    cdef cbool ok = True
    if h and w:
        with nogil:
            ok = png_filter_ids(&ids[0, 0], h, w, &o[0])
    if not ok:
        raise ValueError(f"ids above {MAX_SEGMENT_ID} do not fit in an RGB PNG")
    return memoryview(out)[:n]


def segment_labels(const uint32_t[:, ::1] id_map, const uint32_t[::1] seg_ids,
                   const uint8_t[::1] seg_labels, int void_label):
    """Id map (HxW) -> uint8 label map: each pixel the label of its segment, VOID -> void_label.

    Raises TableError (side 'segment', index = table row) for a zero or duplicate segment id,
    and for a pixel id that is not in the table (index = -1, message names the id and pixel).
    """
    if seg_ids.shape[0] != seg_labels.shape[0]:
        raise ValueError("seg_ids and seg_labels must have the same length")
    if not 0 <= void_label <= 255:
        raise ValueError(f"void_label must fit a byte, got {void_label}")
    cdef int64_t h = id_map.shape[0], w = id_map.shape[1], bad = -1
    out = np.empty((h, w), np.uint8)
    cdef uint8_t[:, ::1] ov = out
    cdef LabelStatus status = LabelStatus.kOk
    if h * w == 0:
        return out
    with nogil:
        status = ids_to_labels(&id_map[0, 0], h * w,
                               &seg_ids[0] if seg_ids.shape[0] else NULL,
                               &seg_labels[0] if seg_labels.shape[0] else NULL,
                               seg_ids.shape[0], <uint8_t>void_label, &ov[0, 0], &bad)
    if status == LabelStatus.kZeroId:
        raise TableError(f"segment table row {bad}: id 0 is VOID, not a segment", "segment", bad)
    if status == LabelStatus.kDuplicateId:
        raise TableError(f"segment table row {bad}: duplicate id {seg_ids[bad]}", "segment", bad)
    if status == LabelStatus.kUnknownId:
        raise TableError(f"pixel (x={bad % w}, y={bad // w}) has id {id_map[bad // w, bad % w]}, "
                         "which no segment lists", "segment", -1)
    return out
