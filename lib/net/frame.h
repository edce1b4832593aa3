// The framing of every byte stream between dengine nodes. A frame is a
// 16-byte header and a payload; docs/architecture.md ("Wire format") gives
// the exact layout. The header has its own CRC, checked before the payload
// is buffered, so a corrupted length can never make a reader wait for or
// allocate a payload that was never sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace dengine::net {

inline constexpr uint16_t kFrameMagic = 0xD9E1;
inline constexpr uint8_t kFrameVersion = 1;
inline constexpr size_t kFrameHeaderSize = 16;
inline constexpr uint32_t kDefaultMaxFramePayload = 64u << 20;  // 64 MiB

enum class FrameType : uint8_t {
  kRaftMessage = 1,     // payload: message_codec.h
  kSnapshotChunk = 2,   // payload: snapshot_transfer.h
  kClientRequest = 3,   // payload: client_codec.h
  kClientResponse = 4,  // payload: client_codec.h
  kHello = 5,           // payload: hello.h; the first frame on a connection
};

const char* to_string(FrameType type);
bool is_known_frame_type(uint8_t type);

struct Frame {
  FrameType type = FrameType::kRaftMessage;
  std::string payload;

  bool operator==(const Frame&) const = default;
};

// Appends one frame to *out. The payload must be at most UINT32_MAX bytes
// (the sender also keeps it under the receiver's limit).
void append_frame(std::string* out, FrameType type, std::string_view payload);
std::string encode_frame(FrameType type, std::string_view payload);

// Cuts a byte stream, fed in pieces of any size as they arrive, into frames.
// The first bad byte fails the decoder for good: the stream cannot be
// resynchronized, so the connection is to be closed.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_payload = kDefaultMaxFramePayload)
      : max_payload_(max_payload) {}

  // Consumes `bytes`. Returns false if the decoder has failed (now or
  // before); complete frames decoded before the failure stay poppable.
  bool feed(std::string_view bytes);
  // The oldest complete frame not yet popped.
  std::optional<Frame> pop();

  bool failed() const { return !error_.empty(); }
  // What was wrong with the stream; empty while not failed.
  const std::string& error() const { return error_; }
  // Bytes held for the frame in progress (header or payload so far).
  size_t buffered() const { return header_.size() + payload_.size(); }

 private:
  // Validates the complete header_; on success sets the frame in progress.
  bool accept_header();
  void fail(std::string error);

  uint32_t max_payload_;
  std::string header_;
  // Set once header_ is complete and valid.
  bool in_payload_ = false;
  FrameType type_ = FrameType::kRaftMessage;
  uint32_t payload_size_ = 0;
  uint32_t payload_crc_ = 0;
  std::string payload_;
  std::deque<Frame> ready_;
  std::string error_;
};

}  // namespace dengine::net
