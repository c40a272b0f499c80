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

// One map's state: its current row's runs, the last changed row's, per column the count of
// consecutive rows ending here that are horizontally deep with one id (saturated at 2d + 1)
// and the band bits of the row d above. Column arrays are padded to whole 64-column words
// (padding columns stay not deep, so band).
struct BandSide {
  std::vector<IdRun> runs, prev;
  std::vector<uint8_t> state;     // per column: kNotDeep, kDeepNew or kDeepKept (below)
  std::vector<uint8_t> count8;    // the counts when 2d + 1 <= 255 (byte lanes)
  std::vector<uint32_t> count32;  // else
  std::vector<uint8_t> band;      // 1 where band (the 32-bit count path only)
  std::vector<uint64_t> bits;     // band flags of row y - d
  bool all_kept = false;          // no kDeepNew column (the row repeated its predecessor)
};

// A column of a row: not horizontally deep (count 0); deep with another id than the pixel
// above (count 1); deep with the same id as above (count + 1). One byte array for both facts:
// half the stores of a deep array and a same-id array.
constexpr uint8_t kNotDeep = 0x00, kDeepNew = 0x0F, kDeepKept = 0xFF;

// Column arrays have this many bytes more than `padded`: fill() may write that far past a span.
constexpr int64_t kFillSlack = 16;

// GCC turns fill()'s store loop into a memset call, which costs more than the one or two
// stores a span takes.
#if defined(__GNUC__) && !defined(__clang__)
#define PANOSEG_NO_MEMSET_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define PANOSEG_NO_MEMSET_CALLS
#endif

// p[0..n) = v, in 16-byte stores that may write up to 15 bytes past n (spans are short: ~10 a
// row, and a memset call per span cost more than the stores). Only for arrays filled span
// after span in ascending order (later spans overwrite the excess) with kFillSlack slack.
PANOSEG_INLINE void fill(uint8_t* p, int64_t n, uint8_t v) {
#if defined(__SSE2__)
  const __m128i vv = _mm_set1_epi8(char(v));
  for (int64_t i = 0; i < n; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(p + i), vv);
#else
  std::memset(p, v, size_t(n));
#endif
}

#if defined(PANOSEG_RUNTIME_SIMD)
// The depth counts of a row (limit 2d + 1 <= 255) and its band bits, 64 columns a step: as the
// SSE2 loop in band_side_row.
__attribute__((target("avx512f,avx512bw"))) void update_counts_avx512(
    uint8_t* cnt, const uint8_t* st, uint64_t* bits, int64_t padded, uint8_t lim, uint8_t lim1) {
  const __m512i vlim = _mm512_set1_epi8(char(lim)), vlim1 = _mm512_set1_epi8(char(lim1)),
                one = _mm512_set1_epi8(1), kept = _mm512_set1_epi8(char(kDeepKept));
  for (int64_t x = 0; x < padded; x += 64) {
    const __m512i sv = _mm512_loadu_si512(reinterpret_cast<const void*>(st + x));
    const __mmask64 is_kept = _mm512_cmpeq_epi8_mask(sv, kept);
    const __mmask64 is_deep = _mm512_test_epi8_mask(sv, sv);
    const __m512i k =
        _mm512_maskz_mov_epi8(is_kept, _mm512_loadu_si512(reinterpret_cast<const void*>(cnt + x)));
    const __m512i n = _mm512_maskz_add_epi8(is_deep, _mm512_min_epu8(k, vlim1), one);
    _mm512_storeu_si512(reinterpret_cast<void*>(cnt + x), n);
    bits[x / 64] = ~uint64_t(_mm512_cmpeq_epi8_mask(n, vlim));
  }
}

const bool kAvx512Counts = __builtin_cpu_supports("avx512bw");
#endif

