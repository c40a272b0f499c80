#include "merge/mask_paste.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/checked.hpp"

namespace panoseg {
namespace {

inline double bilinear(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Pillow's resampling coefficients (Resample.c, precompute_coeffs with box = (0, in_size) and the
// bilinear filter) for the output indices [o0, o1): output o reads the input samples
// first[o - o0] + [0, count[o - o0]). The exact weights are computed on first use: only the
// few outputs next to 0.5 need them, and the divisions are the expensive part.
struct TapTable {
  int64_t ksize = 0, o0 = 0;
  double scale = 0.0, ss = 0.0;
  std::vector<int64_t> first, count;
  std::vector<double> w;   // Pillow's normalized weights, ksize per output, where ready
  std::vector<float> wf;   // float32 approximations (see approximate())
  std::vector<uint8_t> ready;

  void build(int64_t in_size, int64_t out_size, int64_t begin, int64_t end) {
    scale = double(in_size) / double(out_size);
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 1.0 * filterscale;
    ss = 1.0 / filterscale;
    ksize = int64_t(std::ceil(support)) * 2 + 1;
    o0 = begin;
    const int64_t n = end - begin;
    first.resize(size_t(n));
    count.resize(size_t(n));
    w.resize(size_t(n * ksize));
    wf.resize(size_t(n * ksize));
    ready.assign(size_t(n), 0);
    for (int64_t i = 0; i < n; ++i) {
      const double center = (double(o0 + i) + 0.5) * scale;
      int64_t xmin = int64_t(center - support + 0.5);  // C truncation, as Pillow
      if (xmin < 0) xmin = 0;
      int64_t xmax = int64_t(center + support + 0.5);
      if (xmax > in_size) xmax = in_size;
      first[size_t(i)] = xmin;
      count[size_t(i)] = std::min(std::max<int64_t>(xmax - xmin, 0), ksize);
    }
  }

  // Output i's weights exactly as Pillow's: the filter at each tap, normalized by their sum.
  const double* weights(int64_t i) {
    double* k = &w[size_t(i * ksize)];
    if (!ready[size_t(i)]) {
      ready[size_t(i)] = 1;
      const double center = (double(o0 + i) + 0.5) * scale;
      const int64_t xmin = first[size_t(i)], n = count[size_t(i)];
      double ww = 0.0;
      for (int64_t x = 0; x < n; ++x) {
        k[x] = bilinear((double(x + xmin) - center + 0.5) * ss);
        ww += k[x];
      }
      for (int64_t x = 0; x < n; ++x)
        if (ww != 0.0) k[x] /= ww;
    }
    return k;
  }

  // Float32 approximations of the weights of outputs [a, b) (within 2^-24 relative of Pillow's,
  // 0 past the count), ksize per output from approx(a). One division per output, not per tap.
  void approximate(int64_t a, int64_t b) {
    for (int64_t i = a; i < b; ++i) {
      const double center = (double(o0 + i) + 0.5) * scale;
      const int64_t xmin = first[size_t(i)], n = count[size_t(i)];
      float* kf = &wf[size_t(i * ksize)];
      double raw[3] = {0.0, 0.0, 0.0};
      if (ksize == 3) {  // upscaling: a fixed number of taps, no loop
        for (int x = 0; x < 3; ++x)
          raw[x] = x < n ? bilinear((double(x + xmin) - center + 0.5) * ss) : 0.0;
        const double sum = raw[0] + raw[1] + raw[2];
        const double inv = sum != 0.0 ? 1.0 / sum : 1.0;
        for (int x = 0; x < 3; ++x) kf[x] = float(raw[x] * inv);
        continue;
      }
      double sum = 0.0;
      for (int64_t x = 0; x < n; ++x) sum += bilinear((double(x + xmin) - center + 0.5) * ss);
      const double inv = sum != 0.0 ? 1.0 / sum : 1.0;
      for (int64_t x = 0; x < ksize; ++x)
        kf[x] = x < n ? float(bilinear((double(x + xmin) - center + 0.5) * ss) * inv) : 0.0f;
    }
  }
  const float* approx(int64_t i) const { return &wf[size_t(i * ksize)]; }
};

// Reusable buffers: one per thread of a batch, so pasting allocates nothing in steady state.
struct Scratch {
  TapTable vt, ht;
  std::vector<float> padded;  // one zero-padded input row, with spare zeros for the taps
  std::vector<float> temp;    // the approximate horizontal pass over the band
  std::vector<int64_t> row_lo, row_hi, reach_lo, reach_hi, need_lo, need_hi;
  std::vector<uint8_t> one, unsure;        // an output row's decisions, a byte per column
  std::vector<uint64_t> one_w, unsure_w;  // the same as bits, 64 columns per word
  std::vector<uint8_t> patch;  // column-major output of one mask
  std::vector<float> transposed;  // the mask, transposed, when Pillow runs the vertical pass first
  std::vector<uint8_t> flip;      // then its clipped box as a bitmap
};

// Input samples below this are "surely low": no bilinear mix of them reaches 0.5.
constexpr float kLow = 0.5f - 1e-6f;

inline uint64_t load8(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Packs n_words * 64 bytes of 0/1 into bit masks, byte i to bit i % 64 of word i / 64. The
// multiplication gathers the low bits of 8 bytes into its top byte (the partial products land
// on distinct bits, so nothing carries).
inline void pack_bits(const uint8_t* bytes, int64_t n_words, uint64_t* words) {
  for (int64_t w = 0; w < n_words; ++w) {
    uint64_t word = 0;
    for (int i = 0; i < 8; ++i)
      word |= ((load8(bytes + w * 64 + i * 8) * 0x0102040810204080ULL) >> 56) << (8 * i);
    words[w] = word;
  }
}

inline int64_t ctz64(uint64_t x) { return __builtin_ctzll(x); }  // x != 0

// Calls f(b, e) for each run [b, e) of nonzero bytes among p[0], p[stride], ...,
// p[(n - 1) * stride].
template <class F>
void for_each_byte_run(const uint8_t* p, int64_t n, int64_t stride, F f) {
  for (int64_t i = 0; i < n;) {
    if (!p[i * stride]) {
      ++i;
      continue;
    }
    int64_t e = i + 1;
    while (e < n && p[e * stride]) ++e;
    f(i, e);
    i = e;
  }
}

// Bit masks of the columns [a, b) within words [a / 64, (b + 63) / 64).
inline uint64_t mask_from(int64_t a) { return ~uint64_t(0) << (a % 64); }
inline uint64_t mask_to(int64_t b) { return b % 64 ? ~(~uint64_t(0) << (b % 64)) : ~uint64_t(0); }

// words (64 columns each, zeroed first) gets bit x set where row[x] >= threshold, x in [0, n).
inline void bits_at_least(const float* row, int64_t n, float threshold, uint64_t* words) {
  const int64_t n_words = (n + 63) / 64;
  for (int64_t w = 0; w < n_words; ++w) words[w] = 0;
  int64_t x = 0;
#if defined(__SSE2__)
  const __m128 th = _mm_set1_ps(threshold);
  for (int64_t w = 0; w < n_words; ++w) {  // whole groups of 4, accumulated in a register
    const int64_t end = std::min(n & ~int64_t(3), (w + 1) * 64);
    uint64_t word = 0;
    for (; x < end; x += 4)
      word |= uint64_t(_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(row + x), th))) << (x % 64);
    words[w] = word;
  }
#endif
  for (; x < n; ++x) words[x / 64] |= uint64_t(row[x] >= threshold) << (x % 64);
}

// The float32 vertical pass of one output row with two taps over columns [a, b): bit i of
// `one` set where t0[i] * k0 + t1[i] * k1 > above, of `unsure` where it lies in
// [below, above]. Writes words [a / 64, (b + 63) / 64) of both; returns whether any is unsure.
// t0 and t1 must be readable 3 floats past b (the loads are 4 wide and aligned to a multiple
// of 4 columns, so they may also start up to 3 columns before a, at a column >= 0).
inline bool decide_two_taps(const float* t0, const float* t1, float k0, float k1, float above,
                            float below, int64_t a, int64_t b, uint64_t* one,
                            uint64_t* unsure) {
  const int64_t wa = a / 64, wz = (b + 63) / 64;
  for (int64_t w = wa; w < wz; ++w) one[w] = unsure[w] = 0;
#if defined(__SSE2__)
  const __m128 vk0 = _mm_set1_ps(k0), vk1 = _mm_set1_ps(k1);
  const __m128 hi = _mm_set1_ps(above), lo = _mm_set1_ps(below);
  for (int64_t i = a & ~int64_t(3); i < b; i += 4) {
    const __m128 v = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(t0 + i), vk0),
                                _mm_mul_ps(_mm_loadu_ps(t1 + i), vk1));
    const int o = _mm_movemask_ps(_mm_cmpgt_ps(v, hi));
    // Unsure unless surely above or below: NaN (inf * 0 when samples near FLT_MAX overflow the
    // float32 pass) is unsure, and so computed exactly.
    const int u = _mm_movemask_ps(_mm_and_ps(_mm_cmpnlt_ps(v, lo), _mm_cmpngt_ps(v, hi)));
    one[i / 64] |= uint64_t(o) << (i % 64);
    unsure[i / 64] |= uint64_t(u) << (i % 64);
  }
#else
  for (int64_t i = a; i < b; ++i) {
    const float v = t0[i] * k0 + t1[i] * k1;
    one[i / 64] |= uint64_t(v > above) << (i % 64);
    unsure[i / 64] |= uint64_t(!(v < below) & !(v > above)) << (i % 64);  // NaN: unsure
  }
#endif
  one[wa] &= mask_from(a);
  unsure[wa] &= mask_from(a);
  one[wz - 1] &= mask_to(b);
  unsure[wz - 1] &= mask_to(b);
  uint64_t any = 0;
  for (int64_t w = wa; w < wz; ++w) any |= unsure[w];
  return any != 0;
}

