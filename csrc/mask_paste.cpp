#include "mask_paste.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

namespace panoseg {
namespace {

// Pillow's resampling coefficients (Resample.c, precompute_coeffs with box = (0, in_size) and the
// bilinear filter of support 1) for the output indices [o0, o1): tap k of output o reads input
// first[o - o0] + k with weight w[(o - o0) * ksize + k], for k < count[o - o0].
struct TapTable {
  int64_t ksize = 0;
  std::vector<int64_t> first, count;
  std::vector<double> w, ww;     // raw weights and their sums
  std::vector<uint8_t> normal;  // whether w of an index is normalized yet

  // The normalized weights of output i, as Pillow's (divided by their sum on first use: the
  // divisions are the expensive part, and most outputs never need their weights).
  const double* weights(int64_t i) {
    double* k = &w[size_t(i * ksize)];
    if (!normal[size_t(i)]) {
      normal[size_t(i)] = 1;
      // Pillow normalizes the untrimmed taps; the trimmed ones are 0 and stay 0.
      const double sum = ww[size_t(i)];
      if (sum != 0.0)
        for (int64_t x = 0; x < count[size_t(i)]; ++x) k[x] /= sum;
    }
    return k;
  }
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
  t->ww.assign(size_t(n), 0.0);
  t->normal.assign(size_t(n), 0);
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
    t->ww[size_t(i)] = ww;
    // Drop taps of weight 0 at either end: they add exactly +-0.0 to Pillow's sum (the samples
    // are finite), so the result is unchanged, and the neighbourhoods classified below shrink.
    int64_t lead = 0;
    while (lead < xmax && k[lead] == 0.0) ++lead;
    while (xmax > lead && k[xmax - 1] == 0.0) --xmax;
    if (lead > 0)
      for (int64_t x = lead; x < xmax; ++x) k[x - lead] = k[x];
    t->first[size_t(i)] = xmin + lead;
    t->count[size_t(i)] = xmax - lead;
  }
}

// Resizes the zero-padded (mask_h+2) x (mask_w+2) image to out_h x out_w, evaluating only output
// rows [r0, r1) and columns [c0, c1), then thresholds: patch[(r - r0) * (c1 - c0) + (c - c0)].
//
// Pillow computes a horizontal pass into a float32 image, then a vertical pass, each output sample
// a double sum over its taps. Only the side of 0.5 matters here, and the bilinear weights are
// non-negative and sum to 1 (to within a few ulps): an output whose input neighbourhood (its
// vertical taps x horizontal taps) lies entirely below 0.5 - 1e-6 is below 0.5, entirely above
// 0.5 + 1e-6 is above, whatever the rounding (the margin dwarfs the ~1e-15 rounding error).
// Neighbouring outputs share their taps, so this is decided once per block of outputs with the
// same taps; only blocks straddling the 0.5 contour are computed, exactly as Pillow does (same
// sums in the same order, float32 intermediate). A dimension that is not resized gets identity
// taps, which reproduce Pillow's skipped pass exactly.
struct Span {
  int64_t begin, end;
  uint8_t cls;  // surely low, surely high, or 0: mixed
};

template <class Sink>
void resample_runs(const float* prob, int64_t mask_h, int64_t mask_w, int64_t out_h,
                   int64_t out_w, int64_t r0, int64_t r1, int64_t c0, int64_t c1, Sink sink) {
  const int64_t in_h = mask_h + 2, in_w = mask_w + 2;
  const int64_t nc = c1 - c0, nr = r1 - r0;
  TapTable vt, ht;
  build_taps(in_h, out_h, r0, r1, &vt);
  build_taps(in_w, out_w, c0, c1, &ht);

  // Class of every input sample: bit 1 surely low, bit 2 surely high.
  constexpr float kLow = 0.5f - 1e-6f, kHigh = 0.5f + 1e-6f;
  constexpr uint8_t kSurelyLow = 1, kSurelyHigh = 2;
  std::vector<uint8_t> in_cls(size_t(in_h * in_w), kSurelyLow);  // the padding is 0: low
  for (int64_t y = 1; y <= mask_h; ++y) {
    const float* src = prob + (y - 1) * mask_w;
    uint8_t* dst = &in_cls[size_t(y * in_w + 1)];
    for (int64_t x = 0; x < mask_w; ++x)
      dst[x] = uint8_t((src[x] < kLow ? kSurelyLow : 0) | (src[x] > kHigh ? kSurelyHigh : 0));
  }

  // The horizontal pass (float32, as Pillow stores it) for the input rows read: cheap, since
  // the input has few rows; the expensive vertical pass is what the classification saves.
  int64_t y_first = in_h, y_last = 0;
  for (int64_t r = 0; r < nr; ++r) {
    if (vt.count[size_t(r)] == 0) continue;
    y_first = std::min(y_first, vt.first[size_t(r)]);
    y_last = std::max(y_last, vt.first[size_t(r)] + vt.count[size_t(r)]);
  }
  if (y_last < y_first) y_last = y_first;
  // Computed lazily, only where an exact output needs it (the outputs along the mask's edge).
  std::vector<float> temp(size_t((y_last - y_first) * nc), 0.0f);
  std::vector<uint8_t> done(temp.size(), 0);
  auto horizontal = [&](int64_t y, int64_t c) -> float {
    const size_t at = size_t((y - y_first) * nc + c);
    if (!done[at]) {
      done[at] = 1;
      double ss = 0.0;
      if (y >= 1 && y <= mask_h) {  // padding rows are 0
        const double* k = ht.weights(c);
        const int64_t first = ht.first[size_t(c)];
        for (int64_t j = 0; j < ht.count[size_t(c)]; ++j) {
          const int64_t x = first + j;
          const float v = (x < 1 || x > mask_w) ? 0.0f : prob[(y - 1) * mask_w + (x - 1)];
          ss += double(v) * k[j];
        }
      }
      temp[at] = float(ss);
    }
    return temp[at];
  };
  // Column groups: runs of output columns with the same horizontal taps.
  std::vector<int64_t> col_groups;  // start of each group, then nc
  for (int64_t c = 0; c < nc; ++c)
    if (c == 0 || ht.first[size_t(c)] != ht.first[size_t(c - 1)] ||
        ht.count[size_t(c)] != ht.count[size_t(c - 1)])
      col_groups.push_back(c);
  col_groups.push_back(nc);
  std::vector<Span> spans;
  std::vector<uint8_t> row_cls(static_cast<size_t>(in_w));
  std::vector<uint8_t> ones(static_cast<size_t>(nc));
  for (int64_t ra = 0; ra < nr;) {
    // A row group: runs of output rows with the same vertical taps share their classes.
    const int64_t vf = vt.first[size_t(ra)], vn = vt.count[size_t(ra)];
    int64_t rb = ra + 1;
    while (rb < nr && vt.first[size_t(rb)] == vf && vt.count[size_t(rb)] == vn) ++rb;
    spans.clear();
    // The classes of the input columns over this group's input rows, then of each column group.
    std::fill(row_cls.begin(), row_cls.end(), uint8_t(kSurelyLow | kSurelyHigh));
    for (int64_t y = vf; y < vf + vn; ++y)
      for (int64_t x = 0; x < in_w; ++x) row_cls[size_t(x)] &= in_cls[size_t(y * in_w + x)];
    bool all_low = vn > 0;
    for (int64_t x = 0; x < in_w && all_low; ++x) all_low = row_cls[size_t(x)] == kSurelyLow;
    if (vn == 0 || all_low) {  // background rows: the patch stays 0
      ra = rb;
      continue;
    }
    for (size_t g = 0; g + 1 < col_groups.size(); ++g) {
      const int64_t ca = col_groups[g], cb = col_groups[g + 1];
      const int64_t hf = ht.first[size_t(ca)], hn = ht.count[size_t(ca)];
      uint8_t cls = kSurelyLow | kSurelyHigh;
      for (int64_t x = hf; x < hf + hn; ++x) cls &= row_cls[size_t(x)];
      if (hn == 0) cls = kSurelyLow;  // no input sample: the value is 0
      if (cls != kSurelyLow && cls != kSurelyHigh) cls = 0;  // mixed
      if (!spans.empty() && spans.back().cls == cls && spans.back().end == ca)
        spans.back().end = cb;
      else
        spans.push_back({ca, cb, cls});
    }
    // The horizontal-pass values the exact outputs of this row group read, once for all rows.
    for (const Span& sp : spans)
      if (sp.cls == 0)
        for (int64_t j = 0; j < vn; ++j)
          for (int64_t c = sp.begin; c < sp.end; ++c) horizontal(vf + j, c);
    const float* t = &temp[size_t((vf - y_first) * nc)];  // tap row j is t + j * nc
    for (int64_t r = ra; r < rb; ++r) {
      const double* k = nullptr;  // weights of this row, when an exact output needs them
      // Runs of ones of this row, merged across spans, handed to the sink.
      int64_t run_begin = -1, run_end = -1;
      auto on = [&](int64_t b, int64_t e) {
        if (run_begin >= 0 && run_end == b) {
          run_end = e;
          return;
        }
        if (run_begin >= 0) sink(r, run_begin, run_end);
        run_begin = b;
        run_end = e;
      };
      for (const Span& sp : spans) {
        if (sp.cls == kSurelyHigh) {
          on(sp.begin, sp.end);
        } else if (sp.cls == 0) {
          // Pillow's vertical sum, tap by tap in order, for each column of the span: first
          // into a byte per column (a loop the compiler vectorizes), then into runs.
          if (k == nullptr) k = vt.weights(r);
          const int64_t n = sp.end - sp.begin;
          uint8_t* bits = ones.data();
          if (vn == 2) {  // upscaling: two taps
            const float* a = t + sp.begin;
            const float* b = t + nc + sp.begin;
            const double k0 = k[0], k1 = k[1];
            for (int64_t i = 0; i < n; ++i) {
              double ss = 0.0;
              ss += double(a[i]) * k0;
              ss += double(b[i]) * k1;
              bits[i] = float(ss) > 0.5f;
            }
          } else {
            for (int64_t i = 0; i < n; ++i) {
              double ss = 0.0;
              for (int64_t j = 0; j < vn; ++j) ss += double(t[j * nc + sp.begin + i]) * k[j];
              bits[i] = float(ss) > 0.5f;
            }
          }
          for (int64_t i = 0; i < n;) {
            if (!bits[i]) {
              ++i;
              continue;
            }
            int64_t e = i + 1;
            while (e < n && bits[e]) ++e;
            on(sp.begin + i, sp.begin + e);
            i = e;
          }
        }
      }
      if (run_begin >= 0) sink(r, run_begin, run_end);
    }
    ra = rb;
  }
}

// The rounded and clipped box of a paste, once the mask is known to be finite.
PasteStatus prepare(const float* prob, int64_t mask_h, int64_t mask_w, const float box[4],
                    int64_t height, int64_t width, PasteGeometry* g) {
  const PasteStatus s = paste_geometry(box, mask_h, mask_w, height, width, g);
  if (s != PasteStatus::kOk) return s;
  for (int64_t i = 0; i < mask_h * mask_w; ++i)
    if (!std::isfinite(prob[i])) return PasteStatus::kBadMask;
  return PasteStatus::kOk;
}

// Runs the resampler over the clipped box; sink(r, b, e) gets the runs of ones of clipped row r.
template <class Sink>
void paste_runs(const float* prob, int64_t mask_h, int64_t mask_w, const PasteGeometry& g,
                Sink sink) {
  if (g.cx1 >= g.cx2 || g.cy1 >= g.cy2) return;
  resample_runs(prob, mask_h, mask_w, g.y2 - g.y1 + 1, g.x2 - g.x1 + 1, g.cy1 - g.y1,
                g.cy2 - g.y1, g.cx1 - g.x1, g.cx2 - g.x1, sink);
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
  const PasteStatus s = prepare(prob, mask_h, mask_w, box, height, width, &g);
  if (s != PasteStatus::kOk) return s;
  if (!column_major) {
    // Row-major: the resampler's runs of ones are the intervals (no run crosses an image row).
    paste_runs(prob, mask_h, mask_w, g, [&](int64_t r, int64_t b, int64_t e) {
      const int64_t base = (g.cy1 + r) * width + g.cx1;
      intervals->push_back(base + b);
      intervals->push_back(base + e);
    });
    return PasteStatus::kOk;
  }
  // Column-major canvas (COCO RLE order): make the clipped patch, then runs down its columns.
  const int64_t nr = g.cy2 - g.cy1, nc = g.cx2 - g.cx1;
  if (nr <= 0 || nc <= 0) return PasteStatus::kOk;
  std::vector<uint8_t> patch(size_t(nr * nc), 0);
  paste_runs(prob, mask_h, mask_w, g, [&](int64_t r, int64_t b, int64_t e) {
    std::memset(&patch[size_t(r * nc + b)], 1, size_t(e - b));
  });
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
  const PasteStatus s = prepare(prob, mask_h, mask_w, box, height, width, &g);
  if (s != PasteStatus::kOk) return s;
  paste_runs(prob, mask_h, mask_w, g, [&](int64_t r, int64_t b, int64_t e) {
    std::memset(out + (g.cy1 + r) * width + g.cx1 + b, 1, size_t(e - b));
  });
  return PasteStatus::kOk;
}

namespace {

// Checks every mask and splits [0, n) into at most `threads` chunks of about equal clipped box
// area (the work), as chunk boundaries bounds[0] = 0 < ... < bounds.back() = n.
PasteStatus plan_chunks(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                        const float* boxes, int64_t height, int64_t width, int threads,
                        std::vector<int64_t>* bounds, int64_t* bad) {
  std::vector<int64_t> work(static_cast<size_t>(n));
  int64_t total = 0;
  for (int64_t k = 0; k < n; ++k) {
    PasteGeometry g;
    const PasteStatus s = prepare(probs + k * mask_h * mask_w, mask_h, mask_w, boxes + 4 * k,
                                  height, width, &g);
    if (s != PasteStatus::kOk) {
      *bad = k;
      return s;
    }
    const int64_t area = std::max<int64_t>(0, g.cx2 - g.cx1) * std::max<int64_t>(0, g.cy2 - g.cy1);
    work[size_t(k)] = area + 1024;  // + the fixed cost of a mask
    total += work[size_t(k)];
  }
  // A thread costs tens of microseconds to start: only worth it for ~100k pixels of work each.
  constexpr int64_t kWorkPerThread = 100000;
  int64_t chunks = std::min<int64_t>({int64_t(std::max(threads, 1)), total / kWorkPerThread, n});
  if (chunks < 1) chunks = 1;
  bounds->assign(1, 0);
  int64_t acc = 0;
  for (int64_t k = 0; k < n; ++k) {
    acc += work[size_t(k)];
    if (int64_t(bounds->size()) < chunks && acc * chunks >= total * int64_t(bounds->size()))
      bounds->push_back(k + 1);
  }
  if (bounds->back() != n) bounds->push_back(n);
  return PasteStatus::kOk;
}

// Runs body(chunk) for every chunk, chunk 0 on the calling thread.
template <class Body>
void run_chunks(size_t n_chunks, Body body) {
  std::vector<std::thread> pool;
  for (size_t c = 1; c < n_chunks; ++c) pool.emplace_back(body, c);
  if (n_chunks > 0) body(size_t(0));
  for (std::thread& t : pool) t.join();
}

}  // namespace

PasteStatus paste_masks_intervals(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                                  const float* boxes, int64_t height, int64_t width,
                                  bool column_major, int threads, std::vector<int64_t>* offsets,
                                  std::vector<int64_t>* intervals, int64_t* bad) {
  std::vector<int64_t> bounds;
  const PasteStatus s = plan_chunks(probs, n, mask_h, mask_w, boxes, height, width, threads,
                                    &bounds, bad);
  if (s != PasteStatus::kOk) return s;
  const size_t n_chunks = bounds.size() - 1;
  // Each chunk pastes into its own buffers; they are concatenated in mask order afterwards.
  std::vector<std::vector<int64_t>> chunk_intervals(n_chunks), chunk_ends(n_chunks);
  run_chunks(n_chunks, [&](size_t c) {
    for (int64_t k = bounds[c]; k < bounds[c + 1]; ++k) {
      paste_mask_intervals(probs + k * mask_h * mask_w, mask_h, mask_w, boxes + 4 * k, height,
                           width, column_major, &chunk_intervals[c]);
      chunk_ends[c].push_back(int64_t(chunk_intervals[c].size() / 2));
    }
  });
  offsets->assign(1, 0);
  intervals->clear();
  for (size_t c = 0; c < n_chunks; ++c) {
    const int64_t base = int64_t(intervals->size() / 2);
    for (int64_t e : chunk_ends[c]) offsets->push_back(base + e);
    intervals->insert(intervals->end(), chunk_intervals[c].begin(), chunk_intervals[c].end());
  }
  return PasteStatus::kOk;
}

PasteStatus paste_masks_dense(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                              const float* boxes, int64_t height, int64_t width, int threads,
                              uint8_t* out, int64_t* bad) {
  std::vector<int64_t> bounds;
  const PasteStatus s = plan_chunks(probs, n, mask_h, mask_w, boxes, height, width, threads,
                                    &bounds, bad);
  if (s != PasteStatus::kOk) return s;
  run_chunks(bounds.size() - 1, [&](size_t c) {
    for (int64_t k = bounds[c]; k < bounds[c + 1]; ++k)
      paste_mask_dense(probs + k * mask_h * mask_w, mask_h, mask_w, boxes + 4 * k, height, width,
                       out + k * height * width);
  });
  return PasteStatus::kOk;
}

}  // namespace panoseg
