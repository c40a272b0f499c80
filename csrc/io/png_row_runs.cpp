#include "io/png_row_runs.hpp"

#include <algorithm>
#include <cstring>

#include "common/simd.hpp"
#include "io/png_unfilter.hpp"
#include "io/rgb_id.hpp"

namespace panoseg {
namespace {

// --- Nonzero residuals -----------------------------------------------------------------------

// Appends the pixels whose bytes k.. have a set bit in m (bit i: byte k + i is nonzero), each
// pixel once (`last`: the last pixel appended, whose later bytes may start this block).
PANOSEG_INLINE void pixels_from_bits(int64_t k, uint64_t m, int32_t* out, int64_t* count,
                                     int64_t* last) {
  while (m) {
    const int64_t x = (k + __builtin_ctzll(m)) / 3;
    if (x != *last) {
      out[(*count)++] = int32_t(x);  // x < width < 2^31
      *last = x;
    }
    const int64_t next_pixel = 3 * x + 3 - k;  // bit of the next pixel's first byte (>= 1)
    m = next_pixel >= 64 ? 0u : (m & (~uint64_t(0) << next_pixel));
  }
}

// The tail of a row (fewer than 64 bytes from k), a byte at a time: no read past the row.
PANOSEG_INLINE void nonzero_tail(const uint8_t* s, int64_t k, int64_t n, int32_t* out,
                                 int64_t* count, int64_t* last) {
  for (; k < n; ++k)
    if (s[k] != 0) pixels_from_bits(k, 1u, out, count, last);
}

// The pixels of a scanline's n = 3 * width residual bytes that have a nonzero byte, ascending,
// into out (room for width); returns how many. 64 bytes a step: most steps are all zero.
int64_t nonzero_pixels_sse2(const uint8_t* s, int64_t n, int32_t* out) {
  int64_t count = 0, last = -1, k = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  for (; k + 64 <= n; k += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + k));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + k + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + k + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + k + 48));
    const __m128i any = _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(any, zero)) == 0xFFFF) continue;
    const auto nonzero = [&](__m128i v) {
      return uint64_t(~unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero))) & 0xFFFFu);
    };
    const uint64_t m =
        nonzero(a) | (nonzero(b) << 16) | (nonzero(c) << 32) | (nonzero(d) << 48);
    pixels_from_bits(k, m, out, &count, &last);
  }
#endif
  nonzero_tail(s, k, n, out, &count, &last);
  return count;
}

#if defined(PANOSEG_RUNTIME_SIMD)
__attribute__((target("avx2"))) int64_t nonzero_pixels_avx2(const uint8_t* s, int64_t n,
                                                            int32_t* out) {
  int64_t count = 0, last = -1, k = 0;
  const __m256i zero = _mm256_setzero_si256();
  for (; k + 64 <= n; k += 64) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + k));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + k + 32));
    const __m256i any = _mm256_or_si256(a, b);
    if (_mm256_testz_si256(any, any)) continue;
    const uint64_t m =
        uint64_t(~unsigned(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, zero)))) |
        (uint64_t(~unsigned(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, zero)))) << 32);
    pixels_from_bits(k, m, out, &count, &last);
  }
  nonzero_tail(s, k, n, out, &count, &last);
  return count;
}

// Of the 21 pixels from pixel x on (63 bytes), those with a nonzero byte (bit i of m: byte
// 3x + i is nonzero), appended to out by a compress: no branch per pixel, no division.
__attribute__((target("avx512f,avx512bw,popcnt,bmi2"))) PANOSEG_INLINE void
pixels_from_bits_avx512(uint64_t m, int32_t x, int32_t* out, int64_t* count) {
  constexpr uint64_t kFirstBytes = 0x1249249249249249ull;  // bit 3j: pixel j's first byte
  const __m512i low = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i high = _mm512_add_epi32(low, _mm512_set1_epi32(16));
  const __m512i base = _mm512_set1_epi32(x);
  const uint64_t pixels = _pext_u64(m | (m >> 1) | (m >> 2), kFirstBytes);  // 21 bits
  const __mmask16 a = __mmask16(pixels), b = __mmask16(pixels >> 16);
  const int na = __builtin_popcount(unsigned(a)), nb = __builtin_popcount(unsigned(b));
  _mm512_mask_storeu_epi32(out + *count, __mmask16((1u << na) - 1u),
                           _mm512_maskz_compress_epi32(a, _mm512_add_epi32(base, low)));
  _mm512_mask_storeu_epi32(out + *count + na, __mmask16((1u << nb) - 1u),
                           _mm512_maskz_compress_epi32(b, _mm512_add_epi32(base, high)));
  *count += na + nb;
}

