#include "png_unfilter.hpp"

#include <cstdlib>
#include <cstring>
#include <vector>

namespace panoseg {
namespace {

inline uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return uint8_t(a);
  if (pb <= pc) return uint8_t(b);
  return uint8_t(c);
}

// Reconstructs one scanline in place: `cur` holds the filtered bytes (without the filter-type
// byte), `prev` the previous reconstructed scanline (all zeros for the first row).
bool unfilter_row(int filter, uint8_t* cur, const uint8_t* prev, int64_t n, int bpp) {
  switch (filter) {
    case 0:
      return true;
    case 1:
      for (int64_t i = bpp; i < n; ++i) cur[i] = uint8_t(cur[i] + cur[i - bpp]);
      return true;
    case 2:
      for (int64_t i = 0; i < n; ++i) cur[i] = uint8_t(cur[i] + prev[i]);
      return true;
    case 3:
      for (int64_t i = 0; i < bpp && i < n; ++i) cur[i] = uint8_t(cur[i] + (prev[i] >> 1));
      for (int64_t i = bpp; i < n; ++i)
        cur[i] = uint8_t(cur[i] + ((int(cur[i - bpp]) + int(prev[i])) >> 1));
      return true;
    case 4:
      for (int64_t i = 0; i < bpp && i < n; ++i) cur[i] = uint8_t(cur[i] + prev[i]);
      for (int64_t i = bpp; i < n; ++i)
        cur[i] = uint8_t(cur[i] + paeth(cur[i - bpp], prev[i], prev[i - bpp]));
      return true;
    default:
      return false;
  }
}

// Walks the scanlines, reconstructing each into a buffer and handing it to `emit(row, bytes)`.
template <class Emit>
PngStatus unfilter_rows(const uint8_t* data, size_t size, int64_t height, int64_t width, int bpp,
                        int64_t* bad_row, Emit emit) {
  const int64_t stride = width * bpp;
  if (height < 0 || width < 0 || size_t((stride + 1) * height) != size)
    return PngStatus::kSizeMismatch;
  std::vector<uint8_t> rows(size_t(2 * stride), 0);
  uint8_t* prev = rows.data();
  uint8_t* cur = rows.data() + stride;
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* line = data + y * (stride + 1);
    std::memcpy(cur, line + 1, size_t(stride));
    if (!unfilter_row(line[0], cur, prev, stride, bpp)) {
      if (bad_row) *bad_row = y;
      return PngStatus::kBadFilter;
    }
    emit(y, cur);
    uint8_t* t = prev;
    prev = cur;
    cur = t;
  }
  return PngStatus::kOk;
}

}  // namespace

PngStatus png_unfilter(const uint8_t* data, size_t size, int64_t height, int64_t width, int bpp,
                       uint8_t* out, int64_t* bad_row) {
  const int64_t stride = width * bpp;
  return unfilter_rows(data, size, height, width, bpp, bad_row, [&](int64_t y, const uint8_t* row) {
    std::memcpy(out + y * stride, row, size_t(stride));
  });
}

PngStatus png_unfilter_rgb_to_id(const uint8_t* data, size_t size, int64_t height, int64_t width,
                                 uint32_t* ids, int64_t* bad_row) {
  return unfilter_rows(data, size, height, width, 3, bad_row, [&](int64_t y, const uint8_t* row) {
    uint32_t* out = ids + y * width;
    for (int64_t x = 0; x < width; ++x)
      out[x] = uint32_t(row[3 * x]) | (uint32_t(row[3 * x + 1]) << 8) |
               (uint32_t(row[3 * x + 2]) << 16);
  });
}

}  // namespace panoseg
