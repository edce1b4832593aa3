// Reading a versioned struct a program hands to dengine (the state machine
// vtable, the suite's builder), the rule include/dengine.h's banner states:
// the struct starts with `version` and `struct_size`; slots are only ever
// appended after `reserved`, each marked "since version N"; a program built
// against an older header passes an older version and a smaller size, and
// dengine reads only the bytes that size covers, so every later slot is NULL.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

namespace dengine::sm {

// The size of version 1 of T: everything up to the end of its `reserved`
// array, which later versions never move.
template <typename T>
constexpr size_t v1_size() {
  return offsetof(T, reserved) + sizeof(T::reserved);
}

// Copies *in into *out, the current layout, or returns why it cannot: NULL,
// a version outside 1..current (0, or a program built against a newer
// dengine), a struct_size smaller than version 1's, or a non-NULL reserved
// slot. `what` names the struct in the message.
template <typename T>
std::string read_versioned(const char* what, const T* in, uint32_t current,
                           T* out) {
  static_assert(std::is_trivially_copyable_v<T>);
  const std::string name(what);
  if (in == nullptr) return name + " is NULL";
  if (in->version < 1 || in->version > current) {
    return name + "->version is " + std::to_string(in->version) +
           "; this libdengine knows versions 1 to " + std::to_string(current) +
           (in->version > current ? " (built against a newer dengine.h?)"
                                  : " (set it to the header's version macro)");
  }
  if (in->struct_size < v1_size<T>()) {
    return name + "->struct_size is " + std::to_string(in->struct_size) +
           ", smaller than version 1's " + std::to_string(v1_size<T>()) +
           " (set it to sizeof the struct)";
  }
  *out = T{};
  std::memcpy(static_cast<void*>(out), static_cast<const void*>(in),
              std::min<size_t>(in->struct_size, sizeof(T)));
  for (const void* slot : out->reserved) {
    if (slot != nullptr) return name + "->reserved must be NULL";
  }
  return "";
}

}  // namespace dengine::sm