// 63 bytes (21 whole pixels) a step, so each pixel's three bytes are tested together; most
// steps are all zero. The full steps read one byte more, within the row (the next step's first:
// the fold above never carries bit 63 to a pixel's bit), the last step only its bytes (a masked
// load).
__attribute__((target("avx512f,avx512bw,popcnt,bmi2"))) int64_t nonzero_pixels_avx512(
    const uint8_t* s, int64_t n, int32_t* out) {
  int64_t count = 0, k = 0;
  int32_t x = 0;  // < width < 2^31
  for (; k + 64 <= n; k += 63, x += 21) {
    const __m512i v = _mm512_loadu_si512(reinterpret_cast<const void*>(s + k));
    const uint64_t m = _mm512_test_epi8_mask(v, v);
    if (m != 0) pixels_from_bits_avx512(m, x, out, &count);
  }
  if (k < n) {  // n - k < 64 bytes, whole pixels (n and k are multiples of 3)
    const __mmask64 left = __mmask64((uint64_t(1) << (n - k)) - 1u);
    const __m512i v = _mm512_maskz_loadu_epi8(left, s + k);
    const uint64_t m = _mm512_test_epi8_mask(v, v);
    if (m != 0) pixels_from_bits_avx512(m, x, out, &count);
  }
  return count;
}
#endif

using NonzeroScan = int64_t (*)(const uint8_t*, int64_t, int32_t*);

NonzeroScan pick_nonzero_scan() {
#if defined(PANOSEG_RUNTIME_SIMD)
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("bmi2"))
    return nonzero_pixels_avx512;
  if (__builtin_cpu_supports("avx2")) return nonzero_pixels_avx2;
#endif
  return nonzero_pixels_sse2;
}

const NonzeroScan nonzero_pixels = pick_nonzero_scan();

// --- Pixels as 24-bit values -------------------------------------------------------------------

// a + b in each of the three bytes, mod 256 (no carry between channels).
PANOSEG_INLINE uint32_t add_bytes(uint32_t a, uint32_t b) {
  const uint32_t low = (a & 0x7F7F7Fu) + (b & 0x7F7F7Fu);
  return (low ^ ((a ^ b) & 0x808080u)) & 0xFFFFFFu;
}

// The Paeth predictor of each channel. Whole-pixel equalities decide it for all three at once
// (b == c: pa = 0, so a; a == c: pb = 0 < pa = pc, so b; a == b: pa = pb <= pc, so a), and one
// of them holds at most pixels a panoptic row computes (the starts of the runs above).
PANOSEG_INLINE uint32_t paeth_pixel(uint32_t a, uint32_t b, uint32_t c) {
  if (b == c || a == b) return a;
  if (a == c) return b;
  uint32_t out = 0;
  for (int k = 0; k < 24; k += 8)
    out |= uint32_t(png_paeth(int((a >> k) & 255u), int((b >> k) & 255u),
                              int((c >> k) & 255u)))
           << k;
  return out;
}

// Appends runs, merging a run with the previous one when their ids agree (so runs are
// maximal). Every end passed is greater than the previous one.
struct RunWriter {
  IdRun* out;
  int64_t n = 0;
  PANOSEG_INLINE void emit(int32_t end, uint32_t id) {
    if (n > 0 && out[n - 1].id == id)
      out[n - 1].end = end;
    else
      out[n++] = {end, id};
  }
};

// --- Runs of reconstructed bytes (None and Average rows) ---------------------------------------

