// Counts the area of every (GT segment, predicted segment) overlap of one image in a single pass
// over the pixels, without sorting them (panopticapi sorts a uint64 key per pixel with np.unique).
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "common/id_index.hpp"
#include "common/status.hpp"
#include "io/png_unfilter.hpp"

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
  void finish(PairCountResult* out) const;
  const IdIndex& gt_index() const { return gt_index_; }
  const IdIndex& pred_index() const { return pred_index_; }
  // Whether a pair of the result involves an id absent from the GT (pred) table.
  static bool unknown_seen(const PairCountResult& r, bool gt);

 private:
  IdIndex gt_index_, pred_index_;
  int64_t rows_ = 0, cols_ = 0;
  bool dense_ = true;
  std::vector<int64_t> matrix_;
  std::unordered_map<int64_t, int64_t> sparse_;
  Status status_;
  uint32_t g_id_ = 0, p_id_ = 0;  // the ids of the current run and their slots (0 = VOID)
  int32_t g_ = kVoidSlot, p_ = kVoidSlot;
};

// gt_map and pred_map are C-contiguous maps of n_pixels ids each; gt_ids / pred_ids the segment
// tables' ids. Table errors as PairCounter's.
Status count_pairs(const uint32_t* gt_map, const uint32_t* pred_map, int64_t n_pixels,
                   const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids, int64_t n_pred,
                   PairCountResult* out);

// The same straight from the two PNGs' inflated image data (8-bit RGB, non-interlaced, both
// height x width), decoding row by row: the id maps are never materialized. Corrupt image data:
// the PNG codes of png_unfilter_rgb_to_id, with `where` kGt or kPred. Unknown ids show as pairs
// with kUnknownSlot but are not listed (the caller decodes the maps for the error message).
Status count_pairs_png(const uint8_t* gt_raw, size_t gt_size, const uint8_t* pred_raw,
                       size_t pred_size, int64_t height, int64_t width, const uint32_t* gt_ids,
                       int64_t n_gt, const uint32_t* pred_ids, int64_t n_pred,
                       PairCountResult* out);

}  // namespace panoseg
