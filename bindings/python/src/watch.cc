#include "watch.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "events.h"

namespace dengine_py {

// A copy of a dengine_event, which is lent only for its callback.
struct QueuedEvent {
  int type = 0;
  uint64_t revision = 0;
  std::string key;
  std::string value;
  std::optional<std::string> prev_value;
  uint64_t node_id = 0;
  uint64_t term = 0;
  std::string address;
};

// What the watch's callbacks share with Python: the C callbacks' ctx,
// alive until dengine_watch_close has returned.
struct WatchState {
  explicit WatchState(size_t limit) : max_pending(limit) {}

  const size_t max_pending;
  std::mutex mutex;
  std::condition_variable ready;  // an event queued, or the end
  std::deque<QueuedEvent> events;
  // For the overflow's cancel from on_event; null until start() has it
  // (cancel_pending: the overflow came first) and once close() took it.
  dengine_watch* handle = nullptr;
  bool cancel_pending = false;
  // The revision of the first event not queued, once the queue was full.
  std::optional<uint64_t> overflow_at;
  // on_end ran, or close() dropped the queue.
  bool ended = false;
  bool closed = false;
  int status = DENGINE_OK;
  uint64_t next_revision = 0;
  std::string message;
  // The armed wake-up of a waiting coroutine.
  std::optional<uint64_t> waiter;
};

namespace {

std::string text(const uint8_t* data, size_t len) {
  return len == 0 ? std::string()
                  : std::string(reinterpret_cast<const char*>(data), len);
}

QueuedEvent copy_event(const dengine_event& e) {
  QueuedEvent out;
  out.type = e.type;
  out.revision = e.revision;
  out.key = text(e.key, e.key_len);
  out.value = text(e.value, e.value_len);
  if (e.has_prev_value) out.prev_value = text(e.prev_value, e.prev_value_len);
  out.node_id = e.node_id;
  out.term = e.term;
  if (e.address != nullptr) out.address = e.address;
  return out;
}

// How often a thread waiting for an event checks for a signal (Ctrl-C in
// `for event in watch` must interrupt it).
constexpr auto kSignalCheck = std::chrono::milliseconds(100);

void on_event(void* ctx, const dengine_event* event) {
  auto* s = static_cast<WatchState*>(ctx);
  dengine_watch* cancel = nullptr;
  std::optional<uint64_t> woken;
  {
    std::lock_guard lock(s->mutex);
    if (s->overflow_at || s->ended) return;
    if (s->events.size() < s->max_pending) {
      s->events.push_back(copy_event(*event));
      woken = std::exchange(s->waiter, std::nullopt);
    } else {
      // Revisions stay whole: the queued events of this one go too.
      while (!s->events.empty() &&
             s->events.back().revision == event->revision) {
        s->events.pop_back();
      }
      s->overflow_at = event->revision;
      cancel = s->handle;
      s->cancel_pending = cancel == nullptr;
    }
  }
  if (cancel != nullptr) {
    // From the watch's own callback this returns at once, and on_end
    // follows. The handle stays valid: close() frees it only after this
    // callback has returned.
    dengine_watch_cancel(cancel);
    return;
  }
  s->ready.notify_all();
  if (woken) wake(*woken);
}

void on_end(void* ctx, int status, uint64_t next_revision,
            const char* message) {
  auto* s = static_cast<WatchState*>(ctx);
  std::optional<uint64_t> woken;
  {
    std::lock_guard lock(s->mutex);
    s->ended = true;
    if (s->overflow_at) {
      s->status = DENGINE_ERR_WATCH_OVERFLOW;
      s->next_revision = *s->overflow_at;
      s->message =
          "the watch's queue of max_pending=" + std::to_string(s->max_pending) +
          " events was full; resume from revision " +
          std::to_string(*s->overflow_at);
    } else {
      s->status = status;
      s->next_revision = next_revision;
      s->message = message != nullptr ? message : "";
    }
    woken = std::exchange(s->waiter, std::nullopt);
  }
  s->ready.notify_all();
  if (woken) wake(*woken);
}

// Closes the watches Python dropped without close(), one after the other.
// Never destroyed, like the event queue: it may still run while the
// process exits. It never touches Python.
class Closer {
 public:
  void close_later(dengine_watch* handle, std::shared_ptr<WatchState> state) {
    {
      std::lock_guard lock(mutex_);
      pending_.emplace_back(handle, std::move(state));
      if (!started_) {
        std::thread([this] { run(); }).detach();
        started_ = true;
      }
    }
    ready_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (true) {
      ready_.wait(lock, [&] { return !pending_.empty(); });
      auto [handle, state] = std::move(pending_.front());
      pending_.pop_front();
      lock.unlock();
      dengine_watch_close(handle);
      state.reset();  // no callback of the watch runs any more
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::pair<dengine_watch*, std::shared_ptr<WatchState>>> pending_;
  bool started_ = false;
};

Closer& closer() {
  static Closer* const instance = new Closer();
  return *instance;
}

py::tuple to_tuple(QueuedEvent e) {
  py::object prev = e.prev_value ? py::object(py::bytes(*e.prev_value))
                                 : py::object(py::none());
  return py::make_tuple(e.type, e.revision, py::bytes(e.key),
                        py::bytes(e.value), prev, e.node_id, e.term,
                        py::str(e.address));
}

}  // namespace

Watch::Watch(size_t max_pending)
    : state_(std::make_shared<WatchState>(max_pending)) {}

Watch::~Watch() {
  if (handle_ != nullptr) closer().close_later(handle_, std::move(state_));
}

dengine_watch_options watch_options(int stream, bool prefix,
                                    const std::string& key,
                                    uint64_t start_revision, uint64_t max_lag) {
  dengine_watch_options options{};
  options.version = DENGINE_WATCH_OPTIONS_VERSION;
  options.struct_size = sizeof options;
  options.stream = stream;
  options.flags = prefix ? DENGINE_WATCH_PREFIX : 0u;
  options.key = key.data();
  options.key_len = key.size();
  options.start_revision = start_revision;
  options.max_lag = max_lag;
  return options;
}

int Watch::start(dengine_node* node, const dengine_watch_options& options) {
  std::lock_guard handle_lock(handle_mutex_);
  dengine_watch* handle = nullptr;
  const int status = dengine_node_watch(node, &options, &on_event, &on_end,
                                        state_.get(), &handle);
  return adopt(status, handle);
}

int Watch::start_client(dengine_client* client,
                        const dengine_watch_options& options) {
  std::lock_guard handle_lock(handle_mutex_);
  dengine_watch* handle = nullptr;
  const int status = dengine_client_watch(client, &options, &on_event, &on_end,
                                          state_.get(), &handle);
  return adopt(status, handle);
}

int Watch::adopt(int status, dengine_watch* handle) {
  if (status != DENGINE_OK) return status;
  handle_ = handle;
  bool cancel;
  {
    std::lock_guard lock(state_->mutex);
    state_->handle = handle;
    cancel = state_->cancel_pending;
  }
  if (cancel) dengine_watch_cancel(handle);
  return DENGINE_OK;
}

py::object Watch::next(bool block) {
  WatchState& s = *state_;
  while (true) {
    {
      // Held with the GIL only briefly: no holder of the mutex waits for
      // the GIL.
      std::unique_lock lock(s.mutex);
      if (!s.events.empty()) {
        QueuedEvent event = std::move(s.events.front());
        s.events.pop_front();
        lock.unlock();
        return to_tuple(std::move(event));
      }
      if (s.ended || !block) return py::none();
    }
    {
      py::gil_scoped_release release;
      std::unique_lock lock(s.mutex);
      s.ready.wait_for(lock, kSignalCheck,
                       [&] { return !s.events.empty() || s.ended; });
    }
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

py::object Watch::end() const {
  std::lock_guard lock(state_->mutex);
  if (!state_->ended || !state_->events.empty()) return py::none();
  const int status = state_->closed ? DENGINE_ERR_CANCELLED : state_->status;
  return py::make_tuple(status, state_->next_revision, state_->message);
}

py::object Watch::next_revision() const {
  std::lock_guard lock(state_->mutex);
  if (!state_->ended) return py::none();
  if (!state_->events.empty()) return py::int_(state_->events.front().revision);
  return py::int_(state_->next_revision);
}

bool Watch::arm(uint64_t token) {
  std::lock_guard lock(state_->mutex);
  if (!state_->events.empty() || state_->ended) return false;
  if (state_->waiter && *state_->waiter != token) {
    throw std::runtime_error(
        "another coroutine is already waiting for this watch's next event");
  }
  state_->waiter = token;
  return true;
}

void Watch::disarm(uint64_t token) {
  std::lock_guard lock(state_->mutex);
  if (state_->waiter == token) state_->waiter.reset();
}

void Watch::cancel() {
  py::gil_scoped_release release;
  std::lock_guard handle_lock(handle_mutex_);
  if (handle_ != nullptr) dengine_watch_cancel(handle_);
}

void Watch::close() {
  py::gil_scoped_release release;
  std::lock_guard handle_lock(handle_mutex_);
  dengine_watch* handle = std::exchange(handle_, nullptr);
  if (handle != nullptr) {
    {
      std::lock_guard lock(state_->mutex);
      state_->handle = nullptr;
    }
    dengine_watch_close(handle);  // on_end has run when it returns
  }
  std::optional<uint64_t> woken;
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->events.empty()) {
      state_->next_revision = state_->events.front().revision;
      state_->events.clear();
    }
    state_->ended = true;
    state_->closed = true;
    woken = std::exchange(state_->waiter, std::nullopt);
  }
  state_->ready.notify_all();
  if (woken) wake(*woken);
}

void register_watch(py::module_& m) {
  py::class_<Watch>(m, "Watch")
      .def("next", &Watch::next, py::arg("block"))
      .def("end", &Watch::end)
      .def_property_readonly("next_revision", &Watch::next_revision)
      .def("arm", &Watch::arm, py::arg("token"))
      .def("disarm", &Watch::disarm, py::arg("token"))
      .def("cancel", &Watch::cancel)
      .def("close", &Watch::close);
}

}  // namespace dengine_py
