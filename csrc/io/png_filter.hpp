// The encoder side of panoptic PNGs: segment ids -> filtered 8-bit RGB scanlines, ready for
// zlib. Each row uses the Sub or the Up filter, whichever leaves fewer changed pixels (piecewise
// constant maps then deflate to almost nothing, and much faster than Pillow's encoder).
#pragma once
#include <cstddef>
#include <cstdint>

namespace panoseg {

// Writes height * (1 + 3 * width) bytes to `out`. Returns false if an id exceeds 24 bits.
bool png_filter_ids(const uint32_t* ids, int64_t height, int64_t width, uint8_t* out);

}  // namespace panoseg
