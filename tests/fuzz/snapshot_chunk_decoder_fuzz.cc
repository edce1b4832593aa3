// The snapshot chunk decoder: never crashes, and what it accepts re-encodes
// to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/snapshot_transfer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  dengine::net::SnapshotChunk chunk;
  const std::string error = dengine::net::decode_chunk(input, &chunk);
  if (error.empty() && dengine::net::encode_chunk(chunk) != input) abort();
  return 0;
}
