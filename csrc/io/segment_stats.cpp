#include "io/segment_stats.hpp"

#include <algorithm>
#include <vector>

#include "common/checked.hpp"
#include "common/id_index.hpp"
#include "common/row_runs.hpp"

namespace panoseg {

void distinct_ids(const uint32_t* map, int64_t n_pixels, std::vector<uint32_t>* ids) {
  ids->clear();
  if (map == nullptr) return;
  for (int64_t i = 0; i < n_pixels;) {
    const uint32_t id = map[i];
    if (id != 0u && (ids->empty() || ids->back() != id)) ids->push_back(id);
    i = row_run_end(map, i, n_pixels);
  }
  std::sort(ids->begin(), ids->end());
  ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
}

Status segment_stats(const uint32_t* map, int64_t height, int64_t width, const uint32_t* ids,
                     int64_t n, int64_t* area, int64_t* bbox) {
  // image_size_ok before height * width is formed (no overflow, common/checked.hpp); n below
  // INT32_MAX: rows fit the int32 slots of IdIndex, and the four n-sized vectors below are sized
  // by the caller's id table (n values it holds).
  if (!image_size_ok(height, width) || n < 0 || n >= INT32_MAX ||
      (map == nullptr && height * width > 0) ||
      ((ids == nullptr || area == nullptr || bbox == nullptr) && n > 0))
    return fail(StatusCode::kBadArgument);
  IdIndex index(n);
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] == 0u) return fail(StatusCode::kBadId, StatusWhere::kSegment, i, 0);
    if (!index.insert(ids[i], int32_t(i)))
      return fail(StatusCode::kDuplicateId, StatusWhere::kSegment, i, ids[i]);
  }
  std::vector<int64_t> x0(size_t(n), width), y0(size_t(n), height), x1(size_t(n), -1), y1(size_t(n), -1);
  for (int64_t i = 0; i < n; ++i) area[i] = 0;
  uint32_t last_id = 0;
  int32_t last_k = IdIndex::kMissing;
  for (int64_t y = 0; y < height; ++y) {
    const uint32_t* row = map + y * width;
    for (int64_t x = 0; x < width;) {
      const uint32_t id = row[x];
      const int64_t e = row_run_end(row, x, width);
      if (id != last_id) {  // runs alternate between few ids: skip most hash lookups
        last_id = id;
        last_k = id ? index.find(id) : IdIndex::kMissing;
      }
      const int32_t k = last_k;
      if (k != IdIndex::kMissing) {
        area[k] += e - x;  // the areas add up to at most height * width <= 2^40
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
  return ok_status();
}

}  // namespace panoseg
