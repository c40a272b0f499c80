#include "eval/boundary_band.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "common/checked.hpp"
#include "common/id_index.hpp"
#include "common/row_runs.hpp"
#include "common/simd.hpp"
#include "eval/run_scan.hpp"

// The scanning loops are plain int32 lane arithmetic that the compiler vectorizes, also in an
// AVX2 clone (PANOSEG_SIMD_CLONES, common/simd.hpp).
namespace panoseg {
namespace {

// Interior of one id map, row by row: take_row(y) for y = 0, 1, 2, ... in order; after
// take_row(y) with y >= d, row y - d is complete: its pixel x is interior iff
// count_[x] >= 2d + 1. Only for 2d + 1 <= min(height, width) (else nothing is interior).
// (The methods are inline: they are compiled into each clone of their callers.)
class BandScanner {
 public:
  BandScanner(const uint32_t* map, int64_t width, int64_t dilation)
      : map_(map), w_(width), d_(dilation), limit_(int32_t(2 * dilation)),
        count_(size_t(width), 0), deep_(size_t(width), 0) {}

  // Where the next take_row(_flags) puts its row's run ends (null: nowhere).
  void set_ends(std::vector<int32_t>* ends) { ends_ = ends; }

  // Takes in row y < d (no row complete yet).
  PANOSEG_INLINE void take_row(int64_t y) {
    const uint32_t* cur = map_ + y * w_;
    horizontal(cur);
    int32_t* c = count_.data();
    const int32_t* hd = deep_.data();
    if (y == 0) {
      for (int64_t x = 0; x < w_; ++x) c[x] = hd[x] & 1;
      return;
    }
    const uint32_t* prev = cur - w_;
    for (int64_t x = 0; x < w_; ++x) c[x] = hd[x] & ((c[x] & -int32_t(cur[x] == prev[x])) + 1);
  }

  // Takes in row y >= d (y >= 1) and writes the band flags (1 = band) of row y - d.
  PANOSEG_INLINE void take_row_flags(int64_t y, uint8_t* flags) {
    const uint32_t* cur = map_ + y * w_;
    horizontal(cur);
    int32_t* c = count_.data();
    const int32_t* hd = deep_.data();
    const uint32_t* prev = cur - w_;
    const int32_t limit = limit_;
    for (int64_t x = 0; x < w_; ++x) {
      // count = rows ending here that are horizontally deep with the same id at x: one more
      // than above when this row is deep and has the id of the row above, 1 when only deep,
      // else 0 (count <= y + 1 <= height < 2^31: no overflow). Interior iff count > 2d.
      const int32_t n = hd[x] & ((c[x] & -int32_t(cur[x] == prev[x])) + 1);
      c[x] = n;
      flags[x] = uint8_t(n <= limit);
    }
  }

 private:
  // deep_[x] = -1 where the row run holding x spans x - d .. x + d, else 0; the ends of the
  // row's runs (ascending, the last is the width) go to ends_.
  PANOSEG_INLINE void horizontal(const uint32_t* row) {
    int32_t* hd = deep_.data();
    const int64_t d = d_;
    int64_t a = 0;
    if (ends_) ends_->clear();
    while (a < w_) {
      const int64_t b = row_run_end(row, a, w_);
      if (ends_) ends_->push_back(int32_t(b));  // b <= width < 2^31
      if (b - a > 2 * d) {
        std::fill(hd + a, hd + a + d, 0);
        std::fill(hd + a + d, hd + b - d, -1);
        std::fill(hd + b - d, hd + b, 0);
      } else {
        std::fill(hd + a, hd + b, 0);
      }
      a = b;
    }
  }

