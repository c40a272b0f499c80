#include "io/png_deflate.hpp"

#include <algorithm>
#include <cstring>

#include "common/checked.hpp"
#include "common/simd.hpp"

namespace panoseg {
namespace {

// A code as deflate sends it: `n` bits, the first in bit 0.
struct Code {
  uint32_t bits;
  uint32_t n;
};

uint32_t reversed(uint32_t code, uint32_t n) {
  uint32_t r = 0;
  for (uint32_t i = 0; i < n; ++i) r = (r << 1) | ((code >> i) & 1u);
  return r;
}

// Bits into a byte vector, least significant first. put() assumes room for 4 more bytes:
// callers reserve() the bytes a group of puts can need before making them.
class BitWriter {
 public:
  explicit BitWriter(std::vector<uint8_t>* out) : out_(out), next_(out->data()) {}
  void reserve(size_t bytes) {
    const size_t pos = size_t(next_ - out_->data());
    if (pos + bytes + 8 > out_->size()) out_->resize(std::max(2 * out_->size(), pos + bytes + 8));
    next_ = out_->data() + pos;
  }
  PANOSEG_INLINE void put(Code c) {
    acc_ |= uint64_t(c.bits) << fill_;  // fill_ < 32 and c.n <= 32: fits 64 bits
    fill_ += c.n;
    if (fill_ >= 32) {
      // One 4-byte store, least significant byte first, through a pointer held here (a byte
      // store through the vector's would make the compiler reload its state after each).
      const uint8_t b[4] = {uint8_t(acc_), uint8_t(acc_ >> 8), uint8_t(acc_ >> 16),
                            uint8_t(acc_ >> 24)};
      std::memcpy(next_, b, 4);
      next_ += 4;
      acc_ >>= 32;
      fill_ -= 32;
    }
  }
  // Pads to a whole byte and returns the bytes written.
  size_t finish() {
    reserve(8);
    for (; fill_ > 0; fill_ = fill_ > 8 ? fill_ - 8 : 0, acc_ >>= 8) *next_++ = uint8_t(acc_);
    return size_t(next_ - out_->data());
  }

