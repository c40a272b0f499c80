// Counts the area of every (GT segment, predicted segment) overlap of one image in a single pass
// over the pixels, without sorting them (panopticapi sorts a uint64 key per pixel with np.unique).
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/id_index.hpp"
#include "common/status.hpp"
#include "io/png_row_runs.hpp"

namespace panoseg {

// Slot of a pixel's id in a segment table: a row index >= 0, or one of these.
constexpr int32_t kVoidSlot = -1;     // id 0
constexpr int32_t kUnknownSlot = -2;  // a nonzero id that is not in the table

struct PairArea {
  int32_t gt;    // GT slot
  int32_t pred;  // prediction slot
  int64_t area;  // pixels where both hold
};

struct PairCountResult {
  std::vector<PairArea> pairs;          // every nonzero overlap, in (gt slot, pred slot) order
  std::vector<uint32_t> unknown_gt;     // ids in the GT map absent from the GT table (ascending)
  std::vector<uint32_t> unknown_pred;   // same for the prediction
};

// Accumulates the overlap table over spans of pixels (whole maps, or row after row).
class PairCounter {
 public:
  // Table errors: kBadId (0 or above kMaxSegmentId) or kDuplicateId, at (kGt or kPred, the row),
  // the id as value.
  PairCounter(const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids, int64_t n_pred);
  const Status& status() const { return status_; }
  void add(const uint32_t* gt, const uint32_t* pred, int64_t n);  // only when status() is kOk
  // The same for one row of each map as runs (RgbRunDecoder; both rows of the same width, at
  // least one pixel): an id looked up once per run.
  void add_run_rows(RunRow gt, RunRow pred);
  // Adds the runs of the last add_run_rows() again (both rows unchanged from the previous ones).
  void repeat_run_rows();
  // The slots of a run's two ids (looked up only when an id changes from the previous call's)
  // and adding n pixels to the cell of two slots: for callers that find the runs themselves.
  void slots(uint32_t g, uint32_t p, int32_t* gs, int32_t* ps) {
    set_ids(g, p);
    *gs = g_;
    *ps = p_;
  }
  void add_slots(int32_t gs, int32_t ps, int64_t n) {
    add_cell(int64_t(gs + 2) * cols_ + (ps + 2), n);
  }
  void finish(PairCountResult* out) const;
  const IdIndex& gt_index() const { return gt_index_; }
  const IdIndex& pred_index() const { return pred_index_; }
  // Whether a pair of the result involves an id absent from the GT (pred) table.
  static bool unknown_seen(const PairCountResult& r, bool gt);

 private:
  void set_ids(uint32_t g, uint32_t p);
  void add_cell(int64_t cell, int64_t n) {
    if (dense_)
      matrix_[size_t(cell)] += n;
    else
      sparse_[cell] += n;
  }
  IdIndex gt_index_, pred_index_;
  int64_t rows_ = 0, cols_ = 0;
  bool dense_ = true;
  std::vector<int64_t> matrix_;
  std::unordered_map<int64_t, int64_t> sparse_;
  std::vector<std::pair<int64_t, int64_t>> row_runs_;  // (cell, pixels) of the last run rows
  Status status_;
  uint32_t g_id_ = 0, p_id_ = 0;  // the ids of the current run and their slots (0 = VOID)
  int32_t g_ = kVoidSlot, p_ = kVoidSlot;
};

// gt_map and pred_map are C-contiguous maps of n_pixels ids each; gt_ids / pred_ids the segment
// tables' ids. Table errors as PairCounter's.
Status count_pairs(const uint32_t* gt_map, const uint32_t* pred_map, int64_t n_pixels,
                   const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids, int64_t n_pred,
                   PairCountResult* out);

class RgbBandCounter;  // eval/boundary_band.hpp

// The pair count straight from the two PNGs' inflated image data (8-bit RGB, non-interlaced,
// both height x width), fed in chunks as they are inflated and decoded row by row: neither id
// map nor either whole image is ever stored. Rows are consumed in (GT, prediction) pairs; the
// bytes of an incomplete row wait for the next chunk. Not for use by two threads at once.
// With a dilation d >= 1, also the overlap table of the two maps' boundary bands
// (count_band_pairs' `band`), from the same rows (RgbBandCounter: O(d * runs) state).
class PngPairStream {
 public:
  // Table errors as PairCounter's; kBadArgument for a size outside common/checked.hpp's limits
  // or a dilation outside 0..kMaxDilation (0: no band table).
  PngPairStream(int64_t height, int64_t width, const uint32_t* gt_ids, int64_t n_gt,
                const uint32_t* pred_ids, int64_t n_pred, int64_t dilation = 0);
  ~PngPairStream();
  const Status& status() const { return status_; }
  // Appends the next inflated bytes of each image and counts every row pair now complete.
  // Returns status(): kPngBadFilter (index: the scanline) or kPngSizeMismatch (more data than
  // `height` rows; value: the bytes received), `where` kGt or kPred.
  Status feed(const uint8_t* gt, size_t gt_size, const uint8_t* pred, size_t pred_size);
  // After the last feed: kPngSizeMismatch (value: the bytes received) for an image that had
  // fewer than `height` rows, else the table (unknown ids as in count_pairs_png) and, with
  // `band` (only for a dilation >= 1, else kBadArgument), the band table.
  Status finish(PairCountResult* out, PairCountResult* band = nullptr);

 private:
  struct Side {  // one image's bytes: those waiting from earlier chunks, then the current chunk
    std::vector<uint8_t> pending;
    size_t pending_pos = 0;
    const uint8_t* chunk = nullptr;
    size_t chunk_size = 0, chunk_pos = 0, received = 0;
    size_t available() const { return pending.size() - pending_pos + chunk_size - chunk_pos; }
    const uint8_t* take(size_t line);  // the next line's bytes (available() >= line)
    void keep_rest();                  // the unused chunk bytes wait for the next feed
  };
  Status side_error(Status st, StatusWhere where, const Side& side) const;
  Status feed_checked(const uint8_t* gt, size_t gt_size, const uint8_t* pred, size_t pred_size);
  int64_t height_, width_, dilation_;
  size_t line_;
  PairCounter counter_;
  RgbRunDecoder gt_rows_, pred_rows_;
  Side gt_, pred_;
  Status status_;
  // The band counter (dilation >= 1 and some pixel interior; made with the first row, so a
  // claimed size with no data allocates nothing); with every pixel band, the band table is
  // the mask table and nothing more is needed.
  std::unique_ptr<RgbBandCounter> band_;
};

// The same for whole inflated images (one feed): kPngSizeMismatch first, for the GT then the
// prediction, when a size is not height * (3 * width + 1); corrupt image data: the PNG codes of
// png_unfilter_rgb_to_id, with `where` kGt or kPred. Unknown ids show as pairs with
// kUnknownSlot but are not listed (the caller decodes the maps for the error message).
Status count_pairs_png(const uint8_t* gt_raw, size_t gt_size, const uint8_t* pred_raw,
                       size_t pred_size, int64_t height, int64_t width, const uint32_t* gt_ids,
                       int64_t n_gt, const uint32_t* pred_ids, int64_t n_pred,
                       PairCountResult* out);

}  // namespace panoseg
