// Memory handed across the C ABI: allocated with malloc so that the caller
// releases it with dengine_free, whatever allocator its own code uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dengine::capi {

// A NUL-terminated malloc'd copy of `text`; throws std::bad_alloc.
char* malloc_string(std::string_view text);
// A malloc'd copy of `bytes` (NULL when empty); throws std::bad_alloc.
uint8_t* malloc_bytes(std::string_view bytes);
// The caller's `len` bytes at `data` as a string (data may be NULL when
// len is 0).
inline std::string bytes_of(const void* data, size_t len) {
  return len == 0 ? std::string()
                  : std::string(static_cast<const char*>(data), len);
}

}  // namespace dengine::capi
