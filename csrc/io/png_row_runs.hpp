// PNG scanlines of a panoptic map straight to runs of equal pixels, for the counters that only
// need runs (eval/pair_count.cpp, eval/boundary_band.cpp).
//
// A panoptic PNG is piecewise constant, so nearly every filtered byte is 0, and a zero residual
// says where a pixel repeats a neighbour: for Sub its left one; for Up the one above; for Paeth
// its left one where the row above is constant (b == c makes pa = 0, so the predictor is a).
// A row's runs therefore follow from the previous row's runs and the positions of its nonzero
// residuals (found 16 to 64 bytes a step), with the filter computed only at those positions
// and at the previous row's run starts: the row's bytes are never reconstructed. (None and
// Average rows, rare in panoptic PNGs, are reconstructed and scanned.)
#pragma once
#include <cstdint>
#include <vector>

#include "common/status.hpp"

namespace panoseg {

// A run of a row of a panoptic map: its pixels end at `end` (exclusive; the previous run's end,
// or 0, is its start) and hold `id` (R + 256 G + 256^2 B).
struct IdRun {
  int32_t end;
  uint32_t id;
};

// The maximal runs of one row, left to right (n >= 1 when width >= 1); the last ends at width.
struct RunRow {
  const IdRun* runs = nullptr;
  int64_t n = 0;
};

// Decodes the scanlines of a non-interlaced 8-bit RGB PNG, one after the other, to runs.
class RgbRunDecoder {
 public:
  // `width` must satisfy image_size_ok (common/checked.hpp). Buffers (O(width)) are allocated
  // by the first decode(), when a row's bytes exist.
  explicit RgbRunDecoder(int64_t width) : width_(width) {}
  // Decodes the scanline `line` (its filter byte, then 3 * width bytes): the row's runs, valid
  // until the next call; runs == nullptr on a filter type outside 0..4 (error() says:
  // kPngBadFilter, index the scanline, value the filter type).
  RunRow decode(const uint8_t* line);
  // Whether the row decode() returned last equals the one before it (an Up row of zeros).
  bool unchanged() const { return unchanged_; }
  int64_t rows() const { return y_; }
  const Status& error() const { return error_; }

 private:
  void decode_up(const uint8_t* s, int64_t n_nonzero);
  void decode_sub(const uint8_t* s, int64_t n_nonzero);
  void decode_paeth(const uint8_t* s, int64_t n_nonzero);
  void decode_bytes(int filter, const uint8_t* s);
  int64_t width_, y_ = 0;
  bool unchanged_ = false;
  Status error_;
  std::vector<IdRun> last_, next_;  // the last row's runs; the row being decoded
  int64_t n_last_ = 0, n_next_ = 0;
  std::vector<int32_t> nonzero_;    // pixels with a nonzero residual byte, ascending
  std::vector<uint8_t> bytes_;      // None / Average rows: the previous and current row's bytes
  bool bytes_flip_ = false;         // which half of bytes_ holds the last bytes-decoded row
  bool bytes_last_ = false;         // that row is the last row (no Sub / Up / Paeth row since)
};

}  // namespace panoseg
