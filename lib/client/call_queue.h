// A client's calls run in order on a thread of their own, for the C API's
// async client forms (dengine_client_propose_opts_async...): what travels
// the queue is a Task, one blocking Client call and the report of its
// outcome. The thread starts with the queue.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace dengine::client {

class CallQueue {
 public:
  // Runs on the queue's thread with run == true, or, when the queue stops
  // before its turn, with run == false (it must then only report that).
  using Task = std::function<void(bool run)>;

  CallQueue();
  ~CallQueue() { stop(); }
  CallQueue(const CallQueue&) = delete;
  CallQueue& operator=(const CallQueue&) = delete;

  // Queues `task`; false once stop() began (the task is not called).
  bool post(Task task);
  // Calls the queued tasks with run == false, waits for the running one,
  // and joins the thread. From a task itself (a completion closing the
  // client) it cannot wait: the thread finishes on its own once that task
  // returns. Idempotent.
  void stop();

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<Task> tasks;
    bool stopping = false;
  };
  static void run(const std::shared_ptr<State>& state);

  // Shared with the thread, which may outlive this object (see stop).
  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace dengine::client
