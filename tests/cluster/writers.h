// Write load for the cluster tests: writers that put fresh keys through
// their own client until stopped, remembering which writes were
// acknowledged, and the checks that the load makes progress.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "cluster_harness.h"

namespace dengine::cluster_test {

// Writes prefix0, prefix1, ... (each key once, value "value of <key>")
// through one client of every node until stopped. A write that fails is
// not retried under its key: its outcome is unknown, and the next key is
// written.
class Writer {
 public:
  Writer(const Cluster& cluster, std::string prefix);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void stop();
  size_t acknowledged() const { return acknowledged_; }
  // Writes that failed (their outcome unknown), and why the last did.
  size_t failed() const { return failed_; }
  std::string last_error() const {
    std::lock_guard lock(mu_);
    return last_error_;
  }
  // Every acknowledged write, key to value; only after stop().
  const std::map<std::string, std::string>& acked() const { return acked_; }

 private:
  void run();

  std::unique_ptr<client::Client> client_;
  const std::string prefix_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> acknowledged_{0};
  std::atomic<size_t> failed_{0};
  mutable std::mutex mu_;
  std::string last_error_;  // guarded by mu_
  std::map<std::string, std::string> acked_;
  std::thread thread_;  // last: starts once the rest is ready
};

size_t acknowledged(const std::vector<std::unique_ptr<Writer>>& writers);

// Waits (up to a minute) until the writers have had `more` further writes
// acknowledged; a test failure naming `when` otherwise.
void expect_progress(const std::vector<std::unique_ptr<Writer>>& writers,
                     size_t more, const std::string& when);

// Every writer's acknowledged writes; only after they stopped.
std::map<std::string, std::string> merge(
    const std::vector<std::unique_ptr<Writer>>& writers);

}  // namespace dengine::cluster_test
