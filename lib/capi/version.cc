#include "dengine.h"

#define DENGINE_STRINGIFY_(x) #x
#define DENGINE_STRINGIFY(x) DENGINE_STRINGIFY_(x)

// lib/capi/CMakeLists.txt checks that these macros match the project version
// (and so the SONAME) at configure time.
extern "C" const char* dengine_version(void) {
  return DENGINE_STRINGIFY(DENGINE_VERSION_MAJOR) "." DENGINE_STRINGIFY(
      DENGINE_VERSION_MINOR) "." DENGINE_STRINGIFY(DENGINE_VERSION_PATCH);
}

extern "C" int dengine_version_number(void) { return DENGINE_VERSION_NUMBER; }
