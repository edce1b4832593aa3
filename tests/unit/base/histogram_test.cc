#include "base/histogram.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace dengine::base {
namespace {

TEST(HistogramTest, CountsEachValueInTheFirstBucketThatHoldsIt) {
  Histogram h({1, 2, 4});
  for (double v : {0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5, 100.0}) h.observe(v);
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.upper_bounds, (std::vector<double>{1, 2, 4}));
  // <= 1: 0.5, 1; <= 2: 1.5, 2; <= 4: 3, 4; above: 4.5, 100.
  EXPECT_EQ(s.counts, (std::vector<uint64_t>{2, 2, 2, 2}));
  EXPECT_EQ(s.count, 8u);
  EXPECT_DOUBLE_EQ(s.sum, 116.5);
}

TEST(HistogramTest, ObservationsFromManyThreadsAreAllCounted) {
  Histogram h(Histogram::exponential(1, 2, 4));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) h.observe(i % 10);
    });
  }
  for (std::thread& t : threads) t.join();
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_DOUBLE_EQ(s.sum, 4 * 1000 * 45.0);
}

TEST(HistogramTest, ExponentialBounds) {
  EXPECT_EQ(Histogram::exponential(0.5, 2, 4),
            (std::vector<double>{0.5, 1, 2, 4}));
  EXPECT_TRUE(Histogram::exponential(1, 2, 0).empty());
}

}  // namespace
}  // namespace dengine::base
