#include "io/rle.hpp"

namespace panoseg {

RleStatus rle_decode_string(const char* s, size_t length, int64_t n_pixels,
                            std::vector<uint32_t>* counts) {
  counts->clear();
  int64_t total = 0;
  size_t p = 0;
  while (p < length) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= length) return RleStatus::kTruncated;
      const int c = int(static_cast<unsigned char>(s[p])) - 48;
      if (c < 0 || c > 63) return RleStatus::kBadCharacter;
      if (k >= 12) return RleStatus::kNegativeCount;  // more than 60 bits: not a sane count
      x |= int64_t(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(int64_t(1) << (5 * k));  // sign-extend
    }
    const size_t m = counts->size();
    if (m > 2) x += int64_t((*counts)[m - 2]);
    if (x < 0 || x > 0xFFFFFFFFll) return RleStatus::kNegativeCount;
    counts->push_back(uint32_t(x));
    total += x;
    if (total > n_pixels) return RleStatus::kWrongTotal;
  }
  return total == n_pixels ? RleStatus::kOk : RleStatus::kWrongTotal;
}

RleStatus rle_check_counts(const uint32_t* counts, size_t n, int64_t n_pixels) {
  int64_t total = 0;
  for (size_t i = 0; i < n; ++i) total += counts[i];
  return total == n_pixels ? RleStatus::kOk : RleStatus::kWrongTotal;
}

bool rle_encode_runs(const int64_t* runs, int64_t n_runs, int64_t n_pixels, std::string* out) {
  int64_t pos = 0;
  for (int64_t k = 0; k < n_runs; ++k) {
    const int64_t b = runs[2 * k], e = runs[2 * k + 1];
    if (b < pos || e <= b || e > n_pixels) return false;
    pos = e;
  }
  // The counts: zeros, ones, zeros, ... ending with the last run, whichever it is.
  std::vector<int64_t> counts;
  counts.reserve(size_t(2 * n_runs + 1));
  pos = 0;
  for (int64_t k = 0; k < n_runs; ++k) {
    const int64_t b = runs[2 * k], e = runs[2 * k + 1];
    if (b == pos && !counts.empty()) {
      counts.back() += e - b;  // touches the previous run: the same run of ones
    } else {
      counts.push_back(b - pos);
      counts.push_back(e - b);
    }
    pos = e;
  }
  if (pos < n_pixels || counts.empty()) counts.push_back(n_pixels - pos);
  // pycocotools' rleToString: each count from the third on as the difference to the count two
  // before, 5 bits per character (48 + value, bit 0x20 = more follow), sign-extended.
  out->clear();
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t x = counts[i];
    if (i > 2) x -= counts[i - 2];
    bool more = true;
    while (more) {
      char c = char(x & 0x1f);
      x >>= 5;  // arithmetic: negative differences stay negative
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      out->push_back(char(c + 48));
    }
  }
  return true;
}

}  // namespace panoseg
