// The watches of `dengine-bench --watchers N`: N watches on one node's hub
// for the length of a run, each callback counting the event it was given
// and doing nothing else, so the run measures what matching and delivering
// them costs the node. A watch that ends before the run is over (it fell
// max_lag events behind: the delivery thread did not keep up) is counted
// in the report with the hub's status and message, never dropped.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "watch/hub.h"

namespace dengine::bench {

enum class WatchKeys : uint8_t {
  kIdle,  // watch i: the key "idle/<i>", which the workload never writes
  kAll,   // every watch: a prefix of all the workload's keys
};

// The watches that ended on their own with one status.
struct WatchEndGroup {
  int status = 0;      // a DENGINE_ERR_* code
  size_t watches = 0;  // how many ended with it
  // The first of them to end: its number (from 0), when (seconds after
  // Watchers::start()), and why, in the hub's words.
  size_t first_watch = 0;
  double first_after_s = 0;
  std::string first_message;
};

struct WatchReport {
  size_t watches = 0;
  // Delivered to all the watches together while the workload ran.
  uint64_t events = 0;
  double events_per_s = 0;
  // The watches that ended before finish(), by status; empty: none did.
  std::vector<WatchEndGroup> ended_early;
  size_t ended_early_count() const;
};

class Watchers {
 public:
  // Registers `count` watches on `hub`, from now on (start_revision 0, the
  // hub's default max_lag); kAll watches have the prefix `all_prefix`.
  // nullptr, with *error, if the hub refuses one.
  static std::unique_ptr<Watchers> start(std::shared_ptr<watch::Hub> hub,
                                         size_t count, WatchKeys keys,
                                         const std::string& all_prefix,
                                         std::string* error);
  // Cancels the watches finish() has not, and waits for their ends.
  ~Watchers();
  Watchers(const Watchers&) = delete;
  Watchers& operator=(const Watchers&) = delete;

  // The workload ended after `seconds`: counts the events delivered so far,
  // cancels every watch and reports. A watch cancel() finds already ended,
  // or ending, ended early.
  WatchReport finish(double seconds);

 private:
  using Clock = std::chrono::steady_clock;

  struct Slot {
    uint64_t id = 0;
    bool registered = false;
    bool cancelled = false;  // ended by our cancel(), not on its own
    bool ended = false;
    int status = 0;
    std::string message;
    Clock::time_point ended_at;
  };

  Watchers(std::shared_ptr<watch::Hub> hub, size_t count);
  void on_end(size_t watch, const watch::WatchEnd& end);
  // Cancels each registered watch and waits until every one has ended.
  void cancel_all();

  std::shared_ptr<watch::Hub> hub_;
  std::atomic<uint64_t> events_{0};
  Clock::time_point started_at_;
  std::mutex mutex_;
  std::condition_variable all_ended_;
  std::vector<Slot> slots_;  // sized once: callbacks hold indexes into it
  size_t registered_ = 0;
  size_t ended_ = 0;
  bool cancelled_all_ = false;
};

}  // namespace dengine::bench
