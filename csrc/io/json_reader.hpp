// A strict JSON reader for the core's scanners of JSON files (io/panoptic_json_scan.hpp,
// merge/results_scan.hpp): a cursor that checks and passes over values, reads strings,
// integers and numbers in the forms both of panoseg's Python parsers (orjson, the stdlib) read
// alike, and declines (returns false) anything else, for the Python loader to read or to say
// what is wrong.
#pragma once
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace panoseg {

// Bytes [begin, end) of the document; `present`: the key was there.
struct JsonSpan {
  size_t begin = 0, end = 0;
  bool present = false;
};

// Deeper documents are declined (the stdlib parser's limit is near 1000, counted with the
// caller's frames).
constexpr int kMaxJsonDepth = 128;
// Integers of more than 18 digits are declined wherever they are: < 10^18 fits int64 and reads
// alike in both parsers.
constexpr int64_t kMaxIntegerDigits = 18;

// A number literal as written: [begin, end); `integer`: no fraction or exponent.
struct NumberLit {
  const uint8_t* begin;
  const uint8_t* end;
  bool integer;
};

// A cursor over the document. Every reader returns false on anything outside the accepted
// subset, leaving the cursor anywhere (the scan is then abandoned).
struct JsonReader {
  const uint8_t* p;
  const uint8_t* end;
  const uint8_t* base;

  JsonReader(const uint8_t* at, const uint8_t* stop, const uint8_t* document)
      : p(at), end(stop), base(document) {}

  void skip_ws() {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  }
  bool eat(uint8_t c) {
    skip_ws();
    if (p < end && *p == c) {
      ++p;
      return true;
    }
    return false;
  }
  bool peek(uint8_t c) {
    skip_ws();
    return p < end && *p == c;
  }

  // A string (the cursor on its quote): its bytes into *span; *escaped if it holds an escape.
  // Only printable ASCII and valid escapes.
  bool string(JsonSpan* span, bool* escaped) {
    skip_ws();
    if (p >= end || *p != '"') return false;
    ++p;
    const uint8_t* const first = p;
    bool esc = false;
    while (true) {
      // The common bytes, eight at a time: a word is passed over when none of its bytes is a
      // quote, a backslash, a control byte or beyond ASCII (each test's borrow can only come
      // from such a byte, so "none" is exact); the rest one at a time.
      constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
      while (end - p >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        const uint64_t quote = v ^ (kOnes * '"'), slash = v ^ (kOnes * '\\');
        if ((((quote - kOnes) & ~quote) | ((slash - kOnes) & ~slash) |
             ((v - kOnes * 0x20) & ~v) | v) & kHighs)
          break;
        p += 8;
      }
      while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') ++p;
      if (p >= end) return false;
      const uint8_t c = *p;
      if (c == '"') break;
      if (c != '\\') return false;  // a control byte (invalid JSON) or non-ASCII (declined)
      esc = true;
      if (end - p < 2) return false;
      const uint8_t e = p[1];
      if (e == 'u') {
        if (end - p < 6) return false;
        unsigned code = 0;
        for (int k = 2; k < 6; ++k) {
          const uint8_t h = p[k];
          unsigned digit;
          if (h >= '0' && h <= '9')
            digit = h - '0';
          else if (h >= 'a' && h <= 'f')
            digit = h - 'a' + 10;
          else if (h >= 'A' && h <= 'F')
            digit = h - 'A' + 10;
          else
            return false;
          code = 16 * code + digit;
        }
        // A surrogate (paired or not): orjson refuses a lone one where the stdlib takes it, so
        // a value parsed from part of the file could differ from the whole file's.
        if (code >= 0xD800 && code <= 0xDFFF) return false;
        p += 6;
      } else if (std::strchr("\"\\/bfnrt", e) != nullptr && e != 0) {
        p += 2;
      } else {
        return false;
      }
    }
    span->begin = size_t(first - base);
    span->end = size_t(p - base);
    span->present = true;
    *escaped = esc;
    ++p;  // the closing quote
    return true;
  }

  bool number(NumberLit* n) {
    skip_ws();
    const uint8_t* const first = p;
    if (p < end && *p == '-') ++p;
    if (p >= end) return false;
    if (*p == '0') {
      ++p;
    } else if (*p >= '1' && *p <= '9') {
      while (p < end && *p >= '0' && *p <= '9') ++p;
    } else {
      return false;
    }
    bool integer = true;
    // Integers of more than 18 digits are declined wherever they are: orjson reads those beyond
    // 64 bits as floats (or refuses them, and the stdlib then reads them as ints, up to its
    // digit limit), so their values, even in a skipped field, would depend on the parser.
    const bool more = p < end && (*p == '.' || *p == 'e' || *p == 'E');
    if (!more && p - first - (*first == '-') > kMaxIntegerDigits) return false;
    if (p < end && *p == '.') {
      ++p;
      if (p >= end || !(*p >= '0' && *p <= '9')) return false;
      while (p < end && *p >= '0' && *p <= '9') ++p;
      integer = false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
      ++p;
      if (p < end && (*p == '+' || *p == '-')) ++p;
      if (p >= end || !(*p >= '0' && *p <= '9')) return false;
      while (p < end && *p >= '0' && *p <= '9') ++p;
      integer = false;
    }
    *n = {first, p, integer};
    return true;
  }

  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (size_t(end - p) < n || std::memcmp(p, word, n) != 0) return false;
    p += n;
    return true;
  }

  // Any JSON value, checked and passed over.
  bool skip_value(int depth) {
    if (depth > kMaxJsonDepth) return false;
    skip_ws();
    if (p >= end) return false;
    JsonSpan span;
    bool escaped;
    NumberLit num;
    switch (*p) {
      case '"':
        return string(&span, &escaped);
      case '{':
        ++p;
        if (eat('}')) return true;
        do {
          if (!string(&span, &escaped) || !eat(':') || !skip_value(depth + 1)) return false;
        } while (eat(','));
        return eat('}');
      case '[':
        ++p;
        if (eat(']')) return true;
        do {
          if (!skip_value(depth + 1)) return false;
        } while (eat(','));
        return eat(']');
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number(&num);
    }
  }

  // A value passed over, its bytes into *span.
  bool value_span(int depth, JsonSpan* span) {
    skip_ws();
    const uint8_t* const first = p;
    if (!skip_value(depth)) return false;
    *span = {size_t(first - base), size_t(p - base), true};
    return true;
  }

  // The key of an object member (and its colon): declined when escaped (it might spell a key
  // read here).
  bool key(JsonSpan* span) {
    bool escaped;
    return string(span, &escaped) && !escaped && eat(':');
  }

  // An object (the cursor before its '{'): read(key) for each member, in order, with the
  // cursor after the key's colon, to read or pass over the value. False when read() is, or
  // for a malformed object or an escaped key.
  template <class Read>
  bool members(Read&& read) {
    if (!eat('{')) return false;
    if (eat('}')) return true;
    do {
      JsonSpan k;
      if (!key(&k) || !read(k)) return false;
    } while (eat(','));
    return eat('}');
  }

  // A list (the cursor before its '['): read() for each element, the cursor before it. False
  // when read() is, or for a malformed list.
  template <class Read>
  bool elements(Read&& read) {
    if (!eat('[')) return false;
    if (eat(']')) return true;
    do {
      if (!read()) return false;
    } while (eat(','));
    return eat(']');
  }

  bool is(const JsonSpan& span, const char* word) const {
    const size_t n = std::strlen(word);
    return span.end - span.begin == n && std::memcmp(base + span.begin, word, n) == 0;
  }

  // An integer literal's value, when it has at most 15 digits (exact in a double).
  static bool literal_value(const NumberLit& n, int64_t* out) {
    const uint8_t* q = n.begin;
    const bool negative = *q == '-';
    q += negative;
    if (!n.integer || n.end - q > 15) return false;
    int64_t v = 0;
    for (; q < n.end; ++q) v = 10 * v + (*q - '0');
    *out = negative ? -v : v;
    return true;
  }

  // An integer literal of at most 15 digits, as int64.
  bool small_integer(int64_t* out) {
    NumberLit n;
    return number(&n) && literal_value(n, out);
  }

  // A number literal as a double: a small integer exactly, any other literal correctly rounded
  // (as Python's float()); declined when out of a double's range.
  bool real(double* out) {
    NumberLit n;
    if (!number(&n)) return false;
    if (n.integer) {  // a larger integer is declined: Python keeps an int (and checks it so)
      int64_t v;
      if (!literal_value(n, &v)) return false;
      *out = double(v);
      return true;
    }
    double v = 0.0;
    const auto r = std::from_chars(reinterpret_cast<const char*>(n.begin),
                                   reinterpret_cast<const char*>(n.end), v);
    if (r.ec != std::errc() || r.ptr != reinterpret_cast<const char*>(n.end) ||
        !std::isfinite(v))
      return false;
    *out = v;
    return true;
  }
};

}  // namespace panoseg
