#include "capi/memory.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "dengine.h"

namespace dengine::capi {

char* malloc_string(std::string_view text) {
  auto* copy = static_cast<char*>(std::malloc(text.size() + 1));
  if (copy == nullptr) throw std::bad_alloc();
  std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  return copy;
}

uint8_t* malloc_bytes(std::string_view bytes) {
  if (bytes.empty()) return nullptr;
  auto* copy = static_cast<uint8_t*>(std::malloc(bytes.size()));
  if (copy == nullptr) throw std::bad_alloc();
  std::memcpy(copy, bytes.data(), bytes.size());
  return copy;
}

}  // namespace dengine::capi

extern "C" void dengine_free(void* p) { std::free(p); }
