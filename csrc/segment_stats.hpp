// Area and tight bounding box of every segment of an id map, in one pass over its runs.
#pragma once
#include <cstddef>
#include <cstdint>

namespace panoseg {

// For each of the n `ids` (nonzero, unique): its pixel count in the row-major height x width map
// and its COCO bbox [x, y, w, h] (all 0 for an absent id). Returns false on a duplicate id.
bool segment_stats(const uint32_t* map, int64_t height, int64_t width, const uint32_t* ids,
                   int64_t n, int64_t* area, int64_t* bbox);

}  // namespace panoseg
