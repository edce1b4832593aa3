// The write-path trace behind dengine-bench --breakdown.
#include "base/write_trace.h"

#include <gtest/gtest.h>

namespace dengine::base::write_trace {
namespace {

constexpr int64_t kUs = 1000;  // nanoseconds

const Span* find(const std::vector<Span>& spans, Stage from, Stage to) {
  for (const Span& s : spans) {
    if (s.from == from && s.to == to) return &s;
  }
  return nullptr;
}

TEST(WriteTraceTest, OffUntilEnabled) {
  ASSERT_FALSE(enabled());
  mark(kProposed, 1);  // no effect, no crash
  EXPECT_TRUE(summarize().empty());
}

TEST(WriteTraceTest, SpansOverTheIndexesWithBothStamps) {
  enable(16);
  ASSERT_TRUE(enabled());
  // Index i proposed at i ms, persisted 100 * i µs later.
  for (uint64_t i = 1; i <= 9; ++i) {
    const int64_t at = static_cast<int64_t>(i) * 1000 * kUs;
    mark_at(kProposed, i, at);
    mark_at(kLeaderPersisted, i, at + static_cast<int64_t>(i) * 100 * kUs);
  }
  mark_at(kApplied, 1, 1000 * kUs + 400 * kUs);
  // A later stamp of a stage keeps the first; past the capacity: nothing.
  mark_at(kLeaderPersisted, 1, 999'000 * kUs);
  mark_at(kProposed, 16, 1);

  const std::vector<Span> spans = summarize();
  const Span* persisted = find(spans, kProposed, kLeaderPersisted);
  ASSERT_NE(persisted, nullptr);
  EXPECT_EQ(persisted->samples, 9u);
  EXPECT_DOUBLE_EQ(persisted->p50_us, 500);
  EXPECT_DOUBLE_EQ(persisted->p90_us, 900);
  EXPECT_DOUBLE_EQ(persisted->mean_us, 500);
  const Span* whole = find(spans, kProposed, kApplied);
  ASSERT_NE(whole, nullptr);
  EXPECT_EQ(whole->samples, 1u);
  EXPECT_DOUBLE_EQ(whole->p50_us, 400);
  const Span* acked = find(spans, kAckArrived, kAckStepped);
  ASSERT_NE(acked, nullptr);
  EXPECT_EQ(acked->samples, 0u);
  EXPECT_STREQ(stage_name(kFollowerPersisted), "follower persisted");

  disable();
  EXPECT_FALSE(enabled());
  EXPECT_TRUE(summarize().empty());
}

}  // namespace
}  // namespace dengine::base::write_trace