// Takes in row y of a map, as its runs (`same`: it equals row y - 1); afterwards s->bits holds
// the band flags of row y - d (meaningful once y >= d).
PANOSEG_SIMD_CLONES PANOSEG_NO_MEMSET_CALLS
void band_side_row(BandSide* s, RunRow row, bool same, int64_t y, int64_t w, int64_t d,
                   int64_t limit, int64_t padded) {
  uint8_t* st = s->state.data();
  if (!same) {
    s->runs.swap(s->prev);
    s->runs.assign(row.runs, row.runs + row.n);
    // Per stretch [x, e) of one run of this row and one of the row above (`prev` holds the
    // previous row's runs, as a repeated row keeps them; none above the first row): deep
    // where the run spans x - d .. x + d, kept where the two ids agree.
    const IdRun* c = s->runs.data();
    const IdRun* p = y > 0 ? s->prev.data() : nullptr;
    int64_t x = 0, a = 0;  // a: where the run of this row holding x starts
    while (x < w) {
      const int64_t b = c->end;
      const int64_t e = p != nullptr && p->end < b ? p->end : b;
      const uint8_t v = p != nullptr && c->id == p->id ? kDeepKept : kDeepNew;
      // The deep part of the run, [a + d, b - d), clipped to [x, e).
      const int64_t lo = std::min(std::max(x, a + d), e);
      const int64_t hi = std::max(std::min(e, b - d), lo);
      if (lo > x) fill(st + x, lo - x, kNotDeep);
      if (hi > lo) fill(st + lo, hi - lo, v);
      if (e > hi) fill(st + hi, e - hi, kNotDeep);
      if (p != nullptr && p->end == e) ++p;
      if (b == e) {
        ++c;
        a = b;
      }
      x = e;
    }
    s->all_kept = false;
  } else if (!s->all_kept) {  // the same row again: same runs and deep columns, all kept
    for (int64_t x = 0; x < w; ++x) st[x] = st[x] == kNotDeep ? kNotDeep : kDeepKept;
    s->all_kept = true;
  }
  // count = deep ? (kept ? min(count + 1, 2d + 1) : 1) : 0; interior iff 2d + 1.
  if (limit <= 255) {
    uint8_t* cnt = s->count8.data();
    const uint8_t lim = uint8_t(limit), lim1 = uint8_t(limit - 1);
    uint64_t* bits = s->bits.data();
#if defined(PANOSEG_RUNTIME_SIMD)
    if (kAvx512Counts) return update_counts_avx512(cnt, st, bits, padded, lim, lim1);
#endif
#if defined(__SSE2__)
    // 16 columns a step, the band bits straight from the compare.
    const __m128i vlim = _mm_set1_epi8(char(lim)), vlim1 = _mm_set1_epi8(char(lim1)),
                  one = _mm_set1_epi8(1), kept = _mm_set1_epi8(char(kDeepKept)),
                  zero = _mm_setzero_si128();
    for (int64_t x = 0; x < padded; x += 64) {
      uint64_t word = 0;
      for (int j = 0; j < 4; ++j) {
        const int64_t i = x + 16 * j;
        __m128i* cp = reinterpret_cast<__m128i*>(cnt + i);
        const __m128i sv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(st + i));
        const __m128i k = _mm_and_si128(_mm_loadu_si128(cp), _mm_cmpeq_epi8(sv, kept));
        const __m128i n = _mm_andnot_si128(_mm_cmpeq_epi8(sv, zero),
                                           _mm_add_epi8(_mm_min_epu8(k, vlim1), one));
        _mm_storeu_si128(cp, n);
        const unsigned interior = unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(n, vlim)));
        word |= uint64_t(~interior & 0xFFFFu) << (16 * j);
      }
      bits[x / 64] = word;
    }
#else
    for (int64_t x = 0; x < padded; x += 64) {
      uint64_t word = 0;
      for (int j = 0; j < 64; ++j) {
        const uint8_t v = st[x + j];
        const uint8_t k = v == kDeepKept ? cnt[x + j] : 0;
        const uint8_t n = v == kNotDeep ? 0 : uint8_t((k < lim1 ? k : lim1) + 1);
        cnt[x + j] = n;
        word |= uint64_t(n != lim) << j;
      }
      bits[x / 64] = word;
    }
