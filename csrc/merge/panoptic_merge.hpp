// The panoptic merge heuristic of Kirillov et al. (section 7), with panopticapi's stuff area
// filter, on masks given as pixel intervals:
//   instances, in the given order (the caller sorts by score): skip an empty mask; skip it when
//   more than overlap_thr of it is already taken; else it takes its untaken pixels;
//   then stuff masks, in the given order: the untaken pixels of each become one segment unless
//   there are fewer than stuff_area_limit of them; everything left stays VOID (0).
// Segment ids are assigned here (see SegmentIdAssigner) so the result is deterministic.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "io/png_deflate.hpp"

namespace panoseg {

// A list of masks, each a sorted list of disjoint [begin, end) pixel intervals (CSR layout):
// mask k is intervals[2*offsets[k] .. 2*offsets[k+1]).
struct IntervalMasks {
  const int64_t* offsets = nullptr;    // n + 1 entries, offsets[0] = 0
  const int64_t* intervals = nullptr;  // 2 * offsets[n] values
  int64_t n = 0;
  int64_t n_values = 0;  // the length of `intervals`: no offset may point past it
};

// Deterministic segment ids, panopticapi's IdGenerator without its global randomness: a stuff
// segment's id is its category colour; a thing gets its category colour if still free in this
// image, else the colour jittered by up to +-30 per channel by a PRNG stream seeded per image
// and per colour, so a segment's id depends on its rank among its own category's segments, not
// on how the categories interleave (the merge asks by score, a 2-channel file by category).
// This is panoseg's one segment-id scheme: the merge uses it, and so do the converters (through
// panoseg.io.segment_ids), so both give the same id to the same segment of the same image.
class SegmentIdAssigner {
 public:
  // `stuff_colour_ids`: rgb2id of every stuff category colour (reserved for stuff; null when
  // n_stuff <= 0; more than INT32_MAX: std::invalid_argument). `expected_segments` only sizes
  // the table (clamped to 0..2^20; the table grows as needed).
  SegmentIdAssigner(const uint32_t* stuff_colour_ids, int64_t n_stuff, uint64_t seed,
                    int64_t expected_segments);
  // A thing of a category with colour `colour_id` (its low 24 bits are used). With all
  // 2^24 - 1 ids taken there is none left: std::invalid_argument (so for stuff_id).
  uint32_t thing_id(uint32_t colour_id);
  // A stuff segment: its colour the first time the colour is asked for (reserved or free), a
  // fresh id drawn as for a thing afterwards (a stuff category listed twice for one image).
  // The merge does not call it: there a stuff category listed twice becomes one segment.
  uint32_t stuff_id(uint32_t colour_id);

