# Declarations of the C++ kernels in csrc/: one `cdef extern` block per header, in the order of
# the layers (common -> io -> eval / merge / semantic). _core.pyx sees them all (a .pxd of the
# same name is part of its module). Keep each block a faithful copy of its header's entry points.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector


cdef extern from "common/status.hpp" namespace "panoseg" nogil:
    cdef enum class StatusCode(int32_t):
        kOk
        kBadId
        kDuplicateId
        kUnknownId
        kIdTooLarge
        kBadCategory
        kBadLabel
        kBadIntervals
        kBadBox
        kBadMask
        kPngSizeMismatch
        kPngBadFilter
        kRleBadCharacter
        kRleTruncated
        kRleNegativeCount
        kRleWrongTotal
        kBadArgument
        kPngFile
    cdef enum class StatusWhere(int32_t):
        kNone
        kGt
        kPred
        kInstance
        kStuff
        kSegment
        kMask
        kPixel
    cdef cppclass Status:
        StatusCode code
        StatusWhere where
        int64_t index
        int64_t value
        cbool ok()


cdef extern from "io/rgb_id.hpp" namespace "panoseg" nogil:
    const uint32_t kMaxSegmentId
    void rgb_to_id(const uint8_t* rgb, int64_t height, int64_t width, int64_t stride_row,
                   int64_t stride_col, int64_t stride_channel, uint32_t* ids) except +
    Status id_to_rgb(const uint32_t* ids, int64_t height, int64_t width, int64_t stride_row,
                     int64_t stride_col, uint8_t* rgb) except +


cdef extern from "io/png_unfilter.hpp" namespace "panoseg" nogil:
    Status png_unfilter_rgb_to_id(const uint8_t* data, size_t size, int64_t height,
                                  int64_t width, uint32_t* ids) except +


cdef extern from "io/png_filter.hpp" namespace "panoseg" nogil:
    Status png_filter_ids(const uint32_t* ids, int64_t height, int64_t width, uint8_t* out) except +


cdef extern from "io/png_deflate.hpp" namespace "panoseg" nogil:
    cdef struct FilteredPixel:
        int32_t y, x
        uint8_t rgb[3]
    Status png_encode_sparse_rgb(const FilteredPixel* pixels, int64_t n, int64_t height,
                                 int64_t width, uint8_t filter, vector[uint8_t]* out) except +


cdef extern from "io/rle.hpp" namespace "panoseg" nogil:
    cdef cppclass RleRef:
        const char* chars
        const uint32_t* counts
        size_t length
    Status rle_decode_intervals(const RleRef* rles, int64_t n, int64_t n_pixels,
                                vector[int64_t]* offsets, vector[int64_t]* intervals) except +
    Status rle_encode_intervals(const int64_t* offsets, int64_t n, const int64_t* intervals,
                                int64_t n_values, int64_t n_pixels, vector[string]* out) except +


cdef extern from "io/segment_stats.hpp" namespace "panoseg" nogil:
    Status segment_stats(const uint32_t* map, int64_t height, int64_t width,
                         const uint32_t* ids, int64_t n, int64_t* area, int64_t* bbox) except +
    void distinct_ids(const uint32_t* map, int64_t n_pixels, vector[uint32_t]* ids) except +


cdef extern from "io/json_reader.hpp" namespace "panoseg" nogil:
    cdef struct JsonSpan:
        size_t begin
        size_t end
        cbool present


cdef extern from "io/panoptic_json_scan.hpp" namespace "panoseg" nogil:
    cdef struct ScannedImage:
        int64_t id
        int64_t height
        int64_t width
        uint8_t has
    const uint8_t kHasHeight
    const uint8_t kHasWidth
    cdef cppclass PanopticJsonScan:
        JsonSpan images
        JsonSpan categories
        cbool images_read
        vector[ScannedImage] image_sizes
        vector[int64_t] image_id
        vector[JsonSpan] file_name
        vector[int64_t] segment_start
    cbool scan_json "panoseg::scan_panoptic_json"(const uint8_t* data, size_t size,
                                                   PanopticJsonScan* out) except +
    cbool scanned_segment_tables(const PanopticJsonScan& scan, const int64_t* annotations,
                                 int64_t n, const int64_t* category_ids,
                                 const int32_t* category_index, int64_t n_categories,
                                 cbool is_gt, int64_t* bounds, uint8_t* valid, uint32_t* ids,
                                 int32_t* category, uint8_t* iscrowd, double* area) except +
    int64_t scanned_segment_count(const PanopticJsonScan& scan, const int64_t* annotations,
                                  int64_t n) except +