  const uint32_t* map_;
  int64_t w_, d_;
  int32_t limit_;  // 2d (2d + 1 <= width < 2^31)
  std::vector<int32_t> count_, deep_;
  std::vector<int32_t>* ends_ = nullptr;  // null: not recorded
};

// 0/1 bytes -> bits (byte i of each 8 -> bit i), `n_bytes` a multiple of 64 (zero padded).
PANOSEG_INLINE void pack_flags(const uint8_t* flags, int64_t n_bytes, uint64_t* bits) {
  for (int64_t k = 0; k < n_bytes; k += 64) {
    uint64_t word = 0;
    for (int j = 0; j < 8; ++j) {
      uint64_t v;
      std::memcpy(&v, flags + k + 8 * j, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
      v = __builtin_bswap64(v);  // byte i of memory at bits 8i..8i+7
#endif
      // Each byte is 0 or 1: the product gathers byte i's bit at bit 56 + i, no carries.
      word |= ((v * 0x0102040810204080ull) >> 56) << (8 * j);
    }
    bits[k / 64] = word;
  }
}

// Set bits in [a, b) of `g`, of `p` and of both (a < b).
PANOSEG_INLINE void count_bits(const uint64_t* g, const uint64_t* p, int64_t a, int64_t b,
                               int64_t* ng, int64_t* np, int64_t* nboth) {
  const int64_t wa = a >> 6, wb = (b - 1) >> 6;
  const uint64_t first = ~uint64_t(0) << (a & 63);
  const uint64_t last = ~uint64_t(0) >> (63 - ((b - 1) & 63));
  int64_t cg = 0, cp = 0, cb = 0;
  for (int64_t k = wa; k <= wb; ++k) {
    uint64_t m = ~uint64_t(0);
    if (k == wa) m &= first;
    if (k == wb) m &= last;
    const uint64_t x = g[k] & m, y = p[k] & m;
    cg += __builtin_popcountll(x);
    cp += __builtin_popcountll(y);
    cb += __builtin_popcountll(x & y);
  }
  *ng = cg;
  *np = cp;
  *nboth = cb;
}

// An overlap table over (GT slot, prediction slot), slots shifted by +2 (VOID and unknown
// first): a dense matrix, or a hash map above kDenseLimit cells (as PairCounter).
class CellTable {
 public:
  static constexpr int64_t kDenseLimit = int64_t(1) << 20;
  CellTable(int64_t n_gt, int64_t n_pred)
      : rows_(n_gt + 2), cols_(n_pred + 2), dense_(rows_ * cols_ <= kDenseLimit) {
    if (dense_) matrix_.assign(size_t(rows_ * cols_), 0);
  }
  // The dense matrix (row g + 2, column p + 2 of cols()), null for a hash map.
  int64_t* dense_cells() { return dense_ ? matrix_.data() : nullptr; }
  int64_t cols() const { return cols_; }
  void add(int32_t g, int32_t p, int64_t n) {
    if (n == 0) return;
    const int64_t cell = int64_t(g + 2) * cols_ + (p + 2);
    if (dense_)
      matrix_[size_t(cell)] += n;
    else
      sparse_[cell] += n;
  }
  void finish(std::vector<PairArea>* out) const {
    out->clear();
    if (dense_) {
      for (int64_t r = 0; r < rows_; ++r)
        for (int64_t c = 0; c < cols_; ++c) {
          const int64_t n = matrix_[size_t(r * cols_ + c)];
          if (n) out->push_back({int32_t(r - 2), int32_t(c - 2), n});
        }
      return;
    }
    std::vector<std::pair<int64_t, int64_t>> cells(sparse_.begin(), sparse_.end());
    std::sort(cells.begin(), cells.end());
    for (const auto& kv : cells)
      if (kv.second)
        out->push_back({int32_t(kv.first / cols_ - 2), int32_t(kv.first % cols_ - 2), kv.second});
  }

 private:
  int64_t rows_, cols_;
  bool dense_;
  std::vector<int64_t> matrix_;
  std::unordered_map<int64_t, int64_t> sparse_;
};

// Counts the runs of one row pair into the mask table and, with the rows' band bits (null:
// the whole row is band), the band table.
class RowCounter {
 public:
  RowCounter(const IdIndex& gt, const IdIndex& pred, CellTable* mask, CellTable* band)
      : gt_(gt), pred_(pred), mask_(mask), band_(band) {}

  // The runs found by comparing the rows.
  PANOSEG_INLINE void count(const uint32_t* g, const uint32_t* p, int64_t width,
                            const uint64_t* gbits, const uint64_t* pbits) {
    int64_t x = 0;
    while (x < width) {
      const int64_t e = pair_run_end(g, p, x, width);
      run(g, p, x, e, gbits, pbits);
      x = e;
    }
  }

  // The same with the rows' own run ends known (ascending, each ending with the width): the
  // pair runs end where either row's do.
  PANOSEG_INLINE void count_ends(const uint32_t* g, const uint32_t* p, const int32_t* gend,
                                 const int32_t* pend, int64_t width, const uint64_t* gbits,
                                 const uint64_t* pbits) {
    int64_t x = 0;
    while (x < width) {
      const int32_t e = *gend < *pend ? *gend : *pend;
      gend += *gend == e;
      pend += *pend == e;
      run(g, p, x, e, gbits, pbits);
      x = e;
    }
  }

 private:
  PANOSEG_INLINE void run(const uint32_t* g, const uint32_t* p, int64_t x, int64_t e,
                          const uint64_t* gbits, const uint64_t* pbits) {
    set_ids(g[x], p[x]);
    const int64_t n = e - x;
    if (mask_) mask_->add(gs_, ps_, n);
    if (gbits == nullptr) {
      band_->add(gs_, ps_, n);
    } else {
      int64_t bg, bp, both;
      count_bits(gbits, pbits, x, e, &bg, &bp, &both);
      // Interior pixels of a nonzero id get kInteriorKey (kUnknownSlot); VOID stays VOID.
      const int32_t g0 = gs_ == kVoidSlot ? kVoidSlot : kUnknownSlot;
      const int32_t p0 = ps_ == kVoidSlot ? kVoidSlot : kUnknownSlot;
      band_->add(gs_, ps_, both);
      band_->add(gs_, p0, bg - both);
      band_->add(g0, ps_, bp - both);
      band_->add(g0, p0, n - bg - bp + both);
    }
  }

  static int32_t slot_of(uint32_t id, const IdIndex& index) {
    if (id == 0u) return kVoidSlot;
    const int32_t s = index.find(id);
    return s == IdIndex::kMissing ? kUnknownSlot : s;
  }
  PANOSEG_INLINE void set_ids(uint32_t g, uint32_t p) {
    if (g != g_id_) {
      g_id_ = g;
      gs_ = slot_of(g, gt_);
    }
    if (p != p_id_) {
      p_id_ = p;
      ps_ = slot_of(p, pred_);
    }
  }
  const IdIndex& gt_;
  const IdIndex& pred_;
  CellTable* mask_;
  CellTable* band_;
  uint32_t g_id_ = 0, p_id_ = 0;
  int32_t gs_ = kVoidSlot, ps_ = kVoidSlot;
};

// The pass over both maps: every row's runs are counted once, for the mask table and (with the
// row's band bits, d rows behind the band scan) the band table.
PANOSEG_SIMD_CLONES
void scan_pairs(const uint32_t* gt_map, const uint32_t* pred_map, int64_t height, int64_t width,
                int64_t dilation, RowCounter* counter) {
  if (band_covers_all(height, width, dilation)) {
    for (int64_t r = 0; r < height; ++r)
      counter->count(gt_map + r * width, pred_map + r * width, width, nullptr, nullptr);
    return;
  }
  const int64_t padded = (width + 63) / 64 * 64;
  std::vector<uint8_t> gflags(size_t(padded), 0), pflags(size_t(padded), 0);
  std::vector<uint64_t> gbits(size_t(padded / 64)), pbits(size_t(padded / 64));
  BandScanner gs(gt_map, width, dilation), ps(pred_map, width, dilation);
  // The run ends the scanners found in the last d + 1 rows of each map: the pair runs of row
  // y - d follow from them without comparing the pixels again. Kept for d < kMaxRing (at most
  // kMaxRing * (width + 1) ends per map); a larger d compares the rows.
  constexpr int64_t kMaxRing = 256;
  const int64_t ring = dilation + 1;
  const bool keep = ring <= kMaxRing;
  std::vector<std::vector<int32_t>> gends(size_t(keep ? ring : 0)), pends(size_t(keep ? ring : 0));
  for (int64_t y = 0; y < height; ++y) {
    if (keep) {
      gs.set_ends(&gends[size_t(y % ring)]);
      ps.set_ends(&pends[size_t(y % ring)]);
    }
    if (y < dilation) {
      gs.take_row(y);
      ps.take_row(y);
      continue;
    }
    gs.take_row_flags(y, gflags.data());
    ps.take_row_flags(y, pflags.data());
    pack_flags(gflags.data(), padded, gbits.data());
    pack_flags(pflags.data(), padded, pbits.data());
    const int64_t r = y - dilation;
    if (keep)
      counter->count_ends(gt_map + r * width, pred_map + r * width,
                          gends[size_t(r % ring)].data(), pends[size_t(r % ring)].data(), width,
                          gbits.data(), pbits.data());
    else
      counter->count(gt_map + r * width, pred_map + r * width, width, gbits.data(),
                     pbits.data());
  }
  // The last d rows are all band (their windows reach below the image).
  for (int64_t r = height - dilation; r < height; ++r) {
    if (keep)
      counter->count_ends(gt_map + r * width, pred_map + r * width,
                          gends[size_t(r % ring)].data(), pends[size_t(r % ring)].data(), width,
                          nullptr, nullptr);
    else
      counter->count(gt_map + r * width, pred_map + r * width, width, nullptr, nullptr);
  }
}

PANOSEG_SIMD_CLONES
void scan_flags(const uint32_t* map, int64_t height, int64_t width, int64_t dilation,
                uint8_t* out) {
  BandScanner scan(map, width, dilation);
  for (int64_t y = 0; y < dilation; ++y) scan.take_row(y);
  for (int64_t y = dilation; y < height; ++y) scan.take_row_flags(y, out + (y - dilation) * width);
}

Status check_band_args(const void* a, const void* b, int64_t height, int64_t width,
                       int64_t dilation) {
  if (!image_size_ok(height, width) || dilation < 1 || dilation > kMaxDilation ||
      ((a == nullptr || b == nullptr) && height * width > 0))
    return fail(StatusCode::kBadArgument);
  return ok_status();
}

// --- Streaming: RgbBandCounter --------------------------------------------------------------

// A run of equal (GT, prediction) pixels of a row pair, by table slots.
struct PairRun {
  int32_t end;
  int32_t gs, ps;
};

// The deep columns [lo, hi) of one run of a row (a run longer than 2d) and the run's id.
struct DeepSpan {
  int32_t lo, hi;
  uint32_t id;
};

// Columns [lo, hi) whose streak began at row `row` (below): they turn interior in the band bits
// of row `row` + d once row `row` + 2d is taken, unless their streak broke meanwhile.
struct StreakStart {
  int32_t row, lo, hi;
};

// A column's streak: the rows ending at the last row taken in which it is horizontally deep
// with one id (the pixel of row y - d is interior iff the streak of row y began at row y - 2d
// or before), kept per column as the row it began. It changes only where a row's deep spans
// differ from the row above's: per row, a merge of the two rows' spans, and work on the
// columns whose streak begins, ends or completes 2d + 1 rows, none on the others.
constexpr int32_t kNoStreak = -1;  // not deep in the last row taken

// One map's state: per column its streak's first row (kNoStreak where not deep), the deep spans
// of the last two rows taken (at most w / (2d + 1) a row: each is inside a run of 2d + 1 or
// more columns), the streaks begun in the last 2d + 1 rows, oldest first (a ring), and the
// band bits of row y - d, set where a streak breaks and cleared where one completes 2d + 1
// rows. Bits are padded to whole 64-column words (one more when 64 divides w); padding
// columns stay band.
struct BandSide {
  std::vector<DeepSpan> deep, deep_prev;
  int64_t n_deep = 0, n_deep_prev = 0;
  std::vector<int32_t> start;
  // pending[(head + k) & (size - 1)], k < n_pending (size a power of two, doubled when a row
  // could overfill it). Each row begins at most (spans of the row) + (spans of the row above)
  // streaks: <= 2w over 2d + 1 rows.
  std::vector<StreakStart> pending;
  size_t head = 0, n_pending = 0;
  std::vector<uint64_t> bits;
};

// GCC turns the short fill loops below into memset calls, which cost more than the few stores
// a span takes.
#if defined(__GNUC__) && !defined(__clang__)
#define PANOSEG_NO_MEMSET_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define PANOSEG_NO_MEMSET_CALLS
#endif

// Sets bits [lo, hi) (lo < hi).
PANOSEG_INLINE void set_bits(uint64_t* bits, int64_t lo, int64_t hi) {
  const int64_t wa = lo >> 6, wb = (hi - 1) >> 6;
  const uint64_t first = ~uint64_t(0) << (lo & 63);
  const uint64_t last = ~uint64_t(0) >> (63 - ((hi - 1) & 63));
  if (wa == wb) {
    bits[wa] |= first & last;
    return;
  }
  bits[wa] |= first;
  for (int64_t k = wa + 1; k < wb; ++k) bits[k] = ~uint64_t(0);
  bits[wb] |= last;
}

// Clears the band bits of the columns in [lo, hi) whose streak still began at `row`.
PANOSEG_INLINE void complete(const int32_t* st, uint64_t* bits, int32_t row, int64_t lo,
                             int64_t hi) {
  for (int64_t x = lo; x < hi;) {
    const int64_t k = x >> 6;
    const int64_t e = std::min(hi, (k + 1) * 64);
    uint64_t m = 0;
    for (; x < e; ++x) m |= uint64_t(st[x] == row) << (x & 63);
    bits[k] &= ~m;
  }
}

// The ring twice the size, its entries moved to the front in order.
void grow_pending(BandSide* s) {
  std::vector<StreakStart> bigger(2 * s->pending.size());
  for (size_t k = 0; k < s->n_pending; ++k)
    bigger[k] = s->pending[(s->head + k) & (s->pending.size() - 1)];
  s->pending.swap(bigger);
  s->head = 0;
}

// Takes in row y of a map, as its runs (`same`: it equals row y - 1); afterwards s->bits holds
// the band flags of row y - d (meaningful once y >= d).
PANOSEG_NO_MEMSET_CALLS
void band_side_row(BandSide* s, RunRow row, bool same, int64_t y, int64_t w, int64_t d) {
  const int32_t yr = int32_t(y);  // y < height < 2^31
  // Locals, not members, in the loops: stores to the arrays may not alias them.
  int32_t* const st = s->start.data();
  uint64_t* const bits = s->bits.data();
  if (!same) {
    // This row's deep spans: [a + d, b - d) of each run longer than 2d. Ends clipped to the
    // width and to ascending order: the spans stay inside the row, and at most w / (2d + 1)
    // (the arrays hold one more, for a sentinel), whatever the runs say.
    s->deep.swap(s->deep_prev);
    s->n_deep_prev = s->n_deep;
    DeepSpan* const cur = s->deep.data();
    const DeepSpan* const prev = s->deep_prev.data();
    const int64_t np = s->n_deep_prev;
    int64_t a = 0, nc = 0;
    for (int64_t k = 0; k < row.n; ++k) {
      const int64_t b = std::min(int64_t(row.runs[k].end), w);
      if (b - a > 2 * d) cur[nc++] = {int32_t(a + d), int32_t(b - d), row.runs[k].id};
      a = std::max(a, b);
    }
    cur[nc] = {INT32_MAX, INT32_MAX, 0};  // a sentinel after the last span (the fast merge)
    s->n_deep = nc;
    while (s->n_pending + size_t(nc + np) > s->pending.size()) grow_pending(s);
    StreakStart* const q = s->pending.data();
    const size_t qmask = s->pending.size() - 1;
    size_t tail = s->head + s->n_pending;
    const auto end_streaks = [&](int64_t lo, int64_t hi) {  // not deep now
      for (int64_t x = lo; x < hi; ++x) st[x] = kNoStreak;
      set_bits(bits, lo, hi);
    };
    // Queued to complete at y + 2d. `band`: the columns may be interior in row y - 1 - d (deep
    // in the row above): their bits are set. (A column not deep in the row above has its band
    // bit set: from the row its streak ended, or from the start.)
    const auto begin_streaks = [&](int64_t lo, int64_t hi, bool band) {
      for (int64_t x = lo; x < hi; ++x) st[x] = yr;
      if (band) set_bits(bits, lo, hi);
      q[tail++ & qmask] = {yr, int32_t(lo), int32_t(hi)};
    };
    // One merge of the two ascending lists of disjoint spans: streaks begin on this row's deep
    // columns that the row above's spans of the same id do not hold; they end on the row
    // above's deep columns outside this row's spans.
    int64_t i = 0;
    int64_t done = 0;  // the row above's columns left of `done` are decided
    // The common case first: the i-th spans of the two rows pair up (same id, overlapping,
    // neither reaching the other row's next span), so streaks begin or end only at their ends.
    // At the first span that does not, the general merge takes over.
    for (const int64_t n_pairs = std::min(nc, np); i < n_pairs; ++i) {
      const DeepSpan c = cur[i], p = prev[i];
      if (c.id != p.id || c.lo >= p.hi || p.lo >= c.hi || p.hi > cur[i + 1].lo ||
          c.hi > prev[i + 1].lo)  // (i + 1 <= nc, np: a span or the sentinel)
        break;
      // (Columns of c outside p were not deep in the row above: their band bits are set.)
      if (c.lo < p.lo)
        begin_streaks(c.lo, p.lo, false);
      else if (p.lo < c.lo)
        end_streaks(p.lo, c.lo);
      if (p.hi < c.hi)
        begin_streaks(p.hi, c.hi, false);
      else if (c.hi < p.hi)
        end_streaks(c.hi, p.hi);
      done = c.hi;
    }
    int64_t j = i;
    for (; i < nc; ++i) {
      const DeepSpan c = cur[i];
      // Spans above that end before c: deep no more, from `done` on.
      for (; j < np && prev[j].hi <= c.lo; ++j) {
        const int64_t lo = std::max(int64_t(prev[j].lo), done);
        if (lo < prev[j].hi) end_streaks(lo, prev[j].hi);
      }
      int64_t x = c.lo;  // c's columns left of x are decided
      // Spans above that overlap c (only the first can start left of c.lo).
      for (; j < np && prev[j].lo < c.hi; ++j) {
        const DeepSpan p = prev[j];
        const int64_t lo = std::max(int64_t(p.lo), done);
        if (lo < c.lo) end_streaks(lo, c.lo);
        if (p.id == c.id) {
          if (p.lo > x) begin_streaks(x, p.lo, true);
          x = std::max(x, int64_t(p.hi));
        }
        if (p.hi > c.hi) break;  // its columns right of c: decided with the next spans of cur
      }
      if (x < c.hi) begin_streaks(x, c.hi, true);
      done = c.hi;
    }
    for (; j < np; ++j) {
      const int64_t lo = std::max(int64_t(prev[j].lo), done);
      if (lo < prev[j].hi) end_streaks(lo, prev[j].hi);
    }
    s->n_pending = tail - s->head;
  }
  // Streaks begun at row y - 2d that are unbroken have 2d + 1 rows now: interior in row y - d.
  const int64_t due = y - 2 * d;
  const StreakStart* const q = s->pending.data();
  const size_t qmask = s->pending.size() - 1;
  size_t head = s->head, n = s->n_pending;
  for (; n > 0 && q[head].row <= due; --n) {
    const StreakStart e = q[head];
    head = (head + 1) & qmask;
    complete(st, bits, e.row, e.lo, e.hi);
  }
  s->head = head;
  s->n_pending = n;
}

// One 64-column word of a row's band bits (GT, prediction) and the band pixels before it (GT,
// prediction, both).
struct BandWord {
  uint64_t g, p;
  int64_t before_g, before_p, before_both;
};

// Counts one row's pair runs (ends ascending, the last the width w) into the band table, with
// the two maps' band bits of the row (null: every pixel band; else (w + 64) / 64 words, bits
// at and past w ignored) and `words` (room for as many). Each run's band pixel counts are
// differences of the counts before its end and its start: per-word prefix sums and one masked
// word. The four cells go straight into a dense table.
template <bool kDense>
PANOSEG_INLINE void band_count_row_impl(CellTable* table, const PairRun* runs, size_t n_runs,
                                        int64_t w, const uint64_t* g, const uint64_t* p,
                                        BandWord* words) {
  const PairRun* const end = runs + n_runs;
  if (g == nullptr) {
    int64_t x = 0;
    for (const PairRun* r = runs; r != end; ++r) {
      const int64_t e = std::min(int64_t(r->end), w);
      table->add(r->gs, r->ps, e - x);
      x = e;
    }
    return;
  }
  const int64_t n_words = (w + 64) / 64;
  int64_t cg = 0, cp = 0, cb = 0;
  for (int64_t k = 0; k < n_words; ++k) {
    words[k] = {g[k], p[k], cg, cp, cb};
    cg += __builtin_popcountll(g[k]);
    cp += __builtin_popcountll(p[k]);
    cb += __builtin_popcountll(g[k] & p[k]);
  }
  int64_t* const cells = table->dense_cells();
  const int64_t cols = table->cols();
  int64_t x = 0, g0 = 0, p0 = 0, b0 = 0;  // x; band pixels before x
  for (const PairRun* r = runs; r != end; ++r) {
    const int64_t e = std::min(int64_t(r->end), w);  // (the ends are the decoder's: <= w)
    const BandWord& bw = words[e >> 6];              // < (w + 64) / 64
    const uint64_t m = ~(~uint64_t(0) << (e & 63));  // the word's columns before e
    const uint64_t gm = bw.g & m, pm = bw.p & m;
    const int64_t g1 = bw.before_g + __builtin_popcountll(gm);
    const int64_t p1 = bw.before_p + __builtin_popcountll(pm);
    const int64_t b1 = bw.before_both + __builtin_popcountll(gm & pm);
    const int64_t both = b1 - b0, g_only = g1 - g0 - both, p_only = p1 - p0 - both;
    const int64_t neither = e - x - both - g_only - p_only;
    x = e;
    g0 = g1;
    p0 = p1;
    b0 = b1;
    // Interior pixels of a nonzero id get kInteriorKey (kUnknownSlot); VOID stays VOID.
    if (kDense) {  // adding 0 to a cell changes nothing: no tests
      int64_t* const row_g = cells + int64_t(r->gs + 2) * cols;
      int64_t* const row_i = cells + (r->gs == kVoidSlot ? cols : 0);  // VOID's or kUnknownSlot's
      const int64_t col_i = r->ps == kVoidSlot ? 1 : 0;                 // the same
      row_g[r->ps + 2] += both;
      row_g[col_i] += g_only;
      row_i[r->ps + 2] += p_only;
      row_i[col_i] += neither;
    } else {
      const int32_t gi = r->gs == kVoidSlot ? kVoidSlot : kUnknownSlot;
      const int32_t pi = r->ps == kVoidSlot ? kVoidSlot : kUnknownSlot;
      table->add(r->gs, r->ps, both);
      table->add(r->gs, pi, g_only);
      table->add(gi, r->ps, p_only);
      table->add(gi, pi, neither);
    }
  }
}

PANOSEG_INLINE void band_count_row_any(CellTable* table, const PairRun* runs, size_t n_runs,
                                       int64_t w, const uint64_t* gbits, const uint64_t* pbits,
                                       BandWord* words) {
  if (table->dense_cells() != nullptr)
    band_count_row_impl<true>(table, runs, n_runs, w, gbits, pbits, words);
  else
    band_count_row_impl<false>(table, runs, n_runs, w, gbits, pbits, words);
}

#if defined(PANOSEG_RUNTIME_SIMD)
// With the popcnt instruction (neither the SSE2 baseline nor target("avx2") implies it: their
// __builtin_popcountll is a dozen instructions).
__attribute__((target("popcnt"))) void band_count_row_popcnt(CellTable* table,
                                                             const PairRun* runs, size_t n_runs,
                                                             int64_t w, const uint64_t* gbits,
                                                             const uint64_t* pbits,
                                                             BandWord* words) {
  band_count_row_any(table, runs, n_runs, w, gbits, pbits, words);
}

const bool kPopcnt = __builtin_cpu_supports("popcnt");
#endif

void band_count_row(CellTable* table, const PairRun* runs, size_t n_runs, int64_t w,
                    const uint64_t* gbits, const uint64_t* pbits, BandWord* words) {
#if defined(PANOSEG_RUNTIME_SIMD)
  if (kPopcnt) return band_count_row_popcnt(table, runs, n_runs, w, gbits, pbits, words);
#endif
  band_count_row_any(table, runs, n_runs, w, gbits, pbits, words);
}

}  // namespace

struct RgbBandCounter::Impl {
  Impl(int64_t height, int64_t width, int64_t dilation, PairCounter* mask)
      : h(height), w(width), d(dilation), mask(mask),
        band(mask->gt_index().size(), mask->pred_index().size()), ring(size_t(dilation + 1)) {
    for (BandSide* s : {&gt, &pred}) {
      s->start.assign(size_t(width), kNoStreak);
      s->deep.resize(size_t(width / (2 * dilation + 1) + 2));  // + the sentinel
      s->deep_prev.resize(s->deep.size());
      s->pending.resize(256);  // grown as needed (band_side_row)
      // Nothing interior yet; one word more than the columns need when 64 divides the width:
      // band_count_row reads the word of a run's end.
      s->bits.assign(size_t((width + 64) / 64), ~uint64_t(0));
    }
    words.resize(gt.bits.size());
  }

