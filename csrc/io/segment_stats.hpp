// Area and tight bounding box of every segment of an id map, in one pass over its runs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/status.hpp"

namespace panoseg {

// For each of the n `ids` (nonzero, unique): its pixel count in the row-major height x width map
// and its COCO bbox [x, y, w, h] (all 0 for an absent id). An id 0 (kBadId) or listed twice
// (kDuplicateId): at (kSegment, its row), nothing written.
Status segment_stats(const uint32_t* map, int64_t height, int64_t width, const uint32_t* ids,
                     int64_t n, int64_t* area, int64_t* bbox);

// The distinct nonzero ids of a map, ascending (one pass over its runs, then a sort of the runs).
void distinct_ids(const uint32_t* map, int64_t n_pixels, std::vector<uint32_t>* ids);

}  // namespace panoseg
