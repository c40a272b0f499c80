// Counts the area of every (GT segment, predicted segment) overlap of one image in a single pass
// over the pixels, without sorting them (panopticapi sorts a uint64 key per pixel with np.unique).
#pragma once
#include <cstdint>
#include <vector>

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

enum class PairCountStatus : int {
  kOk = 0,
  kDuplicateGtId = 1,
  kDuplicatePredId = 2,
  kBadGtId = 3,  // 0 or above 2^24 - 1 in a table
  kBadPredId = 4,
};

// gt_map and pred_map are C-contiguous maps of n_pixels ids each; gt_ids / pred_ids the segment
// tables' ids. On a table error, `bad_id` receives the offending id.
PairCountStatus count_pairs(const uint32_t* gt_map, const uint32_t* pred_map, int64_t n_pixels,
                            const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids,
                            int64_t n_pred, PairCountResult* out, uint32_t* bad_id);

}  // namespace panoseg