// Resizes the zero-padded (mask_h+2) x (mask_w+2) image to out_h x out_w, for output rows
// [r0, r1) and columns [c0, c1) only, thresholds at > 0.5 and hands each run of ones to
// sink(r - r0, b - c0, e - c0), row by row.
//
// Pillow resizes in two passes, horizontal then vertical, each output a double sum over its
// taps rounded to float32; GluonCV keeps the outputs > 0.5. Here:
//  1. Pruning, exact: the bilinear weights are non-negative and sum to 1 (to a few ulps), so an
//     output whose taps only read samples below 0.5 - 1e-6 is below 0.5. Each input row's
//     samples at or above that span columns [xa, xb]; output columns (rows) whose taps miss
//     them all are 0 and never computed. What is left is the band.
//  2. Both passes in float32 with float32 weights, vectorized: each result is within
//     (taps + 5) * 2^-24 * M of Pillow's (M = max(1, max |sample|): each tap adds at most one
//     rounding of a weight, a product and a sum, of size <= M). Outputs farther than 16 times
//     that bound from 0.5 are decided by it.
//  3. The rest (outputs within ~1e-5 of 0.5) are computed exactly as Pillow does: same taps,
//     same double sums in the same order, float32 intermediate.
// A dimension that is not resized gets identity taps, which reproduce Pillow's skipped pass.
template <class Sink>
void resample_runs(const float* prob, int64_t mask_h, int64_t mask_w, float max_abs,
                   int64_t out_h, int64_t out_w, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                   Scratch& s, Sink sink) {
  const int64_t in_h = mask_h + 2, in_w = mask_w + 2;
  // Per padded input row, the columns [xa, xb] of its samples not surely low (none: xb < xa).
  std::vector<int64_t>& xa = s.row_lo;
  std::vector<int64_t>& xb = s.row_hi;
  xa.assign(size_t(in_h), 0);
  xb.assign(size_t(in_h), -1);
  int64_t ya = in_h, yb = -1;
  const int64_t mw_words = (mask_w + 63) / 64;
  s.one_w.resize(size_t(mw_words));
  for (int64_t y = 0; y < mask_h; ++y) {
    bits_at_least(prob + y * mask_w, mask_w, kLow, s.one_w.data());
    int64_t first = -1, last = -1;
    for (int64_t w = 0; w < mw_words; ++w) {
      const uint64_t bits = s.one_w[size_t(w)];
      if (!bits) continue;
      if (first < 0) first = w * 64 + ctz64(bits);
      last = w * 64 + 63 - __builtin_clzll(bits);
    }
    if (first < 0) continue;
    xa[size_t(y + 1)] = first + 1;
    xb[size_t(y + 1)] = last + 1;
    ya = std::min(ya, y + 1);
    yb = y + 1;
  }
  if (yb < 0) return;  // the whole mask is below 0.5

  TapTable& vt = s.vt;
  TapTable& ht = s.ht;
  vt.build(in_h, out_h, r0, r1);
  ht.build(in_w, out_w, c0, c1);
  const int64_t nr = r1 - r0, nc = c1 - c0;
  // The output rows whose vertical taps reach [ya, yb]; the rest is 0.
  int64_t rb0 = nr, rb1 = 0;
  for (int64_t r = 0; r < nr; ++r) {
    const int64_t f = vt.first[size_t(r)], n = vt.count[size_t(r)];
    if (n > 0 && f <= yb && f + n > ya) {
      rb0 = std::min(rb0, r);
      rb1 = r + 1;
    }
  }
  if (rb0 >= rb1) return;
  // Pillow's taps move right monotonically (first and first + count never decrease), so the
  // output columns whose taps reach input columns [a, b] are found by binary search.
  auto reach = [&](int64_t a, int64_t b, int64_t* lo, int64_t* hi) {
    int64_t l = 0, h = nc;  // the first column whose taps end after a
    while (l < h) {
      const int64_t m = (l + h) / 2;
      if (ht.first[size_t(m)] + ht.count[size_t(m)] > a) h = m; else l = m + 1;
    }
    *lo = l;
    h = nc;  // the first column whose taps start after b
    while (l < h) {
      const int64_t m = (l + h) / 2;
      if (ht.first[size_t(m)] > b) h = m; else l = m + 1;
    }
    *hi = l;
  };
  int64_t yf = in_h, yl = 0;  // the input rows the band rows read
  for (int64_t r = rb0; r < rb1; ++r) {
    const int64_t n = vt.count[size_t(r)];
    if (n == 0) continue;
    yf = std::min(yf, vt.first[size_t(r)]);
    yl = std::max(yl, vt.first[size_t(r)] + n);
  }
  // Each input row's reach; the band is all of them.
  std::vector<int64_t>& lo = s.reach_lo;
  std::vector<int64_t>& hi = s.reach_hi;
  lo.assign(size_t(in_h), nc);
  hi.assign(size_t(in_h), 0);
  int64_t cb0 = nc, cb1 = 0;
  for (int64_t y = yf; y < yl; ++y) {
    if (xb[size_t(y)] < xa[size_t(y)]) continue;
    reach(xa[size_t(y)], xb[size_t(y)], &lo[size_t(y)], &hi[size_t(y)]);
    if (lo[size_t(y)] < hi[size_t(y)]) {
      cb0 = std::min(cb0, lo[size_t(y)]);
      cb1 = std::max(cb1, hi[size_t(y)]);
    }
  }
  if (cb0 >= cb1) return;
  const int64_t nb = cb1 - cb0;
  // The columns where each input row's horizontal pass is needed: the reach of every row it
  // shares a row group (output rows with the same vertical taps) with.
  std::vector<int64_t>& need_lo = s.need_lo;
  std::vector<int64_t>& need_hi = s.need_hi;
  need_lo.assign(size_t(in_h), nc);
  need_hi.assign(size_t(in_h), 0);
  for (int64_t r = rb0; r < rb1;) {
    const int64_t vf = vt.first[size_t(r)], vn = vt.count[size_t(r)];
    while (r < rb1 && vt.first[size_t(r)] == vf && vt.count[size_t(r)] == vn) ++r;
    int64_t glo = nc, ghi = 0;
    for (int64_t y = vf; y < vf + vn; ++y)
      if (lo[size_t(y)] < hi[size_t(y)]) {
        glo = std::min(glo, lo[size_t(y)]);
        ghi = std::max(ghi, hi[size_t(y)]);
      }
    for (int64_t y = vf; y < vf + vn && glo < ghi; ++y) {
      need_lo[size_t(y)] = std::min(need_lo[size_t(y)], glo);
      need_hi[size_t(y)] = std::max(need_hi[size_t(y)], ghi);
    }
  }

  // The margin of step 2 (16 times the error bound); beyond 1e30 float32 sums could overflow,
  // so such masks are computed exactly throughout.
  const float margin = max_abs > 1e30f
                           ? INFINITY
                           : float(ht.ksize + vt.ksize + 5) * 0x1p-20f * max_abs;
  const float above = 0.5f + margin, below = 0.5f - margin;

  // The approximate horizontal pass, where needed.
  {
    int64_t a = nc, b = 0;
    for (int64_t y = yf; y < yl; ++y)
      if (need_lo[size_t(y)] < need_hi[size_t(y)]) {
        a = std::min(a, need_lo[size_t(y)]);
        b = std::max(b, need_hi[size_t(y)]);
      }
    ht.approximate(a, b);
    vt.approximate(rb0, rb1);
  }
  s.padded.assign(size_t(in_w + ht.ksize), 0.0f);
  s.temp.resize(size_t((yl - yf) * nb + 4));  // + the overreach of decide_two_taps
  for (int64_t y = yf; y < yl; ++y) {
    float* t = &s.temp[size_t((y - yf) * nb)] - cb0;  // indexed by output column
    const int64_t ca = std::max(cb0, need_lo[size_t(y)]), cz = std::min(cb1, need_hi[size_t(y)]);
    if (ca >= cz) continue;
    if (y < 1 || y > mask_h) {  // padding rows are 0
      std::fill(t + ca, t + cz, 0.0f);
      continue;
    }
    float* in = s.padded.data();
    std::memcpy(in + 1, prob + (y - 1) * mask_w, size_t(mask_w) * sizeof(float));
    if (ht.ksize == 3) {  // upscaling: at most 2 taps, the third weight is 0
      for (int64_t c = ca; c < cz; ++c) {
        const float* k = ht.approx(c);
        const float* src = in + ht.first[size_t(c)];
        t[c] = src[0] * k[0] + src[1] * k[1] + src[2] * k[2];
      }
    } else {
      for (int64_t c = ca; c < cz; ++c) {
        const float* k = ht.approx(c);
        const float* src = in + ht.first[size_t(c)];
        float sum = 0.0f;
        for (int64_t j = 0; j < ht.count[size_t(c)]; ++j) sum += src[j] * k[j];
        t[c] = sum;
      }
    }
  }

  // Pillow's exact value of the horizontal pass at input row y, output column c.
  auto exact_temp = [&](int64_t y, int64_t c) -> float {
    if (y < 1 || y > mask_h) return 0.0f;
    const double* k = ht.weights(c);
    const int64_t first = ht.first[size_t(c)];
    double sum = 0.0;
    for (int64_t j = 0; j < ht.count[size_t(c)]; ++j) {
      const int64_t x = first + j;
      const float v = (x < 1 || x > mask_w) ? 0.0f : prob[(y - 1) * mask_w + (x - 1)];
      sum += double(v) * k[j];
    }
    return float(sum);
  };

  // The vertical pass, row by row over the columns its row group reaches.
  const int64_t nw = (nb + 63) / 64;
  s.one.resize(size_t(nw * 64));
  s.unsure.resize(size_t(nw * 64));
  s.one_w.resize(size_t(nw));
  s.unsure_w.resize(size_t(nw));
  uint8_t* one = s.one.data();
  uint8_t* unsure = s.unsure.data();
  uint64_t* one_w = s.one_w.data();
  uint64_t* unsure_w = s.unsure_w.data();
  for (int64_t ra = rb0; ra < rb1;) {
    const int64_t vf = vt.first[size_t(ra)], vn = vt.count[size_t(ra)];
    int64_t rb = ra + 1;
    while (rb < rb1 && vt.first[size_t(rb)] == vf && vt.count[size_t(rb)] == vn) ++rb;
    int64_t ga = nc, gz = 0;  // the group's columns, in band coordinates
    for (int64_t y = vf; y < vf + vn; ++y)
      if (lo[size_t(y)] < hi[size_t(y)]) {
        ga = std::min(ga, lo[size_t(y)] - cb0);
        gz = std::max(gz, hi[size_t(y)] - cb0);
      }
    if (vn == 0 || ga >= gz) {  // no taps (Pillow's sum is 0), or all surely low
      ra = rb;
      continue;
    }
    const int64_t wa = ga / 64, wz = (gz + 63) / 64;  // the words covering [ga, gz)
    std::memset(one + wa * 64, 0, size_t(ga - wa * 64));  // the bytes of the generic path
    std::memset(one + gz, 0, size_t(wz * 64 - gz));
    std::memset(unsure + wa * 64, 0, size_t(ga - wa * 64));
    std::memset(unsure + gz, 0, size_t(wz * 64 - gz));
    const float* t = &s.temp[size_t((vf - yf) * nb)];  // tap row j is t + j * nb
    for (int64_t r = ra; r < rb; ++r) {
      const float* k = vt.approx(r);
      bool any_unsure;
      if (vn == 2) {
        any_unsure = decide_two_taps(t, t + nb, k[0], k[1], above, below, ga, gz, one_w,
                                     unsure_w);
      } else {
        uint8_t any = 0;
        for (int64_t i = ga; i < gz; ++i) {
          float v = 0.0f;
          for (int64_t j = 0; j < vn; ++j) v += t[j * nb + i] * k[j];
          one[i] = v > above;
          unsure[i] = !(v < below) & !(v > above);  // NaN: unsure
          any |= unsure[i];
        }
        pack_bits(one + wa * 64, wz - wa, one_w + wa);
        pack_bits(unsure + wa * 64, wz - wa, unsure_w + wa);
        any_unsure = any != 0;
      }
      if (any_unsure) {
        // The few outputs too close to 0.5 to decide: exactly as Pillow.
        const double* kv = vt.weights(r);
        for (int64_t w = wa; w < wz; ++w) {
          for (uint64_t u = unsure_w[w]; u; u &= u - 1) {
            const int64_t i = w * 64 + ctz64(u);
            double sum = 0.0;
            for (int64_t j = 0; j < vn; ++j)
              sum += double(exact_temp(vf + j, cb0 + i)) * kv[j];
            const uint64_t bit = uint64_t(1) << (i % 64);
            if (float(sum) > 0.5f) one_w[w] |= bit; else one_w[w] &= ~bit;
          }
        }
      }
      // The runs of ones, a word at a time.
      int64_t run = -1;  // the start of a run still open at the end of the previous word
      for (int64_t w = wa; w < wz; ++w) {
        uint64_t x = one_w[w];
        const int64_t base = cb0 + w * 64;
        if (run >= 0) {
          if (x == ~uint64_t(0)) continue;
          const int64_t z = ctz64(~x);
          sink(r, run, base + z);
          run = -1;
          x &= ~uint64_t(0) << z;
        }
        while (x) {
          const int64_t z = ctz64(x);
          const uint64_t filled = x | ((uint64_t(1) << z) - 1);
          if (filled == ~uint64_t(0)) {
            run = base + z;
            break;
          }
          const int64_t e = ctz64(~filled);
          sink(r, base + z, base + e);
          x &= ~uint64_t(0) << e;
        }
      }
      if (run >= 0) sink(r, run, cb0 + wz * 64);  // unreachable: the bits past gz are 0
    }
    ra = rb;
  }
}

