#include "png_filter.hpp"

#include <cstring>

#include "rgb_id.hpp"

namespace panoseg {
namespace {

// Byte-wise a - b (mod 256 in each byte, no borrow between bytes): the R, G, B differences.
inline uint32_t byte_diff(uint32_t a, uint32_t b) {
  constexpr uint32_t H = 0x80808080u;
  return ((a | H) - (b & ~H)) ^ ((a ^ ~b) & H);
}

// Writes the pixel differences of a row: a 4-byte store per pixel (the spare byte is
// overwritten by the next pixel), three single bytes for the last one.
template <class Prev>
inline void put_row(uint8_t* px, const uint32_t* row, int64_t width, Prev prev) {
  for (int64_t x = 0; x + 1 < width; ++x) {
    const uint32_t d = byte_diff(row[x], prev(x));
    std::memcpy(px + 3 * x, &d, 4);
  }
  const int64_t x = width - 1;
  const uint32_t d = byte_diff(row[x], prev(x));
  px[3 * x] = uint8_t(d);
  px[3 * x + 1] = uint8_t(d >> 8);
  px[3 * x + 2] = uint8_t(d >> 16);
}

}  // namespace

bool png_filter_ids(const uint32_t* ids, int64_t height, int64_t width, uint8_t* out) {
  const int64_t stride = 3 * width;
  for (int64_t y = 0; y < height; ++y) {
    const uint32_t* row = ids + y * width;
    const uint32_t* above = y > 0 ? row - width : nullptr;
    // Choose the filter on whole pixels: a pixel equal to its left (Sub) or upper (Up)
    // neighbour filters to three zero bytes, which is what makes these maps deflate so well.
    int64_t changes_left = 0, changes_up = 0;
    uint32_t any_big = 0;
    for (int64_t x = 0; x < width; ++x) {
      any_big |= row[x];
      changes_left += x > 0 && row[x] != row[x - 1];
      if (above) changes_up += row[x] != above[x];
    }
    if (any_big > kMaxSegmentId) {
      for (int64_t x = 0; x < width; ++x)
        if (row[x] > kMaxSegmentId) return false;
    }
    uint8_t* line = out + y * (stride + 1);
    const bool use_up = above != nullptr && changes_up < changes_left;
    line[0] = use_up ? 2 : 1;
    uint8_t* px = line + 1;
    if (width == 0) continue;
    if (use_up)
      put_row(px, row, width, [&](int64_t x) { return above[x]; });
    else
      put_row(px, row, width, [&](int64_t x) { return x > 0 ? row[x - 1] : 0u; });
  }
  return true;
}

}  // namespace panoseg
