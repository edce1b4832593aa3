#include "watchers.h"

#include <utility>

namespace dengine::bench {

size_t WatchReport::ended_early_count() const {
  size_t count = 0;
  for (const WatchEndGroup& group : ended_early) count += group.watches;
  return count;
}

Watchers::Watchers(std::shared_ptr<watch::Hub> hub, size_t count)
    : hub_(std::move(hub)), slots_(count) {}

std::unique_ptr<Watchers> Watchers::start(std::shared_ptr<watch::Hub> hub,
                                          size_t count, WatchKeys keys,
                                          const std::string& all_prefix,
                                          std::string* error) {
  std::unique_ptr<Watchers> watchers(new Watchers(std::move(hub), count));
  Watchers* self = watchers.get();
  self->started_at_ = Clock::now();
  for (size_t i = 0; i < count; ++i) {
    watch::WatchOptions options;
    options.filter.stream = watch::Stream::kKv;
    if (keys == WatchKeys::kIdle) {
      options.filter.key = "idle/" + std::to_string(i);
    } else {
      options.filter.key = all_prefix;
      options.filter.prefix = true;
    }
    std::string watch_error;
    // registered_ counts the watch before it can end: its on_end may run
    // as soon as watch() has registered it.
    {
      std::lock_guard lock(self->mutex_);
      ++self->registered_;
    }
    const int status = self->hub_->watch(
        std::move(options),
        [self](const watch::Event&) {
          self->events_.fetch_add(1, std::memory_order_relaxed);
        },
        [self, i](const watch::WatchEnd& end) { self->on_end(i, end); },
        &self->slots_[i].id, &watch_error, nullptr);
    std::lock_guard lock(self->mutex_);
    if (status != DENGINE_OK) {
      --self->registered_;
      *error = "watch " + std::to_string(i) + ": " + dengine_strerror(status) +
               ": " + watch_error;
      return nullptr;  // ~Watchers cancels the ones registered
    }
    self->slots_[i].registered = true;
  }
  return watchers;
}

Watchers::~Watchers() { cancel_all(); }

void Watchers::on_end(size_t watch, const watch::WatchEnd& end) {
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[watch];
  slot.ended = true;
  slot.status = end.status;
  slot.message = end.message;
  slot.ended_at = Clock::now();
  if (++ended_ == registered_) all_ended_.notify_all();
}

void Watchers::cancel_all() {
  if (cancelled_all_) return;
  cancelled_all_ = true;
  for (Slot& slot : slots_) {
    if (!slot.registered) continue;
    // From this thread cancel() returns after on_end ran, when it ended
    // the watch; false: the watch had ended, or was ending, on its own.
    const bool cancelled = hub_->cancel(slot.id);
    std::lock_guard lock(mutex_);
    slot.cancelled = cancelled;
  }
  std::unique_lock lock(mutex_);
  all_ended_.wait(lock, [this] { return ended_ == registered_; });
}

WatchReport Watchers::finish(double seconds) {
  WatchReport report;
  report.watches = slots_.size();
  report.events = events_.load(std::memory_order_relaxed);
  report.events_per_s =
      seconds > 0 ? static_cast<double>(report.events) / seconds : 0.0;
  cancel_all();
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& slot = slots_[i];
    if (!slot.registered || slot.cancelled) continue;
    WatchEndGroup* group = nullptr;
    for (WatchEndGroup& g : report.ended_early) {
      if (g.status == slot.status) group = &g;
    }
    const double after_s =
        std::chrono::duration<double>(slot.ended_at - started_at_).count();
    if (group == nullptr) {
      group = &report.ended_early.emplace_back();
      group->status = slot.status;
    }
    if (group->watches++ == 0 || after_s < group->first_after_s) {
      group->first_watch = i;
      group->first_after_s = after_s;
      group->first_message = slot.message;
    }
  }
  return report;
}

}  // namespace dengine::bench
