// A tiny open-addressing hash map from segment id (nonzero, 24-bit) to its row in a segment table.
// Lookups happen once per run of equal pixels, not once per pixel, so this stays off the hot path.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace panoseg {

class IdIndex {
 public:
  static constexpr int32_t kMissing = -1;

  // Rows are int32 and the mask uint32: at most kMaxEntries ids. Callers check their table
  // sizes first (a Status); this throw (std::invalid_argument -> ValueError through `except +`)
  // only guards a caller that did not, before 2 * expected + 2 or the doubling could overflow.
  static constexpr int64_t kMaxEntries = INT32_MAX - 1;

  explicit IdIndex(int64_t expected) {
    if (expected < 0 || expected > kMaxEntries)
      throw std::invalid_argument("segment table size out of range for an id index");
    // 2 * expected + 2 <= 2^32 and cap <= 2^32 (the power of two >= it): no overflow in int64,
    // and cap - 1 fits the uint32 mask.
    int64_t cap = 16;
    while (cap < 2 * expected + 2) cap <<= 1;
    keys_.assign(size_t(cap), 0u);
    values_.assign(size_t(cap), kMissing);
    mask_ = uint32_t(cap - 1);
  }

  // Inserts id -> value; returns false if the id is already present. `id` must be nonzero.
  bool insert(uint32_t id, int32_t value) {
    uint32_t h = hash(id);
    while (keys_[h] != 0u) {
      if (keys_[h] == id) return false;
      h = (h + 1) & mask_;
    }
    keys_[h] = id;
    values_[h] = value;
    ++size_;
    return true;
  }

  int32_t find(uint32_t id) const {
    uint32_t h = hash(id);
    while (keys_[h] != 0u) {
      if (keys_[h] == id) return values_[h];
      h = (h + 1) & mask_;
    }
    return kMissing;
  }

  int64_t size() const { return size_; }

 private:
  uint32_t hash(uint32_t id) const { return (id * 0x9E3779B1u >> 7) & mask_; }

  std::vector<uint32_t> keys_;
  std::vector<int32_t> values_;
  uint32_t mask_ = 0;
  int64_t size_ = 0;
};

}  // namespace panoseg
