#include "semantic/label_map.hpp"

#include <cstring>

#include "common/id_index.hpp"

namespace panoseg {

LabelStatus ids_to_labels(const uint32_t* ids, int64_t n_pixels, const uint32_t* seg_ids,
                          const uint8_t* seg_labels, int64_t n_seg, uint8_t void_label,
                          uint8_t* out, int64_t* bad) {
  IdIndex index(n_seg);
  for (int64_t k = 0; k < n_seg; ++k) {
    *bad = k;
    if (seg_ids[k] == 0u) return LabelStatus::kZeroId;
    if (!index.insert(seg_ids[k], int32_t(k))) return LabelStatus::kDuplicateId;
  }
  for (int64_t i = 0; i < n_pixels;) {
    const uint32_t id = ids[i];
    int64_t e = i + 1;
    while (e < n_pixels && ids[e] == id) ++e;
    uint8_t label = void_label;
    if (id != 0u) {
      const int32_t row = index.find(id);
      if (row == IdIndex::kMissing) {
        *bad = i;
        return LabelStatus::kUnknownId;
      }
      label = seg_labels[row];
    }
    std::memset(out + i, label, size_t(e - i));
    i = e;
  }
  *bad = -1;
  return LabelStatus::kOk;
}

}  // namespace panoseg
