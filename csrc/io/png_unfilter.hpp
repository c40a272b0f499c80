// PNG scanline reconstruction (the part of PNG decoding after zlib inflate).
//
// panoseg inflates the IDAT stream with Python's zlib (or zlib-ng / isal when installed), which
// releases the GIL, and reconstructs the filtered scanlines here. For 8-bit RGB panoptic PNGs the
// reconstruction is fused with the RGB -> id encoding, so the RGB image is never materialized.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace panoseg {

enum class PngStatus : int {
  kOk = 0,
  kSizeMismatch = 1,  // inflated data is not height * (1 + width * bpp) bytes
  kBadFilter = 2,     // a scanline starts with a filter type outside 0..4
};

// Reconstructs non-interlaced 8-bit RGB scanlines (bpp = 3), writing segment ids
// (R + 256 G + 256^2 B) to `ids` (height * width).
PngStatus png_unfilter_rgb_to_id(const uint8_t* data, size_t size, int64_t height, int64_t width,
                                 uint32_t* ids, int64_t* bad_row);

// The same one row at a time, so that a consumer (the PQ pair count) can work on rows as they
// are decoded and the full id map is never written to memory.
class PngIdRows {
 public:
  PngIdRows(const uint8_t* data, size_t size, int64_t height, int64_t width);
  PngStatus status() const { return status_; }  // kSizeMismatch is known at construction
  int64_t bad_row() const { return bad_row_; }
  // Decodes the next row into `ids` (width values); false (and status() set) on a bad filter.
  bool next(uint32_t* ids);

 private:
  const uint8_t* data_;
  int64_t width_, stride_, y_ = 0, bad_row_ = -1;
  PngStatus status_ = PngStatus::kOk;
  std::vector<uint8_t> rows_;
  uint8_t* prev_;
  uint8_t* cur_;
};

}  // namespace panoseg
