// The size limits every kernel enforces on its own (C++ never trusts its inputs), and checked
// arithmetic for the few sums and products of input-derived numbers that no limit bounds.
//
// Why these limits make the size arithmetic safe: with 0 <= height, width <= kMaxSide = 2^31 - 1
// and height * width <= kMaxPixels = 2^40, every product the kernels form stays far below 2^63:
// height * width < 2^62 (computed only after both sides are checked), 3 * width + 1 < 2^33,
// height * (3 * width + 1) <= 3 * 2^40 + 2^31, x * height + y < 2^40, 4 * n_pixels < 2^42.
// The Python wrappers (panoseg/_core.pyx: MAX_SIDE, MAX_PIXELS) check the same limits first, so
// these checks only ever fire for a kernel called with sizes no wrapper lets through.
#pragma once
#include <cstdint>

namespace panoseg {

constexpr int64_t kMaxSide = (int64_t(1) << 31) - 1;
constexpr int64_t kMaxPixels = int64_t(1) << 40;

// Whether height x width is an image size the kernels take (see above).
inline bool image_size_ok(int64_t height, int64_t width) {
  return height >= 0 && width >= 0 && height <= kMaxSide && width <= kMaxSide &&
         height * width <= kMaxPixels;  // < 2^62: both factors are <= 2^31 - 1 here
}

// a + b and a * b, or false when the result does not fit int64 (*out is then unspecified).
inline bool checked_add(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}
inline bool checked_mul(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

}  // namespace panoseg
