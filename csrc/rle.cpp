#include "rle.hpp"

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

}  // namespace panoseg
