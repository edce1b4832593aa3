#include "watch/hub.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "base/log.h"

namespace dengine::watch {

namespace {

// A watch's turn hands it at most this many events, and examines at most
// this many for it, before the next watch's turn (more only to finish a
// revision: a turn ends between two revisions). A watch replaying a long
// past thus cannot starve the others.
constexpr size_t kBatchEvents = 64;
constexpr size_t kScanEvents = 4096;
// After this much work under the mutex (watches visited plus events
// examined) the delivery thread lets the producer in.
constexpr size_t kWorkPerHold = 8192;

// The State whose delivery thread this is, if any.
thread_local const void* delivery_thread_of = nullptr;

int refuse(std::string* error, int status, std::string why) {
  if (error) *error = std::move(why);
  return status;
}

}  // namespace

struct Hub::Watcher {
  uint64_t id = 0;
  Filter filter;
  uint64_t max_lag = 0;
  EventFn on_event;
  EndFn on_end;
  std::function<void(uint64_t)> on_batch;  // may be empty
  // The position of the next event to examine. Between turns it sits between
  // two revisions; while the watch's batch is delivered it is already past
  // that batch.
  uint64_t cursor = 0;
  // The watch receives the matching events with revision >= next_revision;
  // once a turn examined revision R, next_revision > R.
  uint64_t next_revision = 0;
  // It has reached the newest event once: max_lag applies.
  bool caught_up = false;
  // The delivery thread is running its callbacks, outside the mutex: no
  // other thread may end or free it.
  bool delivering = false;
  // How it ends: set while it is delivering (its delivery ends it), or
  // before it goes to State::ending.
  std::optional<WatchEnd> end;
  // `end` was asked by a callback: no further on_event, not even to finish
  // the revision.
  bool end_now = false;
};

struct Hub::State : std::enable_shared_from_this<State> {
  // An idle watch: its callbacks, its filter and a few counters.
  static_assert(sizeof(Watcher) <= 512);

  explicit State(HistoryLimits limits) : history(limits) {}

  void publish(std::vector<Event> events, uint64_t covered_to);
  void reset(uint64_t index);
  int watch(WatchOptions options, EventFn on_event, EndFn on_end, uint64_t* id,
            std::string* error, uint64_t* oldest);
  bool cancel(uint64_t id);
  void stop(const std::string& message);
  bool on_delivery_thread() const { return delivery_thread_of == this; }

  // The delivery thread.
  void run();
  bool deliver_round(std::unique_lock<std::mutex>& lock);
  bool take_turn(std::unique_lock<std::mutex>& lock, Watcher& w, size_t* work);
  void skip_other_keys(Watcher& w);
  std::optional<WatchEnd> overflow(const Watcher& w) const;
  std::vector<EventRef> collect(Watcher& w, size_t* work);
  bool deliver(std::unique_lock<std::mutex>& lock, Watcher& w,
               const std::vector<EventRef>& batch);
  void end_delivering(std::unique_lock<std::mutex>& lock, Watcher& w,
                      WatchEnd end);
  void end_later(uint64_t id, WatchEnd end);
  void finish_endings(std::unique_lock<std::mutex>& lock);
  void end_all(std::unique_lock<std::mutex>& lock);

  uint64_t resume_revision(const Watcher& w) const;

