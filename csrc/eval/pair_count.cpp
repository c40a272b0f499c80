#include "eval/pair_count.hpp"

#include <algorithm>
#include <unordered_map>

#include "common/checked.hpp"
#include "common/id_index.hpp"
#include "eval/boundary_band.hpp"
#include "eval/run_scan.hpp"
#include "io/png_row_runs.hpp"

namespace panoseg {
namespace {

// Above this many (GT x prediction) cells the overlap table switches from a dense matrix to a
// hash map, so images with thousands of segments neither allocate nor clear huge tables.
constexpr int64_t kDenseLimit = int64_t(1) << 20;

inline int32_t slot_of(uint32_t id, const IdIndex& index) {
  if (id == 0u) return kVoidSlot;
  const int32_t s = index.find(id);
  return s == IdIndex::kMissing ? kUnknownSlot : s;
}

}  // namespace

PairCounter::PairCounter(const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids,
                         int64_t n_pred)
    : gt_index_(table_size(n_gt)), pred_index_(table_size(n_pred)) {
  if (n_gt < 0 || n_pred < 0 || n_gt >= INT32_MAX - 2 || n_pred >= INT32_MAX - 2 ||
      (gt_ids == nullptr && n_gt > 0) || (pred_ids == nullptr && n_pred > 0)) {
    status_ = fail(StatusCode::kBadArgument);
    return;
  }
  status_ = build_index(gt_ids, n_gt, &gt_index_, StatusWhere::kGt);
  if (!status_.ok()) return;
  status_ = build_index(pred_ids, n_pred, &pred_index_, StatusWhere::kPred);
  if (!status_.ok()) return;
  // Slots shifted by +2 so void and unknown get the first two rows/columns. Both are < 2^31
  // (checked above), so rows_ * cols_ < 2^62 and every cell index fits int64.
  rows_ = n_gt + 2;
  cols_ = n_pred + 2;
  dense_ = rows_ * cols_ <= kDenseLimit;
  if (dense_) matrix_.assign(size_t(rows_ * cols_), 0);
}

void PairCounter::add(const uint32_t* gt, const uint32_t* pred, int64_t n) {
  // Panoptic maps are piecewise constant: find where the (GT, pred) pair changes, and touch the
  // table (and the id lookups) once per run of equal pairs rather than once per pixel.
  int64_t i = 0;
  while (i < n) {
    set_ids(gt[i], pred[i]);
    const int64_t end = pair_run_end(gt, pred, i, n);
    add_cell(int64_t(g_ + 2) * cols_ + (p_ + 2), end - i);
    i = end;
  }
}

void PairCounter::set_ids(uint32_t g, uint32_t p) {
  if (g != g_id_) {
    g_id_ = g;
    g_ = slot_of(g, gt_index_);
  }
  if (p != p_id_) {
    p_id_ = p;
    p_ = slot_of(p, pred_index_);
  }
}

void PairCounter::add_run_rows(RunRow gt, RunRow pred) {
  row_runs_.clear();
  // Both rows end at the same width: walk their runs together, one pair run per change.
  const IdRun* g = gt.runs;
  const IdRun* p = pred.runs;
  const IdRun* const g_end = g + gt.n;
  int32_t x = 0;
  while (g < g_end) {
    const int32_t e = g->end < p->end ? g->end : p->end;
    set_ids(g->id, p->id);
    const int64_t cell = int64_t(g_ + 2) * cols_ + (p_ + 2);
    add_cell(cell, e - x);
    row_runs_.emplace_back(cell, e - x);
    g += g->end == e;
    p += p->end == e;
    x = e;
  }
}

void PairCounter::repeat_run_rows() {
  for (const auto& run : row_runs_) add_cell(run.first, run.second);
}

void PairCounter::finish(PairCountResult* out) const {
  out->pairs.clear();
  out->unknown_gt.clear();
  out->unknown_pred.clear();
  if (dense_) {
    for (int64_t r = 0; r < rows_; ++r)
      for (int64_t c = 0; c < cols_; ++c) {
        const int64_t n = matrix_[size_t(r * cols_ + c)];
        if (n) out->pairs.push_back({int32_t(r - 2), int32_t(c - 2), n});
      }
  } else {
    std::vector<std::pair<int64_t, int64_t>> cells(sparse_.begin(), sparse_.end());
    std::sort(cells.begin(), cells.end());
    for (const auto& kv : cells)
      out->pairs.push_back({int32_t(kv.first / cols_ - 2), int32_t(kv.first % cols_ - 2), kv.second});
  }
}

bool PairCounter::unknown_seen(const PairCountResult& r, bool gt) {
  for (const PairArea& pa : r.pairs)
    if ((gt ? pa.gt : pa.pred) == kUnknownSlot) return true;
  return false;
}

Status count_pairs(const uint32_t* gt_map, const uint32_t* pred_map, int64_t n_pixels,
                   const uint32_t* gt_ids, int64_t n_gt, const uint32_t* pred_ids, int64_t n_pred,
                   PairCountResult* out) {
  if (n_pixels < 0 || ((gt_map == nullptr || pred_map == nullptr) && n_pixels > 0))
    return fail(StatusCode::kBadArgument);
  PairCounter counter(gt_ids, n_gt, pred_ids, n_pred);
  if (!counter.status().ok()) return counter.status();
  if (n_pixels > 0) counter.add(gt_map, pred_map, n_pixels);
  counter.finish(out);
  if (PairCounter::unknown_seen(*out, true))
    collect_unknown(gt_map, n_pixels, counter.gt_index(), &out->unknown_gt);
  if (PairCounter::unknown_seen(*out, false))
    collect_unknown(pred_map, n_pixels, counter.pred_index(), &out->unknown_pred);
  return ok_status();
}

namespace {
inline int64_t row_bytes(int64_t height, int64_t width) {
  return image_size_ok(height, width) ? 3 * width + 1 : 0;  // no product of unchecked sizes
}
}  // namespace

const uint8_t* PngPairStream::Side::take(size_t line) {
  const size_t in_pending = pending.size() - pending_pos;
  if (in_pending >= line) {
    pending_pos += line;
    return pending.data() + pending_pos - line;
  }
  if (in_pending > 0) {  // a row split between two chunks: completed in `pending`
    pending.erase(pending.begin(), pending.begin() + std::ptrdiff_t(pending_pos));
    pending.insert(pending.end(), chunk + chunk_pos, chunk + chunk_pos + (line - in_pending));
    chunk_pos += line - in_pending;
    pending_pos = line;
    return pending.data();
  }
  chunk_pos += line;  // the common case: straight from the chunk, no copy
  return chunk + chunk_pos - line;
}

void PngPairStream::Side::keep_rest() {
  // Used bytes leave the front only once they are most of the buffer: no memmove per feed.
  if (pending_pos == pending.size()) {
    pending.clear();
    pending_pos = 0;
  } else if (pending_pos > pending.size() / 2) {
    pending.erase(pending.begin(), pending.begin() + std::ptrdiff_t(pending_pos));
    pending_pos = 0;
  }
  pending.insert(pending.end(), chunk + chunk_pos, chunk + chunk_size);
  chunk = nullptr;
  chunk_size = chunk_pos = 0;
}

PngPairStream::PngPairStream(int64_t height, int64_t width, const uint32_t* gt_ids,
                             int64_t n_gt, const uint32_t* pred_ids, int64_t n_pred,
                             int64_t dilation)
    : height_(height), width_(width), dilation_(dilation),
      line_(size_t(row_bytes(height, width))), counter_(gt_ids, n_gt, pred_ids, n_pred),
      gt_rows_(line_ ? width : 0), pred_rows_(line_ ? width : 0) {
  if (!image_size_ok(height, width) || dilation < 0 || dilation > kMaxDilation)
    status_ = fail(StatusCode::kBadArgument);
  else
    status_ = counter_.status();
}

PngPairStream::~PngPairStream() = default;  // here, where RgbBandCounter is complete

Status PngPairStream::side_error(Status st, StatusWhere where, const Side& side) const {
  st.where = where;
  if (st.code == StatusCode::kPngSizeMismatch) st.value = int64_t(side.received);
  return st;
}

Status PngPairStream::feed(const uint8_t* gt, size_t gt_size, const uint8_t* pred,
                           size_t pred_size) {
  if (!status_.ok()) return status_;
  try {
    return feed_checked(gt, gt_size, pred, pred_size);
  } catch (...) {  // out of memory keeping bytes: the stream cannot go on
    status_ = fail(StatusCode::kBadArgument);
    throw;
  }
}

Status PngPairStream::feed_checked(const uint8_t* gt, size_t gt_size, const uint8_t* pred,
                                   size_t pred_size) {
  if ((gt == nullptr && gt_size) || (pred == nullptr && pred_size))
    return status_ = fail(StatusCode::kBadArgument);
  gt_.chunk = gt;
  gt_.chunk_size = gt_size;
  gt_.received += gt_size;
  pred_.chunk = pred;
  pred_.chunk_size = pred_size;
  pred_.received += pred_size;
  // More bytes than the image has: an error, found before any of them is decoded.
  const size_t total = line_ * size_t(height_);
  if (gt_.received > total)
    return status_ = side_error(fail(StatusCode::kPngSizeMismatch), StatusWhere::kGt, gt_);
  if (pred_.received > total)
    return status_ = side_error(fail(StatusCode::kPngSizeMismatch), StatusWhere::kPred, pred_);
  while (line_ && gt_.available() >= line_ && pred_.available() >= line_) {
    const RunRow g = gt_rows_.decode(gt_.take(line_));
    if (g.runs == nullptr)
      return status_ = side_error(gt_rows_.error(), StatusWhere::kGt, gt_);
    const RunRow p = pred_rows_.decode(pred_.take(line_));
    if (p.runs == nullptr)
      return status_ = side_error(pred_rows_.error(), StatusWhere::kPred, pred_);
    const bool first = gt_rows_.rows() == 1;
    if (dilation_ > 0 && first && !band_covers_all(height_, width_, dilation_))
      band_.reset(new RgbBandCounter(height_, width_, dilation_, &counter_));
    if (band_) {  // counts the mask table too, from the runs it finds anyway
      band_->add_rows(g, !first && gt_rows_.unchanged(), p, !first && pred_rows_.unchanged());
      continue;
    }
    // Rows repeating their predecessors (an Up row of zeros, common) repeat its runs too.
    if (!first && gt_rows_.unchanged() && pred_rows_.unchanged())
      counter_.repeat_run_rows();
    else
      counter_.add_run_rows(g, p);
  }
  gt_.keep_rest();
  pred_.keep_rest();
  return status_;
}

Status PngPairStream::finish(PairCountResult* out, PairCountResult* band) {
  if (!status_.ok()) return status_;
  if (band != nullptr && dilation_ == 0) return fail(StatusCode::kBadArgument);
  if (gt_rows_.rows() < height_ || pred_rows_.rows() < height_) {
    const size_t total = line_ * size_t(height_);
    const bool gt_short = gt_.received < total;
    return status_ = side_error(fail(StatusCode::kPngSizeMismatch),
                                gt_short ? StatusWhere::kGt : StatusWhere::kPred,
                                gt_short ? gt_ : pred_);
  }
  counter_.finish(out);
  if (band != nullptr) {
    if (band_) {
      band_->finish(band);
    } else {  // every pixel is band (or no pixel at all): the band table is the mask table
      band->pairs = out->pairs;
      band->unknown_gt.clear();
      band->unknown_pred.clear();
    }
  }
  return status_;
}

Status count_pairs_png(const uint8_t* gt_raw, size_t gt_size, const uint8_t* pred_raw,
                       size_t pred_size, int64_t height, int64_t width, const uint32_t* gt_ids,
                       int64_t n_gt, const uint32_t* pred_ids, int64_t n_pred,
                       PairCountResult* out) {
  // image_size_ok first: the expected size is a product of the sizes (common/checked.hpp).
  if (!image_size_ok(height, width)) return fail(StatusCode::kBadArgument);
  PngPairStream stream(height, width, gt_ids, n_gt, pred_ids, n_pred);
  if (!stream.status().ok()) return stream.status();
  // Both sizes first, as the whole-image decoder always did: the GT's, then the prediction's.
  const size_t total = size_t((3 * width + 1) * height);
  if (gt_size != total || (gt_raw == nullptr && gt_size))
    return fail(StatusCode::kPngSizeMismatch, StatusWhere::kGt, -1, int64_t(gt_size));
  if (pred_size != total || (pred_raw == nullptr && pred_size))
    return fail(StatusCode::kPngSizeMismatch, StatusWhere::kPred, -1, int64_t(pred_size));
  const Status st = stream.feed(gt_raw, gt_size, pred_raw, pred_size);
  if (!st.ok()) return st;
  return stream.finish(out);
}

}  // namespace panoseg
