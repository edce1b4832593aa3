#include "node/tick_clock.h"

#include <gtest/gtest.h>

#include <chrono>

namespace dengine::node {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using Clock = TickClock::Clock;

const Clock::time_point kStart = Clock::time_point{} + std::chrono::hours(1);

TEST(TickClockTest, OneTickPerGridPointPassed) {
  TickClock clock(milliseconds(50), kStart, 100);
  EXPECT_EQ(clock.advance(kStart + milliseconds(49)), 0);
  EXPECT_EQ(clock.advance(kStart + milliseconds(50)), 1);
  EXPECT_EQ(clock.advance(kStart + milliseconds(99)), 0);
  EXPECT_EQ(clock.advance(kStart + milliseconds(260)), 4);
}

TEST(TickClockTest, ALateCallDoesNotMoveTheGrid) {
  TickClock clock(milliseconds(50), kStart, 100);
  // Taken 30 ms late: the next tick is still due at 100 ms, not at 130.
  EXPECT_EQ(clock.advance(kStart + milliseconds(80)), 1);
  EXPECT_EQ(clock.ms_until_next(kStart + milliseconds(80)), 20u);
  EXPECT_EQ(clock.advance(kStart + milliseconds(100)), 1);
}

TEST(TickClockTest, CatchUpIsBounded) {
  TickClock clock(milliseconds(10), kStart, 40);
  EXPECT_EQ(clock.advance(kStart + std::chrono::seconds(60)), 40);
  // The grid moved over every tick passed: nothing more is due.
  EXPECT_EQ(clock.advance(kStart + std::chrono::seconds(60)), 0);
  EXPECT_EQ(clock.ms_until_next(kStart + std::chrono::seconds(60)), 10u);
}

TEST(TickClockTest, WaitsAreRoundedUpToWholeMilliseconds) {
  TickClock clock(milliseconds(10), kStart, 40);
  EXPECT_EQ(clock.ms_until_next(kStart), 10u);
  EXPECT_EQ(clock.ms_until_next(kStart + microseconds(2500)), 8u);
  EXPECT_EQ(clock.ms_until_next(kStart + microseconds(9999)), 1u);
  // A tick due that advance() has not taken: as soon as possible.
  EXPECT_EQ(clock.ms_until_next(kStart + microseconds(10000)), 1u);
  EXPECT_EQ(clock.ms_until_next(kStart + milliseconds(35)), 1u);
}

}  // namespace
}  // namespace dengine::node
