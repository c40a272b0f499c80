#include "merge/panoptic_merge.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/checked.hpp"
#include "io/rgb_id.hpp"

namespace panoseg {

SegmentIdAssigner::SegmentIdAssigner(const uint32_t* stuff_colour_ids, int64_t n_stuff,
                                     uint64_t seed, int64_t expected_segments)
    : seed_(seed) {
  if (stuff_colour_ids == nullptr || n_stuff < 0) n_stuff = 0;
  // n_stuff counts colours the caller holds; beyond INT32_MAX it cannot be a category list.
  if (n_stuff > INT32_MAX) throw std::invalid_argument("too many stuff colour ids");
  // `expected_segments` only sizes the table (which grows as ids are taken, and whose size
  // does not change any id): clamped, so a huge hint neither overflows 4 * (...) nor
  // allocates memory no segment will use.
  constexpr int64_t kMaxHint = int64_t(1) << 20;
  expected_segments = std::min(std::max<int64_t>(expected_segments, 0), kMaxHint);
  size_t cap = 64;  // 4 * (n_stuff + expected_segments + 1) < 2^34: no overflow
  while (cap < size_t(4 * (n_stuff + expected_segments + 1))) cap <<= 1;
  table_.assign(cap, 0u);
  for (int64_t i = 0; i < n_stuff; ++i) {
    const uint32_t id = stuff_colour_ids[i] & kMaxSegmentId;
    if (stuff_colour_ids[i] != 0u) take(stuff_colour_ids[i]);
    if (id != 0u) stuff_.push_back(id);
  }
  std::sort(stuff_.begin(), stuff_.end());
  stuff_.erase(std::unique(stuff_.begin(), stuff_.end()), stuff_.end());
  stuff_issued_.assign(stuff_.size(), false);
}

bool SegmentIdAssigner::taken(uint32_t id) const {
  const size_t mask = table_.size() - 1;
  for (size_t h = (id * 0x9E3779B1u) & mask; table_[h] != 0u; h = (h + 1) & mask)
    if (table_[h] == id) return true;
  return false;
}

void SegmentIdAssigner::take(uint32_t id) {
  if (taken(id)) return;
  if (size_t(2 * (size_ + 1)) > table_.size()) {  // keep the table at most half full
    std::vector<uint32_t> old;
    old.swap(table_);
    table_.assign(old.size() * 2, 0u);
    size_ = 0;
    for (uint32_t v : old)
      if (v != 0u) take(v);
  }
  const size_t mask = table_.size() - 1;
  size_t h = (id * 0x9E3779B1u) & mask;
  while (table_[h] != 0u) h = (h + 1) & mask;
  table_[h] = id;
  ++size_;
}

uint64_t SegmentIdAssigner::next(uint32_t colour_id) {  // splitmix64, one stream per colour
  uint64_t* state = nullptr;
  for (auto& stream : streams_)
    if (stream.first == colour_id) state = &stream.second;
  if (state == nullptr) {
    streams_.emplace_back(colour_id, seed_ ^ (uint64_t(colour_id) * 0xD6E8FEB86659FD93ull));
    state = &streams_.back().second;
  }
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint32_t SegmentIdAssigner::thing_id(uint32_t colour_id) {
  const uint32_t id = colour_id & kMaxSegmentId;
  if (id != 0u && !taken(id)) {
    take(id);
    return id;
  }
  return jittered(colour_id);
}

uint32_t SegmentIdAssigner::stuff_id(uint32_t colour_id) {
  const uint32_t id = colour_id & kMaxSegmentId;
  if (id != 0u) {
    const auto it = std::lower_bound(stuff_.begin(), stuff_.end(), id);
    if (it != stuff_.end() && *it == id) {  // a reserved stuff colour
      const size_t k = size_t(it - stuff_.begin());
      if (!stuff_issued_[k]) {
        stuff_issued_[k] = true;
        return id;
      }
    } else if (!taken(id)) {  // a colour no stuff category reserved, still free
      take(id);
      return id;
    }
  }
  return jittered(colour_id);
}

uint32_t SegmentIdAssigner::jittered(uint32_t colour_id) {
  const int base[3] = {int(colour_id & 0xFF), int((colour_id >> 8) & 0xFF), int((colour_id >> 16) & 0xFF)};
  for (int attempt = 0; attempt < 4096; ++attempt) {
    const uint64_t r = next(colour_id & kMaxSegmentId);
    uint32_t candidate = 0;
    for (int c = 0; c < 3; ++c) {
      int v = base[c] + int((r >> (16 * c)) % 61) - 30;  // jitter in [-30, 30], as panopticapi
      v = v < 0 ? 0 : (v > 255 ? 255 : v);
      candidate |= uint32_t(v) << (8 * c);
    }
    if (candidate != 0u && !taken(candidate)) {
      take(candidate);
      return candidate;
    }
  }
  // The neighbourhood of the colour is exhausted (thousands of instances): any free id will do.
  // One pass over the 2^24 ids at most: with all of them taken there is none to give (the loop
  // used to spin forever).
  uint32_t id = colour_id & kMaxSegmentId;
  for (uint32_t tried = 0; tried <= kMaxSegmentId; ++tried) {
    id = (id + 1) & kMaxSegmentId;
    if (id != 0u && !taken(id)) {
      take(id);
      return id;
    }
  }
  throw std::invalid_argument("too many segments in one image: all 16777215 segment ids are taken");
}

Status intervals_valid(const IntervalMasks& masks, int64_t n_pixels) {
  if (masks.n < 0 || (masks.offsets == nullptr && masks.n > 0) || masks.n_values < 0)
    return fail(StatusCode::kBadArgument);
  const Status bad = fail(StatusCode::kBadIntervals);
  if (masks.n > 0 && masks.offsets[0] != 0) return at_item(bad, StatusWhere::kMask, 0);
  for (int64_t k = 0; k < masks.n; ++k) {
    const int64_t a = masks.offsets[k], b = masks.offsets[k + 1];
    // Offsets start at 0 and never decrease, and b <= n_values / 2 (not 2 * b <= n_values,
    // which wraps for b >= 2^62): every run read below lies within the n_values the caller
    // holds, and so do all later uses of the offsets in panoptic_merge.
    if (b < a || b > masks.n_values / 2 || (b > a && masks.intervals == nullptr))
      return at_item(bad, StatusWhere::kMask, k);
    int64_t prev_end = 0;
    for (int64_t i = a; i < b; ++i) {
      const int64_t begin = masks.intervals[2 * i], end = masks.intervals[2 * i + 1];
      // Sorted, disjoint and within [0, n_pixels): a mask's area, overlap and painted pixels
      // are then all <= n_pixels, so the int64 sums in panoptic_merge cannot overflow.
      if (begin < prev_end || end <= begin || end > n_pixels)
        return at_item(bad, StatusWhere::kMask, k);
      prev_end = end;
    }
  }
  return ok_status();
}

namespace {

// Pixels of the mask [iv, iv + 2n) that are already taken (covered by `taken`).
int64_t overlap(const int64_t* iv, int64_t n, const std::vector<PaintedRun>& taken) {
  int64_t total = 0;
  // The first run that could overlap the first interval: runs are sorted and disjoint, so
  // their ends are sorted too.
  auto it = std::lower_bound(taken.begin(), taken.end(), n ? iv[0] + 1 : 0,
                             [](const PaintedRun& r, int64_t v) { return r.end < v; });
  for (int64_t i = 0; i < n && it != taken.end(); ++i) {
    const int64_t b = iv[2 * i], e = iv[2 * i + 1];
    while (it != taken.end() && it->end <= b) ++it;
    for (auto jt = it; jt != taken.end() && jt->begin < e; ++jt)
      total += std::min(e, jt->end) - std::max(b, jt->begin);
  }
  return total;
}

// taken := taken + (mask - taken) painted with `id`; returns the number of pixels painted.
int64_t paint(const int64_t* iv, int64_t n, uint32_t id, std::vector<PaintedRun>* taken,
              std::vector<PaintedRun>* scratch) {
  scratch->clear();
  scratch->reserve(taken->size() + size_t(2 * n) + 1);
  int64_t painted = 0;
  size_t t = 0;
  const std::vector<PaintedRun>& old = *taken;
  for (int64_t i = 0; i < n; ++i) {
    int64_t b = iv[2 * i];
    const int64_t e = iv[2 * i + 1];
    // Keep the taken runs that end before this interval.
    while (t < old.size() && old[t].end <= b) scratch->push_back(old[t++]);
    // Walk the interval: gaps between taken runs get painted.
    while (b < e) {
      // A run pushed for an earlier interval may reach into this one: skip what it covers.
      if (!scratch->empty() && scratch->back().end > b) {
        b = scratch->back().end;
        continue;
      }
      if (t < old.size() && old[t].begin <= b) {  // b lies inside a taken run
        scratch->push_back(old[t]);
        b = old[t].end;
        ++t;
        continue;
      }
      const int64_t gap_end = t < old.size() ? std::min(e, old[t].begin) : e;
      scratch->push_back({b, gap_end, id});
      painted += gap_end - b;
      b = gap_end;
    }
  }
  while (t < old.size()) scratch->push_back(old[t++]);
  taken->swap(*scratch);
  return painted;
}

}  // namespace

Status panoptic_merge(int64_t n_pixels, const IntervalMasks& instances,
                      const int32_t* instance_category, const IntervalMasks& stuff,
                      const int32_t* stuff_category, const MergeCategory* categories,
                      int32_t n_categories, const MergeParams& params, SegmentIdAssigner* ids,
                      std::vector<PaintedRun>* runs, std::vector<MergedSegment>* segments) {
  segments->clear();
  runs->clear();
  if (n_pixels < 0 || n_categories < 0 || (categories == nullptr && n_categories > 0) ||
      ids == nullptr || (instance_category == nullptr && instances.n > 0) ||
      (stuff_category == nullptr && stuff.n > 0) || instances.n >= INT32_MAX ||
      stuff.n >= INT32_MAX)
    return fail(StatusCode::kBadArgument);
  Status status = intervals_valid(instances, n_pixels);
  if (!status.ok()) return at_item(status, StatusWhere::kInstance, status.index);
  status = intervals_valid(stuff, n_pixels);
  if (!status.ok()) return at_item(status, StatusWhere::kStuff, status.index);
  for (int64_t k = 0; k < instances.n; ++k)
    if (instance_category[k] < 0 || instance_category[k] >= n_categories ||
        !categories[instance_category[k]].isthing)
      return fail(StatusCode::kBadCategory, StatusWhere::kInstance, k, instance_category[k]);
  for (int64_t k = 0; k < stuff.n; ++k)
    if (stuff_category[k] < 0 || stuff_category[k] >= n_categories)
      return fail(StatusCode::kBadCategory, StatusWhere::kStuff, k, stuff_category[k]);

  std::vector<PaintedRun> scratch;
  for (int64_t k = 0; k < instances.n; ++k) {
    const int64_t* iv = instances.intervals + 2 * instances.offsets[k];
    const int64_t n_iv = instances.offsets[k + 1] - instances.offsets[k];
    int64_t area = 0;
    for (int64_t i = 0; i < n_iv; ++i) area += iv[2 * i + 1] - iv[2 * i];
    if (area == 0) continue;
    const int64_t taken = overlap(iv, n_iv, *runs);
    if (double(taken) / double(area) > params.overlap_thr) continue;
    if (taken == area) continue;  // nothing left to paint (only when overlap_thr >= 1)
    const uint32_t id = ids->thing_id(categories[instance_category[k]].colour_id);
    paint(iv, n_iv, id, runs, &scratch);
    segments->push_back({id, instance_category[k], int32_t(k), true});
  }

  for (int64_t k = 0; k < stuff.n; ++k) {
    const MergeCategory& cat = categories[stuff_category[k]];
    if (cat.isthing) continue;  // thing classes of the semantic prediction are ignored
    const int64_t* iv = stuff.intervals + 2 * stuff.offsets[k];
    const int64_t n_iv = stuff.offsets[k + 1] - stuff.offsets[k];
    int64_t area = 0;
    for (int64_t i = 0; i < n_iv; ++i) area += iv[2 * i + 1] - iv[2 * i];
    const int64_t left = area - overlap(iv, n_iv, *runs);
    if (double(left) < params.stuff_area_limit || left == 0) continue;
    const uint32_t id = cat.colour_id;
    paint(iv, n_iv, id, runs, &scratch);
    // A stuff category listed twice for one image becomes one segment (its id is its colour).
    bool seen = false;
    for (const MergedSegment& s : *segments) seen |= s.id == id;
    if (!seen) segments->push_back({id, stuff_category[k], int32_t(k), false});
  }
  return ok_status();
}

namespace {

// The runs panoptic_merge made are sorted, disjoint and inside [0, n_pixels); the writers below
// check it anyway (once per run, not per pixel) before writing, since std::fill with an inverted
// or outside range writes outside the caller's buffer. Thrown std::invalid_argument becomes a
// ValueError through `except +`.
inline void check_run(const PaintedRun& r, int64_t pos, int64_t n_pixels) {
  if (r.begin < pos || r.end < r.begin || r.end > n_pixels)
    throw std::invalid_argument("painted runs must be sorted, disjoint and inside the image");
}

inline void check_image(int64_t height, int64_t width) {
  if (!image_size_ok(height, width))
    throw std::invalid_argument("image size outside 0..2^31-1 per side or above 2^40 pixels");
}

}  // namespace

void render_runs(const std::vector<PaintedRun>& runs, int64_t n_pixels, uint32_t* canvas) {
  if (n_pixels < 0 || (canvas == nullptr && n_pixels > 0))
    throw std::invalid_argument("render_runs: bad canvas");
  int64_t pos = 0;
  for (const PaintedRun& r : runs) {
    check_run(r, pos, n_pixels);
    std::fill(canvas + pos, canvas + r.begin, 0u);
    std::fill(canvas + r.begin, canvas + r.end, r.id);
    pos = r.end;
  }
  std::fill(canvas + pos, canvas + n_pixels, 0u);
}

namespace {

// Calls put(p, id, above) for every pixel p = x * height + y (column-major, the merge's
// order) whose id may differ from the one above it (0 on the top row), in column order: the
// pixels a PNG Up filter leaves nonzero. Each run is checked (check_run) before its pixels are
// visited, so every p is < height * width.
template <class Put>
void for_each_up_change(const std::vector<PaintedRun>& runs, int64_t height, int64_t width,
                        Put put) {
  // A stretch [b, e) of constant id v, preceded (in column-major order) by id u.
  auto stretch = [&](int64_t b, int64_t e, uint32_t v, uint32_t u) {
    if (b >= e) return;
    put(b, v, b % height == 0 ? 0u : u);
    // Every column top inside the stretch compares against the zero row.
    if (v != 0u)
      for (int64_t top = (b / height + 1) * height; top < e; top += height) put(top, v, 0u);
  };
  const int64_t n = height * width;
  int64_t pos = 0;
  uint32_t prev = 0u;
  for (const PaintedRun& r : runs) {
    check_run(r, pos, n);
    stretch(pos, r.begin, 0u, prev);  // the VOID gap before the run
    if (r.begin > pos) prev = 0u;
    stretch(r.begin, r.end, r.id, prev);
    prev = r.id;
    pos = r.end;
  }
  stretch(pos, n, 0u, prev);
}

// The Up-filtered bytes of id over id `above`, channel by channel.
inline void up_filtered(uint32_t id, uint32_t above, uint8_t* px) {
  px[0] = uint8_t((id & 0xFF) - (above & 0xFF));
  px[1] = uint8_t(((id >> 8) & 0xFF) - ((above >> 8) & 0xFF));
  px[2] = uint8_t(((id >> 16) & 0xFF) - ((above >> 16) & 0xFF));
}

}  // namespace

void runs_to_png_up_scanlines(const std::vector<PaintedRun>& runs, int64_t height, int64_t width,
                              uint8_t* out) {
  // image_size_ok: height * line <= 3 * 2^40 + 2^31 and p / height < width (common/checked.hpp).
  check_image(height, width);
  const int64_t line = 3 * width + 1;
  std::memset(out, 0, size_t(height * line));
  for (int64_t y = 0; y < height; ++y) out[y * line] = 2;  // Up (row 0: above is all zeros)
  for_each_up_change(runs, height, width, [&](int64_t p, uint32_t id, uint32_t above) {
    if (id != above) up_filtered(id, above, out + (p % height) * line + 1 + 3 * (p / height));
  });
}

void runs_to_up_pixels(const std::vector<PaintedRun>& runs, int64_t height, int64_t width,
                       std::vector<FilteredPixel>* out) {
  // image_size_ok: p / height < width <= 2^31 - 1 and p % height < height fit int32.
  check_image(height, width);
  out->clear();
  // In column order first, as runs_to_png_up_scanlines visits them; then sorted by row.
  thread_local std::vector<FilteredPixel> by_column;
  by_column.clear();
  for_each_up_change(runs, height, width, [&](int64_t p, uint32_t id, uint32_t above) {
    if (id == above) return;
    FilteredPixel px;
    px.y = int32_t(p % height);
    px.x = int32_t(p / height);
    up_filtered(id, above, px.rgb);
    by_column.push_back(px);
  });
  // A stable counting sort by row keeps each row's pixels in column order.
  thread_local std::vector<int64_t> start;
  start.assign(size_t(height) + 1, 0);
  for (const FilteredPixel& px : by_column) ++start[size_t(px.y) + 1];
  for (int64_t y = 0; y < height; ++y) start[size_t(y) + 1] += start[size_t(y)];
  out->resize(by_column.size());
  for (const FilteredPixel& px : by_column) (*out)[size_t(start[size_t(px.y)]++)] = px;
  if (by_column.capacity() > (size_t(1) << 22)) std::vector<FilteredPixel>().swap(by_column);
}

void run_stats(const std::vector<PaintedRun>& runs, int64_t height, int64_t width,
               bool column_major, const std::vector<MergedSegment>& segments, int64_t* area,
               int64_t* bbox) {
  // Sizes in range and runs inside the image: fast_size >= 1 whenever there is a run to divide,
  // and the areas add up to at most height * width.
  check_image(height, width);
  {
    int64_t pos = 0;
    for (const PaintedRun& r : runs) {
      check_run(r, pos, height * width);
      pos = r.end;
    }
  }
  const size_t n = segments.size();
  std::vector<int64_t> x0(n, width), y0(n, height), x1(n, -1), y1(n, -1);
  for (size_t i = 0; i < n; ++i) area[i] = 0;
  // Pixel index -> (fast, slow) coordinates: (y, x) in column-major order, (x, y) in row-major.
  const int64_t fast_size = column_major ? height : width;
  size_t k = 0;
  uint32_t k_id = n ? segments[0].id : 0u;
  for (const PaintedRun& r : runs) {
    if (r.id != k_id) {  // few segments: a linear search beats hashing
      for (k = 0; k < n && segments[k].id != r.id; ++k) {
      }
      if (k == n) continue;
      k_id = r.id;
    }
    area[k] += r.end - r.begin;
    const int64_t s0 = r.begin / fast_size, f0 = r.begin % fast_size;
    const int64_t s1 = (r.end - 1) / fast_size, f1 = (r.end - 1) % fast_size;
    // A run over several lines covers the whole fast axis (it wraps from its end to its start).
    const int64_t fmin = s1 > s0 ? 0 : f0, fmax = s1 > s0 ? fast_size - 1 : f1;
    int64_t& xmin = x0[k];
    int64_t& xmax = x1[k];
    int64_t& ymin = y0[k];
    int64_t& ymax = y1[k];
    if (column_major) {
      xmin = std::min(xmin, s0), xmax = std::max(xmax, s1);
      ymin = std::min(ymin, fmin), ymax = std::max(ymax, fmax);
    } else {
      ymin = std::min(ymin, s0), ymax = std::max(ymax, s1);
      xmin = std::min(xmin, fmin), xmax = std::max(xmax, fmax);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    int64_t* b = bbox + 4 * i;
    if (area[i] == 0) {
      b[0] = b[1] = b[2] = b[3] = 0;
    } else {
      b[0] = x0[i];
      b[1] = y0[i];
      b[2] = x1[i] - x0[i] + 1;
      b[3] = y1[i] - y0[i] + 1;
    }
  }
}

Status label_map_intervals(const int32_t* labels, int64_t n_pixels, int32_t n_labels,
                           std::vector<int64_t>* offsets, std::vector<int64_t>* intervals) {
  // n_labels sizes three vectors before any pixel is read (the output CSR has n_labels + 1
  // offsets whatever the map holds), so it is capped: kMaxLabels is far above any category
  // count (segment ids have 24 bits) and keeps those allocations below 3 x 128 MiB.
  constexpr int32_t kMaxLabels = int32_t(1) << 24;
  if (n_pixels < 0 || n_labels < 0 || n_labels > kMaxLabels || (labels == nullptr && n_pixels > 0))
    return fail(StatusCode::kBadArgument);
  // Two passes over the runs: count per label, then fill (CSR).
  std::vector<int64_t> count(size_t(n_labels) + 1, 0);
  for (int64_t i = 0; i < n_pixels;) {
    const int32_t l = labels[i];
    int64_t j = i + 1;
    while (j < n_pixels && labels[j] == l) ++j;
    if (l >= n_labels) return fail(StatusCode::kBadLabel, StatusWhere::kPixel, i, l);
    if (l >= 0) ++count[size_t(l) + 1];
    i = j;
  }
  offsets->assign(size_t(n_labels) + 1, 0);
  for (int32_t l = 0; l < n_labels; ++l) (*offsets)[size_t(l) + 1] = (*offsets)[size_t(l)] + count[size_t(l) + 1];
  // The counts are runs of the map: their total is <= n_pixels, so 2 * total cannot overflow
  // and the intervals are sized by the pixels the caller holds.
  intervals->assign(size_t(2 * (*offsets)[size_t(n_labels)]), 0);
  std::vector<int64_t> fill(offsets->begin(), offsets->end() - 1);
  for (int64_t i = 0; i < n_pixels;) {
    const int32_t l = labels[i];
    int64_t j = i + 1;
    while (j < n_pixels && labels[j] == l) ++j;
    if (l >= 0) {
      const int64_t at = fill[size_t(l)]++;
      (*intervals)[size_t(2 * at)] = i;
      (*intervals)[size_t(2 * at + 1)] = j;
    }
    i = j;
  }
  return ok_status();
}

void dense_mask_intervals(const uint8_t* mask, int64_t n_pixels, std::vector<int64_t>* intervals) {
  for (int64_t i = 0; i < n_pixels;) {
    if (!mask[i]) {
      ++i;
      continue;
    }
    int64_t j = i + 1;
    while (j < n_pixels && mask[j]) ++j;
    intervals->push_back(i);
    intervals->push_back(j);
    i = j;
  }
}

Status dense_masks_intervals(const uint8_t* masks, int64_t n, int64_t n_pixels,
                             std::vector<int64_t>* offsets, std::vector<int64_t>* intervals) {
  offsets->assign(1, 0);
  intervals->clear();
  if (n < 0 || n_pixels < 0 || (masks == nullptr && n > 0 && n_pixels > 0))
    return fail(StatusCode::kBadArgument);
  // k * n_pixels < n * n_pixels: the size of the caller's mask stack, which exists.
  for (int64_t k = 0; k < n; ++k) {
    if (n_pixels) dense_mask_intervals(masks + k * n_pixels, n_pixels, intervals);
    offsets->push_back(int64_t(intervals->size() / 2));
  }
  return ok_status();
}

uint32_t* thread_scratch_canvas(int64_t n) {
  // The merge asks for its image's pixel count, checked against kMaxPixels; a negative n would
  // make the fill below run past the buffer. (A failed resize throws bad_alloc: MemoryError.)
  if (n < 0 || n > kMaxPixels) throw std::invalid_argument("scratch canvas size out of range");
  thread_local std::vector<uint32_t> canvas;
  if (int64_t(canvas.size()) < n) canvas.resize(size_t(n));
  std::fill(canvas.begin(), canvas.begin() + n, 0u);
  return canvas.data();
}

void transpose_u32(const uint32_t* in, int64_t height, int64_t width, uint32_t* out) {
  // Indices x * height + y and y * width + x are < height * width: both buffers' size.
  check_image(height, width);
  // `in` holds column x at in[x * height .. (x + 1) * height); blocked for cache locality,
  // with 4x4 SSE2 transposes inside the blocks.
  constexpr int64_t B = 32;
  for (int64_t y0 = 0; y0 < height; y0 += B)
    for (int64_t x0 = 0; x0 < width; x0 += B) {
      const int64_t y1 = std::min(height, y0 + B), x1 = std::min(width, x0 + B);
      int64_t y = y0;
#if defined(__SSE2__)
      for (; y + 4 <= y1; y += 4) {
        int64_t x = x0;
        for (; x + 4 <= x1; x += 4) {
          __m128i c0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + x * height + y));
          __m128i c1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + (x + 1) * height + y));
          __m128i c2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + (x + 2) * height + y));
          __m128i c3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + (x + 3) * height + y));
          const __m128i t0 = _mm_unpacklo_epi32(c0, c1), t1 = _mm_unpacklo_epi32(c2, c3);
          const __m128i t2 = _mm_unpackhi_epi32(c0, c1), t3 = _mm_unpackhi_epi32(c2, c3);
          c0 = _mm_unpacklo_epi64(t0, t1);
          c1 = _mm_unpackhi_epi64(t0, t1);
          c2 = _mm_unpacklo_epi64(t2, t3);
          c3 = _mm_unpackhi_epi64(t2, t3);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out + y * width + x), c0);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (y + 1) * width + x), c1);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (y + 2) * width + x), c2);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (y + 3) * width + x), c3);
        }
        for (; x < x1; ++x)
          for (int64_t k = 0; k < 4; ++k) out[(y + k) * width + x] = in[x * height + y + k];
      }
#endif
      for (; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) out[y * width + x] = in[x * height + y];
    }
}

}  // namespace panoseg
