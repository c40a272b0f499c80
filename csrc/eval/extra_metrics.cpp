#include "eval/extra_metrics.hpp"

namespace panoseg {
namespace {

int size_bucket(double area) {
  if (area < kSmallArea) return 0;
  return area < kMediumArea ? 1 : 2;
}

}  // namespace

Status extra_metrics(const std::vector<PairArea>& pairs, const SegmentTable& gt,
                     const SegmentTable& pred, const uint8_t* isthing, int32_t n_categories,
                     const ImageMatch& match, ExtraMetrics* out) {
  const Status checked = check_match_inputs(pairs, gt, pred, n_categories);
  if (!checked.ok()) return checked;
  if (isthing == nullptr || match.gt_pixels.size() != size_t(gt.n) ||
      match.gt_match.size() != size_t(gt.n) || match.gt_match_iou.size() != size_t(gt.n) ||
      match.pred_pixels.size() != size_t(pred.n) || match.pred_match.size() != size_t(pred.n) ||
      match.pred_ignored.size() != size_t(pred.n))  // read per prediction below
    return fail(StatusCode::kBadArgument);
  const size_t nc = size_t(n_categories), ng = size_t(gt.n), np = size_t(pred.n);
  out->dagger_iou.assign(nc, 0.0);
  out->dagger_count.assign(nc, 0);
  out->cover_iou.assign(nc, 0.0);
  out->cover_area.assign(nc, 0.0);
  out->size_tp.assign(nc * kSizeBuckets, 0);
  out->size_fp.assign(nc * kSizeBuckets, 0);
  out->size_fn.assign(nc * kSizeBuckets, 0);
  out->size_iou.assign(nc * kSizeBuckets, 0.0);
  out->confusion_gt.clear();
  out->confusion_pred.clear();
  out->sem_inter.assign(nc, 0);
  out->sem_gt.assign(nc, 0);
  out->sem_pred.assign(nc, 0);
  // Partial sums of the table's total (check_match_inputs: it fits int64).
  for (const PairArea& pa : pairs) {
    if (pa.gt < 0) continue;  // GT VOID or an unlisted id: ignored
    const int32_t cg = gt.category[pa.gt];
    out->sem_gt[size_t(cg)] += pa.area;
    if (pa.pred < 0) continue;  // predicted VOID (or unlisted): a miss
    const int32_t cp = pred.category[pa.pred];
    out->sem_pred[size_t(cp)] += pa.area;
    if (cp == cg) out->sem_inter[size_t(cg)] += pa.area;
  }

  auto crowd = [&](int64_t g) { return gt.iscrowd != nullptr && gt.iscrowd[g] != 0; };
  auto gt_area = [&](int64_t g) {
    return gt.area ? gt.area[g] : double(match.gt_pixels[size_t(g)]);
  };
  auto pred_area = [&](int64_t p) {
    return pred.area ? pred.area[p] : double(match.pred_pixels[size_t(p)]);
  };
  std::vector<int64_t> pred_on_void(np, 0);
  for (const PairArea& pa : pairs)
    if (pa.pred >= 0 && pa.gt == kVoidSlot) pred_on_void[size_t(pa.pred)] += pa.area;

  // Parsing Covering: best same-category IoU of every GT segment. Confusion: the known
  // prediction overlapping each GT segment most.
  std::vector<double> best_iou(ng, 0.0);
  std::vector<int64_t> best_overlap(ng, 0);
  std::vector<int32_t> best_pred(ng, -1);
  // PQ-dagger stuff unions: GT area, predicted area, overlap, predicted area on GT VOID.
  std::vector<double> sg(nc, 0.0), sp(nc, 0.0), si(nc, 0.0), sv(nc, 0.0);
  for (const PairArea& pa : pairs) {
    if (pa.gt < 0 || pa.pred < 0) continue;
    const int64_t g = pa.gt, p = pa.pred;
    if (pa.area > best_overlap[size_t(g)] ||
        (pa.area == best_overlap[size_t(g)] && best_pred[size_t(g)] > p)) {
      best_overlap[size_t(g)] = pa.area;
      best_pred[size_t(g)] = int32_t(p);
    }
    const int32_t c = gt.category[g];
    if (c != pred.category[p] || crowd(g)) continue;
    const double uni = pred_area(p) + gt_area(g) - double(pa.area) - double(pred_on_void[size_t(p)]);
    if (uni > 0.0 && double(pa.area) / uni > best_iou[size_t(g)])
      best_iou[size_t(g)] = double(pa.area) / uni;
    if (!isthing[c]) si[size_t(c)] += double(pa.area);
  }
  for (int64_t g = 0; g < gt.n; ++g) {
    if (crowd(g)) continue;
    const int32_t c = gt.category[g];
    out->cover_iou[size_t(c)] += gt_area(g) * best_iou[size_t(g)];
    out->cover_area[size_t(c)] += gt_area(g);
    if (!isthing[c]) sg[size_t(c)] += gt_area(g);
    const size_t cell = size_t(c) * kSizeBuckets + size_t(size_bucket(gt_area(g)));
    if (match.gt_match[size_t(g)] >= 0) {
      out->size_tp[cell] += 1;
      out->size_iou[cell] += match.gt_match_iou[size_t(g)];
    } else {
      out->size_fn[cell] += 1;
      const int32_t p = best_pred[size_t(g)];
      out->confusion_gt.push_back(c);
      out->confusion_pred.push_back(p >= 0 ? pred.category[p] : -1);
    }
  }
  for (int64_t p = 0; p < pred.n; ++p) {
    const int32_t c = pred.category[p];
    if (!isthing[c]) {
      sp[size_t(c)] += pred_area(p);
      sv[size_t(c)] += double(pred_on_void[size_t(p)]);
    }
    if (match.pred_match[size_t(p)] < 0 && !match.pred_ignored[size_t(p)])
      out->size_fp[size_t(c) * kSizeBuckets + size_t(size_bucket(pred_area(p)))] += 1;
  }
  for (size_t c = 0; c < nc; ++c) {
    if (isthing[c] || sg[c] <= 0.0) continue;
    out->dagger_count[c] += 1;
    const double uni = sp[c] + sg[c] - si[c] - sv[c];
    if (si[c] > 0.0 && uni > 0.0) out->dagger_iou[c] += si[c] / uni;
  }
  return ok_status();
}

}  // namespace panoseg
