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

namespace panoseg {

enum class RleStatus : int {
  kOk = 0,
  kBadCharacter = 1,  // a character outside 48..111
  kTruncated = 2,     // the string ends inside a number
  kNegativeCount = 3,
  kWrongTotal = 4,    // counts do not add up to height * width
};

// Decodes a compressed RLE string into counts and checks they cover exactly n_pixels.
RleStatus rle_decode_string(const char* s, size_t length, int64_t n_pixels,
                            std::vector<uint32_t>* counts);

// Checks uncompressed counts (the JSON list form) against n_pixels.
RleStatus rle_check_counts(const uint32_t* counts, size_t n, int64_t n_pixels);

// Encodes a mask given by its runs of ones -- n_runs [begin, end) pairs, sorted, non-empty,
// within [0, n_pixels), in column-major pixel order -- as the compressed string pycocotools'
// mask.encode makes (touching runs are merged, as its counts never hold an empty run).
// Returns false, writing nothing, if the runs are not like that.
bool rle_encode_runs(const int64_t* runs, int64_t n_runs, int64_t n_pixels, std::string* out);

}  // namespace panoseg
