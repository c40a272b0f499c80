#include "eval/pq_match.hpp"

#include <algorithm>
#include <numeric>

#include "common/checked.hpp"

namespace panoseg {

Status check_match_inputs(const std::vector<PairArea>& pairs, const SegmentTable& gt,
                          const SegmentTable& pred, int32_t n_categories) {
  if (n_categories < 1 || gt.n < 0 || pred.n < 0 ||
      ((gt.ids == nullptr || gt.category == nullptr) && gt.n > 0) ||
      ((pred.ids == nullptr || pred.category == nullptr) && pred.n > 0))
    return fail(StatusCode::kBadArgument);
  for (int64_t i = 0; i < gt.n; ++i)
    if (gt.category[i] < 0 || gt.category[i] >= n_categories)
      return fail(StatusCode::kBadCategory, StatusWhere::kGt, i, gt.category[i]);
  for (int64_t j = 0; j < pred.n; ++j)
    if (pred.category[j] < 0 || pred.category[j] >= n_categories)
      return fail(StatusCode::kBadCategory, StatusWhere::kPred, j, pred.category[j]);
  // The areas must be >= 0 and their total must fit int64: every per-segment and per-category
  // sum below (gt_pixels, pred_pixels, pred_on_void, pred_on_crowd) is a partial sum of them,
  // so none can overflow. (count_pairs' areas add up to the pixel count; this guards a caller
  // with a table of its own.)
  int64_t total = 0;
  for (const PairArea& pa : pairs)
    if (pa.gt < kUnknownSlot || pa.gt >= gt.n || pa.pred < kUnknownSlot || pa.pred >= pred.n ||
        pa.area < 0 || !checked_add(total, pa.area, &total))
      return fail(StatusCode::kBadArgument);
  return Status{};
}

namespace {

// panopticapi's matching with the IoU of a candidate pair (the mask IoU, computed here) passed
// through `pair_iou(pair, mask_iou)` before the > 0.5 test and the IoU sums.
template <class PairIou>
void match_with(const std::vector<PairArea>& pairs, const SegmentTable& gt,
                const SegmentTable& pred, int32_t n_categories, ImageMatch* out,
                PairIou pair_iou) {
  const size_t nc = size_t(n_categories), ng = size_t(gt.n), np = size_t(pred.n);
  out->tp.assign(nc, 0);
  out->fp.assign(nc, 0);
  out->fn.assign(nc, 0);
  out->iou_sum.assign(nc, 0.0);
  out->gt_pixels.assign(ng, 0);
  out->pred_pixels.assign(np, 0);
  out->gt_match.assign(ng, -1);
  out->gt_match_iou.assign(ng, 0.0);
  out->pred_match.assign(np, -1);
  out->pred_ignored.assign(np, 0);

  std::vector<int64_t> pred_on_void(np, 0);
  for (const PairArea& pa : pairs) {
    if (pa.gt >= 0) out->gt_pixels[size_t(pa.gt)] += pa.area;
    if (pa.pred >= 0) {
      out->pred_pixels[size_t(pa.pred)] += pa.area;
      if (pa.gt == kVoidSlot) pred_on_void[size_t(pa.pred)] += pa.area;
    }
  }

  // Visit candidate pairs in ascending (GT id, pred id) order, as panopticapi does, so that the
  // per-category IoU sums are accumulated in the same order and come out bit-identical.
  std::vector<size_t> order;
  order.reserve(pairs.size());
  for (size_t k = 0; k < pairs.size(); ++k) {
    const PairArea& pa = pairs[k];
    if (pa.gt < 0 || pa.pred < 0) continue;
    if (gt.iscrowd && gt.iscrowd[pa.gt]) continue;
    if (gt.category[pa.gt] != pred.category[pa.pred]) continue;
    order.push_back(k);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const uint32_t ga = gt.ids[pairs[a].gt], gb = gt.ids[pairs[b].gt];
    if (ga != gb) return ga < gb;
    return pred.ids[pairs[a].pred] < pred.ids[pairs[b].pred];
  });
  for (size_t k : order) {
    const PairArea& pa = pairs[k];
    const double gt_area = gt.area ? gt.area[pa.gt] : double(out->gt_pixels[size_t(pa.gt)]);
    const double pred_area = pred.area ? pred.area[pa.pred] : double(out->pred_pixels[size_t(pa.pred)]);
    const double uni = pred_area + gt_area - double(pa.area) - double(pred_on_void[size_t(pa.pred)]);
    if (!(uni > 0.0)) continue;  // only reachable with inconsistent JSON areas
    const double iou = pair_iou(pa, double(pa.area) / uni);
    if (iou > 0.5) {
      const int32_t c = gt.category[pa.gt];
      out->tp[size_t(c)] += 1;
      out->iou_sum[size_t(c)] += iou;
      out->gt_match[size_t(pa.gt)] = pa.pred;
      out->gt_match_iou[size_t(pa.gt)] = iou;
      out->pred_match[size_t(pa.pred)] = pa.gt;
    }
  }

