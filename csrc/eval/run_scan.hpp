// Helpers the overlap counters share (pair_count.cpp: mask PQ; boundary_band.cpp: the band
// tables): segment tables to slot indices, and runs of equal (GT, prediction) pixels.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/id_index.hpp"
#include "common/status.hpp"
#include "io/rgb_id.hpp"

namespace panoseg {

// Fills `index` with id -> row of a segment table; a VOID (0) or out-of-range id is kBadId and a
// repeated one kDuplicateId, at `where` and the row.
inline Status build_index(const uint32_t* ids, int64_t n, IdIndex* index, StatusWhere where) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t id = ids[i];
    if (id == 0u || id > kMaxSegmentId) return fail(StatusCode::kBadId, where, i, id);
    if (!index->insert(id, int32_t(i))) return fail(StatusCode::kDuplicateId, where, i, id);
  }
  return ok_status();
}

// A table size the counters take (rows fit int32 after the +2 shift of the slots), else 0: the
// members are built before the constructors' checks run, so they get a safe size and the body
// then reports kBadArgument.
inline int64_t table_size(int64_t n) { return n >= 0 && n < INT32_MAX - 2 ? n : 0; }

// First index in (i, n] where (gt[j], pred[j]) != (gt[i], pred[i]), or n.
inline int64_t pair_run_end(const uint32_t* gt, const uint32_t* pred, int64_t i, int64_t n) {
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
    const unsigned mask =
        unsigned(_mm_movemask_epi8(e0)) | (unsigned(_mm_movemask_epi8(e1)) << 16);
    if (mask != 0xFFFFFFFFu) return j + __builtin_ctz(~mask) / 4;
  }
#endif
  while (j < n && gt[j] == g && pred[j] == p) ++j;
  return j;
}

// The ids of `map` that are neither VOID nor in `index`, ascending, each once (into `out`).
// Only reached for invalid input: a second pass that lists the offending ids for the error.
inline void collect_unknown(const uint32_t* map, int64_t n_pixels, const IdIndex& index,
                            std::vector<uint32_t>* out) {
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

}  // namespace panoseg