#endif
  } else {
    uint32_t* cnt = s->count32.data();
    uint8_t* band = s->band.data();
    const uint32_t lim = uint32_t(limit), lim1 = lim - 1;  // 2d + 1 <= width < 2^31
    for (int64_t x = 0; x < padded; ++x) {
      const uint8_t v = st[x];
      const uint32_t k = cnt[x] & (0u - uint32_t(v == kDeepKept));
      const uint32_t n = (0u - uint32_t(v != kNotDeep)) & ((k < lim1 ? k : lim1) + 1);
      cnt[x] = n;
      band[x] = n != lim;
    }
    pack_flags(band, padded, s->bits.data());
  }
}

// Counts one row's pair runs into the band table, with the two maps' band bits of the row
// (null: every pixel band).
PANOSEG_SIMD_CLONES
void band_count_row(CellTable* table, const PairRun* runs, size_t n_runs, const uint64_t* gbits,
                    const uint64_t* pbits) {
  int64_t x = 0;
  for (size_t k = 0; k < n_runs; ++k) {
    const PairRun& r = runs[k];
    const int64_t n = r.end - x;
    if (gbits == nullptr) {
      table->add(r.gs, r.ps, n);
    } else {
      int64_t bg, bp, both;
      count_bits(gbits, pbits, x, r.end, &bg, &bp, &both);
      // Interior pixels of a nonzero id get kInteriorKey (kUnknownSlot); VOID stays VOID.
      const int32_t g0 = r.gs == kVoidSlot ? kVoidSlot : kUnknownSlot;
      const int32_t p0 = r.ps == kVoidSlot ? kVoidSlot : kUnknownSlot;
      table->add(r.gs, r.ps, both);
      table->add(r.gs, p0, bg - both);
      table->add(g0, r.ps, bp - both);
      table->add(g0, p0, n - bg - bp + both);
    }
    x = r.end;
  }
}

}  // namespace

struct RgbBandCounter::Impl {
  Impl(int64_t height, int64_t width, int64_t dilation, PairCounter* mask)
      : h(height), w(width), d(dilation), limit(2 * dilation + 1), padded((width + 63) / 64 * 64),
        mask(mask), band(mask->gt_index().size(), mask->pred_index().size()),
        ring(size_t(dilation + 1)) {
    for (BandSide* s : {&gt, &pred}) {
      s->state.assign(size_t(padded + kFillSlack), kNotDeep);
      if (limit <= 255) {
        s->count8.assign(size_t(padded), 0);
      } else {
        s->count32.assign(size_t(padded), 0);
        s->band.assign(size_t(padded), 0);
      }
      s->bits.assign(size_t(padded / 64), 0);
    }
  }

  void count_row(int64_t r, bool all_band) {
    const std::vector<PairRun>& runs = ring[size_t(r % (d + 1))];
    band_count_row(&band, runs.data(), runs.size(), all_band ? nullptr : gt.bits.data(),
                   all_band ? nullptr : pred.bits.data());
  }

  int64_t h, w, d, limit, padded, y = 0;
  PairCounter* mask;
  CellTable band;
  BandSide gt, pred;
  std::vector<std::vector<PairRun>> ring;  // row r's pair runs at r % (d + 1)
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
  band_side_row(&m.gt, gt, gt_same, m.y, m.w, m.d, m.limit, m.padded);
  band_side_row(&m.pred, pred, pred_same, m.y, m.w, m.d, m.limit, m.padded);
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
    const IdRun* g = m.gt.runs.data();
    const IdRun* p = m.pred.runs.data();
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
  // Row y completes the window of row y - d.
  if (m.y >= m.d) m.count_row(m.y - m.d, false);
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
