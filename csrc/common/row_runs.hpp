// Runs of equal ids in a row of uint32 ids: the scan the segment statistics and the boundary
// bands share (eight pixels per step: panoptic runs are long).
#pragma once
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace panoseg {

// First index in (i, n] where row[j] != row[i] (n when the run reaches the end of the row).
inline int64_t row_run_end(const uint32_t* row, int64_t i, int64_t n) {
  const uint32_t v = row[i];
  int64_t j = i + 1;
#if defined(__SSE2__)
  const __m128i vv = _mm_set1_epi32(int(v));
  for (; j + 8 <= n; j += 8) {
    const __m128i* p = reinterpret_cast<const __m128i*>(row + j);
    const unsigned mask =
        unsigned(_mm_movemask_epi8(_mm_cmpeq_epi32(_mm_loadu_si128(p), vv))) |
        (unsigned(_mm_movemask_epi8(_mm_cmpeq_epi32(_mm_loadu_si128(p + 1), vv))) << 16);
    if (mask != 0xFFFFFFFFu) return j + __builtin_ctz(~mask) / 4;
  }
#endif
  while (j < n && row[j] == v) ++j;
  return j;
}

}  // namespace panoseg
