#include "closed_loop.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "dengine.h"

namespace dengine::bench {
namespace {

using Clock = std::chrono::steady_clock;

// What the clients of a run share.
class Run {
 public:
  Run(Target& target, const OpSource& next_op, const LoopOptions& options)
      : target_(target),
        next_op_(next_op),
        ops_(options.ops),
        started_(Clock::now()),
        deadline_(started_ + options.duration) {}

  Target& target() { return target_; }
  Op next_op(uint64_t ticket, std::mt19937_64& rng) {
    return next_op_(ticket, rng);
  }
  Clock::time_point started() const { return started_; }

  // Takes the number of the next op, or returns false when the run is over.
  bool claim(uint64_t* ticket) {
    const uint64_t next = next_ticket_.fetch_add(1, std::memory_order_relaxed);
    if (ops_ > 0 ? next >= ops_ : Clock::now() >= deadline_) return false;
    *ticket = next;
    return true;
  }

  void count_completion() {
    completed_.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t completed() const {
    return completed_.load(std::memory_order_relaxed);
  }

  void client_finished() {
    std::lock_guard lock(mu_);
    ++finished_;
    finished_at_ = Clock::now();
    all_finished_.notify_all();
  }
  // Waits until `clients` have finished, calling `tick` every second
  // meanwhile; returns when the last one finished.
  Clock::time_point wait_finished(size_t clients,
                                  const std::function<void()>& tick) {
    std::unique_lock lock(mu_);
    Clock::time_point next_tick = started_ + std::chrono::seconds(1);
    while (!all_finished_.wait_until(lock, next_tick,
                                     [&] { return finished_ == clients; })) {
      lock.unlock();
      tick();
      lock.lock();
      next_tick += std::chrono::seconds(1);
    }
    return finished_at_;
  }

 private:
  Target& target_;
  const OpSource& next_op_;
  const uint64_t ops_;
  const Clock::time_point started_;
  const Clock::time_point deadline_;
  std::atomic<uint64_t> next_ticket_{0};
  std::atomic<uint64_t> completed_{0};

  std::mutex mu_;
  std::condition_variable all_finished_;
  size_t finished_ = 0;
  Clock::time_point finished_at_;
};

// One client. Its op completes either inside run_op (inline) or later on
// another thread; `state_` settles which side sends the next op, so that
// inline completions loop instead of recursing and a late completion
// continues the loop on its own thread.
class ClientLoop {
 public:
  ClientLoop(Run& run, size_t index)
      : run_(run), index_(index), rng_(0x9e3779b97f4a7c15ull * (index + 1)) {}

  // Sends ops until the run is over, or until one completes later (its
  // completion calls run() again).
  void run() {
    uint64_t ticket = 0;
    while (run_.claim(&ticket)) {
      op_ = run_.next_op(ticket, rng_);
      state_.store(kIssuing, std::memory_order_relaxed);
      op_started_ = Clock::now();
      run_.target().run_op(
          index_, op_, [this](const OpOutcome& outcome) { complete(outcome); });
      int expected = kIssuing;
      if (state_.compare_exchange_strong(expected, kAwaiting,
                                         std::memory_order_acq_rel)) {
        return;  // complete() carries on
      }
    }
    run_.client_finished();
  }

  void add_to(LoopResult* result) const {
    result->ok += ok_;
    result->errors += errors_;
    if (result->first_error.empty()) result->first_error = first_error_;
    result->latency.merge(latency_);
  }

 private:
  enum State : int { kIssuing, kAwaiting, kCompleted };

  void complete(const OpOutcome& outcome) {
    const auto elapsed = Clock::now() - op_started_;
    if (outcome.status == DENGINE_OK) {
      ++ok_;
      latency_.record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed)
              .count()));
    } else {
      if (errors_++ == 0) {
        first_error_ = std::string(dengine_strerror(outcome.status)) + ": " +
                       outcome.message;
      }
    }
    run_.count_completion();
    if (state_.exchange(kCompleted, std::memory_order_acq_rel) == kAwaiting) {
      run();
    }
  }

  Run& run_;
  const size_t index_;
  std::mt19937_64 rng_;
  Op op_;
  Clock::time_point op_started_;
  std::atomic<int> state_{kCompleted};
  uint64_t ok_ = 0;
  uint64_t errors_ = 0;
  std::string first_error_;
  LatencyHistogram latency_;
};

}  // namespace

LoopResult run_closed_loop(Target& target, const OpSource& next_op,
                           const LoopOptions& options) {
  Run run(target, next_op, options);
  std::vector<std::unique_ptr<ClientLoop>> clients;
  for (size_t i = 0; i < options.clients; ++i) {
    clients.push_back(std::make_unique<ClientLoop>(run, i));
  }
  std::vector<std::thread> threads;
  if (target.blocking()) {
    for (auto& client : clients) {
      threads.emplace_back([&client] { client->run(); });
    }
  } else {
    for (auto& client : clients) client->run();
  }

  uint64_t last_completed = 0;
  const Clock::time_point finished = run.wait_finished(options.clients, [&] {
    const uint64_t completed = run.completed();
    if (!options.progress_label.empty()) {
      const double seconds =
          std::chrono::duration<double>(Clock::now() - run.started()).count();
      std::fprintf(stderr, "%s [%4.0f s] ops %10llu  ops/s %9llu\n",
                   options.progress_label.c_str(), seconds,
                   static_cast<unsigned long long>(completed),
                   static_cast<unsigned long long>(completed - last_completed));
    }
    last_completed = completed;
  });
  for (std::thread& thread : threads) thread.join();

  LoopResult result;
  for (const auto& client : clients) client->add_to(&result);
  result.seconds =
      std::chrono::duration<double>(finished - run.started()).count();
  return result;
}

}  // namespace dengine::bench
