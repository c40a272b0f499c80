#include "eval/stats_sink.hpp"

#include <cstddef>
#include <utility>

namespace panoseg {

namespace {

// Where each integer field's block starts, in units of n_categories (size blocks are 3 n).
constexpr int kIntStart[kIntFields] = {0, 1, 2, 3, 4, 5, 6, 7, 10, 13, 16, 17, 18};
constexpr int kIntWidth = 19;

template <typename T>
bool has_length(const std::vector<T>& v, size_t n) {
  return v.size() == n;
}

void add_ints(const std::vector<int64_t>& from, int64_t* to) {
  for (size_t k = 0; k < from.size(); ++k) to[k] += from[k];
}

size_t nonzero(const std::vector<double>& v) {
  size_t count = 0;
  for (double x : v) count += x != 0.0;
  return count;
}

// The nonzero values as terms of cells first_cell, first_cell + 1, ... (zeros add nothing;
// -0.0 too, as PQStats skips them). The room is reserved: this cannot fail.
void add_terms(const std::vector<double>& from, int64_t first_cell, SinkTotals* out) {
  for (size_t k = 0; k < from.size(); ++k) {
    if (from[k] != 0.0) {
      out->cells.push_back(first_cell + static_cast<int64_t>(k));
      out->values.push_back(from[k]);
    }
  }
}

bool match_fits(const ImageMatch& m, size_t n) {
  return has_length(m.tp, n) && has_length(m.fp, n) && has_length(m.fn, n) &&
         has_length(m.iou_sum, n);
}

}  // namespace

StatsSink::StatsSink(int32_t n_categories, bool boundary)
    : n_(n_categories > 0 ? n_categories : 0), boundary_(boundary) {
  totals_.ints.assign(kIntWidth * static_cast<size_t>(n_), 0);
}

Status StatsSink::add(const ImageMatch& match, const ImageMatch* bmatch,
                      const ExtraMetrics* extra) {
  const size_t n = static_cast<size_t>(n_);
  const size_t n3 = n * kSizeBuckets;
  const ImageMatch& pq = boundary_ ? (bmatch ? *bmatch : match) : match;
  if (n == 0 || !match_fits(match, n) || (boundary_ && (!bmatch || !match_fits(*bmatch, n))))
    return fail(StatusCode::kBadArgument);
  if (extra) {
    const ExtraMetrics& e = *extra;
    if (!has_length(e.dagger_iou, n) || !has_length(e.dagger_count, n) ||
        !has_length(e.cover_iou, n) || !has_length(e.cover_area, n) ||
        !has_length(e.size_tp, n3) || !has_length(e.size_fp, n3) ||
        !has_length(e.size_fn, n3) || !has_length(e.size_iou, n3) ||
        !has_length(e.sem_inter, n) || !has_length(e.sem_gt, n) || !has_length(e.sem_pred, n) ||
        e.confusion_gt.size() != e.confusion_pred.size())
      return fail(StatusCode::kBadArgument);
    for (size_t k = 0; k < e.confusion_gt.size(); ++k) {
      const int64_t g = e.confusion_gt[k], p = e.confusion_pred[k];
      if (g < 0 || g >= n_ || p < -1 || p >= n_) return fail(StatusCode::kBadArgument);
    }
  }
  size_t terms = nonzero(pq.iou_sum) + (boundary_ ? nonzero(match.iou_sum) : 0);
  if (extra)
    terms += nonzero(extra->dagger_iou) + nonzero(extra->cover_iou) +
             nonzero(extra->cover_area) + nonzero(extra->size_iou);
  const size_t confused = extra ? extra->confusion_gt.size() : 0;
  std::lock_guard<std::mutex> lock(mutex_);
  SinkTotals& t = totals_;
  // Room first (this may throw std::bad_alloc), so that an image is added whole or not at all.
  t.cells.reserve(t.cells.size() + terms);
  t.values.reserve(t.values.size() + terms);
  t.confusion_gt.reserve(t.confusion_gt.size() + confused);
  t.confusion_pred.reserve(t.confusion_pred.size() + confused);
  int64_t* ints = t.ints.data();
  const int64_t cells_n = static_cast<int64_t>(n);
  add_ints(pq.tp, ints + kIntStart[0] * n);
  add_ints(pq.fp, ints + kIntStart[1] * n);
  add_ints(pq.fn, ints + kIntStart[2] * n);
  add_terms(pq.iou_sum, 0, &t);
  if (boundary_) {  // the mask PQ of the same pass
    add_ints(match.tp, ints + kIntStart[3] * n);
    add_ints(match.fp, ints + kIntStart[4] * n);
    add_ints(match.fn, ints + kIntStart[5] * n);
    add_terms(match.iou_sum, 4 * cells_n, &t);
  }
  if (extra) {
    const ExtraMetrics& e = *extra;
    add_ints(e.dagger_count, ints + kIntStart[6] * n);
    add_ints(e.size_tp, ints + kIntStart[7] * n);
    add_ints(e.size_fp, ints + kIntStart[8] * n);
    add_ints(e.size_fn, ints + kIntStart[9] * n);
    add_ints(e.sem_inter, ints + kIntStart[10] * n);
    add_ints(e.sem_gt, ints + kIntStart[11] * n);
    add_ints(e.sem_pred, ints + kIntStart[12] * n);
    add_terms(e.dagger_iou, 1 * cells_n, &t);
    add_terms(e.cover_iou, 2 * cells_n, &t);
    add_terms(e.cover_area, 3 * cells_n, &t);
    add_terms(e.size_iou, 5 * cells_n, &t);
    t.confusion_gt.insert(t.confusion_gt.end(), e.confusion_gt.begin(), e.confusion_gt.end());
    t.confusion_pred.insert(t.confusion_pred.end(), e.confusion_pred.begin(),
                            e.confusion_pred.end());
    ++t.n_images_extra;
  }
  ++t.n_images;
  return ok_status();
}

void StatsSink::drain(SinkTotals* out) {
  SinkTotals fresh;
  fresh.ints.assign(kIntWidth * static_cast<size_t>(n_), 0);
  std::lock_guard<std::mutex> lock(mutex_);
  *out = std::move(totals_);
  totals_ = std::move(fresh);
}

}  // namespace panoseg
