// Panoptic Quality matching of one image, from its overlap table (pair_count.hpp), following
// COCO panopticapi's pq_compute rules exactly:
//  - a (GT, prediction) pair is a candidate only if both are known segments, the GT is not crowd
//    and both have the same category;
//  - IoU = inter / (pred_area + gt_area - inter - area(pred on GT VOID)), match when IoU > 0.5;
//    gt_area is the GT JSON's, pred_area is counted from the PNG;
//  - unmatched non-crowd GT -> FN; an unmatched prediction is ignored when more than half of it lies
//    on GT VOID plus the crowd region of its category (the last crowd segment of that category in
//    JSON order), else FP.
#pragma once
#include <cstdint>
#include <vector>

#include "eval/pair_count.hpp"

namespace panoseg {

struct SegmentTable {
  const uint32_t* ids = nullptr;      // n ids (for the IoU summation order only)
  const int32_t* category = nullptr;  // n dense category indices in [0, n_categories)
  const uint8_t* iscrowd = nullptr;   // n flags; null = no crowd (predictions)
  const double* area = nullptr;       // n areas from the JSON; null = count from the PNG
  int64_t n = 0;
};

struct ImageMatch {
  // Per category (dense index).
  std::vector<int64_t> tp, fp, fn;
  std::vector<double> iou_sum;
  // Per segment.
  std::vector<int64_t> gt_pixels, pred_pixels;  // pixel counts in the maps
  std::vector<int32_t> gt_match;                // matched prediction row, or -1
  std::vector<double> gt_match_iou;             // IoU of that match (0 when unmatched)
  std::vector<int32_t> pred_match;              // matched GT row, or -1
  std::vector<uint8_t> pred_ignored;            // unmatched and mostly on VOID / crowd
};

// The checks every consumer of an image's overlap table runs on it and on the two segment
// tables: sizes and pointers (kBadArgument), category indices in [0, n_categories)
// (kBadCategory at (kGt or kPred, the row), the index as value), pair slots in range.
Status check_match_inputs(const std::vector<PairArea>& pairs, const SegmentTable& gt,
                          const SegmentTable& pred, int32_t n_categories);

// `pairs` is the overlap table of the image (slots index the two tables); inputs are checked by
// check_match_inputs.
Status pq_match(const std::vector<PairArea>& pairs, const SegmentTable& gt,
                const SegmentTable& pred, int32_t n_categories, ImageMatch* out);

// Boundary PQ (boundary-iou-api's coco_panoptic_api, iou_type="boundary"): pq_match with the
// IoU of every candidate pair replaced by min(mask IoU, boundary IoU), where boundary IoU =
// b_inter / (pred band + GT band - b_inter - pred band on GT VOID) from `band_pairs`, the
// overlap table of the two maps' bands (count_band_pairs in boundary_band.hpp). FN, FP and
// ignored predictions follow the mask rules (from `pairs`) given the boundary matches.
// Also returns every segment's band pixel count. Inputs are checked as pq_match's (both
// tables).
Status pq_match_boundary(const std::vector<PairArea>& pairs,
                         const std::vector<PairArea>& band_pairs, const SegmentTable& gt,
                         const SegmentTable& pred, int32_t n_categories, ImageMatch* out,
                         std::vector<int64_t>* gt_band, std::vector<int64_t>* pred_band);

}  // namespace panoseg
