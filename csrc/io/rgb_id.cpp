#include "io/rgb_id.hpp"

namespace panoseg {

void rgb_to_id(const uint8_t* rgb, int64_t height, int64_t width, int64_t stride_row,
               int64_t stride_col, int64_t stride_channel, uint32_t* ids) {
  // height, width and the strides describe buffers the caller holds (a numpy array and its
  // output): y * stride_row + x * stride_col + 2 * stride_channel and y * width + x address
  // bytes / ids inside them, so no product here exceeds the buffers' sizes.
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = rgb + y * stride_row;
    uint32_t* out = ids + y * width;
    if (stride_col == 3 && stride_channel == 1) {
      // Packed rows (the common case): a tight loop the compiler vectorizes.
      for (int64_t x = 0; x < width; ++x) {
        const uint8_t* px = row + 3 * x;
        out[x] = uint32_t(px[0]) | (uint32_t(px[1]) << 8) | (uint32_t(px[2]) << 16);
      }
    } else {
      for (int64_t x = 0; x < width; ++x) {
        const uint8_t* px = row + x * stride_col;
        out[x] = uint32_t(px[0]) | (uint32_t(px[stride_channel]) << 8) |
                 (uint32_t(px[2 * stride_channel]) << 16);
      }
    }
  }
}

Status id_to_rgb(const uint32_t* ids, int64_t height, int64_t width, int64_t stride_row,
                 int64_t stride_col, uint8_t* rgb) {
  Status status;
  // As rgb_to_id: every offset addresses the caller's buffers (3 * (y * width + x) + 2 <
  // 3 * height * width, the output's size).
  const char* base = reinterpret_cast<const char*>(ids);
  for (int64_t y = 0; y < height; ++y) {
    uint8_t* out = rgb + 3 * y * width;
    for (int64_t x = 0; x < width; ++x) {
      const uint32_t id =
          *reinterpret_cast<const uint32_t*>(base + y * stride_row + x * stride_col);
      if (id > kMaxSegmentId && status.ok())
        status = fail(StatusCode::kIdTooLarge, StatusWhere::kPixel, y * width + x, id);
      out[3 * x] = uint8_t(id);
      out[3 * x + 1] = uint8_t(id >> 8);
      out[3 * x + 2] = uint8_t(id >> 16);
    }
  }
  return status;
}

}  // namespace panoseg
