// Little-endian encoding helpers shared by the KV command formats and the
// file machine's on-disk records. ByteReader is bounds-checked: every read
// past the end fails instead of touching memory outside the input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dengine::sm {

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void u8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { fixed(v, 4); }
  void u64(uint64_t v) { fixed(v, 8); }
  // A u32 length, then the bytes.
  void bytes(std::string_view v) {
    u32(static_cast<uint32_t>(v.size()));
    out_->append(v);
  }

 private:
  void fixed(uint64_t v, int width) {
    for (int i = 0; i < width; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
  }
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
    if (!fixed(&wide, 4)) return false;
    *v = static_cast<uint32_t>(wide);
    return true;
  }
  bool u64(uint64_t* v) { return fixed(v, 8); }
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
  bool fixed(uint64_t* v, int width) {
    if (in_.size() < static_cast<size_t>(width)) return false;
    uint64_t r = 0;
    for (int i = 0; i < width; ++i) {
      r |= uint64_t{static_cast<uint8_t>(in_[i])} << (8 * i);
    }
    in_.remove_prefix(width);
    *v = r;
    return true;
  }
  std::string_view in_;
};

}  // namespace dengine::sm
