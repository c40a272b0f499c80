#include "mask_paste.hpp"

#include <cmath>
#include <vector>

namespace panoseg {
namespace {

// Pillow's resampling coefficients for one output index (Resample.c, precompute_coeffs with
// box = (0, in_size) and the bilinear filter of support 1).
struct Taps {
  int64_t first = 0, count = 0;
  std::vector<double> weight;
};

inline double bilinear(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

void taps_for(int64_t in_size, int64_t out_size, int64_t xx, Taps* t) {
  const double scale = double(in_size) / double(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;
  const double center = (double(xx) + 0.5) * scale;
  const double ss = 1.0 / filterscale;
  int64_t xmin = int64_t(center - support + 0.5);  // C truncation, as Pillow
  if (xmin < 0) xmin = 0;
  int64_t xmax = int64_t(center + support + 0.5);
  if (xmax > in_size) xmax = in_size;
  xmax -= xmin;
  if (xmax < 0) xmax = 0;
  t->weight.assign(size_t(xmax), 0.0);
  double ww = 0.0;
  for (int64_t x = 0; x < xmax; ++x) {
    const double w = bilinear((double(x + xmin) - center + 0.5) * ss);
    t->weight[x] = w;
    ww += w;
  }
  for (int64_t x = 0; x < xmax; ++x)
    if (ww != 0.0) t->weight[x] /= ww;
  t->first = xmin;
  t->count = xmax;
}

// Resizes the zero-padded (mask_h+2) x (mask_w+2) image to out_h x out_w, evaluating only output
// rows [r0, r1) and columns [c0, c1), then thresholds: patch[(r - r0) * (c1 - c0) + (c - c0)].
void resample_threshold(const float* prob, int64_t mask_h, int64_t mask_w, int64_t out_h,
                        int64_t out_w, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                        std::vector<uint8_t>* patch) {
  const int64_t in_h = mask_h + 2, in_w = mask_w + 2;
  auto padded = [&](int64_t y, int64_t x) -> float {
    if (y < 1 || x < 1 || y > mask_h || x > mask_w) return 0.0f;
    return prob[(y - 1) * mask_w + (x - 1)];
  };
  const bool need_h = out_w != in_w, need_v = out_h != in_h;
  const int64_t nc = c1 - c0, nr = r1 - r0;

  // Vertical taps of the rows we need, and the range of input rows they read.
  std::vector<Taps> vtaps(size_t(need_v ? nr : 0));
  int64_t y_first = r0, y_last = r1;  // input rows read (no vertical pass: the same rows)
  if (need_v) {
    y_first = in_h;
    y_last = 0;
    for (int64_t r = 0; r < nr; ++r) {
      taps_for(in_h, out_h, r0 + r, &vtaps[size_t(r)]);
      const Taps& t = vtaps[size_t(r)];
      if (t.first < y_first) y_first = t.first;
      if (t.first + t.count > y_last) y_last = t.first + t.count;
    }
    if (y_last < y_first) y_last = y_first;
  }

  // Horizontal pass into float32 rows [y_first, y_last), columns [c0, c1).
  const int64_t n_rows = y_last - y_first;
  std::vector<float> temp(size_t(n_rows * nc));
  std::vector<Taps> htaps(size_t(need_h ? nc : 0));
  for (int64_t c = 0; c < nc && need_h; ++c) taps_for(in_w, out_w, c0 + c, &htaps[size_t(c)]);
  for (int64_t y = 0; y < n_rows; ++y) {
    for (int64_t c = 0; c < nc; ++c) {
      float v;
      if (need_h) {
        const Taps& t = htaps[size_t(c)];
        double ss = 0.0;
        for (int64_t k = 0; k < t.count; ++k) ss += double(padded(y_first + y, t.first + k)) * t.weight[k];
        v = float(ss);
      } else {
        v = padded(y_first + y, c0 + c);
      }
      temp[size_t(y * nc + c)] = v;
    }
  }

  // Vertical pass and threshold.
  patch->assign(size_t(nr * nc), 0);
  for (int64_t r = 0; r < nr; ++r) {
    for (int64_t c = 0; c < nc; ++c) {
      float v;
      if (need_v) {
        const Taps& t = vtaps[size_t(r)];
        double ss = 0.0;
        for (int64_t k = 0; k < t.count; ++k)
          ss += double(temp[size_t((t.first + k - y_first) * nc + c)]) * t.weight[k];
        v = float(ss);
      } else {
        v = temp[size_t((r0 + r - y_first) * nc + c)];
      }
      (*patch)[size_t(r * nc + c)] = v > 0.5f;
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
  // Emit runs along the canvas' fast axis; runs never cross a row (column) boundary.
  const int64_t n_outer = column_major ? nc : nr, n_inner = column_major ? nr : nc;
  for (int64_t o = 0; o < n_outer; ++o) {
    int64_t start = -1;
    for (int64_t i = 0; i <= n_inner; ++i) {
      const bool on = i < n_inner &&
                      patch[size_t(column_major ? i * nc + o : o * nc + i)];
      if (on && start < 0) start = i;
      if (!on && start >= 0) {
        const int64_t base = column_major ? (g.cx1 + o) * height + g.cy1 : (g.cy1 + o) * width + g.cx1;
        intervals->push_back(base + start);
        intervals->push_back(base + i);
        start = -1;
      }
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
