#include "io/png_unfilter.hpp"

#include "common/checked.hpp"

#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace panoseg {
namespace {

// The PNG Paeth predictor (pa = |p - a| = |b - c|, pb = |a - c|, pc = |a + b - 2c|).
inline int paeth(int a, int b, int c) {
  const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
  const int bc = pb <= pc ? b : c;
  return (pa <= pb && pa <= pc) ? a : bc;
}

#if defined(__SSE2__)
// Average and Paeth carry a dependency from each pixel to the next, so they cannot be vectorized
// across pixels; for 3-byte RGB pixels we do the channels of one pixel at once in 16-bit lanes
// (the approach of libpng's SSE2 filters). Loads and stores are 4 bytes wide (a 3-byte memcpy
// becomes several narrow accesses whose store-to-load forwarding stalls cost more than the
// filter): the output row is padded, and the last pixel of the input row is read narrowly.
inline __m128i widen(uint32_t v) {
  return _mm_unpacklo_epi8(_mm_cvtsi32_si128(int(v)), _mm_setzero_si128());
}

inline __m128i load4(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return widen(v);
}

inline __m128i load3(const uint8_t* p) {
  uint32_t v = 0;
  std::memcpy(&v, p, 3);
  return widen(v);
}

inline void store4(uint8_t* p, __m128i v) {
  const uint32_t w = uint32_t(_mm_cvtsi128_si32(_mm_packus_epi16(v, v)));
  std::memcpy(p, &w, 4);
}

inline __m128i abs16(__m128i x) { return _mm_max_epi16(x, _mm_sub_epi16(_mm_setzero_si128(), x)); }

inline __m128i select(__m128i mask, __m128i yes, __m128i no) {
  return _mm_or_si128(_mm_and_si128(mask, yes), _mm_andnot_si128(mask, no));
}

// Both operands are < 256 in 16-bit lanes: an 8-bit add wraps mod 256 and keeps the high byte
// zero, which is exactly the reconstructed sample, ready to be the next pixel's `a`.
inline __m128i add_mod256(__m128i x, __m128i pred) { return _mm_add_epi8(x, pred); }

void paeth_rgb(const uint8_t* src, uint8_t* cur, const uint8_t* prev, int64_t n) {
  __m128i a = _mm_setzero_si128(), c = _mm_setzero_si128();
  for (int64_t i = 0; i + 3 <= n; i += 3) {
    const __m128i b = load4(prev + i);
    const __m128i x = i + 3 < n ? load4(src + i) : load3(src + i);
    const __m128i pa = abs16(_mm_sub_epi16(b, c));
    const __m128i pb = abs16(_mm_sub_epi16(a, c));
    const __m128i pc = abs16(_mm_add_epi16(_mm_sub_epi16(b, c), _mm_sub_epi16(a, c)));
    const __m128i smallest = _mm_min_epi16(pc, _mm_min_epi16(pa, pb));
    const __m128i pred = select(_mm_cmpeq_epi16(pa, smallest), a,
                                select(_mm_cmpeq_epi16(pb, smallest), b, c));
    a = add_mod256(x, pred);
    store4(cur + i, a);
    c = b;
  }
}

void average_rgb(const uint8_t* src, uint8_t* cur, const uint8_t* prev, int64_t n) {
  __m128i a = _mm_setzero_si128();
  for (int64_t i = 0; i + 3 <= n; i += 3) {
    const __m128i b = load4(prev + i);
    const __m128i x = i + 3 < n ? load4(src + i) : load3(src + i);
    a = add_mod256(x, _mm_srli_epi16(_mm_add_epi16(a, b), 1));
    store4(cur + i, a);
  }
}
#endif

// Reconstructs one scanline: `src` holds its filtered bytes (after the filter-type byte), `prev`
// the previous reconstructed scanline (zeros for the first row); the result goes to `cur`.
bool unfilter_row(int filter, const uint8_t* src, uint8_t* cur, const uint8_t* prev, int64_t n,
                  int bpp) {
  const int64_t head = bpp < n ? bpp : n;
  switch (filter) {
    case 0:
      std::memcpy(cur, src, size_t(n));
      return true;
    case 1:
      for (int64_t i = 0; i < head; ++i) cur[i] = src[i];
      for (int64_t i = bpp; i < n; ++i) cur[i] = uint8_t(src[i] + cur[i - bpp]);
      return true;
    case 2:
      for (int64_t i = 0; i < n; ++i) cur[i] = uint8_t(src[i] + prev[i]);
      return true;
    case 3:
#if defined(__SSE2__)
      if (bpp == 3) {
        average_rgb(src, cur, prev, n);
        return true;
      }
#endif
      for (int64_t i = 0; i < head; ++i) cur[i] = uint8_t(src[i] + (prev[i] >> 1));
      for (int64_t i = bpp; i < n; ++i)
        cur[i] = uint8_t(src[i] + ((int(cur[i - bpp]) + int(prev[i])) >> 1));
      return true;
    case 4:
#if defined(__SSE2__)
      if (bpp == 3) {
        paeth_rgb(src, cur, prev, n);
        return true;
      }
#endif
      for (int64_t i = 0; i < head; ++i) cur[i] = uint8_t(src[i] + prev[i]);
      for (int64_t i = bpp; i < n; ++i)
        cur[i] = uint8_t(src[i] + paeth(cur[i - bpp], prev[i], prev[i - bpp]));
      return true;
    default:
      return false;
  }
}

// One reconstructed row of 8-bit RGB bytes (padded by 4) -> segment ids.
inline void rgb_row_to_ids(const uint8_t* row, int64_t width, uint32_t* out) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  // One unaligned 4-byte load per pixel, keeping R, G, B (the row buffer is padded).
  for (int64_t x = 0; x < width; ++x) {
    uint32_t v;
    std::memcpy(&v, row + 3 * x, 4);
    out[x] = v & 0xFFFFFFu;
  }
#else
  for (int64_t x = 0; x < width; ++x)
    out[x] = uint32_t(row[3 * x]) | (uint32_t(row[3 * x + 1]) << 8) |
             (uint32_t(row[3 * x + 2]) << 16);
#endif
}

}  // namespace

