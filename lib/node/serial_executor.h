// One thread running queued jobs in order: the node's storage thread.
#pragma once

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

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dengine::node
