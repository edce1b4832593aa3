// The Raft core's logical clock on the monotonic clock: whole ticks of a
// fixed interval, on a grid fixed at the node's start.
//
// The loop arms a one-shot timer for the next grid point after each tick
// (until_next), instead of a repeating timer: libuv re-arms a repeating
// timer from the loop time at which its callback ran, so its phase drifts
// later by the loop's wake-up latency every period, and a tick that came
// due waits up to a whole interval. Such a late tick is then taken by the
// next message the loop handles (the clock is advanced before a message is
// stepped), so a follower whose election timeout had run out while the
// timer lagged started its election the instant another node's pre-vote
// arrived: both pre-candidates granted each other and split the vote
// (issue 15). On the grid, a node's elections start at its own time.
#pragma once

#include <chrono>
#include <cstdint>

namespace dengine::node {

class TickClock {
 public:
  using Clock = std::chrono::steady_clock;

  // `max_catch_up`: the most ticks one advance() returns (after a long
  // pause more ticks change nothing in the core).
  TickClock(Clock::duration interval, Clock::time_point start,
            int64_t max_catch_up)
      : interval_(interval), last_(start), max_catch_up_(max_catch_up) {}

  // The ticks that came due since the last call: one per grid point passed
  // by `now`, at most max_catch_up. The grid does not move.
  int64_t advance(Clock::time_point now) {
    const int64_t due = (now - last_) / interval_;
    if (due <= 0) return 0;
    last_ += due * interval_;
    return due < max_catch_up_ ? due : max_catch_up_;
  }

  // Whole milliseconds from `now` to the next tick's grid point, rounded
  // up, for a uv timer; 1 when a tick is due already (advance() has not
  // taken it).
  uint64_t ms_until_next(Clock::time_point now) const {
    const auto wait =
        std::chrono::ceil<std::chrono::milliseconds>(last_ + interval_ - now);
    return wait.count() > 1 ? static_cast<uint64_t>(wait.count()) : 1;
  }

 private:
  Clock::duration interval_;
  Clock::time_point last_;  // the last grid point handed out as a tick
  int64_t max_catch_up_;
};

}  // namespace dengine::node
