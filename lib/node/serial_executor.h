// One thread running queued jobs in order: the node's storage thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace dengine::node {

class SerialExecutor {
 public:
  using Job = std::function<void()>;

  SerialExecutor() = default;
  ~SerialExecutor() { stop(); }
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  void start();
  // Queues `job`; false once stop() began (the job is dropped).
  bool post(Job job);
  // Runs every job already queued, then joins the thread. Idempotent.
  void stop();
  // Whether the caller is this executor's thread (a job running now).
  bool on_this_thread() const { return std::this_thread::get_id() == id_; }

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<std::thread::id> id_{};  // thread_'s, kept after the join
};

}  // namespace dengine::node
