#include "eval/png_pair_file.hpp"

#include <cmath>
#include <vector>

#include "common/checked.hpp"
#include "eval/boundary_band.hpp"
#include "io/png_read.hpp"

namespace panoseg {

namespace {

// File buffers up to this capacity stay with their thread between images (a 4096x2048
// panoptic PNG is ~0.1-1 MB).
constexpr size_t kKeepFileBytes = size_t(16) << 20;

// One thread's inflaters and pieces, reused by every image it evaluates (no allocation per
// image once warm).
struct ThreadReader {
  PngInflater gt, pred;
  std::vector<uint8_t> gt_piece, pred_piece;
  PngFile gt_file, pred_file;
  std::vector<uint8_t> gt_bytes, pred_bytes;  // the files, with count_pairs_png_paths
};

ThreadReader& thread_reader() {
  thread_local ThreadReader reader;
  return reader;
}

Status png_file_error(StatusWhere where) { return fail(StatusCode::kPngFile, where); }

// The header checks of the Python reader, in its order: 8-bit RGB, not interlaced, the pixel
// cap, the expected size.
bool header_ok(const PngFile& f, int64_t max_pixels, int64_t height, int64_t width) {
  if (f.depth != 8 || f.color != 2 || f.interlace != 0) return false;
  if (f.width * f.height > max_pixels) return false;  // both sides < 2^31: no overflow
  if (height >= 0 && (f.height != height || f.width != width)) return false;
  return image_size_ok(f.height, f.width);
}

}  // namespace

int64_t boundary_dilation(int64_t height, int64_t width, double ratio) {
  // As Python's max(1, int(round(ratio * math.sqrt(h * h + w * w)))): the integer sum converted
  // to the nearest double, sqrt and product correctly rounded, round() halves to even (the
  // default rounding mode's nearbyint).
  const double diagonal = std::sqrt(double(height * height + width * width));
  // < 1.5 * 2^31: fits int64; a width above kMaxDilation is left to the band kernels to refuse.
  const double d = std::nearbyint(ratio * diagonal);
  return d >= 1 ? int64_t(d) : 1;
}

Status count_pairs_png_files(const uint8_t* gt_png, size_t gt_size, const uint8_t* pred_png,
                             size_t pred_size, const PngPairLimits& limits,
                             const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids,
                             int64_t n_pred, PngPairCount* out) {
  if (limits.max_pixels < 0 || !(limits.dilation_ratio >= 0 && limits.dilation_ratio <= 1) ||
      (limits.gt_height >= 0) != (limits.gt_width >= 0))
    return fail(StatusCode::kBadArgument);
  ThreadReader& r = thread_reader();
  if (!parse_png(gt_png, gt_size, &r.gt_file) ||
      !header_ok(r.gt_file, limits.max_pixels, limits.gt_height, limits.gt_width))
    return png_file_error(StatusWhere::kGt);
  const int64_t h = r.gt_file.height, w = r.gt_file.width;
  if (!parse_png(pred_png, pred_size, &r.pred_file) ||
      !header_ok(r.pred_file, limits.max_pixels, h, w))
    return png_file_error(StatusWhere::kPred);
  out->height = h;
  out->width = w;
  out->dilation = limits.dilation_ratio > 0 ? boundary_dilation(h, w, limits.dilation_ratio) : 0;
  PngPairStream stream(h, w, gt_ids, n_gt, pred_ids, n_pred, out->dilation);
  if (!stream.status().ok()) return stream.status();
  const size_t line = size_t(3 * w + 1);
  const size_t total = line * size_t(h);  // <= 3 * 2^40 + 2^31 (common/checked.hpp)
  const size_t piece =
      line <= kPngPieceBytes ? kPngPieceBytes / line * line : kPngPieceBytes;
  r.gt_piece.resize(piece);
  r.pred_piece.resize(piece);
  if (!r.gt.start(r.gt_file, total)) return png_file_error(StatusWhere::kGt);
  if (!r.pred.start(r.pred_file, total)) return png_file_error(StatusWhere::kPred);
  for (size_t done = 0; done < total;) {
    const size_t n = total - done < piece ? total - done : piece;
    if (!r.gt.read(r.gt_piece.data(), n)) return png_file_error(StatusWhere::kGt);
    if (!r.pred.read(r.pred_piece.data(), n)) return png_file_error(StatusWhere::kPred);
    const Status st = stream.feed(r.gt_piece.data(), n, r.pred_piece.data(), n);
    if (!st.ok()) return png_file_error(st.where);  // a bad filter type: the reader explains
    done += n;
  }
  if (!r.gt.finish()) return png_file_error(StatusWhere::kGt);
  if (!r.pred.finish()) return png_file_error(StatusWhere::kPred);
  const Status st = stream.finish(&out->pairs, out->dilation ? &out->band : nullptr);
  if (!st.ok()) return png_file_error(st.where);
  return ok_status();
}

Status count_pairs_png_paths(const char* gt_path, const char* pred_path,
                             const PngPairLimits& limits, const uint32_t* gt_ids, int64_t n_gt,
                             const uint32_t* pred_ids, int64_t n_pred, PngPairCount* out) {
  ThreadReader& r = thread_reader();
  // Buffers are kept for the thread's next image, unless a large file grew them: that memory
  // goes back at once (threads live long, and a declined file is read again by the caller).
  struct Release {
    ThreadReader& r;
    ~Release() {
      for (std::vector<uint8_t>* v : {&r.gt_bytes, &r.pred_bytes})
        if (v->capacity() > kKeepFileBytes) std::vector<uint8_t>().swap(*v);
    }
  } release{r};
  if (gt_path == nullptr || !read_png_file(gt_path, limits.max_pixels, &r.gt_bytes))
    return png_file_error(StatusWhere::kGt);
  if (pred_path == nullptr || !read_png_file(pred_path, limits.max_pixels, &r.pred_bytes))
    return png_file_error(StatusWhere::kPred);
  return count_pairs_png_files(r.gt_bytes.data(), r.gt_bytes.size(), r.pred_bytes.data(),
                               r.pred_bytes.size(), limits, gt_ids, n_gt, pred_ids, n_pred, out);
}

}  // namespace panoseg
