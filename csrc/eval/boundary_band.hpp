// The boundary bands of Boundary IoU / Boundary PQ (Cheng et al. 2021, "Boundary IoU: Improving
// Object-Centric Image Segmentation Evaluation"; boundary-iou-api's mask_to_boundary and its
// coco_panoptic_api evaluation), for every segment of an id map at once.
//
// The band of a segment (dilation d >= 1): its pixels whose chessboard distance to the nearest
// pixel with another id, or to outside the image, is <= d. That is the reference's
// `mask - erode(pad(mask, 1 px of 0), 3x3, iterations=d)`: a pixel is interior iff the whole
// (2d+1) x (2d+1) window centred on it lies inside the image and holds its id. (The reference
// computes the masks from a map in which earlier segments' interiors were overwritten with
// max category id + 1, so a segment with that id gets a wrong band; here every band is that of
// the real id.)
//
// The cost does not depend on d: per row, each pixel's distance to the ends of its row run gives
// "horizontally deep" (the run spans x-d..x+d); per column, a counter of consecutive rows that
// are horizontally deep with the same id says when a (2d+1)-row window is complete. Rows are
// produced in order and d rows behind the input, so only a few rows of scratch are kept. The
// band table is counted per run of equal (GT id, prediction id) pixels, as the mask table
// (popcounts of the row's band bits), in the same pass.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.hpp"
#include "eval/pair_count.hpp"
#include "io/png_row_runs.hpp"

namespace panoseg {

// The largest dilation taken (the image side limit: any larger d makes every pixel band).
constexpr int64_t kMaxDilation = (int64_t(1) << 31) - 1;

// The key an interior pixel of a nonzero id gets in band_keys rows: above kMaxSegmentId, so
// no segment table lists it (PairCounter gives it kUnknownSlot).
constexpr uint32_t kInteriorKey = 0xFFFFFFFFu;

// Per-pixel band flags of a C-contiguous height x width id map: out[i] = 1 where pixel i is in
// the band of its id (VOID, id 0, included: its pixels get flags like any id's), else 0.
// kBadArgument for a size outside common/checked.hpp's limits, a dilation outside
// 1..kMaxDilation or null pointers with pixels.
Status boundary_band_flags(const uint32_t* map, int64_t height, int64_t width, int64_t dilation,
                           uint8_t* out);

// The overlap table of the two maps' bands, `band`: count_pairs of the maps in which every
// interior pixel of a nonzero id is replaced by kInteriorKey (VOID stays VOID). So, per table
// row, the pairs with that GT (prediction) slot add up to its band's pixel count; the pair
// (g, p) of two rows is the band intersection; (kVoidSlot, p) is p's band on GT VOID. Interior
// pixels (and ids missing from a table) have kUnknownSlot; its unknown-id lists stay empty.
// With `mask`, also the maps' own overlap table from the same pass, exactly count_pairs'
// result (unknown ids listed). Errors: as count_pairs (tables), and as boundary_band_flags
// (sizes, dilation).
Status count_band_pairs(const uint32_t* gt_map, const uint32_t* pred_map, int64_t height,
                        int64_t width, int64_t dilation, const uint32_t* gt_ids, int64_t n_gt,
                        const uint32_t* pred_ids, int64_t n_pred, PairCountResult* band,
                        PairCountResult* mask = nullptr);

// Whether dilation d leaves no pixel of a height x width image interior (2d + 1 exceeds a
// side): every pixel is then band and the band table is the maps' overlap table itself.
inline bool band_covers_all(int64_t height, int64_t width, int64_t dilation) {
  return 2 * dilation + 1 > height || 2 * dilation + 1 > width;  // dilation < 2^31: no overflow
}

// count_band_pairs for two maps that arrive as rows of runs (RgbRunDecoder), one row pair at a
// time (PngPairStream with a dilation): the same band table and, into `mask`, the same mask
// table, without either map ever being stored. A row's band flags are known d rows later (its
// (2d+1)-row window is then complete), so the pair runs (end, slots) of the last d + 1 rows
// are kept; per map, the deep spans of the last row, per column the row its current run of
// deep rows with one id began, and those begun in the last 2d rows: O(d * runs + width) memory
// in all. Per row, the work follows the runs (spans that change between rows, pair runs), not
// the width.
// Only for 2d + 1 <= min(height, width) (band_covers_all: the band table is the mask table).
// Allocates its row buffers when constructed: make it once a row's bytes exist.
class RgbBandCounter {
 public:
  // `mask`: the caller's PairCounter (tables built, status ok), which also gives the slots.
  // height, width: checked by the caller (image_size_ok); 1 <= dilation, 2d + 1 <= both.
  RgbBandCounter(int64_t height, int64_t width, int64_t dilation, PairCounter* mask);
  ~RgbBandCounter();
  // The next row of each map (y = 0, 1, ... < height) as its maximal runs (width pixels in
  // all); `*_same`: that row equals its map's previous one.
  void add_rows(RunRow gt, bool gt_same, RunRow pred, bool pred_same);
  // After all `height` rows: the band table (unknown-id lists empty, as count_band_pairs').
  void finish(PairCountResult* band);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace panoseg
