#include "io/png_read.hpp"

#include <zlib-ng.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace panoseg {

namespace {

const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

bool is_type(const uint8_t* p, const char* name) { return std::memcmp(p, name, 4) == 0; }

bool is_critical(const uint8_t* type) {
  return is_type(type, "IHDR") || is_type(type, "PLTE") || is_type(type, "IDAT") ||
         is_type(type, "IEND");
}

zng_stream* as_stream(void* p) { return static_cast<zng_stream*>(p); }

}  // namespace

uint64_t png_head_limit(const uint8_t* head, size_t n, int64_t max_pixels) {
  if (n < 8 || std::memcmp(head, kSignature, 8) != 0) return 0;
  if (n >= 33 && is_type(head + 12, "IHDR") && head[24] == 8) {
    const uint64_t pixels = uint64_t(be32(head + 16)) * be32(head + 20);  // < 2^64
    if (max_pixels >= 0 && pixels <= uint64_t(max_pixels)) return png_file_limit(int64_t(pixels));
  }
  return png_file_limit(max_pixels);
}

bool read_png_file(const char* path, int64_t max_pixels, std::vector<uint8_t>* out) {
  out->clear();
  uint8_t head[kPngHeadBytes];
#if defined(__unix__) || defined(__APPLE__)
  // Only a regular file is opened: a FIFO or device is left to the caller's reader (opening a
  // FIFO, even without blocking, would release a writer waiting in its open() only to leave it
  // without a reader; opening some devices has effects). Opened without blocking all the same,
  // and checked again, should the path change in between.
  struct stat before;
  if (::stat(path, &before) != 0 || !S_ISREG(before.st_mode)) return false;
  const int fd = ::open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return false;
  // Reads n bytes to dst; false at an error or the end of the file before n.
  const auto read_all = [fd](uint8_t* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      const ssize_t k = ::read(fd, dst + got, n - got);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) return false;
      got += size_t(k);
    }
    return true;
  };
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0;
  const uint64_t size = ok ? uint64_t(st.st_size) : 0;
  const size_t nh = size < kPngHeadBytes ? size_t(size) : kPngHeadBytes;
  ok = ok && read_all(head, nh) && size <= png_head_limit(head, nh, max_pixels);
  if (ok) {
    try {
      out->resize(size_t(size));
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (nh > 0) std::memcpy(out->data(), head, nh);  // (data() may be null when empty)
    uint8_t more;  // the file grew since fstat (being written): not this reader's business
    ok = (out->size() == nh || read_all(out->data() + nh, out->size() - nh)) &&
         ::read(fd, &more, 1) == 0;
  }
  ::close(fd);
  return ok;
#else
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path, "rb"), &std::fclose);
  if (!f) return false;
  bool ok = std::fseek(f.get(), 0, SEEK_END) == 0;
  const long size = ok ? std::ftell(f.get()) : -1;
  ok = size >= 0 && std::fseek(f.get(), 0, SEEK_SET) == 0;
  const size_t nh = ok && size_t(size) < kPngHeadBytes ? size_t(size) : kPngHeadBytes;
  ok = ok && std::fread(head, 1, nh, f.get()) == nh &&
       uint64_t(size) <= png_head_limit(head, nh, max_pixels);
  if (ok) {
    out->resize(size_t(size));
    if (nh > 0) std::memcpy(out->data(), head, nh);
    ok = out->size() == nh ||
         std::fread(out->data() + nh, 1, out->size() - nh, f.get()) == out->size() - nh;
    ok = ok && std::fgetc(f.get()) == EOF;
  }
  return ok;
#endif
}

