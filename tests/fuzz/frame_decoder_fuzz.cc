// The frame decoder on a stream delivered in pieces. The first input byte
// picks the piece size; the rest is the stream. Never crashes; the frames it
// yields re-encode to exactly the stream's leading bytes; the hello and raft
// message payloads inside them go through their decoders too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/frame.h"
#include "net/hello.h"
#include "net/message_codec.h"

namespace {

void decode_payload(const dengine::net::Frame& frame) {
  if (frame.type == dengine::net::FrameType::kHello) {
    dengine::net::Hello hello;
    dengine::net::decode_hello(frame.payload, &hello);
  } else if (frame.type == dengine::net::FrameType::kRaftMessage) {
    dengine::raft::Message message;
    dengine::net::decode_message(frame.payload, &message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = size_t{data[0]} + 1;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  dengine::net::FrameDecoder decoder(/*max_payload=*/1 << 20);
  std::string reencoded;
  for (size_t pos = 0; pos < stream.size(); pos += piece) {
    decoder.feed(stream.substr(pos, piece));
    while (auto frame = decoder.pop()) {
      decode_payload(*frame);
      dengine::net::append_frame(&reencoded, frame->type, frame->payload);
    }
  }
  if (stream.substr(0, reencoded.size()) != reencoded) abort();
  if (!decoder.failed() &&
      reencoded.size() + decoder.buffered() != stream.size()) {
    abort();
  }
  return 0;
}
