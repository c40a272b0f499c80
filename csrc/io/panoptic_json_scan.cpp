#include "io/panoptic_json_scan.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace panoseg {
namespace {

constexpr int64_t kMaxSegmentId = (int64_t(1) << 24) - 1;

// The panoptic JSON's parts, on the shared reader.
struct Reader : JsonReader {
  using JsonReader::JsonReader;

  bool segment(int depth, ScannedSegment* s) {
    *s = ScannedSegment{};
    return members([&](const JsonSpan& k) {
      uint8_t bit = 0;
      bool ok;
      if (is(k, "id")) {
        bit = kHasId;
        ok = small_integer(&s->id);
      } else if (is(k, "category_id")) {
        bit = kHasCategory;
        ok = small_integer(&s->category_id);
      } else if (is(k, "iscrowd")) {
        bit = kHasIscrowd;
        ok = small_integer(&s->iscrowd);
      } else if (is(k, "area")) {
        bit = kHasArea;
        ok = real(&s->area);
      } else {
        ok = skip_value(depth + 1);
      }
      if (!ok || (s->has & bit)) return false;  // a key read twice: the last would count
      s->has |= bit;
      return true;
    });
  }

  // An "images" entry: {"id": int, "height": int, "width": int, ...}.
  bool image(int depth, ScannedImage* im) {
    *im = ScannedImage{};
    bool has_id = false;
    const bool ok = members([&](const JsonSpan& k) {
      if (is(k, "id")) {
        if (has_id) return false;
        has_id = true;
        return small_integer(&im->id);
      }
      if (is(k, "height") || is(k, "width")) {
        const uint8_t bit = is(k, "height") ? kHasHeight : kHasWidth;
        if (im->has & bit) return false;
        im->has |= bit;
        return small_integer(bit == kHasHeight ? &im->height : &im->width);
      }
      return skip_value(depth + 1);
    });
    return ok && has_id;
  }

  // The list of "images" entries (the cursor on its start).
  bool images(int depth, std::vector<ScannedImage>* out) {
    return elements([&] {
      out->emplace_back();
      return image(depth + 1, &out->back());
    });
  }

  bool annotation(int depth, PanopticJsonScan* out) {
    int64_t image_id = 0;
    JsonSpan name;
    bool has_id = false, has_segments = false;
    out->segment_start.push_back(int64_t(out->segments.size()));
    const bool ok = members([&](const JsonSpan& k) {
      if (is(k, "image_id")) {
        if (has_id) return false;
        has_id = true;
        return small_integer(&image_id);
      }
      if (is(k, "file_name")) {
        bool escaped;
        // Printable ASCII (string() declines the rest) without escapes, not empty: a name
        // the Python loader takes as it is.
        return !name.present && string(&name, &escaped) && !escaped && name.end != name.begin;
      }
      if (is(k, "segments_info")) {
        if (has_segments) return false;
        has_segments = true;
        return elements([&] {
          out->segments.emplace_back();
          return segment(depth + 2, &out->segments.back());
        });
      }
      return skip_value(depth + 1);
    });
    if (!ok || !has_id || !name.present || !has_segments) return false;
    out->image_id.push_back(image_id);
    out->file_name.push_back(name);
    return true;
  }
};

}  // namespace

bool scan_panoptic_json(const uint8_t* data, size_t size, PanopticJsonScan* out) {
  if (out == nullptr || (data == nullptr && size > 0)) return false;
  *out = PanopticJsonScan{};
  Reader r{data, data + size, data};
  bool has_annotations = false;
  const bool ok = r.members([&](const JsonSpan& k) {
    if (r.is(k, "annotations")) {
      if (has_annotations) return false;
      has_annotations = true;
      return r.elements([&] { return r.annotation(2, out); });
    }
    if (r.is(k, "images") || r.is(k, "categories")) {
      JsonSpan* const span = r.is(k, "images") ? &out->images : &out->categories;
      return !span->present && r.value_span(1, span);
    }
    return r.skip_value(1);
  });
  if (!ok || !has_annotations) return false;
  r.skip_ws();
  if (r.p != r.end) return false;  // anything after the object
  out->segment_start.push_back(int64_t(out->segments.size()));
  if (out->images.present) {  // read again as sizes, where it has the usual form
    Reader im{data + out->images.begin, data + out->images.end, data};
    out->images_read = im.images(1, &out->image_sizes) && (im.skip_ws(), im.p == im.end);
    if (!out->images_read) out->image_sizes.clear();
  }
  return true;
}

int64_t scanned_segment_count(const PanopticJsonScan& scan, const int64_t* annotations,
                              int64_t n) {
  const int64_t n_ann = int64_t(scan.image_id.size());
  if (n < 0 || (annotations == nullptr && n > 0) ||
      int64_t(scan.segment_start.size()) != n_ann + 1)
    return -1;
  int64_t total = 0;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t a = annotations[j];
    if (a < 0 || a >= n_ann) return -1;
    total += scan.segment_start[size_t(a) + 1] - scan.segment_start[size_t(a)];
  }
  return total;
}

bool scanned_segment_tables(const PanopticJsonScan& scan, const int64_t* annotations, int64_t n,
                            const int64_t* category_ids, const int32_t* category_index,
                            int64_t n_categories, bool is_gt,
                            int64_t* bounds, uint8_t* valid, uint32_t* ids, int32_t* category,
                            uint8_t* iscrowd, double* area) {
  if (scanned_segment_count(scan, annotations, n) < 0 || n_categories < 0 ||
      n_categories > INT32_MAX ||
      ((category_ids == nullptr || category_index == nullptr) && n_categories > 0))
    return false;
  for (int64_t c = 1; c < n_categories; ++c)
    if (category_ids[c] <= category_ids[c - 1]) return false;
  const int64_t* const cat_end = category_ids + n_categories;
  std::vector<uint32_t> ordered;
  int64_t start = 0;
  for (int64_t j = 0; j < n; ++j) {
    bounds[j] = start;
    const size_t a = size_t(annotations[j]);
    const ScannedSegment* const first = scan.segments.data() + scan.segment_start[a];
    const int64_t m = scan.segment_start[a + 1] - scan.segment_start[a];
    bool ok = true;
    for (int64_t k = 0; k < m && ok; ++k) {
      const ScannedSegment& s = first[k];
      const int64_t crowd = (s.has & kHasIscrowd) ? s.iscrowd : 0;
      const int64_t* const cat =
          std::lower_bound(category_ids, cat_end, s.category_id);  // (empty range: cat_end)
      ok = (s.has & kHasId) && s.id >= 1 && s.id <= kMaxSegmentId && (s.has & kHasCategory) &&
           cat != cat_end && *cat == s.category_id && (crowd == 0 || crowd == 1) &&
           (!is_gt || ((s.has & kHasArea) && s.area > 0));  // (finite: scanned so)
      if (!ok) break;
      ids[start + k] = uint32_t(s.id);
      category[start + k] = category_index[cat - category_ids];
      iscrowd[start + k] = uint8_t(crowd);
      area[start + k] = is_gt ? s.area : NAN;
    }
    if (ok && m > 1) {  // ids distinct
      ordered.assign(ids + start, ids + start + m);
      std::sort(ordered.begin(), ordered.end());
      ok = std::adjacent_find(ordered.begin(), ordered.end()) == ordered.end();
    }
    valid[j] = ok;
    if (ok) start += m;
  }
  bounds[n] = start;
  return true;
}

}  // namespace panoseg
