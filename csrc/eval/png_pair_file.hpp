// The evaluation of one image straight from its two PNG files' bytes, in one call: both files'
// chunks checked, their image data inflated (zlib-ng) a piece at a time, in step, and fed to a
// PngPairStream (eval/pair_count.hpp), so the per-image work needs no Python and no GIL and
// neither image is ever held whole (two pieces of ~256 KB per thread, reused across images).
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/status.hpp"
#include "eval/pair_count.hpp"

namespace panoseg {

// Inflated bytes per piece and side, whole rows where a row fits (rows are rarely split between
// pieces). zlib-ng copies the last 32 KB of every inflate call's output into its window: with
// 64 KB pieces that copy was half as much again as the output, and 256 KB pieces made eval
// 3-8% faster (640x480 to 4096x2048, one thread; both pieces still fit the L2 cache).
constexpr size_t kPngPieceBytes = size_t(1) << 18;

// Boundary IoU's band width for an image: max(1, round(ratio * diagonal)) pixels, rounded half to
// even (boundary-iou-api rounds with Python's round()); ratio in (0, 1], sizes image_size_ok.
int64_t boundary_dilation(int64_t height, int64_t width, double ratio);

struct PngPairLimits {
  int64_t max_pixels = 0;  // the largest width * height read (checked from the headers)
  // The size the GT PNG must have (its 'images' entry), or -1 when none is known; the
  // prediction must have the GT's size.
  int64_t gt_height = -1, gt_width = -1;
  double dilation_ratio = 0;  // > 0: Boundary PQ, bands boundary_dilation() pixels wide
};

struct PngPairCount {
  int64_t height = 0, width = 0, dilation = 0;
  PairCountResult pairs;  // the mask overlap table (unknown ids not listed, as count_pairs_png)
  PairCountResult band;   // with a dilation: the band overlap table
};

// Reads the GT's, then the prediction's header and checks it (io/png_read.hpp's parse_png,
// 8-bit RGB, not interlaced, within limits.max_pixels, the expected size), both before anything
// is inflated; then inflates and counts. kPngFile (`where` kGt or kPred) when a file fails any of
// that or its image data is corrupt or of the wrong length (the caller's reader says why); table
// errors as PairCounter's; kBadArgument for bad limits.
Status count_pairs_png_files(const uint8_t* gt_png, size_t gt_size, const uint8_t* pred_png,
                             size_t pred_size, const PngPairLimits& limits,
                             const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids,
                             int64_t n_pred, PngPairCount* out);

// The same, the files read by the core (io/png_read.hpp's read_png_file, with
// limits.max_pixels); kPngFile also for a file that cannot be read or is refused there.
Status count_pairs_png_paths(const char* gt_path, const char* pred_path,
                             const PngPairLimits& limits, const uint32_t* gt_ids, int64_t n_gt,
                             const uint32_t* pred_ids, int64_t n_pred, PngPairCount* out);

}  // namespace panoseg
