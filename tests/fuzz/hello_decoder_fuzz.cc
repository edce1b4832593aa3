// The hello payload decoder: never crashes, and what it accepts re-encodes to
// the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/hello.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  dengine::net::Hello hello;
  const std::string error = dengine::net::decode_hello(input, &hello);
  if (error.empty() && dengine::net::encode_hello(hello) != input) abort();
  return 0;
}