// A checked mask: its box, the largest magnitude among its samples (at least 1), and whether
// Pillow would run its vertical pass first.
struct Checked {
  PasteGeometry g;
  float max_abs;
  bool vertical_first;
};

// Checks a mask (finite samples, a sane box) and computes its rounded and clipped box.
Status prepare(const float* prob, int64_t mask_h, int64_t mask_w, const float box[4],
               int64_t height, int64_t width, PassOrder order, Checked* m) {
  const Status s = paste_geometry(box, mask_h, mask_w, height, width, &m->g);
  if (!s.ok()) return s;
  // The largest |sample| as the largest of their bit patterns without the sign (IEEE floats
  // of one sign order like their bits), an integer maximum that vectorizes. Infinities and
  // NaNs have all exponent bits set, so they are the patterns >= 0x7f800000.
  int32_t max_bits = 0;
  for (int64_t i = 0; i < mask_h * mask_w; ++i) {
    int32_t bits;
    std::memcpy(&bits, prob + i, 4);
    bits &= 0x7fffffff;
    max_bits = bits > max_bits ? bits : max_bits;
  }
  if (max_bits >= 0x7f800000) return fail(StatusCode::kBadMask);
  float max_abs;
  std::memcpy(&max_abs, &max_bits, 4);
  max_abs = std::max(max_abs, 1.0f);
  m->max_abs = max_abs;
  // Pillow 13's ImagingResampleInner: vertical first if the height shrinks by more than twice
  // as many pixels as the width.
  const int64_t shrink_h = (mask_h + 2) - (m->g.y2 - m->g.y1 + 1);
  const int64_t shrink_w = (mask_w + 2) - (m->g.x2 - m->g.x1 + 1);
  m->vertical_first = order == PassOrder::kPillow13 && shrink_h > 0 && shrink_h > 2 * shrink_w;
  return ok_status();
}

