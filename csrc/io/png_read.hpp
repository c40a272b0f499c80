// Reading a PNG file's bytes in the core: the chunk structure and checksums (as strictly as
// panoseg/io/png.py's reader and Pillow), then the image data inflated by zlib-ng, a piece at a
// time, into the caller's buffer. The evaluator reads both PNGs of an image this way in one call
// without the GIL (eval/png_pair_file.hpp).
//
// This reader only says *whether* a file is one it decodes; it never explains why not. Anything
// else (corrupt, truncated, another colour type, interlaced, too large) is handed back to the
// Python reader, which either decodes it (an interlaced PNG, through Pillow) or names the problem
// in its error message. So every file this reader accepts, the Python reader accepts too, with
// the same bytes: the checks below are the Python reader's, in the same order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/checked.hpp"

namespace panoseg {

// The largest PNG file read for an image of at most `pixels` pixels (capped at kMaxPixels): 4
// bytes a pixel (RGBA, the widest 8-bit pixels a panoptic reader takes; deflate adds ~0.01%)
// plus 64 MiB of other chunks. (panoseg._core.max_png_file_bytes: the Python readers' limit.)
inline uint64_t png_file_limit(int64_t pixels) {
  const int64_t p = pixels < 0 ? 0 : (pixels > kMaxPixels ? kMaxPixels : pixels);
  return 4 * uint64_t(p) + (uint64_t(64) << 20);
}

// The bytes png_head_limit looks at: the signature and the IHDR chunk.
constexpr size_t kPngHeadBytes = 33;

// The most bytes a PNG file starting with `head` (its first n bytes; n < kPngHeadBytes only
// for a shorter file) may hold: 0 without the PNG signature (refused unread past its head);
// png_file_limit(width * height) when its IHDR gives an 8-bit image of at most max_pixels
// pixels; else png_file_limit(max_pixels).
uint64_t png_head_limit(const uint8_t* head, size_t n, int64_t max_pixels);

// Reads the whole PNG file at `path` into `out` (resized to the file's size, its capacity kept
// for the next file). Its first kPngHeadBytes are read first: it is read only if its size is
// within png_head_limit of them (checked before the rest is allocated). False when it cannot
// be opened or read, or is refused so; the caller's own reader then says what is wrong.
bool read_png_file(const char* path, int64_t max_pixels, std::vector<uint8_t>* out);

// A PNG's header and where its image data lies in the file's bytes.
struct PngFile {
  int64_t width = 0, height = 0;
  int depth = 0, color = 0, interlace = 0;
  std::vector<std::pair<const uint8_t*, size_t>> idat;  // the IDAT chunks' data, in order
};

// Parses `data` (n bytes): the signature, chunks up to IEND (IHDR first, one IHDR of 13 bytes,
// consecutive IDATs, the CRC of every critical chunk: IHDR, PLTE, IDAT, IEND), and the header
// fields (sizes 1..2^31 - 1, compression, filter and interlace methods known, an IDAT present).
// False when any of that fails; `out` then holds no meaning. Never reads outside data[0, n).
bool parse_png(const uint8_t* data, size_t n, PngFile* out);

// Inflates a PngFile's image data (a zlib stream split over its IDAT chunks) in pieces. One
// inflater is reused across files (start() resets it): its ~40 KB of state is allocated once.
class PngInflater {
 public:
  PngInflater();
  ~PngInflater();
  PngInflater(const PngInflater&) = delete;
  PngInflater& operator=(const PngInflater&) = delete;
  // Starts on `png`'s image data, which must hold exactly `expected` bytes. False if zlib-ng
  // could not allocate its state.
  bool start(const PngFile& png, size_t expected);
  // Writes the next min(cap, bytes left) bytes of image data to `out`; false on corrupt data or
  // a stream that ends early. Never writes more than `cap` bytes.
  bool read(uint8_t* out, size_t cap);
  // After all `expected` bytes were read: true when the stream holds no more image data and no
  // error follows (a stream cut after the image data, without its checksum, is accepted, as
  // Python's decompressobj does; data after the stream's end is ignored, as there).
  bool finish();

 private:
  bool next_input();  // moves to the next IDAT chunk with data; false when there is none
  void* stream_ = nullptr;  // zng_stream
  bool ready_ = false;      // inflateInit succeeded
  bool ended_ = false;      // Z_STREAM_END seen
  const PngFile* png_ = nullptr;
  size_t chunk_ = 0, left_ = 0;
};

}  // namespace panoseg
