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

// Panoptic maps are piecewise constant, so nearly every filtered byte is 0 (99% of the pixels of
// COCO-like maps): Sub and Paeth rows are reconstructed span by span, a span of zero residuals
// being a repetition of the pixel to its left, found with 16-byte compares; only the few pixels
// at segment edges go through the per-pixel filter.

// First k in [i, n) with s[k] != 0, else n.
inline int64_t next_nonzero(const uint8_t* s, int64_t i, int64_t n) {
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  for (; i + 16 <= n; i += 16) {
    const unsigned m = unsigned(_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)), zero)));
    if (m != 0xFFFFu) return i + __builtin_ctz(~m);
  }
#endif
  while (i < n && s[i] == 0) ++i;
  return i;
}

// First k in [i, n) (i >= 3) with s[k] != 0 or prev[k] != prev[k - 3], else n. Where neither
// holds, Paeth's b == c, so pa = 0 and the predictor is a: the pixel repeats its left neighbour.
inline int64_t paeth_span_end(const uint8_t* s, const uint8_t* prev, int64_t i, int64_t n) {
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  for (; i + 16 <= n; i += 16) {
    const __m128i z = _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)), zero);
    const __m128i bc =
        _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(prev + i)),
                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(prev + i - 3)));
    const unsigned m = unsigned(_mm_movemask_epi8(_mm_and_si128(z, bc)));
    if (m != 0xFFFFu) return i + __builtin_ctz(~m);
  }
#endif
  while (i < n && s[i] == 0 && prev[i] == prev[i - 3]) ++i;
  return i;
}

// cur[k] = cur[k - 3] for k in [i, e) (i >= 3): repeats the pixel left of i. May write up to 15
// bytes past e, inside the row's padding or over bytes the caller writes later.
inline void repeat_left(uint8_t* cur, int64_t i, int64_t e) {
#if defined(__SSE2__)
  if (e - i >= 16) {
    alignas(16) uint8_t pattern[16];
    for (int j = 0; j < 16; ++j) pattern[j] = cur[i - 3 + j % 3];
    const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(pattern));
    // Steps of 15 bytes (5 pixels): every store starts at the same phase of the pattern.
    for (int64_t k = i; k < e; k += 15) _mm_storeu_si128(reinterpret_cast<__m128i*>(cur + k), v);
    return;
  }
#endif
  for (int64_t k = i; k < e; ++k) cur[k] = cur[k - 3];
}

// Sub and Paeth rows of 8-bit RGB (n = 3 * width bytes), span by span (see above).
void sub_rgb_spans(const uint8_t* src, uint8_t* cur, int64_t n) {
  int64_t i = 0;
  for (; i < 3 && i < n; ++i) cur[i] = src[i];
  while (i < n) {
    const int64_t zero_end = next_nonzero(src, i, n);
    const int64_t e = i + (zero_end - i) / 3 * 3;  // whole pixels of zeros
    repeat_left(cur, i, e);
    if (e >= n) break;
    for (int64_t k = e; k < e + 3; ++k) cur[k] = uint8_t(src[k] + cur[k - 3]);
    i = e + 3;
  }
}

void paeth_rgb_spans(const uint8_t* src, uint8_t* cur, const uint8_t* prev, int64_t n) {
  int64_t i = 0;
  for (; i < 3 && i < n; ++i) cur[i] = uint8_t(src[i] + prev[i]);  // a = c = 0: predictor b
  while (i < n) {
    const int64_t span_end = paeth_span_end(src, prev, i, n);
    const int64_t e = i + (span_end - i) / 3 * 3;
    repeat_left(cur, i, e);
    if (e >= n) break;
    for (int64_t k = e; k < e + 3; ++k)
      cur[k] = uint8_t(src[k] + png_paeth(cur[k - 3], prev[k], prev[k - 3]));
    i = e + 3;
  }
}

#if defined(__SSE2__)
// Average carries a dependency from each pixel to the next, so it cannot be vectorized across
// pixels; for 3-byte RGB pixels we do the channels of one pixel at once in 16-bit lanes (the
// approach of libpng's SSE2 filters). Loads and stores are 4 bytes wide (a 3-byte memcpy
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


