#include "net/frame.h"

#include <algorithm>
#include <utility>

#include "base/byte_codec.h"
#include "base/crc32c.h"

namespace dengine::net {

namespace {

// Header layout: magic u16, version u8, type u8, payload length u32,
// payload CRC u32, then the CRC of those first 12 bytes.
constexpr size_t kHeaderCrcOffset = 12;

}  // namespace

const char* to_string(FrameType type) {
  switch (type) {
    case FrameType::kRaftMessage:
      return "raft-message";
    case FrameType::kSnapshotChunk:
      return "snapshot-chunk";
    case FrameType::kClientRequest:
      return "client-request";
    case FrameType::kClientResponse:
      return "client-response";
    case FrameType::kHello:
      return "hello";
  }
  return "unknown";
}

bool is_known_frame_type(uint8_t type) {
  return type >= static_cast<uint8_t>(FrameType::kRaftMessage) &&
         type <= static_cast<uint8_t>(FrameType::kHello);
}

void append_frame(std::string* out, FrameType type, std::string_view payload) {
  const size_t start = out->size();
  base::ByteWriter w(out);
  base::append_fixed(out, kFrameMagic, 2);
  w.u8(kFrameVersion);
  w.u8(static_cast<uint8_t>(type));
  w.u32(static_cast<uint32_t>(payload.size()));
  w.u32(base::crc32c(payload));
  w.u32(base::crc32c(std::string_view(*out).substr(start, kHeaderCrcOffset)));
  out->append(payload);
}

std::string encode_frame(FrameType type, std::string_view payload) {
  std::string out;
  append_frame(&out, type, payload);
  return out;
}

bool FrameDecoder::feed(std::string_view bytes) {
  while (!failed() && !bytes.empty()) {
    if (!in_payload_) {
      const size_t take =
          std::min(bytes.size(), kFrameHeaderSize - header_.size());
      header_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (header_.size() < kFrameHeaderSize || !accept_header()) continue;
    } else {
      const size_t take =
          std::min<size_t>(bytes.size(), payload_size_ - payload_.size());
      payload_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
    }
    if (in_payload_ && payload_.size() == payload_size_) {
      if (base::crc32c(payload_) != payload_crc_) {
        fail("payload checksum mismatch in " + std::string(to_string(type_)) +
             " frame of " + std::to_string(payload_size_) + " bytes");
        break;
      }
      ready_.push_back(Frame{type_, std::move(payload_)});
      payload_.clear();
      header_.clear();
      in_payload_ = false;
    }
  }
  return !failed();
}

bool FrameDecoder::accept_header() {
  base::ByteReader r(header_);
  uint64_t magic = 0;
  uint8_t version = 0;
  uint8_t type = 0;
  uint32_t size = 0;
  uint32_t payload_crc = 0;
  uint32_t header_crc = 0;
  r.fixed(2, &magic);
  r.u8(&version);
  r.u8(&type);
  r.u32(&size);
  r.u32(&payload_crc);
  r.u32(&header_crc);
  // Magic and version first: they say whether the rest is ours to parse.
  if (magic != kFrameMagic) {
    fail("bad frame magic " + std::to_string(magic) + " (not a dengine peer)");
  } else if (version != kFrameVersion) {
    fail("unsupported frame format version " + std::to_string(version) +
         " (this node speaks " + std::to_string(kFrameVersion) + ")");
  } else if (base::crc32c(std::string_view(header_).substr(
                 0, kHeaderCrcOffset)) != header_crc) {
    fail("frame header checksum mismatch");
  } else if (!is_known_frame_type(type)) {
    fail("unknown frame type " + std::to_string(type));
  } else if (size > max_payload_) {
    fail("frame payload of " + std::to_string(size) +
         " bytes exceeds the limit of " + std::to_string(max_payload_));
  }
  if (failed()) return false;
  in_payload_ = true;
  type_ = static_cast<FrameType>(type);
  payload_size_ = size;
  payload_crc_ = payload_crc;
  return true;
}

std::optional<Frame> FrameDecoder::pop() {
  if (ready_.empty()) return std::nullopt;
  Frame frame = std::move(ready_.front());
  ready_.pop_front();
  return frame;
}

void FrameDecoder::fail(std::string error) {
  error_ = std::move(error);
  header_.clear();
  payload_.clear();
}

}  // namespace dengine::net
