// A one-pass reader of the COCO panoptic JSON files that evaluation reads: the annotations'
// image ids, file names and segments_info fields, without building a Python object per segment
// (a parser making dicts holds the GIL for ~2 ms per 200 annotations; this runs without it).
//
// It is an accelerator, not a second parser of record: it takes only plainly well-formed files
// (strict RFC 8259 JSON, ASCII, the fields it reads written in their usual form) and declines
// anything else (returns false), for the Python loader to read or to say what is wrong. Whatever
// it accepts reads the same as the Python loader reads it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/json_reader.hpp"

namespace panoseg {

// One segments_info entry's fields as written (checked by scanned_segment_tables).
struct ScannedSegment {
  int64_t id = 0, category_id = 0, iscrowd = 0;
  double area = 0.0;
  uint8_t has = 0;  // kHas* bits: the keys present
};
constexpr uint8_t kHasId = 1, kHasCategory = 2, kHasIscrowd = 4, kHasArea = 8;

// One "images" entry's fields.
struct ScannedImage {
  int64_t id = 0, height = 0, width = 0;
  uint8_t has = 0;  // kHasHeight, kHasWidth bits
};
constexpr uint8_t kHasHeight = 1, kHasWidth = 2;

struct PanopticJsonScan {
  JsonSpan images, categories;  // the top-level values, as written (any JSON value)
  // `images` read, when it is a list of objects with an integer "id" and, optionally,
  // integer "height" and "width" (written as annotations' integers are, keys not repeated).
  bool images_read = false;
  std::vector<ScannedImage> image_sizes;
  std::vector<int64_t> image_id;  // per annotation, in file order
  std::vector<JsonSpan> file_name;  // per annotation: the string's bytes, quotes excluded
  std::vector<int64_t> segment_start;  // annotation k's segments: [start[k], start[k + 1])
  std::vector<ScannedSegment> segments;
};

// Reads `size` bytes of a panoptic JSON. True when it is a JSON object whose "annotations" is a
// list of objects, each with an integer "image_id", a "file_name" of printable ASCII without
// escapes and a "segments_info" list of objects whose "id", "category_id", "iscrowd" (integers)
// and "area" (a number) are plain literals; the document is strict JSON, ASCII only, nested at
// most kMaxJsonDepth deep, no string holds a surrogate escape, no integer literal has more
// than 18 digits, and no key it reads repeats or is written with an escape. The integers it
// reads have at most 15 digits (exact as doubles). Else false (`out` then undefined).
bool scan_panoptic_json(const uint8_t* data, size_t size, PanopticJsonScan* out);

// The segment tables of annotations `annotations[0..n)` of a scan (as _core.segment_tables
// makes them from parsed dicts): annotation j's rows are [bounds[j], bounds[j + 1]) of ids,
// category (dense index: category_index[c] for category_ids[c], n_categories ascending
// distinct ids), iscrowd and area (GT: the JSON area; else NaN), written only where valid[j]
// (1: every segment has an id in 1..2^24-1, distinct, a known category_id, iscrowd 0 or 1 (0
// when absent) and, for GT, an area > 0). The output arrays hold the annotations' segment
// counts summed (scanned_segment_count). False for an annotation index out of range or
// category ids not ascending.
bool scanned_segment_tables(const PanopticJsonScan& scan, const int64_t* annotations, int64_t n,
                            const int64_t* category_ids, const int32_t* category_index,
                            int64_t n_categories, bool is_gt,
                            int64_t* bounds, uint8_t* valid, uint32_t* ids, int32_t* category,
                            uint8_t* iscrowd, double* area);

// The segments of annotations `annotations[0..n)` (-1 for an index out of range).
int64_t scanned_segment_count(const PanopticJsonScan& scan, const int64_t* annotations,
                              int64_t n);

}  // namespace panoseg
