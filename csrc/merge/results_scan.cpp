#include "merge/results_scan.hpp"

#include <algorithm>
#include <cstring>

namespace panoseg {
namespace {

// Appends the characters of a string's bytes (escapes checked by JsonReader::string) to *out;
// false for a character beyond ASCII (a Python str that is not ASCII: left to Python).
bool unescape_ascii(const uint8_t* p, const uint8_t* end, std::vector<char>* out) {
  while (p < end) {
    if (*p != '\\') {  // the bytes up to the next escape, at once
      const void* const next = std::memchr(p, '\\', size_t(end - p));
      const uint8_t* const stop = next ? static_cast<const uint8_t*>(next) : end;
      out->insert(out->end(), p, stop);
      p = stop;
      continue;
    }
    const uint8_t e = p[1];
    if (e == 'u') {
      unsigned code = 0;
      for (int k = 2; k < 6; ++k) {
        const uint8_t h = p[k];
        code = 16 * code + unsigned(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
      }
      if (code >= 0x80) return false;
      out->push_back(char(code));
      p += 6;
      continue;
    }
    char c;
    switch (e) {
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      default: c = char(e);  // '"', '\\', '/'
    }
    out->push_back(c);
    p += 2;
  }
  return true;
}

struct Reader : JsonReader {
  using JsonReader::JsonReader;

  // "segmentation": any value, checked and passed over; r->simple_mask when it is
  // {"size": [h, w], "counts": "<ASCII>", ...}. False (the file declined) for an object
  // repeating "size" or "counts" or with an escaped key (the stdlib's last value, or an
  // escaped spelling of one of them, would make it another mask).
  bool segmentation(int depth, ScannedResult* r, std::vector<char>* unescaped) {
    r->simple_mask = false;
    if (!peek('{')) return skip_value(depth);
    bool has_size = false, has_counts = false, size_ok = false, counts_ok = false;
    const bool ok = members([&](const JsonSpan& k) {
      if (is(k, "size")) {
        if (has_size) return false;
        has_size = true;
        const uint8_t* const at = p;
        size_ok = eat('[') && small_integer(&r->height) && eat(',') &&
                  small_integer(&r->width) && eat(']');
        if (size_ok) return true;
        p = at;
        return skip_value(depth + 1);
      }
      if (is(k, "counts")) {
        if (has_counts) return false;
        has_counts = true;
        if (!peek('"')) return skip_value(depth + 1);
        JsonSpan s;
        bool escaped;
        if (!string(&s, &escaped)) return false;
        counts_ok = true;
        if (escaped) {
          // Room for every string at once (no unescaped string is longer than as written).
          if (unescaped->capacity() == 0) unescaped->reserve(size_t(end - base));
          r->counts_begin = unescaped->size();
          counts_ok = unescape_ascii(base + s.begin, base + s.end, unescaped);
          r->counts_end = unescaped->size();
          r->counts_unescaped = true;
        } else {
          r->counts_begin = s.begin;
          r->counts_end = s.end;
        }
        return true;
      }
      return skip_value(depth + 1);
    });
    r->simple_mask = ok && size_ok && counts_ok;
    return ok;
  }

  bool result(int depth, bool with_score, ScannedResult* r, std::vector<char>* unescaped) {
    bool has_image = false, has_category = false, has_score = false, has_segmentation = false;
    const bool ok = members([&](const JsonSpan& k) {
      if (is(k, "image_id")) {
        if (has_image) return false;
        has_image = true;
        if (!peek('"')) return small_integer(&r->image_id);
        bool escaped;
        r->image_id_is_string = true;
        return string(&r->image_id_string, &escaped) && !escaped;
      }
      if (is(k, "category_id")) {
        if (has_category) return false;
        has_category = true;
        return small_integer(&r->category_id);
      }
      if (with_score && is(k, "score")) {
        NumberLit n;
        if (has_score || !peek_number(&n) || n.integer) return false;
        has_score = true;
        return real(&r->score);
      }
      if (is(k, "segmentation")) {
        if (has_segmentation) return false;
        has_segmentation = true;
        // Another form (a polygon, an uncompressed RLE, a non-ASCII string) is passed over:
        // it matters only if the result is kept (group_merge_results).
        return segmentation(depth + 1, r, unescaped);
      }
      return skip_value(depth + 1);
    });
    return ok && has_image && has_category && (has_score || !with_score) && has_segmentation;
  }

  // The number literal at the cursor, the cursor left where it was.
  bool peek_number(NumberLit* n) {
    const uint8_t* const at = p;
    const bool ok = number(n);
    p = at;
    return ok;
  }

  bool results(int depth, bool with_score, MergeResultsScan* out) {
    return elements([&] {
      out->results.emplace_back();
      return result(depth + 1, with_score, &out->results.back(), &out->unescaped);
    });
  }
};

}  // namespace

bool scan_merge_results(const uint8_t* data, size_t size, bool with_score,
                        MergeResultsScan* out) {
  if (out == nullptr || (data == nullptr && size > 0)) return false;
  *out = MergeResultsScan{};
  Reader r{data, data + size, data};
  if (r.peek('[')) {
    if (!r.results(1, with_score, out)) return false;
  } else {
    // An object: its "annotations" list (the rest checked and passed over).
    bool has_annotations = false;
    const bool ok = r.members([&](const JsonSpan& k) {
      if (!r.is(k, "annotations")) return r.skip_value(1);
      if (has_annotations) return false;
      has_annotations = true;
      return r.results(2, with_score, out);
    });
    if (!ok || !has_annotations) return false;
  }
  r.skip_ws();
  return r.p == r.end;  // nothing after the value
}

bool group_merge_results(MergeResultsScan* scan, const int64_t* image_of, int64_t n_images,
                         const int64_t* heights, const int64_t* widths,
                         const int64_t* category_ids, const int32_t* category_index,
                         const uint8_t* allowed, int64_t n_categories, bool with_score,
                         double confidence_thr) {
  if (scan == nullptr || n_images < 0 || n_categories < 0 ||
      ((image_of == nullptr) && !scan->results.empty()) ||
      ((heights == nullptr || widths == nullptr) && n_images > 0) ||
      ((category_ids == nullptr || category_index == nullptr || allowed == nullptr) &&
       n_categories > 0))
    return false;
  for (int64_t c = 1; c < n_categories; ++c)
    if (category_ids[c] <= category_ids[c - 1]) return false;
  const int64_t* const cat_end = category_ids + n_categories;
  std::vector<int64_t> count(size_t(n_images) + 1, 0);
  std::vector<int64_t> kept;
  kept.reserve(scan->results.size());
  for (size_t j = 0; j < scan->results.size(); ++j) {
    ScannedResult& r = scan->results[j];
    const int64_t image = image_of[j];
    if (image < 0 || image >= n_images) return false;
    const int64_t* const cat = std::lower_bound(category_ids, cat_end, r.category_id);
    if (cat == cat_end || *cat != r.category_id || !allowed[cat - category_ids]) return false;
    if (with_score) {
      if (!(r.score >= 0.0 && r.score <= 1.0)) return false;
      if (r.score < confidence_thr) continue;  // dropped before its mask is looked at
    }
    if (!r.simple_mask || r.height != heights[image] || r.width != widths[image] ||
        r.counts_end == r.counts_begin)
      return false;
    r.category = category_index[cat - category_ids];
    ++count[size_t(image) + 1];
    kept.push_back(int64_t(j));
  }
  scan->image_start.assign(count.begin(), count.end());
  for (int64_t k = 0; k < n_images; ++k)
    scan->image_start[size_t(k) + 1] += scan->image_start[size_t(k)];
  scan->rows.assign(kept.size(), 0);
  std::vector<int64_t> next(scan->image_start.begin(), scan->image_start.end() - 1);
  for (const int64_t j : kept) scan->rows[size_t(next[size_t(image_of[j])]++)] = j;  // file order
  if (with_score) {
    const std::vector<ScannedResult>& results = scan->results;
    for (int64_t k = 0; k < n_images; ++k)
      std::stable_sort(scan->rows.begin() + scan->image_start[size_t(k)],
                       scan->rows.begin() + scan->image_start[size_t(k) + 1],
                       [&results](int64_t a, int64_t b) {
                         return results[size_t(a)].score > results[size_t(b)].score;
                       });
  }
  return true;
}

}  // namespace panoseg
