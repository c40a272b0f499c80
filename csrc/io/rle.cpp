#include "io/rle.hpp"

namespace panoseg {

Status rle_decode_string(const char* s, size_t length, int64_t n_pixels,
                         std::vector<uint32_t>* counts) {
  counts->clear();
  if ((s == nullptr && length != 0) || n_pixels < 0) return fail(StatusCode::kBadArgument);
  int64_t total = 0;
  size_t p = 0;
  while (p < length) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= length) return fail(StatusCode::kRleTruncated, StatusWhere::kNone, int64_t(p));
      const int c = int(static_cast<unsigned char>(s[p])) - 48;
      if (c < 0 || c > 63)
        return fail(StatusCode::kRleBadCharacter, StatusWhere::kNone, int64_t(p), c + 48);
      if (k >= 12)  // more than 60 bits: not a sane count
        return fail(StatusCode::kRleNegativeCount, StatusWhere::kNone, int64_t(p));
      x |= int64_t(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(int64_t(1) << (5 * k));  // sign-extend
    }
    // |x| < 2^60 (at most 12 groups of 5 bits) and counts are < 2^32: the sum cannot overflow.
    const size_t m = counts->size();
    if (m > 2) x += int64_t((*counts)[m - 2]);
    if (x < 0 || x > 0xFFFFFFFFll)
      return fail(StatusCode::kRleNegativeCount, StatusWhere::kNone, int64_t(p - 1), x);
    // total <= n_pixels holds before each count, so n_pixels - total >= 0 is exact; comparing
    // against it (not total + x against n_pixels) cannot overflow whatever n_pixels is.
    if (x > n_pixels - total)
      return fail(StatusCode::kRleWrongTotal, StatusWhere::kNone, int64_t(p - 1), total + x);
    counts->push_back(uint32_t(x));  // at most one count per character: sized by the string
    total += x;
  }
  if (total != n_pixels) return fail(StatusCode::kRleWrongTotal, StatusWhere::kNone, -1, total);
  return ok_status();
}

Status rle_check_counts(const uint32_t* counts, size_t n, int64_t n_pixels) {
  if ((counts == nullptr && n != 0) || n_pixels < 0) return fail(StatusCode::kBadArgument);
  // Stops at the first count past n_pixels: the running total stays <= n_pixels, so it never
  // overflows however many counts there are (2^31 counts of 2^32 - 1 would).
  int64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (int64_t(counts[i]) > n_pixels - total)
      return fail(StatusCode::kRleWrongTotal, StatusWhere::kNone, -1, total + int64_t(counts[i]));
    total += counts[i];
  }
  if (total != n_pixels) return fail(StatusCode::kRleWrongTotal, StatusWhere::kNone, -1, total);
  return ok_status();
}

Status rle_encode_runs(const int64_t* runs, int64_t n_runs, int64_t n_pixels, std::string* out) {
  if (n_runs < 0 || (runs == nullptr && n_runs > 0)) return fail(StatusCode::kBadArgument);
  int64_t pos = 0;
  for (int64_t k = 0; k < n_runs; ++k) {
    const int64_t b = runs[2 * k], e = runs[2 * k + 1];
    if (b < pos || e <= b || e > n_pixels)
      return fail(StatusCode::kBadIntervals, StatusWhere::kNone, k);
    pos = e;
  }
  // The counts: zeros, ones, zeros, ... ending with the last run, whichever it is. n_runs is the
  // number of runs the caller holds (2 * n_runs values, checked above to be sorted within
  // [0, n_pixels)), so 2 * n_runs + 1 cannot overflow and the reserve is sized by that data.
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
  return ok_status();
}

Status rle_decode_intervals(const RleRef* rles, int64_t n, int64_t n_pixels,
                            std::vector<int64_t>* offsets, std::vector<int64_t>* intervals) {
  offsets->assign(1, 0);
  intervals->clear();
  if (n < 0 || (rles == nullptr && n > 0) || n_pixels < 0) return fail(StatusCode::kBadArgument);
  std::vector<uint32_t> counts;
  for (int64_t k = 0; k < n; ++k) {
    const RleRef& r = rles[k];
    Status status;
    if (r.chars != nullptr) {
      status = rle_decode_string(r.chars, r.length, n_pixels, &counts);
    } else if (r.counts != nullptr || r.length == 0) {
      // Checked in place first: a bad list is never copied.
      status = rle_check_counts(r.counts, r.length, n_pixels);
      if (status.ok()) counts.assign(r.counts, r.counts + r.length);
    } else {
      status = fail(StatusCode::kBadArgument);
    }
    if (!status.ok()) return at_item(status, StatusWhere::kMask, k);
    // The counts add up to n_pixels (checked): pos + counts[i] <= n_pixels, no overflow.
    int64_t pos = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      if (i % 2 == 1 && counts[i] > 0) {
        intervals->push_back(pos);
        intervals->push_back(pos + counts[i]);
      }
      pos += counts[i];
    }
    offsets->push_back(int64_t(intervals->size() / 2));
  }
  return ok_status();
}

Status rle_encode_intervals(const int64_t* offsets, int64_t n, const int64_t* intervals,
                            int64_t n_values, int64_t n_pixels, std::vector<std::string>* out) {
  out->clear();
  if (n < 0 || offsets == nullptr || n_values < 0 || (intervals == nullptr && n_values > 0) ||
      n_pixels < 0)
    return fail(StatusCode::kBadArgument);
  out->reserve(size_t(n));
  std::string s;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t a = offsets[k], b = offsets[k + 1];
    // b > n_values / 2, not 2 * b > n_values: 2 * b wraps for b >= 2^62 and would let a mask
    // read runs far past the end of `intervals`.
    if (a < 0 || b < a || b > n_values / 2)
      return fail(StatusCode::kBadIntervals, StatusWhere::kMask, k);
    const Status status = rle_encode_runs(b > a ? intervals + 2 * a : nullptr, b - a, n_pixels, &s);
    if (!status.ok()) return at_item(status, StatusWhere::kMask, k);
    out->push_back(s);
  }
  return ok_status();
}

}  // namespace panoseg
