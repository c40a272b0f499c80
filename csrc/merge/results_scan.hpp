// A one-pass reader of a merge's results files (panopticapi's semseg / instseg JSON: a list of
// {image_id, category_id, [score,] segmentation: {size, counts}}, or an object whose
// "annotations" is that list), and their grouping by image in merge order, without a Python
// object per result: the parse and the Python loop over the results were ~15 ms of a
// 200-image `tools/merge.py` run of ~90 ms.
//
// An accelerator, like io/panoptic_json_scan.hpp: it takes only plainly well-formed files and
// declines (returns false) anything else, which the caller then reads in Python (the reference
// checks and messages). Whatever it accepts reads as the stdlib parser reads it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/json_reader.hpp"

namespace panoseg {

// One result's fields, as written.
struct ScannedResult {
  int64_t image_id = 0;      // when !image_id_is_string
  JsonSpan image_id_string;  // when image_id_is_string: printable ASCII, no escapes
  bool image_id_is_string = false;
  int64_t category_id = 0;
  double score = 0.0;  // with_score only
  int64_t height = 0, width = 0;  // segmentation "size"
  // segmentation "counts" (unescaped, ASCII): bytes [counts_begin, counts_end) of the document,
  // or of MergeResultsScan::unescaped when counts_unescaped.
  size_t counts_begin = 0, counts_end = 0;
  bool counts_unescaped = false;
  bool simple_mask = false;  // segmentation in the form below (else size and counts unset)
  int32_t category = -1;  // dense category index, set by group_merge_results
};

struct MergeResultsScan {
  std::vector<ScannedResult> results;  // file order
  std::vector<char> unescaped;         // the counts strings that held escapes, decoded
  // By group_merge_results: image k's results, in merge order, are
  // rows[image_start[k] .. image_start[k + 1]) (indices into `results`).
  std::vector<int64_t> image_start, rows;
};

// Reads `size` bytes of a results file. True when it is strict JSON, ASCII only, nested at most
// kMaxJsonDepth deep, no integer literal over 18 digits and no surrogate escape anywhere, and
// its results (the top-level list, or the list under a top-level "annotations") are objects
// each with
//   "image_id": an integer of at most 15 digits or a string of printable ASCII without escapes;
//   "category_id": an integer of at most 15 digits;
//   "score" (with_score only): a number written with a fraction or exponent (the stdlib reads
//     it as a float), finite;
//   "segmentation": any value; simple_mask when it is an object with "size": [height, width]
//     (integers of at most 15 digits) and "counts": a string whose unescaped characters are
//     ASCII (an object repeating "size" or "counts", or with an escaped key, is declined);
// none of these keys (nor "annotations") repeated or written with an escape. Other keys are
// checked as JSON and passed over. Else false (`out` then undefined).
bool scan_merge_results(const uint8_t* data, size_t size, bool with_score,
                        MergeResultsScan* out);

// Groups a scan's results by image, as the merge reads them: image_of[r] is result r's image
// (0..n_images-1, or -1 where its id is not a listed image's); category_ids (ascending,
// n_categories of them) with their dense category_index and `allowed` flags (instances: the
// things). Keeps, in file order, every result whose image is listed and whose category is
// allowed; with_score: a result needs a score in [0, 1], and one below confidence_thr is dropped
// (before its mask is looked at); a kept result's mask must be simple_mask, of its image's size
// (heights[k], widths[k]), its counts non-empty. Each image's results are then sorted by score,
// descending, ties in file order (with_score), and each result's dense category set. False at
// the first result that fails (`scan` then undefined), or for bad arguments.
bool group_merge_results(MergeResultsScan* scan, const int64_t* image_of, int64_t n_images,
                         const int64_t* heights, const int64_t* widths,
                         const int64_t* category_ids, const int32_t* category_index,
                         const uint8_t* allowed, int64_t n_categories, bool with_score,
                         double confidence_thr);

}  // namespace panoseg
