#include "segment_stats.hpp"

#include <vector>

#include "id_index.hpp"

namespace panoseg {

bool segment_stats(const uint32_t* map, int64_t height, int64_t width, const uint32_t* ids,
                   int64_t n, int64_t* area, int64_t* bbox) {
  IdIndex index(n);
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] == 0u || !index.insert(ids[i], int32_t(i))) return false;
  std::vector<int64_t> x0(size_t(n), width), y0(size_t(n), height), x1(size_t(n), -1), y1(size_t(n), -1);
  for (int64_t i = 0; i < n; ++i) area[i] = 0;
  for (int64_t y = 0; y < height; ++y) {
    const uint32_t* row = map + y * width;
    for (int64_t x = 0; x < width;) {
      const uint32_t id = row[x];
      int64_t e = x + 1;
      while (e < width && row[e] == id) ++e;
      const int32_t k = id ? index.find(id) : IdIndex::kMissing;
      if (k != IdIndex::kMissing) {
        area[k] += e - x;
        if (x < x0[size_t(k)]) x0[size_t(k)] = x;
        if (e - 1 > x1[size_t(k)]) x1[size_t(k)] = e - 1;
        if (y < y0[size_t(k)]) y0[size_t(k)] = y;
        y1[size_t(k)] = y;
      }
      x = e;
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    int64_t* b = bbox + 4 * i;
    if (area[i] == 0) {
      b[0] = b[1] = b[2] = b[3] = 0;
    } else {
      b[0] = x0[size_t(i)];
      b[1] = y0[size_t(i)];
      b[2] = x1[size_t(i)] - x0[size_t(i)] + 1;
      b[3] = y1[size_t(i)] - y0[size_t(i)] + 1;
    }
  }
  return true;
}

}  // namespace panoseg
