#include "events.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace dengine_py {
namespace {

enum EventKind { kLog = 0, kCompletion = 1, kLeader = 2, kWake = 3 };

struct Event {
  explicit Event(EventKind k) : kind(k) {}

  EventKind kind;
  uint64_t token = 0;  // completion, leader, wake: the Python handler
  int status = 0;      // log: the level; completion: the status
  uint64_t leader_id = 0;
  uint64_t term = 0;
  Reply reply;       // completion
  std::string text;  // log
};

// Log lines beyond this many waiting are dropped (and counted), so a
// flood of debug lines cannot grow memory without bound while Python is
// busy. Completions, leader changes and wake-ups are never dropped.
constexpr size_t kMaxQueuedLogLines = 10000;

class EventQueue {
 public:
  void push(Event event) {
    {
      std::lock_guard lock(mutex_);
      if (event.kind == kLog) {
        if (queued_log_lines_ >= kMaxQueuedLogLines) {
          ++dropped_log_lines_;
          return;
        }
        ++queued_log_lines_;
      }
      events_.push_back(std::move(event));
    }
    ready_.notify_one();
  }

  // Waits for events and takes them all; false once closed and drained.
  bool take_all(std::vector<Event>* out) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] {
      return !events_.empty() || dropped_log_lines_ > 0 || closed_;
    });
    if (dropped_log_lines_ > 0) {
      Event note(kLog);
      note.status = DENGINE_LOG_WARN;
      note.text = "dengine python: dropped " +
                  std::to_string(dropped_log_lines_) +
                  " log lines while Python was not keeping up";
      out->push_back(std::move(note));
      dropped_log_lines_ = 0;
    }
    for (auto& event : events_) out->push_back(std::move(event));
    events_.clear();
    queued_log_lines_ = 0;
    return !out->empty() || !closed_;
  }

  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Event> events_;
  size_t queued_log_lines_ = 0;
  uint64_t dropped_log_lines_ = 0;
  bool closed_ = false;
};

// Never destroyed: dengine threads may still push while the process exits.
EventQueue& queue() {
  static EventQueue* const instance = new EventQueue();
  return *instance;
}

void on_log(void*, int level, const char* message) {
  Event event(kLog);
  event.status = level;
  event.text = message;
  queue().push(std::move(event));
}

// Log lines are text from dengine; replace any invalid UTF-8 rather than
// fail the whole batch.
py::str decode_utf8(const std::string& text) {
  PyObject* decoded = PyUnicode_DecodeUTF8(
      text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
  if (decoded == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(decoded);
}

py::object next_events() {
  std::vector<Event> events;
  bool open;
  {
    py::gil_scoped_release release;
    open = queue().take_all(&events);
  }
  if (!open) return py::none();
  py::list out;
  for (auto& event : events) {
    switch (event.kind) {
      case kLog:
        out.append(py::make_tuple(static_cast<int>(kLog), event.status,
                                  decode_utf8(event.text)));
        break;
      case kCompletion:
        out.append(py::make_tuple(static_cast<int>(kCompletion), event.token,
                                  event.status, std::move(event.reply)));
        break;
      case kLeader:
        out.append(py::make_tuple(static_cast<int>(kLeader), event.token,
                                  event.leader_id, event.term));
        break;
      case kWake:
        out.append(py::make_tuple(static_cast<int>(kWake), event.token));
        break;
    }
  }
  return out;
}

}  // namespace

void* token_ctx(uint64_t token) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(token));
}

void on_done(void* ctx, int status, const dengine_reply* reply) {
  Event event(kCompletion);
  event.token = reinterpret_cast<uintptr_t>(ctx);
  event.status = status;
  if (reply != nullptr) event.reply = copy_reply(*reply);
  queue().push(std::move(event));
}

void on_leader_change(void* ctx, uint64_t leader_id, uint64_t term) {
  Event event(kLeader);
  event.token = reinterpret_cast<uintptr_t>(ctx);
  event.leader_id = leader_id;
  event.term = term;
  queue().push(std::move(event));
}

void wake(uint64_t token) {
  Event event(kWake);
  event.token = token;
  queue().push(std::move(event));
}

void register_events(py::module_& m) {
  m.def("next_events", &next_events,
        "Waits (GIL released) for queued events and returns them as tuples: "
        "(0, level, message), (1, token, status, Reply), (2, token, "
        "leader_id, term), (3, token); None once close_events() was called "
        "and all were taken.");
  m.def(
      "close_events", [] { queue().close(); },
      "Makes next_events() return None once the queue is drained.");
  m.def(
      "capture_logs",
      [](int min_level) {
        py::gil_scoped_release release;  // waits for threads inside the sink
        dengine_set_log_callback(&on_log, nullptr, min_level);
      },
      py::arg("min_level"),
      "Queues dengine's log lines at min_level (DENGINE_LOG_*) and above.");
  m.def(
      "release_logs",
      [] {
        py::gil_scoped_release release;
        dengine_set_log_callback(nullptr, nullptr, DENGINE_LOG_WARN);
      },
      "Restores dengine's default logging (WARN and above to stderr).");
}

}  // namespace dengine_py
