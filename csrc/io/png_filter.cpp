#include "io/png_filter.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/checked.hpp"
#include "io/rgb_id.hpp"

namespace panoseg {
namespace {

// Byte-wise a - b (mod 256 in each byte, no borrow between bytes): the R, G, B differences.
inline uint32_t byte_diff(uint32_t a, uint32_t b) {
  constexpr uint32_t H = 0x80808080u;
  return ((a | H) - (b & ~H)) ^ ((a ^ ~b) & H);
}

inline void put3(uint8_t* p, uint32_t d) {
  p[0] = uint8_t(d);
  p[1] = uint8_t(d >> 8);
  p[2] = uint8_t(d >> 16);
}

}  // namespace

Status png_filter_ids(const uint32_t* ids, int64_t height, int64_t width, uint8_t* out) {
  // image_size_ok first: then height * width, 3 * width and height * (3 * width + 1) cannot
  // overflow (common/checked.hpp), and the int32 change counters below count at most
  // width - 1 <= 2^31 - 2 pixels.
  if (!image_size_ok(height, width) || (ids == nullptr && height * width > 0) ||
      (out == nullptr && height > 0))
    return fail(StatusCode::kBadArgument);
  const int64_t stride = 3 * width;
  std::memset(out, 0, size_t(height * (stride + 1)));
  for (int64_t y = 0; y < height; ++y) {
    const uint32_t* row = ids + y * width;
    const uint32_t* above = y > 0 ? row - width : nullptr;
    // Choose the filter on whole pixels: a pixel equal to its left (Sub) or upper (Up)
    // neighbour filters to three zero bytes, which is what makes these maps deflate so well.
    // Simple loops with 32-bit counters so that the compiler vectorizes them.
    uint32_t any_big = 0u;
    int32_t changes_left = 0, changes_up = 0;
    for (int64_t x = 0; x < width; ++x) any_big |= row[x];
    for (int64_t x = 1; x < width; ++x) changes_left += row[x] != row[x - 1];
    if (any_big > kMaxSegmentId)
      for (int64_t x = 0;; ++x)
        if (row[x] > kMaxSegmentId)
          return fail(StatusCode::kIdTooLarge, StatusWhere::kPixel, y * width + x, row[x]);
    if (above)
      for (int64_t x = 0; x < width; ++x) changes_up += row[x] != above[x];
    uint8_t* line = out + y * (stride + 1);
    const bool use_up = above != nullptr && changes_up < changes_left;
    line[0] = use_up ? 2 : 1;
    uint8_t* px = line + 1;
    // `out` is zeroed above: only pixels that differ from their predictor are written.
    // The predictor of pixel x is base[x - shift]: the pixel above (Up) or to the left (Sub).
    const uint32_t* base = use_up ? above : row;
    const int64_t shift = use_up ? 0 : 1;
    int64_t x = 0;
    if (!use_up) {
      put3(px, row[0]);  // the first pixel's left neighbour is 0
      x = 1;
    }
    while (x < width) {
#if defined(__SSE2__)
      // Skip four equal pixels at a time: most of a panoptic map equals its predictor.
      if (x + 4 <= width) {
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x));
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + x - shift));
        if (_mm_movemask_epi8(_mm_cmpeq_epi32(a, b)) == 0xFFFF) {
          x += 4;
          continue;
        }
      }
#endif
      const uint32_t p = base[x - shift];
      if (row[x] != p) put3(px + 3 * x, byte_diff(row[x], p));
      ++x;
    }
  }
  return ok_status();
}

}  // namespace panoseg