// Runs the resampler over the clipped box; sink(r, b, e) gets the runs of ones of clipped row r,
// row by row.
template <class Sink>
void paste_runs(const float* prob, int64_t mask_h, int64_t mask_w, const Checked& m,
                Scratch& s, Sink sink) {
  const PasteGeometry& g = m.g;
  if (g.cx1 >= g.cx2 || g.cy1 >= g.cy2) return;
  const int64_t out_h = g.y2 - g.y1 + 1, out_w = g.x2 - g.x1 + 1;
  const int64_t r0 = g.cy1 - g.y1, r1 = g.cy2 - g.y1, c0 = g.cx1 - g.x1, c1 = g.cx2 - g.x1;
  if (!m.vertical_first) {
    resample_runs(prob, mask_h, mask_w, m.max_abs, out_h, out_w, r0, r1, c0, c1, s, sink);
    return;
  }
  // Vertical pass first = horizontal pass first on the transposed mask, transposed back. This
  // only happens to boxes shorter than the padded mask, so a bitmap of the clipped box is cheap.
  s.transposed.resize(size_t(mask_h * mask_w));
  for (int64_t y = 0; y < mask_h; ++y)
    for (int64_t x = 0; x < mask_w; ++x)
      s.transposed[size_t(x * mask_h + y)] = prob[y * mask_w + x];
  const int64_t nr = r1 - r0, nc = c1 - c0;
  s.flip.assign(size_t(nr * nc), 0);
  resample_runs(s.transposed.data(), mask_w, mask_h, m.max_abs, out_w, out_h, c0, c1, r0, r1, s,
                [&](int64_t c, int64_t b, int64_t e) {
                  for (int64_t r = b; r < e; ++r) s.flip[size_t(r * nc + c)] = 1;
                });
  for (int64_t r = 0; r < nr; ++r)
    for_each_byte_run(&s.flip[size_t(r * nc)], nc, 1, [&](int64_t b, int64_t e) { sink(r, b, e); });
}

