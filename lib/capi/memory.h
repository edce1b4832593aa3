// Memory handed across the C ABI: allocated with malloc so that the caller
// releases it with dengine_free, whatever allocator its own code uses.
#pragma once

#include <cstdint>
#include <string_view>

namespace dengine::capi {

// A NUL-terminated malloc'd copy of `text`; throws std::bad_alloc.
char* malloc_string(std::string_view text);
// A malloc'd copy of `bytes` (NULL when empty); throws std::bad_alloc.
uint8_t* malloc_bytes(std::string_view bytes);

}  // namespace dengine::capi
