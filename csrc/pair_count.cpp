#include "pair_count.hpp"

#include <algorithm>
#include <unordered_map>

#include "id_index.hpp"
#include "rgb_id.hpp"

namespace panoseg {
namespace {

// Above this many (GT x prediction) cells the overlap table switches from a dense matrix to a
// hash map, so images with thousands of segments neither allocate nor clear huge tables.
constexpr int64_t kDenseLimit = int64_t(1) << 20;

bool build_index(const uint32_t* ids, int64_t n, IdIndex* index, uint32_t* bad_id,
                 bool* duplicate) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t id = ids[i];
    if (id == 0u || id > kMaxSegmentId) {
      *bad_id = id;
      *duplicate = false;
      return false;
    }
    if (!index->insert(id, int32_t(i))) {
      *bad_id = id;
      *duplicate = true;
      return false;
    }
  }
  return true;
}

inline int32_t slot_of(uint32_t id, const IdIndex& index) {
  if (id == 0u) return kVoidSlot;
  const int32_t s = index.find(id);
  return s == IdIndex::kMissing ? kUnknownSlot : s;
}

void collect_unknown(const uint32_t* map, int64_t n_pixels, const IdIndex& index,
                     std::vector<uint32_t>* out) {
  // Only reached for invalid input: a second pass that lists the offending ids for the error.
  uint32_t prev = 0;
  for (int64_t i = 0; i < n_pixels; ++i) {
    const uint32_t id = map[i];
    if (id == prev || id == 0u) continue;
    prev = id;
    if (index.find(id) == IdIndex::kMissing) out->push_back(id);
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

}  // namespace

PairCountStatus count_pairs(const uint32_t* gt_map, const uint32_t* pred_map, int64_t n_pixels,
                            const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids,
                            int64_t n_pred, PairCountResult* out, uint32_t* bad_id) {
  out->pairs.clear();
  out->unknown_gt.clear();
  out->unknown_pred.clear();
  IdIndex gt_index(n_gt), pred_index(n_pred);
  bool duplicate = false;
  if (!build_index(gt_ids, n_gt, &gt_index, bad_id, &duplicate))
    return duplicate ? PairCountStatus::kDuplicateGtId : PairCountStatus::kBadGtId;
  if (!build_index(pred_ids, n_pred, &pred_index, bad_id, &duplicate))
    return duplicate ? PairCountStatus::kDuplicatePredId : PairCountStatus::kBadPredId;
  if (n_pixels <= 0) return PairCountStatus::kOk;

  // Slots shifted by +2 so void and unknown get the first two rows/columns.
  const int64_t rows = n_gt + 2, cols = n_pred + 2;
  const bool dense = rows * cols <= kDenseLimit;
  std::vector<int64_t> matrix(dense ? size_t(rows * cols) : 0, 0);
  std::unordered_map<int64_t, int64_t> sparse;
  auto add = [&](int32_t g, int32_t p, int64_t n) {
    const int64_t cell = int64_t(g + 2) * cols + (p + 2);
    if (dense)
      matrix[size_t(cell)] += n;
    else
      sparse[cell] += n;
  };

  // Panoptic maps are piecewise constant: accumulate runs of an unchanged (GT, pred) pair and
  // touch the table (and the id lookup) only where the pair changes.
  uint32_t g_id = gt_map[0], p_id = pred_map[0];
  int32_t g = slot_of(g_id, gt_index);
  int32_t p = slot_of(p_id, pred_index);
  int64_t run = 0;
  for (int64_t i = 0; i < n_pixels; ++i) {
    const uint32_t gi = gt_map[i], pi = pred_map[i];
    if ((gi ^ g_id) | (pi ^ p_id)) {
      add(g, p, run);
      run = 0;
      if (gi != g_id) {
        g_id = gi;
        g = slot_of(gi, gt_index);
      }
      if (pi != p_id) {
        p_id = pi;
        p = slot_of(pi, pred_index);
      }
    }
    ++run;
  }
  add(g, p, run);

  if (dense) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t n = matrix[size_t(r * cols + c)];
        if (n) out->pairs.push_back({int32_t(r - 2), int32_t(c - 2), n});
      }
  } else {
    std::vector<std::pair<int64_t, int64_t>> cells(sparse.begin(), sparse.end());
    std::sort(cells.begin(), cells.end());
    for (const auto& kv : cells)
      out->pairs.push_back({int32_t(kv.first / cols - 2), int32_t(kv.first % cols - 2), kv.second});
  }
  bool any_unknown_gt = false, any_unknown_pred = false;
  for (const PairArea& pa : out->pairs) {
    any_unknown_gt |= pa.gt == kUnknownSlot;
    any_unknown_pred |= pa.pred == kUnknownSlot;
  }
  if (any_unknown_gt) collect_unknown(gt_map, n_pixels, gt_index, &out->unknown_gt);
  if (any_unknown_pred) collect_unknown(pred_map, n_pixels, pred_index, &out->unknown_pred);
  return PairCountStatus::kOk;
}

}  // namespace panoseg
