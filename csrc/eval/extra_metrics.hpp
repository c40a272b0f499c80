// Metrics beyond panopticapi's PQ, from the same overlap table and matching (no extra pass over
// the pixels). All are additive over images, so they reduce like PQ's tp / fp / fn / IoU sums.
//
//  - PQ-dagger (Porzi et al. 2019, "Seamless Scene Segmentation"; torchmetrics'
//    ModifiedPanopticQuality): things as PQ; a stuff category present in an image's GT counts one
//    "segment" there and adds the IoU of the union of its predicted segments with the union of its
//    (non-crowd) GT segments, whatever that IoU (0 when they do not overlap); stuff has no false
//    positives or negatives. PQ-dagger_c = IoU sum / segment count for stuff.
//  - Parsing Covering (Yang et al. 2019, "DeeperLab"): per category, sum over its non-crowd GT
//    segments R of |R| * max IoU(R, R') over predicted segments R' of the same category, and
//    sum of |R|; PC_c = their ratio.
//  - PQ by size: tp / fp / fn / IoU sums per category and COCO area range (small < 32^2 <=
//    medium < 96^2 <= large); TPs and FNs by the GT segment's area, FPs by the prediction's.
//  - Confusion: for every unmatched non-crowd GT segment, the category of the known prediction
//    overlapping it most (ties: the lower table row), or -1 when none overlaps it.
//  - Semantic segmentation (hotcoco's PanopticEval conventions): per category, pixels of GT
//    category c (crowd included; GT VOID and ids no GT segment lists ignored entirely), pixels
//    predicted as c (by a listed prediction) on those, and their intersection: mIoU_c =
//    inter / (gt + pred - inter), Acc_c = inter / gt. Predicted VOID on a labelled GT pixel
//    counts in sem_gt only.
// IoUs use panopticapi's convention throughout: |P & G| / (|P| + |G| - |P & G| - |P on GT VOID|).
#pragma once
#include <cstdint>
#include <vector>

#include "common/status.hpp"
#include "eval/pair_count.hpp"
#include "eval/pq_match.hpp"

namespace panoseg {

constexpr int kSizeBuckets = 3;
constexpr double kSmallArea = 32.0 * 32.0, kMediumArea = 96.0 * 96.0;

struct ExtraMetrics {
  std::vector<double> dagger_iou;       // per category (stuff only)
  std::vector<int64_t> dagger_count;    // per category (stuff only)
  std::vector<double> cover_iou;        // per category: sum |R| * max IoU
  std::vector<double> cover_area;       // per category: sum |R|
  std::vector<int64_t> size_tp, size_fp, size_fn;  // n_categories x kSizeBuckets, row-major
  std::vector<double> size_iou;
  std::vector<int32_t> confusion_gt, confusion_pred;  // one entry per unmatched GT segment
  std::vector<int64_t> sem_inter, sem_gt, sem_pred;  // per category, pixels
};

// `match` is pq_match's result for the same pairs and tables; `isthing` has n_categories flags.
// Tables, pairs or a match that do not fit together: kBadArgument; a category index out of
// range: kBadCategory (as pq_match).
Status extra_metrics(const std::vector<PairArea>& pairs, const SegmentTable& gt,
                     const SegmentTable& pred, const uint8_t* isthing, int32_t n_categories,
                     const ImageMatch& match, ExtraMetrics* out);

}  // namespace panoseg
