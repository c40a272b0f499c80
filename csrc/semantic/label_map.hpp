// Panoptic id map -> semantic label map: the training labels of a semantic model, made from COCO
// panoptic PNGs on the fly. Each pixel gets the label of its segment, looked up once per run of
// equal ids (a hash lookup per run, not per pixel); VOID (id 0) gets `void_label`.
#pragma once
#include <cstdint>

#include "common/status.hpp"

namespace panoseg {

// `ids`: n_pixels segment ids; `seg_ids` / `seg_labels`: the n_seg segments of the image and
// their labels. A table id 0 (kBadId) or listed twice (kDuplicateId) is reported at (kSegment,
// its row); a pixel whose id is not in the table (kUnknownId) at (kPixel, the first such pixel)
// with the id as value. `out` (n_pixels bytes) is complete only when the status is ok.
Status ids_to_labels(const uint32_t* ids, int64_t n_pixels, const uint32_t* seg_ids,
                     const uint8_t* seg_labels, int64_t n_seg, uint8_t void_label, uint8_t* out);

}  // namespace panoseg