  mutable std::mutex mutex;
  std::condition_variable work;   // to the delivery thread: generation moved
  std::condition_variable ended;  // to cancel(): a delivering watch ended
  EventHistory history;
  // The live watches, by id: the order of each delivery round.
  std::map<uint64_t, std::unique_ptr<Watcher>> watchers;
  // Ended (end set) while idle, on_end still to run on the delivery thread.
  std::vector<std::unique_ptr<Watcher>> ending;
  uint64_t next_id = 1;
  // Bumped by whatever gives the delivery thread work.
  uint64_t generation = 0;
  bool stopping = false;
  std::string stop_message;
  std::thread thread;
  std::mutex join_mutex;  // stop() callers, one join
};

namespace {

// A callback's exception, as text; nullopt when it returned.
template <typename Callback>
std::optional<std::string> call_guarded(const Callback& callback) {
  try {
    callback();
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string(e.what());
  } catch (...) {
    return std::string("an exception that is not a std::exception");
  }
}

void call_on_end(uint64_t id, const Hub::EndFn& on_end, const WatchEnd& end) {
  try {
    on_end(end);
  } catch (const std::exception& e) {
    base::log_line(DENGINE_LOG_WARN, "watch " + std::to_string(id) +
                                         ": on_end threw: " + e.what());
  } catch (...) {
    base::log_line(DENGINE_LOG_WARN,
                   "watch " + std::to_string(id) + ": on_end threw");
  }
}

}  // namespace

void Hub::State::publish(std::vector<Event> events, uint64_t covered_to) {
  const bool any = !events.empty();
  uint64_t was_covered_to = 0;
  bool appended = false;
  {
    std::lock_guard lock(mutex);
    was_covered_to = history.covered_to();
    appended = history.append(std::move(events), covered_to);
    if (appended && any) ++generation;
  }
  if (!appended) {
    base::log_line(DENGINE_LOG_ERROR,
                   "watch: dropped the events of the entries up to " +
                       std::to_string(covered_to) +
                       ": out of revision order, or of entries already "
                       "covered (the history covers up to " +
                       std::to_string(was_covered_to) + ")");
  } else if (any) {
    work.notify_one();
  }
}

void Hub::State::reset(uint64_t index) {
  {
    std::lock_guard lock(mutex);
    for (auto it = watchers.begin(); it != watchers.end();) {
      Watcher& w = *it->second;
      const uint64_t id = it->first;
      ++it;
      if (w.end) continue;  // its delivery is ending it
      const uint64_t resume = resume_revision(w);
      if (resume > index) {
        w.next_revision = resume;
        w.cursor = history.next_position();  // where the new history starts
        continue;
      }
      WatchEnd end{DENGINE_ERR_COMPACTED,
                   "the history restarted after revision " +
                       std::to_string(index) +
                       "; the watch had yet to receive revision " +
                       std::to_string(resume),
                   resume};
      if (w.delivering) {
        w.end = std::move(end);
      } else {
        end_later(id, std::move(end));
      }
    }
    history.reset(index);
    ++generation;
  }
  work.notify_one();
}

int Hub::State::watch(WatchOptions options, EventFn on_event, EndFn on_end,
                      uint64_t* id, std::string* error, uint64_t* oldest) {
  if (options.max_lag == 0) {
    return refuse(error, DENGINE_ERR_INVALID_ARGUMENT,
                  "max_lag must be at least 1");
  }
  if (!on_event || !on_end) {
    return refuse(error, DENGINE_ERR_INVALID_ARGUMENT,
                  "a watch needs both on_event and on_end");
  }
  if (options.filter.key.empty() && !options.filter.prefix &&
      options.filter.stream != Stream::kCluster) {
    return refuse(error, DENGINE_ERR_INVALID_ARGUMENT,
                  "the key is empty: name a key or topic, or watch a prefix "
                  "(an empty prefix matches them all)");
  }
  std::lock_guard lock(mutex);
  if (stopping) return refuse(error, DENGINE_ERR_SHUTTING_DOWN, stop_message);
  const uint64_t start = options.start_revision;
  if (start != 0 && start < history.available_from()) {
    if (oldest) *oldest = history.available_from();
    return refuse(error, DENGINE_ERR_COMPACTED,
                  "revision " + std::to_string(start) +
                      " is compacted; the oldest available is " +
                      std::to_string(history.available_from()));
  }
  if (!thread.joinable()) {
    thread = std::thread([self = shared_from_this()] { self->run(); });
  }
  auto w = std::make_unique<Watcher>();
  w->id = next_id++;
  w->filter = std::move(options.filter);
  w->max_lag = options.max_lag;
  w->on_event = std::move(on_event);
  w->on_end = std::move(on_end);
  w->on_batch = std::move(options.on_batch);
  w->cursor = start == 0 ? history.next_position() : history.position_of(start);
  w->next_revision = start == 0 ? history.covered_to() + 1 : start;
  w->caught_up = w->cursor == history.next_position();
  if (id) *id = w->id;
  const bool behind = !w->caught_up;
  watchers.emplace(w->id, std::move(w));
  if (behind) {
    ++generation;
    work.notify_one();
  }
  return DENGINE_OK;
}

bool Hub::State::cancel(uint64_t id) {
  const bool from_callback = on_delivery_thread();
  std::unique_lock lock(mutex);
  const auto it = watchers.find(id);
  if (it == watchers.end()) return false;
  Watcher& w = *it->second;
  const auto gone = [&] { return !watchers.contains(id); };
  if (w.end) {  // already ending, inside its delivery
    if (!from_callback) ended.wait(lock, gone);
    return false;
  }
  WatchEnd end{DENGINE_ERR_CANCELLED, "the watch was cancelled",
               resume_revision(w)};
  if (w.delivering) {
    w.end = std::move(end);
    w.end_now = from_callback;
    if (!from_callback) ended.wait(lock, gone);
    return true;
  }
  if (from_callback) {
    end_later(id, std::move(end));  // finish_endings, after this callback
    return true;
  }
  std::unique_ptr<Watcher> cancelled = std::move(it->second);
  watchers.erase(it);
  lock.unlock();
  call_on_end(id, cancelled->on_end, end);
  return true;
}

void Hub::State::stop(const std::string& message) {
  {
    std::lock_guard lock(mutex);
    if (!stopping) {
      stopping = true;
      stop_message = message;
      ++generation;
    }
  }
  work.notify_one();
  if (on_delivery_thread()) return;
  std::lock_guard join_lock(join_mutex);
  if (thread.joinable()) thread.join();
}

// Rounds over the watches, each taking a turn, until a round finds nobody
// behind; then waits for the next publish, watch, reset or stop.
void Hub::State::run() {
  delivery_thread_of = this;
  std::unique_lock lock(mutex);
  while (!stopping) {
    const uint64_t round_generation = generation;
    if (deliver_round(lock)) continue;
    work.wait(lock, [&] { return stopping || generation != round_generation; });
  }
  end_all(lock);
}

// One turn for every watch, in id order; true when one is still behind.
// Watches may come and go while the mutex is released: the round goes on
// from the next id.
bool Hub::State::deliver_round(std::unique_lock<std::mutex>& lock) {
  bool behind = false;
  size_t work_done = 0;
  finish_endings(lock);
  for (uint64_t next = 0; !stopping;) {
    const auto it = watchers.lower_bound(next);
    if (it == watchers.end()) break;
    next = it->first + 1;
    behind = take_turn(lock, *it->second, &work_done) || behind;
    finish_endings(lock);
    if (work_done >= kWorkPerHold) {
      work_done = 0;
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
    }
  }
  return behind;
}

// Ends w if it overflowed, else delivers its next batch. True when it is
// still behind after it.
bool Hub::State::take_turn(std::unique_lock<std::mutex>& lock, Watcher& w,
                           size_t* work) {
  ++*work;
  if (w.cursor == history.next_position()) {
    w.caught_up = true;
    return false;
  }
  skip_other_keys(w);
  if (w.cursor == history.next_position()) {
    w.caught_up = true;
    return false;
  }
  if (std::optional<WatchEnd> end = overflow(w)) {
    end_later(w.id, std::move(*end));
    return false;
  }
  const std::vector<EventRef> batch = collect(w, work);
  const bool behind = w.cursor < history.next_position();
  if (!behind) w.caught_up = true;
  if (batch.empty()) return behind;
  return deliver(lock, w, batch) && behind;
}

std::optional<WatchEnd> Hub::State::overflow(const Watcher& w) const {
  if (w.cursor < history.first_position()) {
    return WatchEnd{DENGINE_ERR_WATCH_OVERFLOW,
                    "the events from revision " +
                        std::to_string(w.next_revision) +
                        " on were evicted before the watch received them; "
                        "the oldest available is " +
                        std::to_string(history.available_from()),
                    w.next_revision};
  }
  const uint64_t lag = history.next_position() - w.cursor;
  if (!w.caught_up || lag <= w.max_lag) return std::nullopt;
  const uint64_t resume = resume_revision(w);
  return WatchEnd{DENGINE_ERR_WATCH_OVERFLOW,
                  "the watch fell " + std::to_string(lag) +
                      " events behind (max_lag " + std::to_string(w.max_lag) +
                      "); resume from revision " + std::to_string(resume),
                  resume};
}

// A watch of one key or topic jumps to the newest event when none held
// from its cursor on is of that key (the history's index says so without
// examining them): idle watches cost nothing per event, and never fall
// behind for events they would not receive.
void Hub::State::skip_other_keys(Watcher& w) {
  const uint64_t newest = history.next_position();
  if (w.filter.prefix || w.filter.stream == Stream::kCluster ||
      w.cursor < history.first_position() || w.cursor >= newest) {
    return;
  }
  const std::optional<uint64_t> last =
      history.last_position_of(w.filter.stream, w.filter.key);
  if (last && *last >= w.cursor) return;
  w.next_revision =
      std::max(w.next_revision, history.at(newest - 1).revision + 1);
  w.cursor = newest;
}

// The matching events of w's turn, taking it past them: from its cursor to
// the end of the first revision that reaches a limit.
std::vector<EventRef> Hub::State::collect(Watcher& w, size_t* work) {
  std::vector<EventRef> batch;
  const uint64_t newest = history.next_position();
  uint64_t position = w.cursor;
  uint64_t last_revision = 0;
  size_t examined = 0;
  for (; position < newest; ++position, ++examined) {
    const EventRef& event = history.share(position);
    if (event->revision != last_revision &&
        (batch.size() >= kBatchEvents || examined >= kScanEvents)) {
      break;
    }
    if (event->revision >= w.next_revision && matches(w.filter, *event)) {
      batch.push_back(event);
    }
    last_revision = event->revision;
  }
  *work += examined;
  w.cursor = position;
  if (examined > 0) {
    w.next_revision = std::max(w.next_revision, last_revision + 1);
  }
  return batch;
}

// Calls w's on_event for each event of the batch, outside the mutex. An end
// asked by another thread (cancel, reset, stop) waits for the end of the
// revision; one asked by a callback, or an exception, takes effect at once.
// False when w ended.
bool Hub::State::deliver(std::unique_lock<std::mutex>& lock, Watcher& w,
                         const std::vector<EventRef>& batch) {
  w.delivering = true;
  for (size_t i = 0; i < batch.size(); ++i) {
    lock.unlock();
    std::optional<std::string> threw =
        call_guarded([&] { w.on_event(*batch[i]); });
    lock.lock();
    if (threw) {
      end_delivering(lock, w,
                     WatchEnd{DENGINE_ERR_CANCELLED,
                              "the watch's on_event threw: " + *threw,
                              batch[i]->revision});
      return false;
    }
    finish_endings(lock);
    const bool last = i + 1 == batch.size();
    const bool between_revisions =
        last || batch[i + 1]->revision != batch[i]->revision;
    std::optional<WatchEnd> end;
    if (w.end && (w.end_now || between_revisions)) {
      end = *w.end;
    } else if (stopping && between_revisions) {
      end =
          WatchEnd{DENGINE_ERR_SHUTTING_DOWN, stop_message, resume_revision(w)};
    }
    if (end) {
      if (!last) end->next_revision = batch[i + 1]->revision;
      end_delivering(lock, w, std::move(*end));
      return false;
    }
  }
  if (w.on_batch) {
    const uint64_t next = w.next_revision;
    lock.unlock();
    std::optional<std::string> threw = call_guarded([&] { w.on_batch(next); });
    lock.lock();
    finish_endings(lock);
    if (threw || w.end) {
      end_delivering(
          lock, w,
          threw ? WatchEnd{DENGINE_ERR_CANCELLED,
                           "the watch's on_batch threw: " + *threw, next}
                : *w.end);
      return false;
    }
  }
  w.delivering = false;
  return true;
}

// Ends w inside its delivery: on_end runs here with w still listed, so a
// cancel() waiting for it returns only after on_end.
void Hub::State::end_delivering(std::unique_lock<std::mutex>& lock, Watcher& w,
                                WatchEnd end) {
  w.end = std::move(end);
  lock.unlock();
  call_on_end(w.id, w.on_end, *w.end);
  lock.lock();
  const auto it = watchers.find(w.id);
  std::unique_ptr<Watcher> gone = std::move(it->second);
  watchers.erase(it);
  ended.notify_all();
  lock.unlock();
  gone.reset();  // the callbacks' captures, outside the mutex
  lock.lock();
}

// Moves an idle watch to `ending`, for finish_endings.
void Hub::State::end_later(uint64_t id, WatchEnd end) {
  const auto it = watchers.find(id);
  it->second->end = std::move(end);
  ending.push_back(std::move(it->second));
  watchers.erase(it);
}

void Hub::State::finish_endings(std::unique_lock<std::mutex>& lock) {
  while (!ending.empty()) {
    std::vector<std::unique_ptr<Watcher>> ended_now = std::move(ending);
    ending.clear();
    lock.unlock();
    for (const std::unique_ptr<Watcher>& w : ended_now) {
      call_on_end(w->id, w->on_end, *w->end);
    }
    ended_now.clear();
    lock.lock();
  }
}

// The delivery thread's last act: no watch is delivering, none can be added.
void Hub::State::end_all(std::unique_lock<std::mutex>& lock) {
  finish_endings(lock);
  while (!watchers.empty()) {
    const Watcher& w = *watchers.begin()->second;
    end_later(w.id, WatchEnd{DENGINE_ERR_SHUTTING_DOWN, stop_message,
                             resume_revision(w)});
  }
  finish_endings(lock);
}

uint64_t Hub::State::resume_revision(const Watcher& w) const {
  if (w.cursor >= history.next_position()) {
    return std::max(w.next_revision, history.covered_to() + 1);
  }
  if (w.cursor >= history.first_position()) {
    return std::max(w.next_revision, history.at(w.cursor).revision);
  }
  return w.next_revision;  // its next events were evicted
}

Hub::Hub(HistoryLimits limits) : state_(std::make_shared<State>(limits)) {}

Hub::~Hub() {
  stop();
  if (state_->thread.joinable()) state_->thread.detach();
}

void Hub::publish(std::vector<Event> events, uint64_t covered_to) {
  state_->publish(std::move(events), covered_to);
}

void Hub::reset(uint64_t index) { state_->reset(index); }

int Hub::watch(WatchOptions options, EventFn on_event, EndFn on_end,
               uint64_t* id, std::string* error, uint64_t* oldest) {
  return state_->watch(std::move(options), std::move(on_event),
                       std::move(on_end), id, error, oldest);
}

bool Hub::cancel(uint64_t id) { return state_->cancel(id); }

void Hub::stop(const std::string& message) { state_->stop(message); }

std::optional<uint64_t> Hub::progress(uint64_t id) const {
  std::lock_guard lock(state_->mutex);
  const auto it = state_->watchers.find(id);
  if (it == state_->watchers.end()) return std::nullopt;
  const Watcher& w = *it->second;
  if (w.delivering || w.end) return std::nullopt;
  return w.next_revision;
}

uint64_t Hub::available_from() const {
  std::lock_guard lock(state_->mutex);
  return state_->history.available_from();
}

uint64_t Hub::covered_to() const {
  std::lock_guard lock(state_->mutex);
  return state_->history.covered_to();
}

size_t Hub::watch_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->watchers.size();
}

bool Hub::on_delivery_thread() const { return state_->on_delivery_thread(); }

}  // namespace dengine::watch