// One checked mask as [begin, end) pixel intervals appended to `intervals`.
void intervals_of(const float* prob, int64_t mask_h, int64_t mask_w, const Checked& m,
                  int64_t height, int64_t width, bool column_major, Scratch& s,
                  std::vector<int64_t>* intervals) {
  const PasteGeometry& g = m.g;
  if (!column_major) {
    // Row-major: the resampler's runs of ones are the intervals (no run crosses an image row).
    paste_runs(prob, mask_h, mask_w, m, s, [&](int64_t r, int64_t b, int64_t e) {
      const int64_t base = (g.cy1 + r) * width + g.cx1;
      intervals->push_back(base + b);
      intervals->push_back(base + e);
    });
    return;
  }
  // Column-major (COCO RLE order): the row runs, then a patch over their bounding box, read
  // down its columns. The runs go to the end of `intervals` first and are replaced.
  const size_t start = intervals->size();
  int64_t rmin = INT64_MAX, rmax = -1, cmin = INT64_MAX, cmax = -1;
  paste_runs(prob, mask_h, mask_w, m, s, [&](int64_t r, int64_t b, int64_t e) {
    intervals->push_back(r);
    intervals->push_back(b);
    intervals->push_back(e);
    rmin = std::min(rmin, r);
    rmax = r;
    cmin = std::min(cmin, b);
    cmax = std::max(cmax, e);
  });
  if (rmax < 0) return;
  const int64_t nr = rmax - rmin + 1, nc = cmax - cmin;
  s.patch.assign(size_t(nr * nc), 0);
  for (size_t i = start; i < intervals->size(); i += 3) {
    const int64_t r = (*intervals)[i] - rmin, b = (*intervals)[i + 1] - cmin;
    std::memset(&s.patch[size_t(r * nc + b)], 1, size_t((*intervals)[i + 2] - (*intervals)[i + 1]));
  }
  intervals->resize(start);
  for (int64_t c = 0; c < nc; ++c) {
    const int64_t base = (g.cx1 + cmin + c) * height + g.cy1 + rmin;
    for_each_byte_run(&s.patch[size_t(c)], nr, nc, [&](int64_t b, int64_t e) {
      intervals->push_back(base + b);
      intervals->push_back(base + e);
    });
  }
}

