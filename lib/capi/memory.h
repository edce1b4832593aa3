// Memory handed across the C ABI: allocated with malloc so that the caller
// releases it with dengine_free, whatever allocator its own code uses.
#pragma once

#include <string_view>

namespace dengine::capi {

// A NUL-terminated malloc'd copy of `text`; throws std::bad_alloc.
char* malloc_string(std::string_view text);

}  // namespace dengine::capi
