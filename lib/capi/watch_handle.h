// The dengine_watch handle and the translations the two kinds of watch
// share: a node's (dengine_node_watch, watch.cc) and a client's
// (dengine_client_watch, client_watch.cc). dengine_watch_cancel and
// dengine_watch_close serve both.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "client/watch.h"
#include "dengine.h"
#include "watch/hub.h"

struct dengine_watch {
  // A node's watch: the node's hub, which the handle may outlive (a node
  // closed first), and the watch's id in it.
  std::weak_ptr<dengine::watch::Hub> hub;
  uint64_t id = 0;
  // Or a client's watch, with its own thread and connection; its client
  // holds it too, to end it when closed.
  std::shared_ptr<dengine::client::Watch> client_watch;
};

namespace dengine::capi {

// Checks what both watch calls take besides their node or client (the
// callbacks and `out` not NULL) and reads the options; "" or what is wrong,
// without the function's name.
std::string read_watch_call(const dengine_watch_options* options,
                            dengine_event_fn on_event,
                            dengine_watch_end_fn on_end, dengine_watch** out,
                            watch::WatchOptions* read);

// The C callbacks as a watch's: events lent to on_event as dengine_event,
// the end passed on as its status, next revision and message.
watch::Hub::EventFn event_callback(dengine_event_fn on_event, void* ctx);
watch::Hub::EndFn end_callback(dengine_watch_end_fn on_end, void* ctx);

}  // namespace dengine::capi