// One checked mask written as 1s into a zeroed height x width image.
void dense_of(const float* prob, int64_t mask_h, int64_t mask_w, const Checked& m,
              int64_t width, Scratch& s, uint8_t* out) {
  const PasteGeometry& g = m.g;
  paste_runs(prob, mask_h, mask_w, m, s, [&](int64_t r, int64_t b, int64_t e) {
    std::memset(out + (g.cy1 + r) * width + g.cx1 + b, 1, size_t(e - b));
  });
}

}  // namespace

Status paste_geometry(const float box[4], int64_t mask_h, int64_t mask_w, int64_t height,
                      int64_t width, PasteGeometry* g) {
  if (height < 1 || width < 1 || box == nullptr) return fail(StatusCode::kBadArgument);
  if (mask_h < 1 || mask_w < 1 || mask_h > 1024 || mask_w > 1024)
    return fail(StatusCode::kBadMask);
  for (int i = 0; i < 4; ++i)
    if (!std::isfinite(box[i]) || std::fabs(box[i]) > 1e7f) return fail(StatusCode::kBadBox);
  if (box[2] < box[0] || box[3] < box[1]) return fail(StatusCode::kBadBox);
  // float32 throughout, like numpy on MXNet's float32 boxes.
  const float x = (box[0] + box[2]) / 2.0f, y = (box[1] + box[3]) / 2.0f;
  float hw = (box[2] - box[0]) / 2.0f, hh = (box[3] - box[1]) / 2.0f;
  hw = hw * float(double(mask_w + 2) / double(mask_w));
  hh = hh * float(double(mask_h + 2) / double(mask_h));
  g->x1 = int64_t(std::nearbyint(x - hw));  // np.round: half to even
  g->y1 = int64_t(std::nearbyint(y - hh));
  g->x2 = int64_t(std::nearbyint(x + hw));
  g->y2 = int64_t(std::nearbyint(y + hh));
  g->cx1 = g->x1 > 0 ? g->x1 : 0;
  g->cy1 = g->y1 > 0 ? g->y1 : 0;
  g->cx2 = g->x2 + 1 < width ? g->x2 + 1 : width;
  g->cy2 = g->y2 + 1 < height ? g->y2 + 1 : height;
  return ok_status();
}