PngIdRows::PngIdRows(const uint8_t* data, size_t size, int64_t height, int64_t width)
    : data_(data), height_(height), width_(width), stride_(0) {
  // The size is checked before any product of it is formed: with image_size_ok,
  // (3 * width + 1) * height <= 3 * 2^40 + 2^31 cannot overflow (common/checked.hpp).
  if (!image_size_ok(height, width)) {
    status_ = fail(StatusCode::kBadArgument, StatusWhere::kNone, -1, int64_t(size));
    width_ = 0;
  } else if (size_t((3 * width + 1) * height) != size || (data == nullptr && size != 0)) {
    status_ = fail(StatusCode::kPngSizeMismatch, StatusWhere::kNone, -1, int64_t(size));
    width_ = 0;
  } else {
    stride_ = 3 * width;
  }
  // Two rows, each padded by 4 bytes for the 4-byte loads of rgb_row_to_ids. Sized from the
  // data actually present: only when the size matched and there is a row (then 3 * width + 1
  // <= size), so a huge width with no data allocates nothing.
  if (status_.ok() && height > 0) rows_.assign(size_t(2 * (stride_ + 4)), 0);
  prev_ = rows_.data();
  cur_ = rows_.data() + (rows_.empty() ? 0 : stride_ + 4);
}

bool PngIdRows::next(uint32_t* ids) {
  if (!status_.ok() || y_ >= height_) return false;
  const uint8_t* line = data_ + y_ * (stride_ + 1);  // < size: checked in the constructor
  if (!unfilter_row(line[0], line + 1, cur_, prev_, stride_, 3)) {
    status_ = fail(StatusCode::kPngBadFilter, StatusWhere::kNone, y_, line[0]);
    return false;
  }
  rgb_row_to_ids(cur_, width_, ids);
  uint8_t* t = prev_;
  prev_ = cur_;
  cur_ = t;
  ++y_;
  return true;
}

Status png_unfilter_rgb_to_id(const uint8_t* data, size_t size, int64_t height, int64_t width,
                              uint32_t* ids) {
  PngIdRows rows(data, size, height, width);
  for (int64_t y = 0; y < height && rows.next(ids + y * width);) ++y;
  return rows.status();
}

}  // namespace panoseg
