// COCO run-length encoding (RLE) of binary masks, as pycocotools stores them in JSON.
//
// Masks are scanned in column-major (Fortran) order; `counts` alternate runs of 0s and 1s,
// starting with 0s. The compressed string form stores each count (after the third) as the
// difference to the count two places earlier, in 5-bit groups, as characters 48..111.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace panoseg {

// Decodes a compressed RLE string into counts and checks they cover exactly n_pixels
// (kRleBadCharacter, kRleTruncated, kRleNegativeCount, kRleWrongTotal; index: the character).
Status rle_decode_string(const char* s, size_t length, int64_t n_pixels,
                         std::vector<uint32_t>* counts);

// Checks uncompressed counts (the JSON list form) against n_pixels (kRleWrongTotal).
Status rle_check_counts(const uint32_t* counts, size_t n, int64_t n_pixels);

// Encodes a mask given by its runs of ones -- n_runs [begin, end) pairs, sorted, non-empty,
// within [0, n_pixels), in column-major pixel order -- as the compressed string pycocotools'
// mask.encode makes (touching runs are merged, as its counts never hold an empty run).
// Runs not like that: kBadIntervals (index: the first bad run), nothing written.
Status rle_encode_runs(const int64_t* runs, int64_t n_runs, int64_t n_pixels, std::string* out);

// One RLE of a list: a compressed counts string (`chars`, `length` bytes), or, when `chars` is
// null, uncompressed counts (`counts`, `length` values).
struct RleRef {
  const char* chars = nullptr;
  const uint32_t* counts = nullptr;
  size_t length = 0;
};

// Decodes n RLEs of n_pixels pixels each into interval masks (CSR: mask k is
// intervals[2 * offsets[k] .. 2 * offsets[k + 1]), the runs of ones in column-major order).
// A bad RLE: its decoding status, reported at (kMask, its position in the list).
Status rle_decode_intervals(const RleRef* rles, int64_t n, int64_t n_pixels,
                            std::vector<int64_t>* offsets, std::vector<int64_t>* intervals);

// Encodes n interval masks (CSR as above; `n_values` is the length of `intervals`) as
// compressed strings. Bad offsets or runs: kBadIntervals at (kMask, the mask).
Status rle_encode_intervals(const int64_t* offsets, int64_t n, const int64_t* intervals,
                            int64_t n_values, int64_t n_pixels, std::vector<std::string>* out);

}  // namespace panoseg
