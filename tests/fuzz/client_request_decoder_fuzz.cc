// The client request decoder: never crashes, what it accepts re-encodes to
// the same bytes, and the argument checks run on it safely.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/client_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  dengine::net::ClientRequest request;
  if (!dengine::net::decode_client_request(input, &request).empty()) return 0;
  if (dengine::net::encode_client_request(request) != input) abort();
  dengine::net::validate_client_request(request);
  return 0;
}
