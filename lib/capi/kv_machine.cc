// dengine_kv_machine_open and dengine_kv_machine_close: forward to the
// built-in KV machines (lib/sm/kv_machine.h).
#include <string>

#include "capi/errors.h"
#include "dengine.h"
#include "sm/kv_machine.h"

using dengine::capi::fail;
using dengine::capi::guarded;

extern "C" {

int dengine_kv_machine_open(const char* path, int backend,
                            dengine_state_machine* out) {
  return guarded("dengine_kv_machine_open", [&] {
    if (path == nullptr || out == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_kv_machine_open: path and out must not be NULL");
    }
    std::string error;
    int status = dengine::sm::open_kv_machine(path, backend, out, &error);
    if (status != DENGINE_OK) {
      return fail(status, "dengine_kv_machine_open: " + error);
    }
    return static_cast<int>(DENGINE_OK);
  });
}

void dengine_kv_machine_close(dengine_state_machine* machine) {
  guarded("dengine_kv_machine_close",
          [&] { dengine::sm::close_kv_machine(machine); });
}

}  // extern "C"
