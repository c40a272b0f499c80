// RGB <-> segment id codec of the COCO panoptic format: id = R + 256*G + 256^2*B, 0 = VOID.
#pragma once
#include <cstdint>

#include "common/status.hpp"

namespace panoseg {

// Largest id an RGB PNG can carry (24 bits).
constexpr uint32_t kMaxSegmentId = (1u << 24) - 1;

// The id of pixel x of a row of RGB bytes (or the 24-bit value of any three bytes: a PNG
// scanline's residuals); only the pixel's own 3 bytes are read.
inline uint32_t rgb_id_at(const uint8_t* row, int64_t x) {
  const uint8_t* b = row + 3 * x;
  return uint32_t(b[0]) | (uint32_t(b[1]) << 8) | (uint32_t(b[2]) << 16);
}

// Encodes an HxWx3 uint8 image given by byte strides (any layout, e.g. a numpy view) into a
// C-contiguous HxW id map.
void rgb_to_id(const uint8_t* rgb, int64_t height, int64_t width, int64_t stride_row,
               int64_t stride_col, int64_t stride_channel, uint32_t* ids);

// Decodes a strided HxW id map into a C-contiguous HxWx3 uint8 image. An id above
// kMaxSegmentId cannot be represented: kIdTooLarge (kPixel, the first such pixel, its id); the
// image is then incomplete (such pixels get their low 24 bits).
Status id_to_rgb(const uint32_t* ids, int64_t height, int64_t width, int64_t stride_row,
                 int64_t stride_col, uint8_t* rgb);

}  // namespace panoseg