cdef extern from "eval/pair_count.hpp" namespace "panoseg" nogil:
    const int32_t kVoidSlot
    const int32_t kUnknownSlot
    cdef struct PairArea:
        int32_t gt
        int32_t pred
        int64_t area
    cdef cppclass PairCountResult:
        vector[PairArea] pairs
        vector[uint32_t] unknown_gt
        vector[uint32_t] unknown_pred
    Status count_pairs(const uint32_t* gt_map, const uint32_t* pred_map, int64_t n_pixels,
                       const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids,
                       int64_t n_pred, PairCountResult* out) except +
    cdef cppclass PngPairStream:
        PngPairStream(int64_t height, int64_t width, const uint32_t* gt_ids, int64_t n_gt,
                      const uint32_t* pred_ids, int64_t n_pred, int64_t dilation) except +
        const Status& status()
        Status feed(const uint8_t* gt, size_t gt_size, const uint8_t* pred,
                    size_t pred_size) except +
        Status finish(PairCountResult* out, PairCountResult* band) except +
    Status count_pairs_png(const uint8_t* gt_raw, size_t gt_size, const uint8_t* pred_raw,
                           size_t pred_size, int64_t height, int64_t width,
                           const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids,
                           int64_t n_pred, PairCountResult* out) except +


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
    Status pq_match(const vector[PairArea]& pairs, const SegmentTable& gt,
                    const SegmentTable& pred, int32_t n_categories, ImageMatch* out) except +
    Status pq_match_boundary(const vector[PairArea]& pairs, const vector[PairArea]& band_pairs,
                             const SegmentTable& gt, const SegmentTable& pred,
                             int32_t n_categories, ImageMatch* out, vector[int64_t]* gt_band,
                             vector[int64_t]* pred_band) except +


cdef extern from "eval/boundary_band.hpp" namespace "panoseg" nogil:
    const int64_t kMaxDilation
    Status boundary_band_flags(const uint32_t* map, int64_t height, int64_t width,
                               int64_t dilation, uint8_t* out) except +
    Status count_band_pairs(const uint32_t* gt_map, const uint32_t* pred_map, int64_t height,
                            int64_t width, int64_t dilation, const uint32_t* gt_ids,
                            int64_t n_gt, const uint32_t* pred_ids, int64_t n_pred,
                            PairCountResult* band, PairCountResult* mask) except +


cdef extern from "eval/png_pair_file.hpp" namespace "panoseg" nogil:
    const size_t kPngPieceBytes
    int64_t boundary_dilation(int64_t height, int64_t width, double ratio)
    cdef cppclass PngPairLimits:
        int64_t max_pixels, gt_height, gt_width
        double dilation_ratio
    cdef cppclass PngPairCount:
        int64_t height, width, dilation
        PairCountResult pairs, band
    Status count_pairs_png_files(const uint8_t* gt_png, size_t gt_size, const uint8_t* pred_png,
                                 size_t pred_size, const PngPairLimits& limits,
                                 const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids,
                                 int64_t n_pred, PngPairCount* out) except +
    Status count_pairs_png_paths(const char* gt_path, const char* pred_path,
                                 const PngPairLimits& limits,
                                 const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids,
                                 int64_t n_pred, PngPairCount* out) except +


cdef extern from "io/file_write.hpp" namespace "panoseg" nogil:
    cdef enum class FileWrite:
        kWritten
        kDeclined
        kFailed
    FileWrite write_file_atomic(const char* path, const uint8_t* data, size_t size)


cdef extern from "io/png_read.hpp" namespace "panoseg" nogil:
    uint64_t png_file_limit(int64_t pixels)
    uint64_t png_head_limit(const uint8_t* head, size_t n, int64_t max_pixels)


cdef extern from "eval/extra_metrics.hpp" namespace "panoseg" nogil:
    cdef cppclass ExtraMetrics:
        vector[double] dagger_iou
        vector[int64_t] dagger_count
        vector[double] cover_iou, cover_area
        vector[int64_t] size_tp, size_fp, size_fn
        vector[double] size_iou
        vector[int32_t] confusion_gt, confusion_pred
        vector[int64_t] sem_inter, sem_gt, sem_pred
    Status extra_metrics(const vector[PairArea]& pairs, const SegmentTable& gt,
                         const SegmentTable& pred, const uint8_t* isthing, int32_t n_categories,
                         const ImageMatch& match, ExtraMetrics* out) except +


cdef extern from "eval/stats_sink.hpp" namespace "panoseg" nogil:
    cdef cppclass SinkTotals:
        int64_t n_images, n_images_extra
        vector[int64_t] ints, cells
        vector[int32_t] confusion_gt, confusion_pred
        vector[double] values
    # (Named apart from _core.pyx's StatsSink, the Python class around it.)
    cdef cppclass CStatsSink "panoseg::StatsSink":
        CStatsSink(int32_t n_categories, cbool boundary) except +
        Status add(const ImageMatch& match, const ImageMatch* bmatch,
                   const ExtraMetrics* extra) except +
        void drain(SinkTotals* out) except +
        int32_t n_categories()
        cbool boundary()


