#include "png_filter.hpp"

#include "rgb_id.hpp"

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

bool png_filter_ids(const uint32_t* ids, int64_t height, int64_t width, uint8_t* out) {
  const int64_t stride = 3 * width;
  for (int64_t y = 0; y < height; ++y) {
    const uint32_t* row = ids + y * width;
    const uint32_t* above = y > 0 ? row - width : nullptr;
    // Choose the filter on whole pixels: a pixel equal to its left (Sub) or upper (Up)
    // neighbour filters to three zero bytes, which is what makes these maps deflate so well.
    uint32_t any_big = width > 0 ? row[0] : 0u;
    int64_t changes_left = 0, changes_up = 0;
    for (int64_t x = 1; x < width; ++x) {
      any_big |= row[x];
      changes_left += row[x] != row[x - 1];
    }
    if (any_big > kMaxSegmentId) {
      for (int64_t x = 0; x < width; ++x)
        if (row[x] > kMaxSegmentId) return false;
    }
    if (above)
      for (int64_t x = 0; x < width; ++x) changes_up += row[x] != above[x];
    uint8_t* line = out + y * (stride + 1);
    const bool use_up = above != nullptr && changes_up < changes_left;
    line[0] = use_up ? 2 : 1;
    uint8_t* px = line + 1;
    // `out` arrives zeroed: only pixels that differ from their predictor are written.
    if (use_up) {
      for (int64_t x = 0; x < width; ++x)
        if (row[x] != above[x]) put3(px + 3 * x, byte_diff(row[x], above[x]));
    } else {
      uint32_t prev = 0u;
      for (int64_t x = 0; x < width; ++x) {
        if (row[x] != prev) put3(px + 3 * x, byte_diff(row[x], prev));
        prev = row[x];
      }
    }
  }
  return true;
}

}  // namespace panoseg