// Both operands are < 256 in 16-bit lanes: an 8-bit add wraps mod 256 and keeps the high byte
// zero, which is exactly the reconstructed sample, ready to be the next pixel's `a`.
inline __m128i add_mod256(__m128i x, __m128i pred) { return _mm_add_epi8(x, pred); }

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

}  // namespace

bool unfilter_scanline(int filter, const uint8_t* src, uint8_t* cur, const uint8_t* prev, int64_t n,
                  int bpp) {
  const int64_t head = bpp < n ? bpp : n;
  switch (filter) {
    case 0:
      std::memcpy(cur, src, size_t(n));
      return true;
    case 1:
      if (bpp == 3) {
        sub_rgb_spans(src, cur, n);
        return true;
      }
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
      if (bpp == 3) {
        paeth_rgb_spans(src, cur, prev, n);
        return true;
      }
      for (int64_t i = 0; i < head; ++i) cur[i] = uint8_t(src[i] + prev[i]);
      for (int64_t i = bpp; i < n; ++i)
        cur[i] = uint8_t(src[i] + png_paeth(cur[i - bpp], prev[i], prev[i - bpp]));
      return true;
    default:
      return false;
  }
}

namespace {

// One reconstructed row of 8-bit RGB bytes (padded) -> segment ids.
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

const uint8_t* RgbRowDecoder::decode(const uint8_t* line) {
  if (!error_.ok()) return nullptr;
  if (rows_.empty()) {  // the first row: its bytes exist, so its buffers may
    rows_.assign(size_t(2 * (stride_ + kPadding)), 0);
    prev_ = rows_.data();
    cur_ = rows_.data() + stride_ + kPadding;
  }
  ++y_;
  // An Up row of zeros repeats the previous row: nothing to write (frequent in panoptic maps).
  unchanged_ = line[0] == 2 && next_nonzero(line + 1, 0, stride_) == stride_;
  if (unchanged_) return prev_;
  if (!unfilter_scanline(line[0], line + 1, cur_, prev_, stride_, 3)) {
    error_ = fail(StatusCode::kPngBadFilter, StatusWhere::kNone, y_ - 1, line[0]);
    return nullptr;
  }
  uint8_t* t = prev_;
  prev_ = cur_;
  cur_ = t;
  return prev_;
}

PngRgbRows::PngRgbRows(const uint8_t* data, size_t size, int64_t height, int64_t width)
    : data_(data), height_(height),
      // The size is checked before any product of it is formed: with image_size_ok,
      // (3 * width + 1) * height <= 3 * 2^40 + 2^31 cannot overflow (common/checked.hpp).
      // The decoder allocates its rows only once it decodes one, which next() lets it do only
      // when the size matched: a huge width with no data behind it allocates nothing.
      decoder_(checked_width(height, width)) {
  if (!image_size_ok(height, width)) {
    status_ = fail(StatusCode::kBadArgument, StatusWhere::kNone, -1, int64_t(size));
  } else if (size_t((3 * width + 1) * height) != size || (data == nullptr && size != 0)) {
    status_ = fail(StatusCode::kPngSizeMismatch, StatusWhere::kNone, -1, int64_t(size));
  } else {
    stride_ = 3 * width;
  }
}

const uint8_t* PngRgbRows::next() {
  const int64_t y = decoder_.rows();
  if (!status_.ok() || y >= height_) return nullptr;
  const uint8_t* row = decoder_.decode(data_ + y * (stride_ + 1));  // < size: checked above
  if (row == nullptr) status_ = decoder_.error();
  return row;
}

bool PngIdRows::next(uint32_t* ids) {
  const uint8_t* row = rows_.next();
  if (row == nullptr) return false;
  rgb_row_to_ids(row, width_, ids);
  return true;
}

Status png_unfilter_rgb_to_id(const uint8_t* data, size_t size, int64_t height, int64_t width,
                              uint32_t* ids) {
  PngIdRows rows(data, size, height, width);
  for (int64_t y = 0; y < height && rows.next(ids + y * width);) ++y;
  return rows.status();
}

}  // namespace panoseg
