// PNG scanline reconstruction (the part of PNG decoding after zlib inflate).
//
// panoseg inflates the IDAT stream with Python's zlib (or zlib-ng / isal when installed), which
// releases the GIL, and reconstructs the filtered scanlines here. For 8-bit RGB panoptic PNGs the
// reconstruction is fused with the RGB -> id encoding, so the RGB image is never materialized.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/status.hpp"

namespace panoseg {

// Reconstructs non-interlaced 8-bit RGB scanlines (bpp = 3), writing segment ids
// (R + 256 G + 256^2 B) to `ids` (height * width). Fails with kPngSizeMismatch (value: `size`)
// when the data is not height * (1 + 3 * width) bytes, kPngBadFilter (index: the scanline,
// value: its filter type) on a filter type outside 0..4, kBadArgument (value: `size`) for a size
// outside the kernels' limits (common/checked.hpp) before any size arithmetic.
Status png_unfilter_rgb_to_id(const uint8_t* data, size_t size, int64_t height, int64_t width,
                              uint32_t* ids);

// The same one row at a time, so that a consumer (the PQ pair count) can work on rows as they
// are decoded and the full id map is never written to memory.
class PngIdRows {
 public:
  PngIdRows(const uint8_t* data, size_t size, int64_t height, int64_t width);
  // kPngSizeMismatch (or kBadArgument) is known at construction, kPngBadFilter once next() met
  // it. Allocates its two row buffers only when the data holds at least one row.
  const Status& status() const { return status_; }
  // Decodes the next row into `ids` (width values); false (and status() set) on a bad filter or
  // past the last row.
  bool next(uint32_t* ids);

 private:
  const uint8_t* data_;
  int64_t height_, width_, stride_, y_ = 0;
  Status status_;
  std::vector<uint8_t> rows_;
  uint8_t* prev_;
  uint8_t* cur_;
};

}  // namespace panoseg