Status paste_mask_intervals(const float* prob, int64_t mask_h, int64_t mask_w, const float box[4],
                            int64_t height, int64_t width, bool column_major,
                            std::vector<int64_t>* intervals, PassOrder order) {
  if (prob == nullptr) return fail(StatusCode::kBadArgument);
  Checked m;
  const Status status = prepare(prob, mask_h, mask_w, box, height, width, order, &m);
  if (!status.ok()) return status;
  Scratch s;
  intervals_of(prob, mask_h, mask_w, m, height, width, column_major, s, intervals);
  return ok_status();
}

Status paste_mask_dense(const float* prob, int64_t mask_h, int64_t mask_w, const float box[4],
                        int64_t height, int64_t width, uint8_t* out, PassOrder order) {
  if (prob == nullptr || out == nullptr) return fail(StatusCode::kBadArgument);
  Checked m;
  const Status status = prepare(prob, mask_h, mask_w, box, height, width, order, &m);
  if (!status.ok()) return status;
  Scratch s;
  dense_of(prob, mask_h, mask_w, m, width, s, out);
  return ok_status();
}

namespace {

// Checks every mask and computes its geometry; returns how many threads are worth starting
// (at most `threads`), or 0 with *status set (at the first bad mask).
int64_t check_masks(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                    const float* boxes, int64_t height, int64_t width, int threads,
                    PassOrder order, std::vector<Checked>* checked, Status* status) {
  // image_size_ok (sides <= 2^31 - 1, <= 2^40 pixels) keeps every product of image sizes below
  // int64's range (common/checked.hpp): (cy1 + r) * width + cx1 + e and x * height + y are
  // < height * width. Mask sides are checked here against kMaxSide and by prepare() against
  // 1024 before any sample is read: probs + k * mask_h * mask_w is only formed for k = 0
  // until mask 0 passed, then k * mask_h * mask_w < n * 2^20 indexes the caller's n masks.
  if (n < 0 || ((probs == nullptr || boxes == nullptr) && n > 0) || height < 1 || width < 1 ||
      !image_size_ok(height, width) || mask_h < 1 || mask_w < 1 || mask_h > kMaxSide ||
      mask_w > kMaxSide) {
    *status = fail(StatusCode::kBadArgument);
    return 0;
  }
  checked->resize(size_t(n));
  int64_t work = 0;
  for (int64_t k = 0; k < n; ++k) {
    Checked& m = (*checked)[size_t(k)];
    *status = at_item(prepare(probs + k * mask_h * mask_w, mask_h, mask_w, boxes + 4 * k, height,
                              width, order, &m),
                      StatusWhere::kInstance, k);
    if (!status->ok()) return 0;
    const PasteGeometry& g = m.g;
    // The work grows with the rows and columns of the clipped box, plus a fixed cost. Each term
    // is < 5 * 2^31 + 256; the sum saturates (only its ratio to kWorkPerThread matters), so
    // billions of masks cannot overflow it.
    if (work < (int64_t(1) << 61))
      work += std::max<int64_t>(0, g.cx2 - g.cx1) + 4 * std::max<int64_t>(0, g.cy2 - g.cy1) + 256;
  }
  // A thread costs ~40 us to start: only worth it for at least ~150 us of work each.
  constexpr int64_t kWorkPerThread = 20000;
  return std::max<int64_t>(1, std::min<int64_t>({int64_t(std::max(threads, 1)),
                                                 work / kWorkPerThread, n}));
}

// Runs body(thread, mask) for every mask on `n_threads` threads (the calling one included),
// each taking the next mask not yet taken: masks vary a lot in cost, so a fixed split would
// leave threads idle.
//
// An exception in a worker thread (bad_alloc from a huge box's scratch or a long interval list)
// would call std::terminate and abort the interpreter: each worker catches it, the others stop
// taking masks, and the first one is rethrown in the calling thread after the join, where
// `except +` turns it into a Python exception (MemoryError for bad_alloc).
template <class Body>
void for_each_mask(int64_t n, int64_t n_threads, Body body) {
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&](int64_t thread) {
    try {
      for (int64_t k; (k = next.fetch_add(1, std::memory_order_relaxed)) < n;) body(thread, k);
    } catch (...) {
      next.store(n, std::memory_order_relaxed);  // no more masks for anyone
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < n_threads; ++t) {
    try {
      pool.emplace_back(worker, t);
    } catch (...) {  // no more threads to be had: the ones running take the rest
      break;
    }
  }
  worker(0);
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

Status paste_masks_intervals(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                             const float* boxes, int64_t height, int64_t width, bool column_major,
                             int threads, std::vector<int64_t>* offsets,
                             std::vector<int64_t>* intervals, PassOrder order) {
  std::vector<Checked> checked;
  Status status;
  const int64_t n_threads = check_masks(probs, n, mask_h, mask_w, boxes, height, width, threads,
                                        order, &checked, &status);
  if (!status.ok()) return status;
  offsets->assign(1, 0);
  intervals->clear();
  if (n_threads == 1) {  // straight into the output
    Scratch scratch;
    for (int64_t k = 0; k < n; ++k) {
      intervals_of(probs + k * mask_h * mask_w, mask_h, mask_w, checked[size_t(k)], height,
                   width, column_major, scratch, intervals);
      offsets->push_back(int64_t(intervals->size() / 2));
    }
    return ok_status();
  }
  // Each thread pastes into its own buffer and records where each of its masks went; the
  // pieces are then concatenated in mask order, so the output does not depend on the threads.
  struct Piece {
    int64_t thread, begin, end;
  };
  std::vector<Piece> pieces(static_cast<size_t>(n));
  std::vector<std::vector<int64_t>> buffers(static_cast<size_t>(n_threads));
  std::vector<Scratch> scratch(static_cast<size_t>(n_threads));
  for_each_mask(n, n_threads, [&](int64_t t, int64_t k) {
    std::vector<int64_t>& buffer = buffers[size_t(t)];
    const int64_t begin = int64_t(buffer.size());
    intervals_of(probs + k * mask_h * mask_w, mask_h, mask_w, checked[size_t(k)], height, width,
                 column_major, scratch[size_t(t)], &buffer);
    pieces[size_t(k)] = {t, begin, int64_t(buffer.size())};
  });
  size_t total = 0;
  for (const std::vector<int64_t>& b : buffers) total += b.size();
  intervals->reserve(total);
  for (const Piece& p : pieces) {
    const std::vector<int64_t>& b = buffers[size_t(p.thread)];
    intervals->insert(intervals->end(), b.begin() + p.begin, b.begin() + p.end);
    offsets->push_back(int64_t(intervals->size() / 2));
  }
  return ok_status();
}

Status paste_masks_dense(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                         const float* boxes, int64_t height, int64_t width, int threads,
                         uint8_t* out, PassOrder order) {
  if (out == nullptr && n > 0) return fail(StatusCode::kBadArgument);
  // `out` holds n * height * width bytes; the product must fit int64 for the offsets
  // k * height * width below (height * width <= 2^40 once check_masks passed; it checks first).
  int64_t stack = 0;
  if (n > 0 && image_size_ok(height, width) && !checked_mul(n, height * width, &stack))
    return fail(StatusCode::kBadArgument);
  std::vector<Checked> checked;
  Status status;
  const int64_t n_threads = check_masks(probs, n, mask_h, mask_w, boxes, height, width, threads,
                                        order, &checked, &status);
  if (!status.ok()) return status;
  std::vector<Scratch> scratch(static_cast<size_t>(n_threads));
  for_each_mask(n, n_threads, [&](int64_t t, int64_t k) {
    dense_of(probs + k * mask_h * mask_w, mask_h, mask_w, checked[size_t(k)], width,
             scratch[size_t(t)], out + k * height * width);
  });
  return ok_status();
}

}  // namespace panoseg