  // Unmatched GT: crowd segments form the per-category crowd region (last one in JSON order
  // wins, as in panopticapi); the others are false negatives.
  std::vector<int32_t> crowd_of_category(nc, -1);
  for (int64_t i = 0; i < gt.n; ++i) {
    if (out->gt_match[size_t(i)] >= 0) continue;
    const int32_t c = gt.category[i];
    if (gt.iscrowd && gt.iscrowd[i])
      crowd_of_category[size_t(c)] = int32_t(i);
    else
      out->fn[size_t(c)] += 1;
  }

  // Unmatched predictions: ignored when mostly on VOID + the crowd region of their category.
  std::vector<int64_t> pred_on_crowd(np, 0);
  for (const PairArea& pa : pairs) {
    if (pa.gt < 0 || pa.pred < 0) continue;
    const int32_t c = pred.category[pa.pred];
    if (crowd_of_category[size_t(c)] == pa.gt) pred_on_crowd[size_t(pa.pred)] += pa.area;
  }
  for (int64_t j = 0; j < pred.n; ++j) {
    if (out->pred_match[size_t(j)] >= 0) continue;
    const double area = pred.area ? pred.area[j] : double(out->pred_pixels[size_t(j)]);
    const double covered = double(pred_on_void[size_t(j)] + pred_on_crowd[size_t(j)]);
    if (area > 0.0 && covered / area > 0.5) {
      out->pred_ignored[size_t(j)] = 1;
      continue;
    }
    out->fp[size_t(pred.category[j])] += 1;
  }
}

}  // namespace

Status pq_match(const std::vector<PairArea>& pairs, const SegmentTable& gt,
                const SegmentTable& pred, int32_t n_categories, ImageMatch* out) {
  const Status checked = check_match_inputs(pairs, gt, pred, n_categories);
  if (!checked.ok()) return checked;
  match_with(pairs, gt, pred, n_categories, out,
             [](const PairArea&, double mask_iou) { return mask_iou; });
  return ok_status();
}

Status pq_match_boundary(const std::vector<PairArea>& pairs,
                         const std::vector<PairArea>& band_pairs, const SegmentTable& gt,
                         const SegmentTable& pred, int32_t n_categories, ImageMatch* out,
                         std::vector<int64_t>* gt_band, std::vector<int64_t>* pred_band) {
  Status checked = check_match_inputs(pairs, gt, pred, n_categories);
  if (!checked.ok()) return checked;
  checked = check_match_inputs(band_pairs, gt, pred, n_categories);  // slots, areas, total
  if (!checked.ok()) return checked;
  const size_t ng = size_t(gt.n), np = size_t(pred.n);
  gt_band->assign(ng, 0);
  pred_band->assign(np, 0);
  std::vector<int64_t> band_on_void(np, 0);
  // The band intersections of two segments, sorted for lookup (count_band_pairs gives them
  // sorted already; a caller's own table need not be). The sums are partial sums of a total
  // check_match_inputs found to fit int64.
  std::vector<PairArea> inter;
  for (const PairArea& pa : band_pairs) {
    if (pa.gt >= 0) (*gt_band)[size_t(pa.gt)] += pa.area;
    if (pa.pred >= 0) {
      (*pred_band)[size_t(pa.pred)] += pa.area;
      if (pa.gt == kVoidSlot) band_on_void[size_t(pa.pred)] += pa.area;
      if (pa.gt >= 0 && pa.area > 0) inter.push_back(pa);
    }
  }
  const auto before = [](const PairArea& a, const PairArea& b) {
    return a.gt != b.gt ? a.gt < b.gt : a.pred < b.pred;
  };
  if (!std::is_sorted(inter.begin(), inter.end(), before))
    std::sort(inter.begin(), inter.end(), before);
  match_with(pairs, gt, pred, n_categories, out, [&](const PairArea& pa, double mask_iou) {
    // The reference's boundary IoU: b_inter / (pred band + GT band - b_inter - pred band on
    // GT VOID), and the pair's IoU is the smaller of the two.
    const auto it = std::lower_bound(inter.begin(), inter.end(), pa, before);
    int64_t b_inter = 0;
    for (auto k = it; k != inter.end() && k->gt == pa.gt && k->pred == pa.pred; ++k)
      b_inter += k->area;  // (a table of its own may list a pair twice)
    // In this order no partial result leaves 0..the table's total (which fits int64): the
    // entries of the two bands overlap exactly in the pair's own, and those on GT VOID are
    // not the GT segment's.
    const int64_t uni = (*pred_band)[size_t(pa.pred)] - b_inter + (*gt_band)[size_t(pa.gt)] -
                        band_on_void[size_t(pa.pred)];
    // uni > 0 for a consistent table (the GT band holds at least one pixel of a segment that
    // overlaps the prediction); an inconsistent one gets no boundary IoU.
    const double b_iou = uni > 0 ? double(b_inter) / double(uni) : 0.0;
    return b_iou < mask_iou ? b_iou : mask_iou;
  });
  return ok_status();
}

}  // namespace panoseg