  void count_row(int64_t r, bool all_band) {
    const std::vector<PairRun>& runs = ring[size_t(r % (d + 1))];
    band_count_row(&band, runs.data(), runs.size(), w, all_band ? nullptr : gt.bits.data(),
                   all_band ? nullptr : pred.bits.data(), words.data());
  }

  int64_t h, w, d, y = 0;
  PairCounter* mask;
  CellTable band;
  BandSide gt, pred;
  std::vector<std::vector<PairRun>> ring;  // row r's pair runs at r % (d + 1)
  std::vector<BandWord> words;             // band_count_row's, one per word of the bits
};

RgbBandCounter::RgbBandCounter(int64_t height, int64_t width, int64_t dilation,
                               PairCounter* mask)
    : impl_(new Impl(height, width, dilation, mask)) {}

RgbBandCounter::~RgbBandCounter() = default;

void RgbBandCounter::add_rows(RunRow gt, bool gt_same, RunRow pred, bool pred_same) {
  Impl& m = *impl_;
  if (m.y >= m.h) return;  // the stream never passes more rows (it checks the data size)
  gt_same = gt_same && m.y > 0;
  pred_same = pred_same && m.y > 0;
  band_side_row(&m.gt, gt, gt_same, m.y, m.w, m.d);
  band_side_row(&m.pred, pred, pred_same, m.y, m.w, m.d);
  // This row's pair runs, counted into the mask table and kept until its band flags are known.
  const int64_t R = m.d + 1;
  std::vector<PairRun>& cur = m.ring[size_t(m.y % R)];
  if (gt_same && pred_same) {  // both rows repeat: so do their pair runs
    cur = m.ring[size_t((m.y - 1) % R)];
    int64_t x = 0;
    for (const PairRun& r : cur) {
      m.mask->add_slots(r.gs, r.ps, r.end - x);
      x = r.end;
    }
  } else {
    cur.clear();
    const IdRun* g = gt.runs;
    const IdRun* p = pred.runs;
    int64_t x = 0;
    while (x < m.w) {
      const int32_t e = g->end < p->end ? g->end : p->end;
      int32_t gs, ps;
      m.mask->slots(g->id, p->id, &gs, &ps);
      m.mask->add_slots(gs, ps, e - x);
      cur.push_back({e, gs, ps});
      g += g->end == e;
      p += p->end == e;
      x = e;
    }
  }
  // Row y completes the window of row y - d. (Before row 2d no streak has 2d + 1 rows: rows
  // 0 .. d - 1 are all band, as their windows reach above the image.)
  if (m.y >= m.d) m.count_row(m.y - m.d, m.y < 2 * m.d);
  ++m.y;
}

void RgbBandCounter::finish(PairCountResult* band) {
  Impl& m = *impl_;
  // The last d rows are all band (their windows reach below the image).
  for (int64_t r = m.h - m.d; r < m.h; ++r)
    if (r >= 0 && r < m.y) m.count_row(r, true);
  band->unknown_gt.clear();
  band->unknown_pred.clear();
  m.band.finish(&band->pairs);
}

Status boundary_band_flags(const uint32_t* map, int64_t height, int64_t width, int64_t dilation,
                           uint8_t* out) {
  const Status st = check_band_args(map, out, height, width, dilation);
  if (!st.ok()) return st;
  const int64_t n = height * width;
  if (n == 0) return ok_status();
  if (band_covers_all(height, width, dilation)) {
    std::memset(out, 1, size_t(n));
    return ok_status();
  }
  scan_flags(map, height, width, dilation, out);
  // The last d rows: their windows reach below the image.
  std::memset(out + (height - dilation) * width, 1, size_t(dilation * width));
  return ok_status();
}

Status count_band_pairs(const uint32_t* gt_map, const uint32_t* pred_map, int64_t height,
                        int64_t width, int64_t dilation, const uint32_t* gt_ids, int64_t n_gt,
                        const uint32_t* pred_ids, int64_t n_pred, PairCountResult* band,
                        PairCountResult* mask) {
  const Status st = check_band_args(gt_map, pred_map, height, width, dilation);
  if (!st.ok()) return st;
  if (band == nullptr || n_gt < 0 || n_pred < 0 || n_gt >= INT32_MAX - 2 ||
      n_pred >= INT32_MAX - 2 || (gt_ids == nullptr && n_gt > 0) ||
      (pred_ids == nullptr && n_pred > 0))
    return fail(StatusCode::kBadArgument);
  IdIndex gt_index(table_size(n_gt)), pred_index(table_size(n_pred));
  Status tables = build_index(gt_ids, n_gt, &gt_index, StatusWhere::kGt);
  if (!tables.ok()) return tables;
  tables = build_index(pred_ids, n_pred, &pred_index, StatusWhere::kPred);
  if (!tables.ok()) return tables;
  CellTable band_cells(n_gt, n_pred);
  CellTable mask_cells(mask ? n_gt : 0, mask ? n_pred : 0);
  RowCounter counter(gt_index, pred_index, mask ? &mask_cells : nullptr, &band_cells);
  const int64_t n = height * width;
  if (n > 0) scan_pairs(gt_map, pred_map, height, width, dilation, &counter);
  band->unknown_gt.clear();
  band->unknown_pred.clear();
  band_cells.finish(&band->pairs);
  if (mask) {
    mask->unknown_gt.clear();
    mask->unknown_pred.clear();
    mask_cells.finish(&mask->pairs);
    if (PairCounter::unknown_seen(*mask, true))
      collect_unknown(gt_map, n, gt_index, &mask->unknown_gt);
    if (PairCounter::unknown_seen(*mask, false))
      collect_unknown(pred_map, n, pred_index, &mask->unknown_pred);
  }
  return ok_status();
}

}  // namespace panoseg