// Appends the runs that the change bits `m` of row bytes k.. (bit i: byte k + i differs from
// byte k + i - 3) start, closing the run that began at *start.
PANOSEG_INLINE void runs_from_bits(const uint8_t* row, int64_t k, uint64_t m, int64_t bits,
                                   int64_t* start, RunWriter* out) {
  while (m) {
    const int64_t x = (k + __builtin_ctzll(m)) / 3;
    if (x != *start) {
      out->emit(int32_t(x), rgb_id_at(row, *start));
      *start = x;
    }
    const int64_t next_pixel = 3 * x + 3 - k;
    m = next_pixel >= bits ? 0u : (m & (~uint64_t(0) << next_pixel));
  }
}

// A pixel starts a run where its bytes differ from its left neighbour's, found by comparing the
// row with itself shifted by one pixel, 16 bytes a step (reads up to 15 bytes past the row).
void bytes_to_runs(const uint8_t* row, int64_t width, RunWriter* out) {
  int64_t start = 0;
  const int64_t n = 3 * width;
#if defined(__SSE2__)
  for (int64_t k = 3; k < n; k += 16) {
    uint64_t m = ~unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k)),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k - 3))))) &
                 0xFFFFu;
    if (n - k < 16) m &= (uint64_t(1) << (n - k)) - 1u;  // not past the row
    runs_from_bits(row, k, m, 16, &start, out);
  }
#else
  for (int64_t x = 1; x < width; ++x)
    if (std::memcmp(row + 3 * x, row + 3 * x - 3, 3) != 0) {
      out->emit(int32_t(x), rgb_id_at(row, start));
      start = x;
    }
  (void)n;
#endif
  if (width > 0) out->emit(int32_t(width), rgb_id_at(row, start));
}

// Bytes read past a reconstructed row by bytes_to_runs.
constexpr int64_t kRowPadding = 32;

}  // namespace

RunRow RgbRunDecoder::decode(const uint8_t* line) {
  if (!error_.ok()) return RunRow{};
  const int filter = line[0];
  const uint8_t* s = line + 1;
  ++y_;
  unchanged_ = false;
  if (filter > 4) {
    error_ = fail(StatusCode::kPngBadFilter, StatusWhere::kNone, y_ - 1, filter);
    return RunRow{};
  }
  const int64_t w = width_;
  if (w == 0) {  // no pixels: an empty row, but not nullptr (that is the error signal)
    static const IdRun kNoRun{0, 0u};
    return RunRow{&kNoRun, 0};
  }
  if (y_ == 1) {  // the first row: its bytes exist, so its buffers may be allocated
    nonzero_.resize(size_t(w));
    last_.assign(1, IdRun{int32_t(w), 0u});  // the row above the first is zeros
    n_last_ = 1;
  }
  int64_t n_nonzero = 0;
  if (filter == 1 || filter == 2 || filter == 4)
    n_nonzero = nonzero_pixels(s, 3 * w, nonzero_.data());
  if (filter == 2 && n_nonzero == 0) {  // an Up row of zeros repeats the row above
    unchanged_ = true;
    return RunRow{last_.data(), n_last_};
  }
  // Room for the row's runs: each nonzero pixel and each run above adds at most two.
  const int64_t room = std::min(w, 2 * (n_nonzero + n_last_) + 1);
  if (int64_t(next_.size()) < room) next_.resize(size_t(room));
  switch (filter) {
    case 1:
      decode_sub(s, n_nonzero);
      break;
    case 2:
      decode_up(s, n_nonzero);
      break;
    case 4:
      decode_paeth(s, n_nonzero);
      break;
    default:
      decode_bytes(filter, s);
  }
  bytes_last_ = filter == 0 || filter == 3;
  last_.swap(next_);
  n_last_ = n_next_;
  return RunRow{last_.data(), n_last_};
}

// Sub: a pixel with zero residuals repeats its left neighbour; the others add theirs to it.
void RgbRunDecoder::decode_sub(const uint8_t* s, int64_t n_nonzero) {
  RunWriter out{next_.data()};
  uint32_t v = 0;  // the pixel left of the next one (0 left of the row)
  int32_t pos = 0;
  for (int64_t i = 0; i < n_nonzero; ++i) {
    const int32_t x = nonzero_[size_t(i)];
    if (x > pos) out.emit(x, v);
    v = add_bytes(rgb_id_at(s, x), v);
    out.emit(x + 1, v);
    pos = x + 1;
  }
  if (width_ > pos) out.emit(int32_t(width_), v);
  n_next_ = out.n;
}

