#include "eval/pair_count.hpp"

#include <algorithm>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/checked.hpp"
#include "common/id_index.hpp"
#include "io/png_unfilter.hpp"
#include "io/rgb_id.hpp"

namespace panoseg {
namespace {

// Above this many (GT x prediction) cells the overlap table switches from a dense matrix to a
// hash map, so images with thousands of segments neither allocate nor clear huge tables.
constexpr int64_t kDenseLimit = int64_t(1) << 20;

Status build_index(const uint32_t* ids, int64_t n, IdIndex* index, StatusWhere where) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t id = ids[i];
    if (id == 0u || id > kMaxSegmentId) return fail(StatusCode::kBadId, where, i, id);
    if (!index->insert(id, int32_t(i))) return fail(StatusCode::kDuplicateId, where, i, id);
  }
  return ok_status();
}

// A table size PairCounter takes (rows fit int32 after the +2 shift of the slots), else 0: the
// members are built before the constructor's checks run, so they get a safe size and the body
// then reports kBadArgument.
inline int64_t table_size(int64_t n) { return n >= 0 && n < INT32_MAX - 2 ? n : 0; }

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

PairCounter::PairCounter(const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids,
                         int64_t n_pred)
    : gt_index_(table_size(n_gt)), pred_index_(table_size(n_pred)) {
  if (n_gt < 0 || n_pred < 0 || n_gt >= INT32_MAX - 2 || n_pred >= INT32_MAX - 2 ||
      (gt_ids == nullptr && n_gt > 0) || (pred_ids == nullptr && n_pred > 0)) {
    status_ = fail(StatusCode::kBadArgument);
    return;
  }
  status_ = build_index(gt_ids, n_gt, &gt_index_, StatusWhere::kGt);
  if (!status_.ok()) return;
  status_ = build_index(pred_ids, n_pred, &pred_index_, StatusWhere::kPred);
  if (!status_.ok()) return;
  // Slots shifted by +2 so void and unknown get the first two rows/columns. Both are < 2^31
  // (checked above), so rows_ * cols_ < 2^62 and every cell index fits int64.
  rows_ = n_gt + 2;
  cols_ = n_pred + 2;
  dense_ = rows_ * cols_ <= kDenseLimit;
  if (dense_) matrix_.assign(size_t(rows_ * cols_), 0);
}

void PairCounter::add(const uint32_t* gt, const uint32_t* pred, int64_t n) {
  // Panoptic maps are piecewise constant: find where the (GT, pred) pair changes, and touch the
  // table (and the id lookups) once per run of equal pairs rather than once per pixel.
  int64_t i = 0;
  while (i < n) {
    if (gt[i] != g_id_) {
      g_id_ = gt[i];
      g_ = slot_of(g_id_, gt_index_);
    }
    if (pred[i] != p_id_) {
      p_id_ = pred[i];
      p_ = slot_of(p_id_, pred_index_);
    }
    const int64_t end = run_end(gt, pred, i, n);
    const int64_t cell = int64_t(g_ + 2) * cols_ + (p_ + 2);
    if (dense_)
      matrix_[size_t(cell)] += end - i;
    else
      sparse_[cell] += end - i;
    i = end;
  }
}

void PairCounter::finish(PairCountResult* out) const {
  out->pairs.clear();
  out->unknown_gt.clear();
  out->unknown_pred.clear();
  if (dense_) {
    for (int64_t r = 0; r < rows_; ++r)
      for (int64_t c = 0; c < cols_; ++c) {
        const int64_t n = matrix_[size_t(r * cols_ + c)];
        if (n) out->pairs.push_back({int32_t(r - 2), int32_t(c - 2), n});
      }
  } else {
    std::vector<std::pair<int64_t, int64_t>> cells(sparse_.begin(), sparse_.end());
    std::sort(cells.begin(), cells.end());
    for (const auto& kv : cells)
      out->pairs.push_back({int32_t(kv.first / cols_ - 2), int32_t(kv.first % cols_ - 2), kv.second});
  }
}

bool PairCounter::unknown_seen(const PairCountResult& r, bool gt) {
  for (const PairArea& pa : r.pairs)
    if ((gt ? pa.gt : pa.pred) == kUnknownSlot) return true;
  return false;
}

Status count_pairs(const uint32_t* gt_map, const uint32_t* pred_map, int64_t n_pixels,
                   const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids, int64_t n_pred,
                   PairCountResult* out) {
  if (n_pixels < 0 || ((gt_map == nullptr || pred_map == nullptr) && n_pixels > 0))
    return fail(StatusCode::kBadArgument);
  PairCounter counter(gt_ids, n_gt, pred_ids, n_pred);
  if (!counter.status().ok()) return counter.status();
  if (n_pixels > 0) counter.add(gt_map, pred_map, n_pixels);
  counter.finish(out);
  if (PairCounter::unknown_seen(*out, true))
    collect_unknown(gt_map, n_pixels, counter.gt_index(), &out->unknown_gt);
  if (PairCounter::unknown_seen(*out, false))
    collect_unknown(pred_map, n_pixels, counter.pred_index(), &out->unknown_pred);
  return ok_status();
}

Status count_pairs_png(const uint8_t* gt_raw, size_t gt_size, const uint8_t* pred_raw,
                       size_t pred_size, int64_t height, int64_t width, const uint32_t* gt_ids,
                       int64_t n_gt, const uint32_t* pred_ids, int64_t n_pred,
                       PairCountResult* out) {
  // image_size_ok first: PngIdRows forms products of the sizes (common/checked.hpp).
  if (!image_size_ok(height, width)) return fail(StatusCode::kBadArgument);
  PairCounter counter(gt_ids, n_gt, pred_ids, n_pred);
  if (!counter.status().ok()) return counter.status();
  PngIdRows gt_rows(gt_raw, gt_size, height, width), pred_rows(pred_raw, pred_size, height, width);
  // A row buffer only for a PNG whose data size matched (then width < its size): never sized by
  // a claimed width with no data behind it. A PNG whose size did not match fails its first
  // next() without touching the buffer, so the errors come out as before.
  std::vector<uint32_t> g(gt_rows.status().ok() ? size_t(width) : 0);
  std::vector<uint32_t> p(pred_rows.status().ok() ? size_t(width) : 0);
  for (int64_t y = 0; y < height; ++y) {
    const bool ok_g = gt_rows.next(g.data());
    const bool ok_p = ok_g && pred_rows.next(p.data());
    if (!ok_g || !ok_p) {
      Status bad = ok_g ? pred_rows.status() : gt_rows.status();
      bad.where = ok_g ? StatusWhere::kPred : StatusWhere::kGt;
      return bad;
    }
    counter.add(g.data(), p.data(), width);
  }
  counter.finish(out);
  // Unknown ids are an error; the caller decodes the maps to list them.
  return ok_status();
}

}  // namespace panoseg
