// A watch through the client protocol (docs/client-protocol.md, "Watch")
// that outlives the servers it runs on: when its connection is lost, or the
// server ends it with DENGINE_ERR_SHUTTING_DOWN, it reconnects (the next
// endpoint, after a jittered exponential backoff from backoff_initial up to
// backoff_max, without giving up) and sends the watch again from the last
// revision it was told to resume from. Every response of a watch carries
// that revision (its index: every matching event below it was sent, none at
// or above it) and batches hold whole revisions, so the events seen across
// servers are each matching event once, in revision order; the only sign of
// a reconnection is a delay.
//
// Threads:
//   - start() runs on the caller's thread: it tries the endpoints until a
//     server starts the watch, and hands that connection to
//   - the watch thread, one per Watch, which reads the stream with no
//     deadline, reconnects, and runs every on_event and the on_end;
//   - cancel(), ~Watch and next_revision(): any thread, the callbacks
//     included.
// What travels between them: the connection, handed over once when start()
// starts the thread; the cancel flag and an eventfd that interrupts every
// wait of the watch thread (connect, receive, backoff); the revision to
// resume from, which the getter reads.
//
// Guarantees: no callback runs if start() fails; otherwise on_event runs
// for each matching event, in order, and on_end exactly once, last, on the
// watch thread. The watch ends only with DENGINE_ERR_WATCH_OVERFLOW,
// DENGINE_ERR_COMPACTED, DENGINE_ERR_INVALID_ARGUMENT (a server refusing
// it) or another status a server ended it with, or DENGINE_ERR_CANCELLED
// (cancel(), ~Watch, or on_event threw: the message says what).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "client/client.h"
#include "client/status.h"
#include "watch/event.h"
#include "watch/hub.h"

namespace dengine::client {

// Which events a watch asks for, as in a watch request.
struct WatchSpec {
  watch::Stream stream = watch::Stream::kKv;
  // The key, prefix or topic; empty for kCluster.
  std::string key;
  bool is_prefix = false;
  // 0: from now (the revision after what the answering server applied);
  // otherwise every matching event at or after this revision.
  uint64_t start_revision = 0;
  // How many events the watch may fall behind before the server ends it
  // with DENGINE_ERR_WATCH_OVERFLOW; 0: the server's default.
  uint64_t max_lag = 0;
};

class Watch {
 public:
  using EventFn = std::function<void(const watch::Event&)>;
  // WatchEnd::next_revision: every matching event below it was delivered
  // and none at or above it (but see WatchEnd for a watch ended from inside
  // on_event in the middle of a revision).
  using EndFn = std::function<void(const watch::WatchEnd&)>;

  // Checks the options, the callbacks and the request (validate_client_
  // request): DENGINE_ERR_INVALID_ARGUMENT. Then tries the endpoints in
  // turn, with the client's retry rules (a connection failure, a timeout or
  // DENGINE_ERR_SHUTTING_DOWN: the next endpoint after a backoff), until a
  // server answers with the start: DENGINE_OK and *out, the watch running on
  // its thread. A server's refusal is returned at once: its
  // DENGINE_ERR_INVALID_ARGUMENT, or DENGINE_ERR_COMPACTED, the message
  // naming the oldest revision it keeps. After max_retries further attempts
  // or options.deadline, the last error.
  static Status start(ClientOptions options, WatchSpec spec, EventFn on_event,
                      EndFn on_end, std::unique_ptr<Watch>* out);
  // cancel(). From inside a callback of this watch the thread cannot be
  // joined: it is detached, and finishes on its own (on_end still runs).
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // Ends the watch with DENGINE_ERR_CANCELLED (nothing if it already
  // ended). From another thread: wakes the watch thread and joins it, so
  // when it returns on_end has run, once, and no callback runs again (it
  // waits for a callback running meanwhile). From inside a callback:
  // returns at once; no further on_event runs, and on_end runs after the
  // current callback returns.
  void cancel();
  // As cancel(), but the watch ends with `status` and `message` (the first
  // call's, if several race); e.g. DENGINE_ERR_SHUTTING_DOWN when the
  // client that started it closes.
  void stop(int status, std::string message);

  // Where the watch would resume: every matching event below it has been
  // delivered (or is being, by a running on_event).
  uint64_t next_revision() const;

 private:
  struct State;

  explicit Watch(std::shared_ptr<State> state);

  // Shared with the watch thread, which may outlive this object (~Watch
  // from a callback).
  std::shared_ptr<State> state_;
  std::mutex join_mutex_;  // cancel() and ~Watch callers, one join
  std::thread thread_;
};

}  // namespace dengine::client
