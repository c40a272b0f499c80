// PNG scanline reconstruction (the part of PNG decoding after zlib inflate).
//
// panoseg inflates the IDAT stream with Python's zlib (or zlib-ng / isal when installed), which
// releases the GIL, and reconstructs the filtered scanlines here. For 8-bit RGB panoptic PNGs the
// reconstruction is fused with the RGB -> id encoding, so the RGB image is never materialized.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/checked.hpp"
#include "common/status.hpp"

namespace panoseg {

// The PNG Paeth predictor of one sample (pa = |p - a| = |b - c|, pb = |a - c|,
// pc = |a + b - 2c|): a left, b above, c above left.
inline int png_paeth(int a, int b, int c) {
  const int pa = b > c ? b - c : c - b, pb = a > c ? a - c : c - a;
  const int pc = a + b - 2 * c > 0 ? a + b - 2 * c : 2 * c - a - b;
  const int bc = pb <= pc ? b : c;
  return (pa <= pb && pa <= pc) ? a : bc;
}

// Reconstructs one scanline of n bytes, bpp bytes a pixel: `src` holds its filtered bytes (after
// the filter-type byte), `prev` the previous reconstructed scanline (zeros for the first row);
// the result goes to `cur` (for bpp 3, padded: up to 15 bytes past n may be written). False for
// a filter type outside 0..4.
bool unfilter_scanline(int filter, const uint8_t* src, uint8_t* cur, const uint8_t* prev,
                       int64_t n, int bpp);

// Reconstructs non-interlaced 8-bit RGB scanlines (bpp = 3), writing segment ids
// (R + 256 G + 256^2 B) to `ids` (height * width). Fails with kPngSizeMismatch (value: `size`)
// when the data is not height * (1 + 3 * width) bytes, kPngBadFilter (index: the scanline,
// value: its filter type) on a filter type outside 0..4, kBadArgument (value: `size`) for a size
// outside the kernels' limits (common/checked.hpp) before any size arithmetic.
Status png_unfilter_rgb_to_id(const uint8_t* data, size_t size, int64_t height, int64_t width,
                              uint32_t* ids);

// Reconstructs the scanlines of a non-interlaced 8-bit RGB PNG one after the other, as bytes,
// from wherever the caller holds them (a whole inflated image, or chunks as they are inflated).
class RgbRowDecoder {
 public:
  // Bytes readable past the 3 * width of a row (16-byte loads; their values are unspecified).
  static constexpr int64_t kPadding = 32;
  // `width` must satisfy image_size_ok (common/checked.hpp). The two padded row buffers are
  // allocated by the first decode(), when a row's bytes exist: a claimed width with no data
  // behind it allocates nothing.
  explicit RgbRowDecoder(int64_t width) : stride_(3 * width) {}
  // Reconstructs the scanline `line` (its filter byte, then 3 * width bytes): the row's bytes
  // (+ kPadding readable), valid until the next call; nullptr on a bad filter (error() says).
  const uint8_t* decode(const uint8_t* line);
  // Whether the row decode() returned last equals the one before it (an Up row of zeros).
  bool unchanged() const { return unchanged_; }
  int64_t rows() const { return y_; }
  const Status& error() const { return error_; }

 private:
  int64_t stride_, y_ = 0;
  bool unchanged_ = false;
  Status error_;
  std::vector<uint8_t> rows_;
  uint8_t* prev_ = nullptr;
  uint8_t* cur_ = nullptr;
};

// The rows of a whole inflated non-interlaced 8-bit RGB PNG, one at a time, so that a consumer
// works on rows as they are decoded and no full image is stored.
class PngRgbRows {
 public:
  static constexpr int64_t kPadding = RgbRowDecoder::kPadding;
  // kPngSizeMismatch (or kBadArgument) is known at construction, kPngBadFilter once next() met
  // it. Allocates its two row buffers only when the data holds at least one row.
  PngRgbRows(const uint8_t* data, size_t size, int64_t height, int64_t width);
  const Status& status() const { return status_; }
  // The next row's 3 * width bytes (+ kPadding readable), valid until the next call; nullptr
  // (and status() set) on a bad filter or past the last row.
  const uint8_t* next();
  bool unchanged() const { return decoder_.unchanged(); }

 private:
  static int64_t checked_width(int64_t height, int64_t width) {
    return image_size_ok(height, width) ? width : 0;
  }
  const uint8_t* data_;
  int64_t height_, stride_ = 0;
  Status status_;
  RgbRowDecoder decoder_;
};

// The same rows as segment ids.
class PngIdRows {
 public:
  PngIdRows(const uint8_t* data, size_t size, int64_t height, int64_t width)
      : rows_(data, size, height, width), width_(rows_.status().ok() ? width : 0) {}
  const Status& status() const { return rows_.status(); }
  // Decodes the next row into `ids` (width values); false (and status() set) on a bad filter or
  // past the last row.
  bool next(uint32_t* ids);

 private:
  PngRgbRows rows_;
  int64_t width_;
};

}  // namespace panoseg