 private:
  std::vector<uint8_t>* out_;
  uint8_t* next_;
  uint64_t acc_ = 0;
  uint32_t fill_ = 0;
};

constexpr uint64_t kAdlerMod = 65521;

struct Adler32 {
  uint64_t a = 1, b = 0;
  void reduce() {
    a %= kAdlerMod;
    b %= kAdlerMod;
  }
  // a < 2^36 and b < 2^62 + 2^36 after it: no overflow.
  void byte(uint64_t v) {
    a += v;
    b += a;
    if (b >= (uint64_t(1) << 62)) reduce();
  }
  void run(uint64_t v, uint64_t n) {
    if (n < (uint64_t(1) << 20) && a < (uint64_t(1) << 32) && b < (uint64_t(1) << 62)) {
      b += n * a + v * (n * (n + 1) / 2);  // < 2^62 + 2^52 + 2^48
      a += n * v;                          // < 2^32 + 2^28
      if (b >= (uint64_t(1) << 62)) reduce();
      return;
    }
    reduce();
    const uint64_t triangle = n % 2 == 0 ? (n / 2 % kAdlerMod) * ((n + 1) % kAdlerMod)
                                         : (n % kAdlerMod) * ((n + 1) / 2 % kAdlerMod);
    b = (b + (n % kAdlerMod) * a + v * (triangle % kAdlerMod)) % kAdlerMod;
    a = (a + (n % kAdlerMod) * v) % kAdlerMod;
  }
  uint32_t value() {
    reduce();
    return uint32_t(b << 16 | a);
  }
};

// Deflate's length symbols (RFC 1951, 3.2.5): symbol 257 + k covers lengths kLengthBase[k] ..
// kLengthBase[k + 1] - 1 with kLengthExtra[k] extra bits (258 has its own symbol, 285).
constexpr int kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10,  11,  13,  15,  17,  19,  23, 27,
                                 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr int kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                  2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};

struct LengthTable {
  uint8_t symbol[259];  // 257 + symbol[len] is the length symbol of len (3..258)
  LengthTable() {
    for (int k = 0; k < 29; ++k) {
      const int top = k + 1 < 29 ? kLengthBase[k + 1] : 259;
      for (int len = kLengthBase[k]; len < top; ++len) symbol[len] = uint8_t(k);
    }
    symbol[0] = symbol[1] = symbol[2] = 0;
  }
};

const LengthTable& length_table() {
  static const LengthTable table;  // built once (thread-safe initialisation)
  return table;
}

// The tokens of the image's zlib data, generated twice: once counted, once written. Only
// matches at distance 1 (distance symbol 0) and 3 (symbol 2) occur, neither with extra bits.
struct CountSink {
  uint64_t litlen[286] = {};
  uint64_t dist[30] = {};
  const LengthTable& lengths = length_table();
  void literal(uint8_t v) { ++litlen[v]; }
  void match(int len, int distance) {
    ++litlen[257 + lengths.symbol[len]];
    ++dist[distance == 1 ? 0 : 2];
  }
  // What zeros() below emits, counted without the loop (most of an image is zero stretches).
  void zero_matches(int64_t full, int64_t rest) {
    litlen[285] += uint64_t(full);
    dist[0] += uint64_t(full);
    if (rest >= 3)
      match(int(rest), 1);
    else
      litlen[0] += uint64_t(rest);
  }
};

// Writes the tokens. The caller has sized the writer for the whole stream (stream_bits), so
// no token checks for room. The sink holds its own copy of the writer, which the caller takes
// back after the pass: a local whose address never leaves the (inlined) pass, so its state
// stays in registers instead of being stored and reloaded around every byte written.
struct WriteSink {
  BitWriter w;
  const Code* litlen;  // 286 codes
  const Code* dist;    // 30 codes
  const LengthTable& lengths = length_table();
  Code m258;     // a match of 258 at distance 1 as one code (<= 15 + 15 bits)
  Code m258_x;   // m258 repeated m258_n times, in at most 32 bits
  int64_t m258_n;
  WriteSink(const BitWriter& writer, const Code* litlen_codes, const Code* dist_codes)
      : w(writer), litlen(litlen_codes), dist(dist_codes) {
    m258 = {litlen[285].bits | dist[0].bits << litlen[285].n, litlen[285].n + dist[0].n};
    m258_x = m258;
    m258_n = 1;
    while (m258.n > 0 && m258_x.n + m258.n <= 32) {
      m258_x = {m258_x.bits | m258.bits << m258_x.n, m258_x.n + m258.n};
      ++m258_n;
    }
  }
  PANOSEG_INLINE void literal(uint8_t v) { w.put(litlen[v]); }
  PANOSEG_INLINE void match(int len, int distance) {
    const int k = lengths.symbol[len];
    w.put(litlen[257 + k]);
    if (kLengthExtra[k]) w.put({uint32_t(len - kLengthBase[k]), uint32_t(kLengthExtra[k])});
    w.put(dist[distance == 1 ? 0 : 2]);
  }
  PANOSEG_INLINE void zero_matches(int64_t full, int64_t rest) {
    // The same bits as `full` puts of m258, m258_n of them per put.
    for (; full >= m258_n; full -= m258_n) w.put(m258_x);
    for (; full > 0; --full) w.put(m258);
    if (rest >= 3)
      match(int(rest), 1);
    else
      for (; rest > 0; --rest) literal(0);
  }
};

// The bits of the tokens CountSink counted, written with these code lengths.
uint64_t stream_bits(const CountSink& counts, const uint8_t* litlen_lengths,
                     const uint8_t* dist_lengths) {
  uint64_t bits = 0;
  for (int i = 0; i < 286; ++i) bits += counts.litlen[i] * litlen_lengths[i];
  for (int k = 0; k < 29; ++k) bits += counts.litlen[257 + k] * uint64_t(kLengthExtra[k]);
  for (int i = 0; i < 30; ++i) bits += counts.dist[i] * dist_lengths[i];
  return bits;
}

// `n` zero bytes after a byte that was zero or not (`last_zero`): one literal if needed, then
// matches at distance 1 (a leftover of 1 or 2 bytes stays literals).
template <class Sink>
PANOSEG_INLINE void zeros(int64_t n, bool last_zero, Sink* s) {
  if (n <= 0) return;
  if (!last_zero) {
    s->literal(0);
    --n;
  }
  s->zero_matches(n / 258, n % 258);  // matches of 258, then one shorter match or literals
}

// The tokens of the filtered scanlines (see png_encode_sparse_rgb), and their Adler-32 if asked.
template <class Sink>
PANOSEG_INLINE void sparse_tokens(const FilteredPixel* px, int64_t n, int64_t height,
                                  int64_t width, uint8_t filter, Sink* s, Adler32* adler) {
  int64_t j = 0;
  for (int64_t y = 0; y < height; ++y) {
    s->literal(filter);
    if (adler) adler->byte(filter);
    bool last_zero = filter == 0;
    int64_t pos = 0;  // the row's pixel bytes emitted
    for (; j < n && px[j].y == y;) {
      const FilteredPixel& p = px[j];
      // k pixels in a row with the same bytes: the first as literals, the rest one match at
      // distance 3 (three bytes a pixel, so 258 splits into whole pixels).
      int64_t k = 1;
      while (j + k < n && px[j + k].y == y && px[j + k].x == p.x + k &&
             std::memcmp(px[j + k].rgb, p.rgb, 3) == 0)
        ++k;
      const int64_t gap = 3 * int64_t(p.x) - pos;
      zeros(gap, last_zero, s);
      if (adler) adler->run(0, uint64_t(gap));
      for (int c = 0; c < 3; ++c) s->literal(p.rgb[c]);
      for (int64_t rest = 3 * (k - 1); rest > 0; rest -= std::min<int64_t>(rest, 258))
        s->match(int(std::min<int64_t>(rest, 258)), 3);
      if (adler)
        for (int64_t r = 0; r < k; ++r)
          for (int c = 0; c < 3; ++c) adler->byte(p.rgb[c]);
      last_zero = p.rgb[2] == 0;
      pos = 3 * (int64_t(p.x) + k);
      j += k;
    }
    zeros(3 * width - pos, last_zero, s);
    if (adler) adler->run(0, uint64_t(3 * width - pos));
  }
}

// Code lengths (at most max_bits) of a Huffman code for `freq` (0 for unused symbols): the
// Huffman tree's depths, then lengths over max_bits folded back in as zlib and miniz do.
void huffman_lengths(const uint64_t* freq, int n, int max_bits, uint8_t* lengths) {
  std::fill(lengths, lengths + n, uint8_t(0));
  std::vector<std::pair<uint64_t, int>> leaves;
  for (int i = 0; i < n; ++i)
    if (freq[i]) leaves.push_back({freq[i], i});
  const int m = int(leaves.size());
  if (m == 0) return;
  if (m == 1) {  // a one-symbol code is incomplete, which zlib refuses: add a second symbol
    lengths[leaves[0].second] = 1;
    lengths[leaves[0].second == 0 ? 1 : 0] = 1;
    return;
  }
  std::sort(leaves.begin(), leaves.end());
  // Two-queue Huffman: leaves 0..m-1 (sorted), internal nodes m..2m-2 (made in weight order).
  std::vector<uint64_t> weight(size_t(2 * m - 1));
  std::vector<int> parent(size_t(2 * m - 1), 0);
  for (int i = 0; i < m; ++i) weight[size_t(i)] = leaves[size_t(i)].first;
  int next_leaf = 0, next_node = m;
  for (int node = m; node < 2 * m - 1; ++node) {
    int pick[2];
    for (int& p : pick)
      p = next_leaf < m && (next_node >= node || weight[size_t(next_leaf)] <= weight[size_t(next_node)])
              ? next_leaf++
              : next_node++;
    weight[size_t(node)] = weight[size_t(pick[0])] + weight[size_t(pick[1])];
    parent[size_t(pick[0])] = parent[size_t(pick[1])] = node;
  }
  std::vector<int> depth(size_t(2 * m - 1), 0);
  std::vector<int> count(size_t(std::max(2 * m, max_bits + 2)), 0);
  for (int node = 2 * m - 3; node >= 0; --node) depth[size_t(node)] = depth[size_t(parent[size_t(node)])] + 1;
  for (int i = 0; i < m; ++i) ++count[size_t(std::min(depth[size_t(i)], max_bits))];
  // Over-long codes were clamped to max_bits; lengthen shorter ones until Kraft's sum is 1.
  uint64_t total = 0;
  for (int len = 1; len <= max_bits; ++len) total += uint64_t(count[size_t(len)]) << (max_bits - len);
  while (total != (uint64_t(1) << max_bits)) {
    --count[size_t(max_bits)];
    for (int len = max_bits - 1; len > 0; --len)
      if (count[size_t(len)]) {
        --count[size_t(len)];
        count[size_t(len + 1)] += 2;
        break;
      }
    --total;
  }
  // The rarest symbols get the longest codes.
  int i = 0;
  for (int len = max_bits; len > 0; --len)
    for (int c = 0; c < count[size_t(len)]; ++c) lengths[leaves[size_t(i++)].second] = uint8_t(len);
}

// Canonical codes of code lengths (RFC 1951, 3.2.2), bit-reversed for the writer.
void canonical_codes(const uint8_t* lengths, int n, Code* codes) {
  int count[16] = {};
  for (int i = 0; i < n; ++i) ++count[lengths[i]];
  count[0] = 0;
  uint32_t next[16] = {};
  uint32_t code = 0;
  for (int len = 1; len < 16; ++len) next[len] = code = (code + uint32_t(count[len - 1])) << 1;
  for (int i = 0; i < n; ++i)
    codes[i] = lengths[i] ? Code{reversed(next[lengths[i]]++, lengths[i]), lengths[i]} : Code{0, 0};
}

// The header of a dynamic block for these code lengths (RFC 1951, 3.2.7).
void write_dynamic_header(const uint8_t* litlen, const uint8_t* dist, BitWriter* w) {
  int hlit = 286, hdist = 30;
  while (hlit > 257 && litlen[hlit - 1] == 0) --hlit;
  while (hdist > 1 && dist[hdist - 1] == 0) --hdist;
  std::vector<uint8_t> all(litlen, litlen + hlit);
  all.insert(all.end(), dist, dist + hdist);
  // The lengths, run-length coded: 16 = repeat the previous 3..6 times, 17 / 18 = 3..10 /
  // 11..138 zeros.
  std::vector<std::pair<uint8_t, uint8_t>> symbols;  // (symbol, extra value)
  for (size_t i = 0; i < all.size();) {
    const uint8_t v = all[i];
    size_t run = 1;
    while (i + run < all.size() && all[i + run] == v) ++run;
    i += run;
    if (v == 0) {
      for (; run >= 11; run -= std::min<size_t>(run, 138))
        symbols.push_back({18, uint8_t(std::min<size_t>(run, 138) - 11)});
      if (run >= 3) symbols.push_back({17, uint8_t(run - 3)}), run = 0;
    } else {
      symbols.push_back({v, 0});
      --run;
      for (; run >= 3; run -= std::min<size_t>(run, 6))
        symbols.push_back({16, uint8_t(std::min<size_t>(run, 6) - 3)});
    }
    for (; run > 0; --run) symbols.push_back({v, 0});
  }
  uint64_t freq[19] = {};
  for (const auto& s : symbols) ++freq[s.first];
  uint8_t cl_lengths[19];
  huffman_lengths(freq, 19, 7, cl_lengths);
  Code cl_codes[19];
  canonical_codes(cl_lengths, 19, cl_codes);
  static const int order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
  int hclen = 19;
  while (hclen > 4 && cl_lengths[order[hclen - 1]] == 0) --hclen;
  w->reserve(16 + 8 * 19 + 4 * symbols.size());
  w->put({5, 3});  // BFINAL = 1, BTYPE = 10 (dynamic codes)
  w->put({uint32_t(hlit - 257), 5});
  w->put({uint32_t(hdist - 1), 5});
  w->put({uint32_t(hclen - 4), 4});
  for (int k = 0; k < hclen; ++k) w->put({cl_lengths[order[k]], 3});
  static const uint32_t extra_bits[19] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                          0, 0, 0, 0, 0, 0, 2, 3, 7};
  for (const auto& s : symbols) {
    w->put(cl_codes[s.first]);
    if (extra_bits[s.first]) w->put({s.second, extra_bits[s.first]});
  }
}

