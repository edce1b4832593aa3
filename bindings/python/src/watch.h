// dengine.Watch's C side: a dengine_watch whose callbacks, on the node's
// watch thread (or a client watch's own thread), copy each event into a bounded
// queue under a mutex and return. They never take the GIL, so a busy or
// finalizing interpreter cannot stall the node's watches (or a client watch's
// reconnects). Python takes the events from the queue: a thread waits for one
// with the GIL released; a coroutine arms a one-shot wake-up, which the event
// queue (events.h) hands to the dengine-events thread, which resolves the
// coroutine's future on its loop.
//
// The queue holds at most max_pending events. The event that finds it full
// is not queued: the watch is cancelled from its own callback, the queued
// events of that event's revision are dropped as well, and once Python has
// taken the rest the watch ends with DENGINE_ERR_WATCH_OVERFLOW at that
// revision. Revisions stay whole, so a watch from next_revision misses
// nothing and repeats nothing (unless one revision alone holds more than
// max_pending events: a watch from there gets again those Python took).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "bindings.h"

namespace dengine_py {

struct WatchState;

// The options of a watch of `stream` (DENGINE_WATCH_*) selecting `key` (a
// key, prefix or topic; empty for the cluster stream). They point into
// `key`, which must outlive them.
dengine_watch_options watch_options(int stream, bool prefix,
                                    const std::string& key,
                                    uint64_t start_revision, uint64_t max_lag);

class Watch {
 public:
  explicit Watch(size_t max_pending);
  // Dropped without close(), the watch is closed on a thread of its own:
  // dengine_watch_close waits for a running callback of the watch, and the
  // thread dropping it (a __del__, the garbage collector) must not wait.
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // dengine_node_watch with this watch's callbacks (GIL released).
  int start(dengine_node* node, const dengine_watch_options& options);
  // dengine_client_watch with them (GIL released): blocks until a server
  // started the watch, which then runs on a thread of its own.
  int start_client(dengine_client* client,
                   const dengine_watch_options& options);

  // The next queued event as a tuple (type, revision, key, value,
  // prev_value or None, node_id, term, address); `block`: waits for one,
  // GIL released. None when there is none: the watch ended and every event
  // was taken (see end()), or, not blocking, none is queued yet.
  py::object next(bool block);
  // (status, next_revision, message) once the watch ended and every event
  // was taken; None before. Status DENGINE_ERR_CANCELLED after cancel() and
  // after close().
  py::object end() const;
  // Where a new watch continues: the revision of the first event not taken
  // once the watch ended; None while it runs.
  py::object next_revision() const;

  // Arms the one wake-up of a coroutine: events.h's wake(token) once an
  // event is queued or the watch ends. False, and nothing armed, when one
  // is already there to take (take it first).
  bool arm(uint64_t token);
  // Removes the wake-up `token` if it is still armed.
  void disarm(uint64_t token);

  // Ends the watch (DENGINE_ERR_CANCELLED); the events queued are still
  // taken. Returns once no callback of the watch runs.
  void cancel();
  // Cancels the watch, drops what is queued and frees the C handle.
  // Idempotent.
  void close();

 private:
  // Takes the started watch's handle (handle_mutex_ held); `status` is
  // what starting it returned.
  int adopt(int status, dengine_watch* handle);

  std::shared_ptr<WatchState> state_;
  // Serializes start, cancel and close, which use and free handle_.
  std::mutex handle_mutex_;
  dengine_watch* handle_ = nullptr;
};

}  // namespace dengine_py
