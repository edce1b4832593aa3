// The client response decoder: never crashes, and what it accepts re-encodes
// to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/client_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  dengine::net::ClientResponse response;
  const std::string error =
      dengine::net::decode_client_response(input, &response);
  if (error.empty() &&
      dengine::net::encode_client_response(response) != input) {
    abort();
  }
  return 0;
}
