// The raft-message payload decoder: never crashes, and the encoding is
// canonical (what it accepts re-encodes to the same bytes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/message_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  dengine::raft::Message message;
  const std::string error = dengine::net::decode_message(input, &message);
  if (error.empty() && dengine::net::encode_message(message) != input) abort();
  return 0;
}
