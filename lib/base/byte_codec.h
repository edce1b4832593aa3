// Little-endian encoding, the one used by every on-disk record, command and
// wire format (hard state, snapshot metadata, RocksDB values, KV commands,
// network messages).
// ByteReader is bounds-checked: every read past the end fails instead of
// touching memory outside the input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dengine::base {

// Appends `value` as `width` little-endian bytes.
inline void append_fixed(std::string* out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) {
    out->push_back(static_cast<char>(value >> (8 * i)));
  }
}

// Reads `width` little-endian bytes at p; the caller has checked the bounds.
inline uint64_t decode_fixed(const char* p, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<uint8_t>(p[i]);
  }
  return value;
}

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void u8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { append_fixed(out_, v, 4); }
  void u64(uint64_t v) { append_fixed(out_, v, 8); }
  // A u32 length, then the bytes.
  void bytes(std::string_view v) {
    u32(static_cast<uint32_t>(v.size()));
    out_->append(v);
  }

 private:
  std::string* out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool u8(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool u32(uint32_t* v) {
    uint64_t wide = 0;
    if (!fixed(4, &wide)) return false;
    *v = static_cast<uint32_t>(wide);
    return true;
  }
  bool u64(uint64_t* v) { return fixed(8, v); }
  // `width` little-endian bytes.
  bool fixed(int width, uint64_t* v) {
    if (in_.size() < static_cast<size_t>(width)) return false;
    *v = decode_fixed(in_.data(), width);
    in_.remove_prefix(width);
    return true;
  }
  // Exactly n bytes, copied.
  bool raw(size_t n, std::string* v) {
    if (in_.size() < n) return false;
    v->assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  // A u32 length, then that many bytes (a view into the input).
  bool bytes(std::string_view* v) {
    uint32_t len = 0;
    if (!u32(&len) || len > in_.size()) return false;
    *v = in_.substr(0, len);
    in_.remove_prefix(len);
    return true;
  }
  bool at_end() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
};

}  // namespace dengine::base
