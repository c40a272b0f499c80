#include "png_filter.hpp"

#include <vector>

#include "rgb_id.hpp"

namespace panoseg {

bool png_filter_ids(const uint32_t* ids, int64_t height, int64_t width, uint8_t* out) {
  const int64_t stride = 3 * width;
  std::vector<uint8_t> rows(size_t(2 * stride), 0);
  uint8_t* prev = rows.data();
  uint8_t* cur = rows.data() + stride;
  std::vector<uint8_t> sub(static_cast<size_t>(stride)), up(static_cast<size_t>(stride));
  for (int64_t y = 0; y < height; ++y) {
    const uint32_t* row = ids + y * width;
    for (int64_t x = 0; x < width; ++x) {
      const uint32_t id = row[x];
      if (id > kMaxSegmentId) return false;
      cur[3 * x] = uint8_t(id);
      cur[3 * x + 1] = uint8_t(id >> 8);
      cur[3 * x + 2] = uint8_t(id >> 16);
    }
    int64_t nz_sub = 0, nz_up = 0;
    for (int64_t i = 0; i < stride; ++i) {
      sub[size_t(i)] = uint8_t(cur[i] - (i >= 3 ? cur[i - 3] : 0));
      up[size_t(i)] = uint8_t(cur[i] - prev[i]);
      nz_sub += sub[size_t(i)] != 0;
      nz_up += up[size_t(i)] != 0;
    }
    uint8_t* line = out + y * (stride + 1);
    const bool use_up = y > 0 && nz_up < nz_sub;
    line[0] = use_up ? 2 : 1;
    const uint8_t* src = use_up ? up.data() : sub.data();
    for (int64_t i = 0; i < stride; ++i) line[1 + i] = src[i];
    uint8_t* t = prev;
    prev = cur;
    cur = t;
  }
  return true;
}

}  // namespace panoseg
