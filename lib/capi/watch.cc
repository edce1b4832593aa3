// dengine_node_watch and the dengine_watch handle of both kinds of watch:
// forwards to the node's watch::Hub (lib/watch/hub.h), or to the client's
// watch (lib/client/watch.h), converting events to dengine_event.
#include <memory>
#include <string>
#include <utility>

#include "capi/errors.h"
#include "capi/handles.h"
#include "capi/options.h"
#include "capi/watch_handle.h"

using dengine::capi::fail;
using dengine::capi::guarded;

namespace {

const uint8_t* bytes(const std::string& s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

// The C view of an event, borrowing its strings.
dengine_event event_of(const dengine::watch::Event& e) {
  dengine_event out{};
  out.struct_size = sizeof(dengine_event);
  out.type = static_cast<int>(e.type);
  out.revision = e.revision;
  out.key = bytes(e.key);
  out.key_len = e.key.size();
  out.value = bytes(e.value);
  out.value_len = e.value.size();
  if (e.prev_value) {
    out.has_prev_value = 1;
    out.prev_value = bytes(*e.prev_value);
    out.prev_value_len = e.prev_value->size();
  }
  out.node_id = e.node_id;
  out.term = e.term;
  out.address = e.address.c_str();
  return out;
}

}  // namespace

namespace dengine::capi {

std::string read_watch_call(const dengine_watch_options* options,
                            dengine_event_fn on_event,
                            dengine_watch_end_fn on_end, dengine_watch** out,
                            watch::WatchOptions* read) {
  if (on_event == nullptr || on_end == nullptr || out == nullptr) {
    return "on_event, on_end and out must not be NULL";
  }
  return read_watch_options(options, read);
}

watch::Hub::EventFn event_callback(dengine_event_fn on_event, void* ctx) {
  return [on_event, ctx](const watch::Event& e) {
    const dengine_event view = event_of(e);
    on_event(ctx, &view);
  };
}

watch::Hub::EndFn end_callback(dengine_watch_end_fn on_end, void* ctx) {
  return [on_end, ctx](const watch::WatchEnd& end) {
    on_end(ctx, end.status, end.next_revision, end.message.c_str());
  };
}

}  // namespace dengine::capi

extern "C" {

int dengine_node_watch(dengine_node* node, const dengine_watch_options* options,
                       dengine_event_fn on_event, dengine_watch_end_fn on_end,
                       void* ctx, dengine_watch** out) {
  constexpr const char* kFunction = "dengine_node_watch";
  return guarded(kFunction, [&]() -> int {
    if (out != nullptr) *out = nullptr;
    if (!dengine::capi::valid(node, kFunction)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    dengine::watch::WatchOptions o;
    if (std::string error =
            dengine::capi::read_watch_call(options, on_event, on_end, out, &o);
        !error.empty()) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(kFunction) + ": " + error);
    }
    auto handle = std::make_unique<dengine_watch>();
    std::shared_ptr<dengine::watch::Hub> hub = node->node->watches();
    handle->hub = hub;
    std::string error;
    uint64_t oldest = 0;
    const int rc = hub->watch(o, dengine::capi::event_callback(on_event, ctx),
                              dengine::capi::end_callback(on_end, ctx),
                              &handle->id, &error, &oldest);
    if (rc != DENGINE_OK) {
      return fail(rc, std::string(kFunction) + ": " + error);
    }
    *out = handle.release();
    return DENGINE_OK;
  });
}

void dengine_watch_cancel(dengine_watch* watch) {
  guarded("dengine_watch_cancel", [&] {
    if (watch == nullptr) return;
    if (watch->client_watch) {
      watch->client_watch->cancel();
    } else if (auto hub = watch->hub.lock()) {
      hub->cancel(watch->id);
    }
  });
}

void dengine_watch_close(dengine_watch* watch) {
  guarded("dengine_watch_close", [&] {
    if (watch == nullptr) return;
    // Cancelled here, not only as it is destroyed: its client may still
    // hold it for a moment (closing, dengine::client::Client::~Client).
    // From inside its own callback this returns at once and the thread
    // finishes on its own.
    if (watch->client_watch) {
      watch->client_watch->cancel();
    } else if (auto hub = watch->hub.lock()) {
      hub->cancel(watch->id);
    }
    delete watch;
  });
}

int dengine_node_watch_range(dengine_node* node, uint64_t* oldest,
                             uint64_t* next) {
  constexpr const char* kFunction = "dengine_node_watch_range";
  return guarded(kFunction, [&]() -> int {
    if (!dengine::capi::valid(node, kFunction)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    std::shared_ptr<dengine::watch::Hub> hub = node->node->watches();
    if (oldest != nullptr) *oldest = hub->available_from();
    if (next != nullptr) *next = hub->covered_to() + 1;
    return DENGINE_OK;
  });
}

}  // extern "C"