cdef extern from "merge/mask_paste.hpp" namespace "panoseg" nogil:
    cdef enum class PassOrder(int):
        kHorizontalFirst
        kPillow13
    Status paste_masks_intervals(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                                 const float* boxes, int64_t height, int64_t width,
                                 cbool column_major, int threads, vector[int64_t]* offsets,
                                 vector[int64_t]* intervals, PassOrder order) except +
    Status paste_masks_dense(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                             const float* boxes, int64_t height, int64_t width, int threads,
                             uint8_t* out, PassOrder order) except +


cdef extern from "merge/panoptic_merge.hpp" namespace "panoseg" nogil:
    cdef cppclass IntervalMasks:
        const int64_t* offsets
        const int64_t* intervals
        int64_t n
        int64_t n_values
    # Named CSegmentIdAssigner here: SegmentIdAssigner is the Python class that wraps it.
    cdef cppclass CSegmentIdAssigner "panoseg::SegmentIdAssigner":
        CSegmentIdAssigner(const uint32_t* stuff_colour_ids, int64_t n_stuff, uint64_t seed,
                           int64_t expected_segments) except +
        uint32_t thing_id(uint32_t colour_id) except +
        uint32_t stuff_id(uint32_t colour_id) except +
    cdef struct MergeCategory:
        uint32_t colour_id
        cbool isthing
    cdef struct MergedSegment:
        uint32_t id
        int32_t category
        int32_t source
        cbool isthing
    cdef cppclass MergeParams:
        double overlap_thr
        double stuff_area_limit
    cdef struct PaintedRun:
        int64_t begin
        int64_t end
        uint32_t id
    Status panoptic_merge(int64_t n_pixels, const IntervalMasks& instances,
                          const int32_t* instance_category, const IntervalMasks& stuff,
                          const int32_t* stuff_category, const MergeCategory* categories,
                          int32_t n_categories, const MergeParams& params,
                          CSegmentIdAssigner* ids, vector[PaintedRun]* runs,
                          vector[MergedSegment]* segments) except +
    void render_runs(const vector[PaintedRun]& runs, int64_t n_pixels, uint32_t* canvas) except +
    void runs_to_png_up_scanlines(const vector[PaintedRun]& runs, int64_t height, int64_t width,
                                  uint8_t* out) except +
    void runs_to_up_pixels(const vector[PaintedRun]& runs, int64_t height, int64_t width,
                           vector[FilteredPixel]* out) except +
    void run_stats(const vector[PaintedRun]& runs, int64_t height, int64_t width,
                   cbool column_major, const vector[MergedSegment]& segments, int64_t* area,
                   int64_t* bbox) except +
    Status label_map_intervals(const int32_t* labels, int64_t n_pixels, int32_t n_labels,
                               vector[int64_t]* offsets, vector[int64_t]* intervals) except +
    Status dense_masks_intervals(const uint8_t* masks, int64_t n, int64_t n_pixels,
                                 vector[int64_t]* offsets, vector[int64_t]* intervals) except +
    uint32_t* thread_scratch_canvas(int64_t n) except +
    void transpose_u32(const uint32_t* inp, int64_t height, int64_t width, uint32_t* out) except +


cdef extern from "merge/results_scan.hpp" namespace "panoseg" nogil:
    cdef struct ScannedResult:
        int64_t image_id
        JsonSpan image_id_string
        cbool image_id_is_string
        int64_t category_id
        double score
        int64_t height
        int64_t width
        size_t counts_begin
        size_t counts_end
        cbool counts_unescaped
        cbool simple_mask
        int32_t category
    cdef cppclass MergeResultsScan:
        vector[ScannedResult] results
        vector[char] unescaped
        vector[int64_t] image_start
        vector[int64_t] rows
    cbool scan_merge_results_c "panoseg::scan_merge_results"(
        const uint8_t* data, size_t size, cbool with_score, MergeResultsScan* out) except +
    cbool group_merge_results(MergeResultsScan* scan, const int64_t* image_of, int64_t n_images,
                              const int64_t* heights, const int64_t* widths,
                              const int64_t* category_ids, const int32_t* category_index,
                              const uint8_t* allowed, int64_t n_categories, cbool with_score,
                              double confidence_thr) except +


cdef extern from "semantic/label_map.hpp" namespace "panoseg" nogil:
    Status ids_to_labels(const uint32_t* ids, int64_t n_pixels, const uint32_t* seg_ids,
                         const uint8_t* seg_labels, int64_t n_seg, uint8_t void_label,
                         uint8_t* out) except +
