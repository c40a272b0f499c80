// A fast PNG writer for panoptic maps, straight from the few pixels whose filtered bytes are not
// zero. A filtered panoptic map (Up filter: each pixel minus the one above) is zero except where
// a segment boundary crosses a column; given just those pixels, the deflate stream is built
// from them -- no scanline buffer is written or scanned -- with matches at distance 1 (the zero
// stretches) and 3 (a row of equal changes below a horizontal edge) and Huffman codes fitted to
// the image (one dynamic block). On 640x480 merge outputs: about twice as fast as zlib's level 2
// on the scanlines (which need not be made), files about 20% larger.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/status.hpp"

namespace panoseg {

// The three filtered bytes of pixel (x, y); every other filtered byte of the image is zero.
struct FilteredPixel {
  int32_t y, x;
  uint8_t rgb[3];
};

// The bytes of an 8-bit RGB PNG (signature, IHDR, IDAT..., IEND), written to *out (replaced),
// whose scanlines all start with filter type `filter` (0..4) and whose filtered bytes are zero
// except at `pixels`, sorted by y, then x, inside the image and no two at the same place.
// Anything else -- unsorted or outside pixels, an image size outside common/checked.hpp's limits
// or empty, a filter above 4 -- is kBadArgument (at kPixel, the offending entry, for a pixel),
// *out empty.
Status png_encode_sparse_rgb(const FilteredPixel* pixels, int64_t n, int64_t height,
                             int64_t width, uint8_t filter, std::vector<uint8_t>* out);

}  // namespace panoseg
