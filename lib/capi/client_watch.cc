// dengine_client_watch: forwards to dengine::client::Client::watch (a
// dengine::client::Watch, lib/client/watch.h, that the client ends when
// closed); the handle and the event conversion are the node watch's
// (watch_handle.h).
#include <memory>
#include <string>
#include <utility>

#include "capi/client_handle.h"
#include "capi/errors.h"
#include "capi/watch_handle.h"

using dengine::capi::fail;
using dengine::capi::guarded;

extern "C" {

int dengine_client_watch(dengine_client* client,
                         const dengine_watch_options* options,
                         dengine_event_fn on_event, dengine_watch_end_fn on_end,
                         void* ctx, dengine_watch** out) {
  constexpr const char* kFunction = "dengine_client_watch";
  return guarded(kFunction, [&]() -> int {
    if (out != nullptr) *out = nullptr;
    if (!dengine::capi::client_api::usable(client, kFunction)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    dengine::watch::WatchOptions o;
    if (std::string error =
            dengine::capi::read_watch_call(options, on_event, on_end, out, &o);
        !error.empty()) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(kFunction) + ": " + error);
    }
    dengine::client::WatchSpec spec;
    spec.stream = o.filter.stream;
    spec.key = std::move(o.filter.key);
    spec.is_prefix = o.filter.prefix;
    spec.start_revision = o.start_revision;
    spec.max_lag = o.max_lag;
    auto handle = std::make_unique<dengine_watch>();
    dengine::client::Status status = client->client->watch(
        spec, dengine::capi::event_callback(on_event, ctx),
        dengine::capi::end_callback(on_end, ctx), &handle->client_watch);
    if (!status.ok()) {
      return dengine::capi::client_api::status_of(status, kFunction);
    }
    *out = handle.release();
    return DENGINE_OK;
  });
}

}  // extern "C"
