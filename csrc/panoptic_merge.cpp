#include "panoptic_merge.hpp"

#include <algorithm>

#include "rgb_id.hpp"

namespace panoseg {

SegmentIdAssigner::SegmentIdAssigner(const uint32_t* stuff_colour_ids, int64_t n_stuff,
                                     uint64_t seed, int64_t expected_segments)
    : state_(seed) {
  size_t cap = 64;
  while (cap < size_t(4 * (n_stuff + expected_segments + 1))) cap <<= 1;
  table_.assign(cap, 0u);
  for (int64_t i = 0; i < n_stuff; ++i)
    if (stuff_colour_ids[i] != 0u) take(stuff_colour_ids[i]);
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

uint64_t SegmentIdAssigner::next() {  // splitmix64
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint32_t SegmentIdAssigner::thing_id(uint32_t colour_id) {
  uint32_t id = colour_id & kMaxSegmentId;
  if (id != 0u && !taken(id)) {
    take(id);
    return id;
  }
  const int base[3] = {int(colour_id & 0xFF), int((colour_id >> 8) & 0xFF), int((colour_id >> 16) & 0xFF)};
  for (int attempt = 0; attempt < 4096; ++attempt) {
    const uint64_t r = next();
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
  for (id = (colour_id + 1) & kMaxSegmentId;; id = (id + 1) & kMaxSegmentId)
    if (id != 0u && !taken(id)) {
      take(id);
      return id;
    }
}

bool intervals_valid(const IntervalMasks& masks, int64_t n_pixels, int64_t* bad_mask) {
  if (masks.n > 0 && masks.offsets[0] != 0) {
    *bad_mask = 0;
    return false;
  }
  for (int64_t k = 0; k < masks.n; ++k) {
    const int64_t a = masks.offsets[k], b = masks.offsets[k + 1];
    if (b < a) {
      *bad_mask = k;
      return false;
    }
    int64_t prev_end = 0;
    for (int64_t i = a; i < b; ++i) {
      const int64_t begin = masks.intervals[2 * i], end = masks.intervals[2 * i + 1];
      if (begin < prev_end || end <= begin || end > n_pixels) {
        *bad_mask = k;
        return false;
      }
      prev_end = end;
    }
  }
  return true;
}

MergeStatus panoptic_merge(int64_t n_pixels, const IntervalMasks& instances,
                           const int32_t* instance_category, const IntervalMasks& stuff,
                           const int32_t* stuff_category, const MergeCategory* categories,
                           int32_t n_categories, const MergeParams& params,
                           SegmentIdAssigner* ids, uint32_t* canvas,
                           std::vector<MergedSegment>* segments, int64_t* bad_index) {
  segments->clear();
  if (!intervals_valid(instances, n_pixels, bad_index)) return MergeStatus::kBadIntervals;
  int64_t bad_stuff = 0;
  if (!intervals_valid(stuff, n_pixels, &bad_stuff)) {
    *bad_index = -1 - bad_stuff;
    return MergeStatus::kBadIntervals;
  }
  for (int64_t k = 0; k < instances.n; ++k)
    if (instance_category[k] < 0 || instance_category[k] >= n_categories ||
        !categories[instance_category[k]].isthing) {
      *bad_index = k;
      return MergeStatus::kBadCategory;
    }
  for (int64_t k = 0; k < stuff.n; ++k)
    if (stuff_category[k] < 0 || stuff_category[k] >= n_categories) {
      *bad_index = -1 - k;
      return MergeStatus::kBadCategory;
    }

  for (int64_t k = 0; k < instances.n; ++k) {
    const int64_t* iv = instances.intervals + 2 * instances.offsets[k];
    const int64_t n_iv = instances.offsets[k + 1] - instances.offsets[k];
    int64_t area = 0, taken = 0;
    for (int64_t i = 0; i < n_iv; ++i) {
      area += iv[2 * i + 1] - iv[2 * i];
      for (int64_t p = iv[2 * i]; p < iv[2 * i + 1]; ++p) taken += canvas[p] != 0u;
    }
    if (area == 0) continue;
    if (double(taken) / double(area) > params.overlap_thr) continue;
    if (taken == area) continue;  // nothing left to paint (only when overlap_thr >= 1)
    const MergeCategory& cat = categories[instance_category[k]];
    const uint32_t id = ids->thing_id(cat.colour_id);
    for (int64_t i = 0; i < n_iv; ++i)
      for (int64_t p = iv[2 * i]; p < iv[2 * i + 1]; ++p)
        if (canvas[p] == 0u) canvas[p] = id;
    segments->push_back({id, instance_category[k], int32_t(k), true});
  }

  for (int64_t k = 0; k < stuff.n; ++k) {
    const MergeCategory& cat = categories[stuff_category[k]];
    if (cat.isthing) continue;  // thing classes of the semantic prediction are ignored
    const int64_t* iv = stuff.intervals + 2 * stuff.offsets[k];
    const int64_t n_iv = stuff.offsets[k + 1] - stuff.offsets[k];
    int64_t left = 0;
    for (int64_t i = 0; i < n_iv; ++i)
      for (int64_t p = iv[2 * i]; p < iv[2 * i + 1]; ++p) left += canvas[p] == 0u;
    if (double(left) < params.stuff_area_limit || left == 0) continue;
    const uint32_t id = cat.colour_id;
    for (int64_t i = 0; i < n_iv; ++i)
      for (int64_t p = iv[2 * i]; p < iv[2 * i + 1]; ++p)
        if (canvas[p] == 0u) canvas[p] = id;
    // A stuff category listed twice for one image becomes one segment (its id is its colour).
    bool seen = false;
    for (const MergedSegment& s : *segments) seen |= s.id == id;
    if (!seen) segments->push_back({id, stuff_category[k], int32_t(k), false});
  }
  return MergeStatus::kOk;
}

bool label_map_intervals(const int32_t* labels, int64_t n_pixels, int32_t n_labels,
                         std::vector<int64_t>* offsets, std::vector<int64_t>* intervals) {
  // Two passes over the runs: count per label, then fill (CSR).
  std::vector<int64_t> count(size_t(n_labels) + 1, 0);
  for (int64_t i = 0; i < n_pixels;) {
    const int32_t l = labels[i];
    int64_t j = i + 1;
    while (j < n_pixels && labels[j] == l) ++j;
    if (l >= n_labels) return false;
    if (l >= 0) ++count[size_t(l) + 1];
    i = j;
  }
  offsets->assign(size_t(n_labels) + 1, 0);
  for (int32_t l = 0; l < n_labels; ++l) (*offsets)[size_t(l) + 1] = (*offsets)[size_t(l)] + count[size_t(l) + 1];
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
  return true;
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

void transpose_u32(const uint32_t* in, int64_t height, int64_t width, uint32_t* out) {
  // `in` holds column x at in[x * height .. (x + 1) * height); blocked for cache locality.
  constexpr int64_t B = 32;
  for (int64_t y0 = 0; y0 < height; y0 += B)
    for (int64_t x0 = 0; x0 < width; x0 += B) {
      const int64_t y1 = std::min(height, y0 + B), x1 = std::min(width, x0 + B);
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) out[y * width + x] = in[x * height + y];
    }
}

}  // namespace panoseg