// Up: a pixel with zero residuals repeats the one above, so the runs above carry over between
// the nonzero pixels.
void RgbRunDecoder::decode_up(const uint8_t* s, int64_t n_nonzero) {
  RunWriter out{next_.data()};
  const IdRun* above = last_.data();
  const IdRun* const above_end = above + n_last_;
  int32_t pos = 0;
  for (int64_t i = 0; i < n_nonzero; ++i) {
    const int32_t x = nonzero_[size_t(i)];
    for (; above->end <= x; ++above) {  // the last run above ends at width > x
      if (above->end > pos) {
        out.emit(above->end, above->id);
        pos = above->end;
      }
    }
    if (x > pos) out.emit(x, above->id);
    out.emit(x + 1, add_bytes(rgb_id_at(s, x), above->id));
    pos = x + 1;
  }
  for (; above < above_end; ++above) {
    if (above->end > pos) {
      out.emit(above->end, above->id);
      pos = above->end;
    }
  }
  n_next_ = out.n;
}

// Paeth: where the residuals are zero and the row above is constant (b == c), the predictor is
// the left pixel, so the filter is computed only at nonzero pixels, at the starts of the runs
// above and at x = 0; every other pixel repeats its left neighbour.
void RgbRunDecoder::decode_paeth(const uint8_t* s, int64_t n_nonzero) {
  RunWriter out{next_.data()};
  const IdRun* const first = last_.data();
  const IdRun* above = first;  // the run above pixel x
  const int32_t* z = nonzero_.data();
  const int32_t* const z_end = z + n_nonzero;
  const int32_t w = int32_t(width_);
  uint32_t v = 0;  // the pixel left of x (0 left of the row)
  int32_t pos = 0, x = 0;
  while (true) {
    while (above->end <= x) ++above;
    const uint32_t b = above->id;
    const uint32_t c = x == 0 ? 0u : (above != first && above[-1].end == x ? above[-1].id : b);
    if (x > pos) out.emit(x, v);
    const uint32_t r = z < z_end && *z == x ? rgb_id_at(s, x) : 0u;
    v = add_bytes(r, paeth_pixel(v, b, c));  // x == 0: a = c = 0
    out.emit(x + 1, v);
    pos = x + 1;
    // The next pixel to compute: the next nonzero one or the next run start above.
    while (z < z_end && *z <= x) ++z;
    int32_t next = above->end;  // > x; width for the last run
    if (z < z_end && *z < next) next = *z;
    if (next >= w) break;
    x = next;
  }
  if (w > pos) out.emit(w, v);
  n_next_ = out.n;
}

// None and Average: the row's bytes are reconstructed (Average from the row above, rebuilt
// from its runs) and scanned for runs.
void RgbRunDecoder::decode_bytes(int filter, const uint8_t* s) {
  const int64_t n = 3 * width_, stride = n + kRowPadding;
  if (bytes_.empty()) bytes_.assign(size_t(2 * stride), 0);
  // The two halves alternate, so a run of None / Average rows keeps the row above's bytes.
  uint8_t* prev = bytes_.data() + (bytes_flip_ ? stride : 0);
  uint8_t* cur = bytes_.data() + (bytes_flip_ ? 0 : stride);
  bytes_flip_ = !bytes_flip_;
  if (filter == 3 && !bytes_last_) {  // rebuilt from the runs above
    int64_t x = 0;
    for (int64_t i = 0; i < n_last_; ++i) {
      const IdRun& r = last_[size_t(i)];
      for (; x < r.end; ++x) {
        prev[3 * x] = uint8_t(r.id);
        prev[3 * x + 1] = uint8_t(r.id >> 8);
        prev[3 * x + 2] = uint8_t(r.id >> 16);
      }
    }
  }
  unfilter_scanline(filter, s, cur, prev, n, 3);  // 0 or 3: always valid
  if (int64_t(next_.size()) < width_) next_.resize(size_t(width_));
  RunWriter out{next_.data()};
  bytes_to_runs(cur, width_, &out);
  n_next_ = out.n;
}

}  // namespace panoseg