bool parse_png(const uint8_t* data, size_t n, PngFile* out) {
  out->idat.clear();
  if (data == nullptr || n < 8 || std::memcmp(data, kSignature, 8) != 0) return false;
  size_t pos = 8;
  bool have_header = false, idat_done = false;
  const uint8_t* header = nullptr;
  for (;;) {
    if (n - pos < 8) return false;  // pos <= n always holds here
    const size_t length = be32(data + pos);
    const uint8_t* type = data + pos + 4;
    const size_t start = pos + 8;
    if (n - start < 4 || length > n - start - 4) return false;  // chunk (and CRC) cut short
    const size_t end = start + length;
    if (!have_header && !is_type(type, "IHDR")) return false;
    if (is_critical(type) && zng_crc32_z(0, type, length + 4) != be32(data + end))
      return false;
    if (is_type(type, "IHDR")) {
      if (have_header || length != 13) return false;
      have_header = true;
      header = data + start;
    } else if (is_type(type, "IDAT")) {
      if (idat_done) return false;
      out->idat.emplace_back(data + start, length);
    } else if (is_type(type, "IEND")) {
      break;
    } else if (!out->idat.empty()) {
      idat_done = true;
    }
    pos = end + 4;
  }
  const uint32_t width = be32(header), height = be32(header + 4);
  if (width == 0 || height == 0 || width > 0x7fffffffu || height > 0x7fffffffu) return false;
  if (header[10] != 0 || header[11] != 0 || header[12] > 1) return false;
  if (out->idat.empty()) return false;
  out->width = int64_t(width);
  out->height = int64_t(height);
  out->depth = header[8];
  out->color = header[9];
  out->interlace = header[12];
  return true;
}

PngInflater::PngInflater() {
  zng_stream* s = new zng_stream();
  std::memset(s, 0, sizeof(*s));
  stream_ = s;
  ready_ = zng_inflateInit(s) == Z_OK;
}

PngInflater::~PngInflater() {
  if (ready_) zng_inflateEnd(as_stream(stream_));
  delete as_stream(stream_);
}

bool PngInflater::next_input() {
  zng_stream* s = as_stream(stream_);
  while (chunk_ < png_->idat.size()) {
    const auto& c = png_->idat[chunk_++];
    if (c.second == 0) continue;
    s->next_in = c.first;
    s->avail_in = uint32_t(c.second);  // a chunk's length is a 32-bit field
    return true;
  }
  return false;
}

bool PngInflater::start(const PngFile& png, size_t expected) {
  if (!ready_ || zng_inflateReset(as_stream(stream_)) != Z_OK) return false;
  png_ = &png;
  chunk_ = 0;
  left_ = expected;
  ended_ = false;
  zng_stream* s = as_stream(stream_);
  s->next_in = nullptr;
  s->avail_in = 0;
  next_input();
  return true;
}

bool PngInflater::read(uint8_t* out, size_t cap) {
  zng_stream* s = as_stream(stream_);
  size_t want = cap < left_ ? cap : left_;
  while (want > 0) {
    if (ended_) return false;  // the stream ended before the image data did
    // With the input used up, zlib-ng may still hold decoded bytes that did not fit the last
    // piece: inflate is called on, and only a call that can make no progress means the
    // stream is cut short.
    if (s->avail_in == 0) next_input();
    const uint32_t step = want > 0x40000000u ? 0x40000000u : uint32_t(want);
    s->next_out = out;
    s->avail_out = step;
    const int32_t rc = zng_inflate(s, Z_NO_FLUSH);
    const size_t got = step - s->avail_out;
    if (rc == Z_STREAM_END)
      ended_ = true;
    else if (rc == Z_BUF_ERROR)
      return false;  // no progress possible: the input is used up (truncated)
    else if (rc != Z_OK)
      return false;  // corrupt data (or a preset dictionary, which a PNG never has)
    out += got;
    want -= got;
    left_ -= got;
  }
  return true;
}

bool PngInflater::finish() {
  if (left_ != 0) return false;
  zng_stream* s = as_stream(stream_);
  // What Python's reader does after the last byte: inflate on for one more byte of output
  // until the stream ends or no progress is possible; any byte more, or an error, is corrupt.
  uint8_t extra;
  while (!ended_) {
    if (s->avail_in == 0) next_input();
    s->next_out = &extra;
    s->avail_out = 1;
    const int32_t rc = zng_inflate(s, Z_NO_FLUSH);
    if (s->avail_out == 0) return false;  // more image data than the header declares
    if (rc == Z_STREAM_END)
      ended_ = true;
    else if (rc == Z_BUF_ERROR)
      return true;  // input used up, nothing held back: cut after the data, accepted
    else if (rc != Z_OK)
      return false;
  }
  return true;
}

}  // namespace panoseg
