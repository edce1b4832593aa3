// The watch hub: the watches of one node and the thread that delivers them
// their events. Threads:
//   - the producer, the apply thread, calls publish() and reset(): each takes
//     the hub's mutex briefly and never waits for a watch or for delivery;
//   - the delivery thread, one per hub, started by the first watch(): it
//     runs every on_event and the on_end callbacks that cancel() does not
//     run itself, all outside the mutex;
//   - watch(), cancel(), stop() and the getters: any thread.
// What travels between them: the events, appended to the hub's EventHistory
// and shared read-only with the delivery thread (EventRef), and each watch's
// place in that history (a cursor, a position in it). A watch holds no copy
// of the events it has yet to receive: an idle watch costs a few hundred
// bytes however far behind it is, and the history's limits bound the rest.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dengine.h"
#include "watch/event.h"
#include "watch/history.h"

namespace dengine::watch {

struct WatchOptions {
  Filter filter;
  // 0: from now, the first revision after covered_to(); otherwise every
  // matching event with revision >= start_revision, the past ones first.
  uint64_t start_revision = 0;
  // How many events (of any kind) the watch may be behind the newest before
  // it is ended with DENGINE_ERR_WATCH_OVERFLOW. It applies once the watch
  // has caught up: one replaying the past starts further behind, and ends
  // only if its next event is evicted from the history first. Counted from
  // the newest event, so a single publish of more than max_lag events
  // overflows even a watch that keeps up.
  uint64_t max_lag = 10000;
  // Optional: called on the delivery thread after each batch of on_event
  // calls (whole revisions: a batch never ends inside one), with the
  // revision the watch would resume from after it. A server relaying the
  // events sends them by batch, each with this revision.
  std::function<void(uint64_t next_revision)> on_batch;
};

// How a watch ended: given to on_end, once.
struct WatchEnd {
  // DENGINE_ERR_CANCELLED (cancel(), or its on_event threw),
  // DENGINE_ERR_WATCH_OVERFLOW, DENGINE_ERR_COMPACTED (reset()),
  // DENGINE_ERR_SHUTTING_DOWN (stop()).
  int status = DENGINE_OK;
  // Why, e.g. "the watch fell 10001 events behind (max_lag 10000); resume
  // from revision 42".
  std::string message;
  // Where to resume: the revision of the first matching event the watch did
  // not receive (past everything it examined, when it received all). Every
  // matching event below it was delivered and none at or above it, so a
  // watch from here misses nothing and repeats nothing; the hub ends watches
  // only between two revisions. The one exception: when the watch's own
  // on_event ended it in the middle of a revision's events (by cancelling
  // it, or by throwing), a watch from here receives again the events of that
  // revision it had received.
  uint64_t next_revision = 0;
};

class Hub {
 public:
  using EventFn = std::function<void(const Event&)>;
  using EndFn = std::function<void(const WatchEnd&)>;

  explicit Hub(HistoryLimits limits = {});
  // stop(). On the delivery thread (a callback destroying its hub, which no
  // other thread may then be using) it cannot join: the thread ends the
  // watches and finishes on its own.
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // The producer: the events of the entries after covered_to() up to
  // `covered_to`, in revision order (see EventHistory::append; out of order
  // is a bug, logged and dropped). Wakes the delivery thread.
  void publish(std::vector<Event> events, uint64_t covered_to);
  // The history restarts after `index` (see EventHistory::reset): the
  // watches that had yet to receive an event at or below `index` end with
  // DENGINE_ERR_COMPACTED (next_revision: where they were); those already
  // past it carry on. O(watches) under the mutex; runs no callback.
  void reset(uint64_t index);

  // Registers a watch: DENGINE_OK and *id, set before any callback of the
  // watch can run. Or, and no callback is ever called:
  // DENGINE_ERR_COMPACTED when start_revision < available_from() (*oldest:
  // available_from()); DENGINE_ERR_SHUTTING_DOWN after stop();
  // DENGINE_ERR_INVALID_ARGUMENT for max_lag == 0, an empty callback or an
  // empty key without prefix (kKv, kTopic);
  // *error says why. on_event runs on the delivery thread for each matching
  // event, in order; on_end runs exactly once, last. Any pointer may be
  // null.
  int watch(WatchOptions options, EventFn on_event, EndFn on_end, uint64_t* id,
            std::string* error, uint64_t* oldest);

  // Ends a watch with DENGINE_ERR_CANCELLED; false (and no effect) for an
  // unknown id or a watch already ending. From any thread but the delivery
  // thread: when it returns, on_end has run (on this thread, unless the
  // delivery thread was inside a callback of the watch: that one finishes
  // the revision it is delivering and runs on_end), and no callback of the
  // watch is running or will run. From the delivery thread (inside any
  // callback, this watch's own included): returns at once; on_end runs
  // there after the current callback returns, and no further on_event of
  // the watch runs.
  bool cancel(uint64_t id);

  // Ends every watch with DENGINE_ERR_SHUTTING_DOWN and `message`, joins the
  // delivery thread; later watch() calls fail. Idempotent (the first message
  // stays). From the delivery thread it returns at once without joining:
  // once the current callback returns, the thread finishes the revision it
  // is delivering, ends every watch and exits; a later stop() or ~Hub on
  // another thread joins it.
  void stop(const std::string& message = "the node is stopping");

  // Where watch `id` would resume: every matching event below it has been
  // delivered, and its callbacks have returned. nullopt for an unknown or
  // ending watch, and while the delivery thread is inside one of its
  // callbacks (the revision is moving). For a relay's progress reports: a
  // watch that matches nothing still advances here.
  std::optional<uint64_t> progress(uint64_t id) const;

  uint64_t available_from() const;
  uint64_t covered_to() const;
  // The watches registered that have not ended yet.
  size_t watch_count() const;
  bool on_delivery_thread() const;

 private:
  struct Watcher;
  struct State;

  // Shared with the delivery thread, which may outlive this object (~Hub).
  std::shared_ptr<State> state_;
};

}  // namespace dengine::watch
