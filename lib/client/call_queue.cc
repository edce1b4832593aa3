#include "client/call_queue.h"

#include <utility>

namespace dengine::client {

CallQueue::CallQueue()
    : state_(std::make_shared<State>()), thread_(run, state_) {}

bool CallQueue::post(Task task) {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping) return false;
    state_->tasks.push_back(std::move(task));
  }
  state_->ready.notify_one();
  return true;
}

void CallQueue::stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->ready.notify_one();
  if (!thread_.joinable()) return;  // stopped before
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

void CallQueue::run(const std::shared_ptr<State>& state) {
  for (;;) {
    std::unique_lock lock(state->mutex);
    state->ready.wait(lock,
                      [&] { return state->stopping || !state->tasks.empty(); });
    if (state->stopping) {
      std::deque<Task> refused = std::move(state->tasks);
      state->tasks.clear();
      lock.unlock();
      for (Task& task : refused) task(false);
      return;
    }
    Task task = std::move(state->tasks.front());
    state->tasks.pop_front();
    lock.unlock();
    task(true);
  }
}

}  // namespace dengine::client
