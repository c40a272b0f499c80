#include "semantic/label_map.hpp"

#include <cstring>

#include "common/id_index.hpp"

namespace panoseg {

Status ids_to_labels(const uint32_t* ids, int64_t n_pixels, const uint32_t* seg_ids,
                     const uint8_t* seg_labels, int64_t n_seg, uint8_t void_label, uint8_t* out) {
  if (n_pixels < 0 || n_seg < 0 || n_seg >= INT32_MAX ||
      ((ids == nullptr || out == nullptr) && n_pixels > 0) ||
      ((seg_ids == nullptr || seg_labels == nullptr) && n_seg > 0))
    return fail(StatusCode::kBadArgument);
  // n_seg < INT32_MAX (checked above): IdIndex's int32 rows hold it, and its table is sized by
  // the n_seg ids the caller holds.
  IdIndex index(n_seg);
  for (int64_t k = 0; k < n_seg; ++k) {
    if (seg_ids[k] == 0u) return fail(StatusCode::kBadId, StatusWhere::kSegment, k, 0);
    if (!index.insert(seg_ids[k], int32_t(k)))
      return fail(StatusCode::kDuplicateId, StatusWhere::kSegment, k, seg_ids[k]);
  }
  for (int64_t i = 0; i < n_pixels;) {
    const uint32_t id = ids[i];
    int64_t e = i + 1;
    while (e < n_pixels && ids[e] == id) ++e;
    uint8_t label = void_label;
    if (id != 0u) {
      const int32_t row = index.find(id);
      if (row == IdIndex::kMissing)
        return fail(StatusCode::kUnknownId, StatusWhere::kPixel, i, id);
      label = seg_labels[row];
    }
    std::memset(out + i, label, size_t(e - i));  // i < e <= n_pixels: within `out`
    i = e;
  }
  return ok_status();
}

}  // namespace panoseg
