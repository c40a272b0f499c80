#include "pair_count.hpp"

#include <algorithm>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// First index >= i where (gt, pred) differs from (gt[i], pred[i]), or n.
inline int64_t run_end(const uint32_t* gt, const uint32_t* pred, int64_t i, int64_t n) {
  const uint32_t g = gt[i], p = pred[i];
  int64_t j = i + 1;
#if defined(__SSE2__)
  // Eight pixels per step: the runs are long (hundreds of pixels), so this loop is the kernel.
  const __m128i vg = _mm_set1_epi32(int(g)), vp = _mm_set1_epi32(int(p));
  for (; j + 8 <= n; j += 8) {
    const __m128i* gp = reinterpret_cast<const __m128i*>(gt + j);
    const __m128i* pp = reinterpret_cast<const __m128i*>(pred + j);
    const __m128i e0 = _mm_and_si128(_mm_cmpeq_epi32(_mm_loadu_si128(gp), vg),
                                     _mm_cmpeq_epi32(_mm_loadu_si128(pp), vp));
    const __m128i e1 = _mm_and_si128(_mm_cmpeq_epi32(_mm_loadu_si128(gp + 1), vg),
                                     _mm_cmpeq_epi32(_mm_loadu_si128(pp + 1), vp));
    const unsigned mask = unsigned(_mm_movemask_epi8(e0)) | (unsigned(_mm_movemask_epi8(e1)) << 16);
    if (mask != 0xFFFFFFFFu) return j + __builtin_ctz(~mask) / 4;
  }
#endif
  while (j < n && gt[j] == g && pred[j] == p) ++j;
  return j;
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

  // Panoptic maps are piecewise constant: find where the (GT, pred) pair changes, and touch the
  // table (and the id lookups) once per run of equal pairs rather than once per pixel.
  uint32_t g_id = gt_map[0], p_id = pred_map[0];
  int32_t g = slot_of(g_id, gt_index), p = slot_of(p_id, pred_index);
  int64_t i = 0;
  while (i < n_pixels) {
    const int64_t end = run_end(gt_map, pred_map, i, n_pixels);
    add(g, p, end - i);
    i = end;
    if (i == n_pixels) break;
    if (gt_map[i] != g_id) {
      g_id = gt_map[i];
      g = slot_of(g_id, gt_index);
    }
    if (pred_map[i] != p_id) {
      p_id = pred_map[i];
      p = slot_of(p_id, pred_index);
    }
  }

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
