// The dataset statistics of PQ (and of the metrics beyond it) added up image by image in C++,
// for the images nobody needs one by one (pq_compute, eval without per-image output): their
// counts never become Python objects, so evaluating an image holds the GIL only to call the core.
//
// The sums are those of PQStats (panoseg/evaluation/stats.py), in its layout:
//  - integers, summed here: kIntFields blocks in PQStats._INT order (tp, fp, fn, segm_tp, segm_fp,
//    segm_fn, dagger_count, size_tp, size_fp, size_fn, sem_inter, sem_gt, sem_pred), each
//    n_categories long except the size blocks (n_categories x kSizeBuckets); and the confusion
//    of unmatched GT segments as its (GT category, prediction category or -1) pairs, one per
//    segment, as an image's result lists them (no n x n matrix: a label set may be large);
//  - floats, never rounded here: every nonzero per-category value of an image is kept as a term
//    (cell, value), cells numbered as PQStats numbers them (field f's cells start at
//    f * n_categories: iou, dagger_iou, cover_iou, cover_area, segm_iou, size_iou), for PQStats
//    to add exactly, as it adds the values of the images it is handed. So the sums are the same
//    bits whichever way an image goes and whatever the order.
// add() may be called from several threads at once; drain() hands everything over and empties.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "common/status.hpp"
#include "eval/extra_metrics.hpp"
#include "eval/pq_match.hpp"

namespace panoseg {

constexpr int kIntFields = 13;     // PQStats._INT
constexpr int kFloatFields = 6;    // PQStats._FLOAT (the last one, size_iou, is n x 3)

struct SinkTotals {
  int64_t n_images = 0;        // images added
  int64_t n_images_extra = 0;  // of which with the extra metrics
  std::vector<int64_t> ints;  // the integer blocks, one after the other (19 n values)
  std::vector<int32_t> confusion_gt, confusion_pred;  // one pair per unmatched GT segment
  std::vector<int64_t> cells;  // the float terms: cell and value
  std::vector<double> values;
};

class StatsSink {
 public:
  // n_categories >= 1 (else every add fails); boundary: the images are Boundary PQ's, whose
  // tp / fp / fn / iou come from the boundary match and segm_* from the mask match.
  StatsSink(int32_t n_categories, bool boundary);

  // Adds one image: `match` is pq_match's result, `bmatch` pq_match_boundary's (only read with
  // `boundary`), `extra` the extra metrics or nullptr. Arrays of the wrong length, or a
  // confusion category out of range: kBadArgument, and nothing is added; nothing either when
  // memory runs out (std::bad_alloc: the room is reserved before anything changes).
  Status add(const ImageMatch& match, const ImageMatch* bmatch, const ExtraMetrics* extra);

  // Moves the totals out (the sink is then empty, as new).
  void drain(SinkTotals* out);

  int32_t n_categories() const { return n_; }
  bool boundary() const { return boundary_; }

 private:
  int32_t n_;
  bool boundary_;
  std::mutex mutex_;
  SinkTotals totals_;
};

}  // namespace panoseg
