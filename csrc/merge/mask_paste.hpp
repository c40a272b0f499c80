// Pasting Mask R-CNN's low-resolution mask probabilities into the image, exactly as GluonCV's
// `expand_mask` / `gluoncv.data.transforms.mask.fill` (fast_fill=True) does:
//   pad the MxM mask with a 1-pixel zero border, grow the box by (M+2)/M around its centre,
//   round its corners (half to even), resize the padded mask to the rounded box size with
//   Pillow's BILINEAR filter on a float32 image, threshold at > 0.5 and paste, clipped.
// The box arithmetic is float32 (MXNet's output type) and the resampling reproduces Pillow's
// Resample.c (two passes, float32 intermediate, antialiased when shrinking), so the pasted masks
// are bit-identical to GluonCV's (given the Pillow version's pass order, see PassOrder) -- but
// only the part inside the image is ever computed.
#pragma once
#include <cstdint>
#include <vector>

#include "common/status.hpp"

namespace panoseg {

struct PasteGeometry {
  int64_t x1, y1, x2, y2;  // the rounded, grown box (inclusive corners), may lie outside
  int64_t cx1, cy1, cx2, cy2;  // its clipped part, [cx1, cx2) x [cy1, cy2); empty if cx1 >= cx2
};

// The order of Pillow's two resampling passes, which decides outputs that land within rounding
// of 0.5. Before Pillow 13 the horizontal pass always runs first; Pillow 13 runs the vertical
// pass first when the height shrinks by more than twice as many pixels as the width.
enum class PassOrder : int { kHorizontalFirst = 0, kPillow13 = 1 };

// Computes the rounded and clipped box of a paste. A mask size outside 1x1..1024x1024:
// kBadMask; a box that is not finite, beyond 1e7 or inverted: kBadBox.
Status paste_geometry(const float box[4], int64_t mask_h, int64_t mask_w, int64_t height,
                           int64_t width, PasteGeometry* g);

// Pastes one mask: `prob` is mask_h x mask_w (row-major), `box` (x1, y1, x2, y2) in image
// pixels. Appends the [begin, end) pixel intervals of the pasted mask to `intervals`, in
// row-major (index = y * width + x) or column-major (index = x * height + y) pixel order.
// A sample that is not finite: kBadMask.
Status paste_mask_intervals(const float* prob, int64_t mask_h, int64_t mask_w, const float box[4],
                            int64_t height, int64_t width, bool column_major,
                            std::vector<int64_t>* intervals,
                            PassOrder order = PassOrder::kPillow13);

// Same, writing 1s into a zeroed height x width uint8 image (the `fill` output).
Status paste_mask_dense(const float* prob, int64_t mask_h, int64_t mask_w, const float box[4],
                        int64_t height, int64_t width, uint8_t* out,
                        PassOrder order = PassOrder::kPillow13);

// All n masks (`probs` n x mask_h x mask_w, `boxes` n x 4) on up to `threads` threads, each
// taking the next mask not yet taken. Every mask is checked before any is pasted; a bad one is
// reported at (kInstance, the first bad mask).
// Intervals: mask k's are intervals[2 * offsets[k] .. 2 * offsets[k + 1]), offsets has n + 1
// entries. Dense: `out` is a zeroed n x height x width image stack. An exception in a worker
// thread (std::bad_alloc for a huge box's scratch) is rethrown in the calling thread.
Status paste_masks_intervals(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                             const float* boxes, int64_t height, int64_t width, bool column_major,
                             int threads, std::vector<int64_t>* offsets,
                             std::vector<int64_t>* intervals,
                             PassOrder order = PassOrder::kPillow13);
Status paste_masks_dense(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                         const float* boxes, int64_t height, int64_t width, int threads,
                         uint8_t* out, PassOrder order = PassOrder::kPillow13);

}  // namespace panoseg