 private:
  bool taken(uint32_t id) const;
  void take(uint32_t id);
  uint64_t next(uint32_t colour_id);  // the colour's stream, started on first use
  uint32_t jittered(uint32_t colour_id);  // a free id near the colour; takes it
  std::vector<uint32_t> table_;  // open-addressing set of taken ids (0 = empty slot)
  uint64_t seed_;
  std::vector<std::pair<uint32_t, uint64_t>> streams_;  // colour -> splitmix64 state (few)
  int64_t size_ = 0;
  std::vector<uint32_t> stuff_;       // reserved stuff colours, sorted and unique
  std::vector<bool> stuff_issued_;    // per stuff_ entry: already handed out by stuff_id
};

struct MergeCategory {
  uint32_t colour_id;  // rgb2id(colour)
  bool isthing;
};

struct MergedSegment {
  uint32_t id;
  int32_t category;  // dense index
  int32_t source;    // instance index (things) or stuff mask index (stuff)
  bool isthing;
};

struct MergeParams {
  double overlap_thr = 0.5;
  double stuff_area_limit = 64 * 64;
};

// A painted run of pixels [begin, end) holding segment `id`.
struct PaintedRun {
  int64_t begin, end;
  uint32_t id;
};

// Runs the heuristic. The taken pixels are kept as a sorted list of runs rather than an image,
// so each mask costs time in proportion to its runs, not its pixels, and the id map is written
// once at the end (render_runs). `runs` receives the painted runs, sorted and disjoint.
// Bad masks (kBadIntervals) or categories (kBadCategory: out of range, or an instance of a stuff
// category) are reported at (kInstance or kStuff, the mask).
Status panoptic_merge(int64_t n_pixels, const IntervalMasks& instances,
                      const int32_t* instance_category, const IntervalMasks& stuff,
                      const int32_t* stuff_category, const MergeCategory* categories,
                      int32_t n_categories, const MergeParams& params, SegmentIdAssigner* ids,
                      std::vector<PaintedRun>* runs, std::vector<MergedSegment>* segments);

// Writes every pixel of `canvas` (n_pixels): the runs' ids, 0 elsewhere. Runs that are not
// sorted, disjoint and inside [0, n_pixels): std::invalid_argument (so do the two below, and
// for an image size outside common/checked.hpp's limits).
void render_runs(const std::vector<PaintedRun>& runs, int64_t n_pixels, uint32_t* canvas);

// PNG scanlines of the id map of runs given in column-major pixel order (index x * height + y),
// without rendering the map: every row uses PNG's Up filter, whose output is zero except where a
// pixel differs from the one above it -- which, in column-major order, is the previous pixel. So
// only run starts (and the top pixel of each column) are written into the zeroed buffer `out`
// of height * (1 + 3 * width) bytes.
void runs_to_png_up_scanlines(const std::vector<PaintedRun>& runs, int64_t height, int64_t width,
                              uint8_t* out);

// The same image as the pixels whose Up-filtered bytes are not zero, sorted by row, then
// column (for io/png_deflate.hpp's png_encode_sparse_rgb): no scanline buffer at all.
void runs_to_up_pixels(const std::vector<PaintedRun>& runs, int64_t height, int64_t width,
                       std::vector<FilteredPixel>* out);

// Area and COCO bbox [x, y, w, h] of each segment from the runs, for an image of height x width
// whose pixel order is column-major (index = x * height + y) or row-major.
void run_stats(const std::vector<PaintedRun>& runs, int64_t height, int64_t width,
               bool column_major, const std::vector<MergedSegment>& segments, int64_t* area,
               int64_t* bbox);

// Checks that every mask's intervals are sorted, disjoint, non-empty and inside [0, n_pixels),
// and its offsets within the n_values intervals given: kBadIntervals at (kMask, the first bad
// mask).
Status intervals_valid(const IntervalMasks& masks, int64_t n_pixels);

// Row-major intervals of the pixels of each label in a row-major label map (labels < 0 are
// skipped): a CSR over n_labels masks. A label >= n_labels: kBadLabel at (kPixel, the first
// such pixel), the label as value. n_labels above 2^24: kBadArgument (nothing allocated).
Status label_map_intervals(const int32_t* labels, int64_t n_pixels, int32_t n_labels,
                           std::vector<int64_t>* offsets, std::vector<int64_t>* intervals);

// Intervals of a row-major binary mask (nonzero = set), appended to `intervals`.
void dense_mask_intervals(const uint8_t* mask, int64_t n_pixels, std::vector<int64_t>* intervals);

// The same for n masks of n_pixels each, stored one after the other: a CSR over the n masks.
Status dense_masks_intervals(const uint8_t* masks, int64_t n, int64_t n_pixels,
                             std::vector<int64_t>* offsets, std::vector<int64_t>* intervals);

// A zeroed buffer of n ids owned by the calling thread, reused from call to call: a fresh
// multi-megabyte allocation per image costs page faults that serialize threads. n outside
// 0..kMaxPixels: std::invalid_argument.
uint32_t* thread_scratch_canvas(int64_t n);

// out (height x width, row-major) = transpose of in (width x height, i.e. column-major image).
void transpose_u32(const uint32_t* in, int64_t height, int64_t width, uint32_t* out);

}  // namespace panoseg