// CRC-32 (PNG's, zlib's), eight bytes at a time.
struct Crc32Tables {
  uint32_t t[8][256];
  Crc32Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1u ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (int s = 1; s < 8; ++s)
      for (int i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};

inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

uint32_t crc32(uint32_t crc, const uint8_t* p, size_t n) {
  static const Crc32Tables tables;
  const auto& t = tables.t;
  crc = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    const uint32_t lo = load_le32(p) ^ crc, hi = load_le32(p + 4);
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
  }
  for (; n > 0; ++p, --n) crc = t[0][(crc ^ *p) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void put_be32(std::vector<uint8_t>* out, uint32_t v) {
  const uint8_t b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
  out->insert(out->end(), b, b + 4);
}

void put_chunk(std::vector<uint8_t>* out, const char* type, const uint8_t* data, size_t n) {
  put_be32(out, uint32_t(n));
  const size_t at = out->size();
  out->insert(out->end(), type, type + 4);
  if (n) out->insert(out->end(), data, data + n);
  put_be32(out, crc32(0, out->data() + at, n + 4));
}


}  // namespace

Status png_encode_sparse_rgb(const FilteredPixel* pixels, int64_t n, int64_t height,
                             int64_t width, uint8_t filter, std::vector<uint8_t>* out) {
  out->clear();
  // image_size_ok: 3 * width, height * (1 + 3 * width) and y * width + x cannot overflow
  // (common/checked.hpp).
  if (!image_size_ok(height, width) || height < 1 || width < 1 || filter > 4 || n < 0 ||
      (pixels == nullptr && n > 0))
    return fail(StatusCode::kBadArgument);
  for (int64_t j = 0; j < n; ++j) {
    const FilteredPixel& p = pixels[j];
    const bool after = j == 0 || p.y > pixels[j - 1].y ||
                       (p.y == pixels[j - 1].y && p.x > pixels[j - 1].x);
    if (p.y < 0 || p.y >= height || p.x < 0 || p.x >= width || !after)
      return fail(StatusCode::kBadArgument, StatusWhere::kPixel, j);
  }
  // Pass 1: the symbols' frequencies, hence the block's Huffman codes.
  CountSink counts;
  sparse_tokens(pixels, n, height, width, filter, &counts, nullptr);
  counts.litlen[256] = 1;  // end of block
  // Two distance codes always: a code with one symbol trips some inflaters.
  counts.dist[0] = std::max<uint64_t>(counts.dist[0], 1);
  counts.dist[2] = std::max<uint64_t>(counts.dist[2], 1);
  uint8_t litlen_lengths[286], dist_lengths[30];
  huffman_lengths(counts.litlen, 286, 15, litlen_lengths);
  huffman_lengths(counts.dist, 30, 15, dist_lengths);
  Code litlen_codes[286], dist_codes[30];
  canonical_codes(litlen_lengths, 286, litlen_codes);
  canonical_codes(dist_lengths, 30, dist_codes);
  // Pass 2: the zlib stream.
  thread_local std::vector<uint8_t> stream;  // reused: no page faults per image
  stream.clear();
  BitWriter w(&stream);
  w.reserve(2);
  w.put({0x78, 8});  // deflate, 32 KiB window
  w.put({0x01, 8});  // no dictionary; (0x78 << 8 | 0x01) % 31 == 0
  write_dynamic_header(litlen_lengths, dist_lengths, &w);
  // Room for every token (their exact size, the end-of-block code included): the sink's puts
  // need no check. dist[0] / dist[2] may be counted once more than used: an upper bound.
  w.reserve(size_t(stream_bits(counts, litlen_lengths, dist_lengths) / 8 + 16));
  WriteSink sink(w, litlen_codes, dist_codes);
  Adler32 adler;
  sparse_tokens(pixels, n, height, width, filter, &sink, &adler);
  w = sink.w;
  w.put(litlen_codes[256]);
  stream.resize(w.finish());
  put_be32(&stream, adler.value());

  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  // PNG caps a chunk at 2^31 - 1 bytes: a larger stream goes into several IDAT chunks.
  constexpr size_t kMaxIdat = size_t(1) << 30;
  const size_t n_idat = std::max<size_t>(1, (stream.size() + kMaxIdat - 1) / kMaxIdat);
  out->reserve(8 + 25 + stream.size() + 12 * n_idat + 12);
  out->insert(out->end(), signature, signature + 8);
  const uint8_t ihdr[13] = {uint8_t(width >> 24),  uint8_t(width >> 16),  uint8_t(width >> 8),
                            uint8_t(width),        uint8_t(height >> 24), uint8_t(height >> 16),
                            uint8_t(height >> 8),  uint8_t(height),
                            8, 2, 0, 0, 0};  // 8 bits, RGB, deflate, filters, not interlaced
  put_chunk(out, "IHDR", ihdr, sizeof ihdr);
  for (size_t at = 0; at < stream.size(); at += kMaxIdat)
    put_chunk(out, "IDAT", stream.data() + at, std::min(kMaxIdat, stream.size() - at));
  put_chunk(out, "IEND", nullptr, 0);
  if (stream.capacity() > (size_t(64) << 20)) std::vector<uint8_t>().swap(stream);  // huge: free
  return ok_status();
}

}  // namespace panoseg
