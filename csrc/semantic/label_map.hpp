// Panoptic id map -> semantic label map: the training labels of a semantic model, made from COCO
// panoptic PNGs on the fly. Each pixel gets the label of its segment, looked up once per run of
// equal ids (a hash lookup per run, not per pixel); VOID (id 0) gets `void_label`.
#pragma once
#include <cstdint>

namespace panoseg {

enum class LabelStatus : int { kOk = 0, kZeroId = 1, kDuplicateId = 2, kUnknownId = 3 };

// `ids`: n_pixels segment ids; `seg_ids` / `seg_labels`: the n_seg segments of the image and
// their labels. On kZeroId / kDuplicateId, *bad is the offending table row; on kUnknownId, the
// first pixel whose id is not in the table. `out` (n_pixels bytes) is complete only on kOk.
LabelStatus ids_to_labels(const uint32_t* ids, int64_t n_pixels, const uint32_t* seg_ids,
                          const uint8_t* seg_labels, int64_t n_seg, uint8_t void_label,
                          uint8_t* out, int64_t* bad);

}  // namespace panoseg
