#include "mask_paste.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace panoseg {
namespace {

// Pillow's resampling coefficients (Resample.c, precompute_coeffs with box = (0, in_size) and the
// bilinear filter of support 1) for the output indices [o0, o1): tap k of output o reads input
// first[o - o0] + k with weight w[(o - o0) * ksize + k], for k < count[o - o0].
struct TapTable {
  int64_t ksize = 0;
  std::vector<int64_t> first, count;
  std::vector<double> w;
};

inline double bilinear(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

void build_taps(int64_t in_size, int64_t out_size, int64_t o0, int64_t o1, TapTable* t) {
  const double scale = double(in_size) / double(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;
  const double ss = 1.0 / filterscale;
  const int64_t n = o1 - o0;
  t->ksize = int64_t(std::ceil(support)) * 2 + 1;
  t->first.assign(size_t(n), 0);
  t->count.assign(size_t(n), 0);
  t->w.assign(size_t(n * t->ksize), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const double center = (double(o0 + i) + 0.5) * scale;
    int64_t xmin = int64_t(center - support + 0.5);  // C truncation, as Pillow
    if (xmin < 0) xmin = 0;
    int64_t xmax = int64_t(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    if (xmax < 0) xmax = 0;
    if (xmax > t->ksize) xmax = t->ksize;
    double* k = &t->w[size_t(i * t->ksize)];
    double ww = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      k[x] = bilinear((double(x + xmin) - center + 0.5) * ss);
      ww += k[x];
    }
    for (int64_t x = 0; x < xmax; ++x)
      if (ww != 0.0) k[x] /= ww;
    t->first[size_t(i)] = xmin;
    t->count[size_t(i)] = xmax;
  }
}

// Resizes the zero-padded (mask_h+2) x (mask_w+2) image to out_h x out_w, evaluating only output
// rows [r0, r1) and columns [c0, c1), then thresholds: patch[(r - r0) * (c1 - c0) + (c - c0)].
// Sums run in the same order as Pillow's, in double, with a float32 intermediate image.
void resample_threshold(const float* prob, int64_t mask_h, int64_t mask_w, int64_t out_h,
                        int64_t out_w, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                        std::vector<uint8_t>* patch) {
  const int64_t in_h = mask_h + 2, in_w = mask_w + 2;
  const bool need_h = out_w != in_w, need_v = out_h != in_h;
  const int64_t nc = c1 - c0, nr = r1 - r0;

  TapTable vt, ht;
  int64_t y_first = r0, y_last = r1;  // input rows the vertical pass reads
  if (need_v) {
    build_taps(in_h, out_h, r0, r1, &vt);
    y_first = in_h;
    y_last = 0;
    for (int64_t r = 0; r < nr; ++r) {
      if (vt.first[size_t(r)] < y_first) y_first = vt.first[size_t(r)];
      if (vt.first[size_t(r)] + vt.count[size_t(r)] > y_last) y_last = vt.first[size_t(r)] + vt.count[size_t(r)];
    }
    if (y_last < y_first) y_last = y_first;
  }
  if (need_h) build_taps(in_w, out_w, c0, c1, &ht);

  // Horizontal pass into float32 rows [y_first, y_last), columns [c0, c1).
  const int64_t n_rows = y_last - y_first;
  std::vector<float> temp(size_t(n_rows * nc), 0.0f);
  std::vector<float> row(size_t(in_w), 0.0f);
  for (int64_t y = 0; y < n_rows; ++y) {
    const int64_t py = y_first + y;  // padded row; rows 0 and in_h - 1 are all zero
    if (py < 1 || py > mask_h) continue;
    for (int64_t x = 0; x < mask_w; ++x) row[size_t(x + 1)] = prob[(py - 1) * mask_w + x];
    float* out = &temp[size_t(y * nc)];
    if (!need_h) {
      for (int64_t c = 0; c < nc; ++c) out[c] = row[size_t(c0 + c)];
      continue;
    }
    for (int64_t c = 0; c < nc; ++c) {
      const double* k = &ht.w[size_t(c * ht.ksize)];
      const float* src = &row[size_t(ht.first[size_t(c)])];
      double ss = 0.0;
      for (int64_t j = 0; j < ht.count[size_t(c)]; ++j) ss += double(src[j]) * k[j];
      out[c] = float(ss);
    }
  }

  // Vertical pass and threshold. Only the side of 0.5 matters, and the bilinear weights are
  // non-negative and sum to 1 (to within a few ulps): an output whose taps all lie clearly below
  // (above) 0.5 is below (above) 0.5 whatever the rounding. Such pixels -- all but a band along
  // the mask's edge -- are decided from one byte per input sample; the rest are computed exactly
  // as Pillow does. The margin (1e-6) dwarfs the rounding error (~1e-15) yet is far below any
  // meaningful change in a probability.
  constexpr float kLow = 0.5f - 1e-6f, kHigh = 0.5f + 1e-6f;
  constexpr uint8_t kSurelyLow = 1, kSurelyHigh = 2;
  std::vector<uint8_t> cls(temp.size());
  for (size_t i = 0; i < temp.size(); ++i)
    cls[i] = uint8_t((temp[i] < kLow ? kSurelyLow : 0) | (temp[i] > kHigh ? kSurelyHigh : 0));
  patch->assign(size_t(nr * nc), 0);
  std::vector<uint8_t> both(static_cast<size_t>(nc));
  for (int64_t r = 0; r < nr; ++r) {
    uint8_t* dst = &(*patch)[size_t(r * nc)];
    if (!need_v) {
      const float* src = &temp[size_t((r0 + r - y_first) * nc)];
      for (int64_t c = 0; c < nc; ++c) dst[c] = src[c] > 0.5f;
      continue;
    }
    const int64_t first = vt.first[size_t(r)], count = vt.count[size_t(r)];
    if (count == 0) continue;  // no input sample: the value is 0
    const double* k = &vt.w[size_t(r * vt.ksize)];
    std::fill(both.begin(), both.end(), uint8_t(kSurelyLow | kSurelyHigh));
    for (int64_t j = 0; j < count; ++j) {
      const uint8_t* c_row = &cls[size_t((first + j - y_first) * nc)];
      for (int64_t c = 0; c < nc; ++c) both[size_t(c)] &= c_row[c];
    }
    for (int64_t c = 0; c < nc;) {
      // Eight columns at a time while they are all surely low (the common case: background).
      if (c + 8 <= nc) {
        uint64_t word;
        std::memcpy(&word, &both[size_t(c)], 8);
        if (word == 0x0101010101010101ull) {
          c += 8;  // dst is already 0
          continue;
        }
        if (word == 0x0202020202020202ull) {
          std::memset(dst + c, 1, 8);
          c += 8;
          continue;
        }
      }
      const uint8_t b = both[size_t(c)];
      if (b == kSurelyHigh) {
        dst[c] = 1;
      } else if (b != kSurelyLow) {
        double ss = 0.0;
        for (int64_t j = 0; j < count; ++j)
          ss += double(temp[size_t((first + j - y_first) * nc + c)]) * k[j];
        dst[c] = float(ss) > 0.5f;
      }
      ++c;
    }
  }
}

// Geometry plus the thresholded clipped patch.
PasteStatus paste_patch(const float* prob, int64_t mask_h, int64_t mask_w, const float box[4],
                        int64_t height, int64_t width, PasteGeometry* g,
                        std::vector<uint8_t>* patch) {
  const PasteStatus s = paste_geometry(box, mask_h, mask_w, height, width, g);
  if (s != PasteStatus::kOk) return s;
  patch->clear();
  if (g->cx1 >= g->cx2 || g->cy1 >= g->cy2) return PasteStatus::kOk;
  resample_threshold(prob, mask_h, mask_w, g->y2 - g->y1 + 1, g->x2 - g->x1 + 1, g->cy1 - g->y1,
                     g->cy2 - g->y1, g->cx1 - g->x1, g->cx2 - g->x1, patch);
  return PasteStatus::kOk;
}

}  // namespace

PasteStatus paste_geometry(const float box[4], int64_t mask_h, int64_t mask_w, int64_t height,
                           int64_t width, PasteGeometry* g) {
  if (mask_h < 1 || mask_w < 1 || mask_h > 1024 || mask_w > 1024) return PasteStatus::kBadMask;
  for (int i = 0; i < 4; ++i)
    if (!std::isfinite(box[i]) || std::fabs(box[i]) > 1e7f) return PasteStatus::kBadBox;
  if (box[2] < box[0] || box[3] < box[1]) return PasteStatus::kBadBox;
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
  return PasteStatus::kOk;
}

PasteStatus paste_mask_intervals(const float* prob, int64_t mask_h, int64_t mask_w,
                                 const float box[4], int64_t height, int64_t width,
                                 bool column_major, std::vector<int64_t>* intervals) {
  PasteGeometry g;
  std::vector<uint8_t> patch;
  const PasteStatus s = paste_patch(prob, mask_h, mask_w, box, height, width, &g, &patch);
  if (s != PasteStatus::kOk || patch.empty()) return s;
  const int64_t nr = g.cy2 - g.cy1, nc = g.cx2 - g.cx1;
  if (!column_major) {
    // Runs along each patch row; runs never cross a row boundary of the image.
    for (int64_t r = 0; r < nr; ++r) {
      const uint8_t* row = &patch[size_t(r * nc)];
      const int64_t base = (g.cy1 + r) * width + g.cx1;
      for (int64_t c = 0; c < nc;) {
        if (c + 8 <= nc) {  // skip background eight pixels at a time
          uint64_t word;
          std::memcpy(&word, row + c, 8);
          if (word == 0) {
            c += 8;
            continue;
          }
        }
        if (!row[c]) {
          ++c;
          continue;
        }
        int64_t e = c + 1;
        while (e < nc && row[e]) ++e;
        intervals->push_back(base + c);
        intervals->push_back(base + e);
        c = e;
      }
    }
    return PasteStatus::kOk;
  }
  // Column-major canvas: runs down each patch column.
  for (int64_t c = 0; c < nc; ++c) {
    const int64_t base = (g.cx1 + c) * height + g.cy1;
    for (int64_t r = 0; r < nr;) {
      if (!patch[size_t(r * nc + c)]) {
        ++r;
        continue;
      }
      int64_t e = r + 1;
      while (e < nr && patch[size_t(e * nc + c)]) ++e;
      intervals->push_back(base + r);
      intervals->push_back(base + e);
      r = e;
    }
  }
  return PasteStatus::kOk;
}

PasteStatus paste_mask_dense(const float* prob, int64_t mask_h, int64_t mask_w,
                             const float box[4], int64_t height, int64_t width, uint8_t* out) {
  PasteGeometry g;
  std::vector<uint8_t> patch;
  const PasteStatus s = paste_patch(prob, mask_h, mask_w, box, height, width, &g, &patch);
  if (s != PasteStatus::kOk || patch.empty()) return s;
  const int64_t nc = g.cx2 - g.cx1;
  for (int64_t y = g.cy1; y < g.cy2; ++y)
    for (int64_t x = g.cx1; x < g.cx2; ++x)
      out[y * width + x] = patch[size_t((y - g.cy1) * nc + (x - g.cx1))];
  return PasteStatus::kOk;
}

}  // namespace panoseg
