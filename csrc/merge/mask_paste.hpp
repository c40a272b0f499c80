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

namespace panoseg {

struct PasteGeometry {
  int64_t x1, y1, x2, y2;  // the rounded, grown box (inclusive corners), may lie outside
  int64_t cx1, cy1, cx2, cy2;  // its clipped part, [cx1, cx2) x [cy1, cy2); empty if cx1 >= cx2
};

enum class PasteStatus : int { kOk = 0, kBadBox = 1, kBadMask = 2 };

// The order of Pillow's two resampling passes, which decides outputs that land within rounding
// of 0.5. Before Pillow 13 the horizontal pass always runs first; Pillow 13 runs the vertical
// pass first when the height shrinks by more than twice as many pixels as the width.
enum class PassOrder : int { kHorizontalFirst = 0, kPillow13 = 1 };

// Computes the rounded and clipped box of a paste.
PasteStatus paste_geometry(const float box[4], int64_t mask_h, int64_t mask_w, int64_t height,
                           int64_t width, PasteGeometry* g);

// Pastes one mask: `prob` is mask_h x mask_w (row-major), `box` (x1, y1, x2, y2) in image
// pixels. Appends the [begin, end) pixel intervals of the pasted mask to `intervals`, in
// row-major (index = y * width + x) or column-major (index = x * height + y) pixel order.
PasteStatus paste_mask_intervals(const float* prob, int64_t mask_h, int64_t mask_w,
                                 const float box[4], int64_t height, int64_t width,
                                 bool column_major, std::vector<int64_t>* intervals,
                                 PassOrder order = PassOrder::kPillow13);

// Same, writing 1s into a zeroed height x width uint8 image (the `fill` output).
PasteStatus paste_mask_dense(const float* prob, int64_t mask_h, int64_t mask_w,
                             const float box[4], int64_t height, int64_t width, uint8_t* out,
                             PassOrder order = PassOrder::kPillow13);

// All n masks (`probs` n x mask_h x mask_w, `boxes` n x 4) on up to `threads` threads, each
// taking a contiguous chunk of masks with about the same pixel count. Every mask is checked
// before any is pasted; on failure the status is returned and *bad is the first bad mask.
// Intervals: mask k's are intervals[2 * offsets[k] .. 2 * offsets[k + 1]), offsets has n + 1
// entries. Dense: `out` is a zeroed n x height x width image stack.
PasteStatus paste_masks_intervals(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                                  const float* boxes, int64_t height, int64_t width,
                                  bool column_major, int threads, std::vector<int64_t>* offsets,
                                  std::vector<int64_t>* intervals, int64_t* bad,
                                  PassOrder order = PassOrder::kPillow13);
PasteStatus paste_masks_dense(const float* probs, int64_t n, int64_t mask_h, int64_t mask_w,
                              const float* boxes, int64_t height, int64_t width, int threads,
                              uint8_t* out, int64_t* bad,
                              PassOrder order = PassOrder::kPillow13);

}  // namespace panoseg
