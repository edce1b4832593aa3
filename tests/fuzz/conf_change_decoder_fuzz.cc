// The membership-change entry decoder (lib/raft/conf_change.h): never
// crashes, and what it accepts survives a re-encode. Its varints admit
// overlong forms, so the bytes themselves need not round-trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "raft/conf_change.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto record = dengine::raft::decode_conf_change(input);
  if (!record) return 0;
  const auto again = dengine::raft::decode_conf_change(
      dengine::raft::encode_conf_change(*record));
  if (!again || *again != *record) abort();
  return 0;
}
