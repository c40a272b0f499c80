// The encoder side of panoptic PNGs: segment ids -> filtered 8-bit RGB scanlines, ready for
// zlib. Each row uses the Sub or the Up filter, whichever leaves fewer changed pixels (piecewise
// constant maps then deflate to almost nothing, and much faster than Pillow's encoder).
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/status.hpp"

namespace panoseg {

// Writes height * (1 + 3 * width) bytes to `out`. An id above kMaxSegmentId: kIdTooLarge
// (kPixel, the first such pixel, its id), `out` incomplete.
Status png_filter_ids(const uint32_t* ids, int64_t height, int64_t width, uint8_t* out);

}  // namespace panoseg
