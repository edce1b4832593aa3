// dengine_set_log_callback: forwards to the node layer's log sink.
#include "base/log.h"
#include "capi/errors.h"
#include "dengine.h"

extern "C" void dengine_set_log_callback(dengine_log_fn fn, void* user,
                                         int min_level) {
  dengine::capi::guarded("dengine_set_log_callback", [&] {
    dengine::base::set_log_sink(fn, user, min_level);
  });
}
