// Inflights and Progress: the leader's per-follower replication state machine.
#include <gtest/gtest.h>

#include "raft/progress.h"

namespace dengine::raft {
namespace {

TEST(Inflights, FullAtMessageLimit) {
  Inflights inflights(3, 1000);
  inflights.add(1, 10);
  inflights.add(2, 10);
  EXPECT_FALSE(inflights.full());
  inflights.add(3, 10);
  EXPECT_TRUE(inflights.full());
  EXPECT_EQ(inflights.count(), 3u);
  EXPECT_EQ(inflights.bytes(), 30u);
}

TEST(Inflights, FullAtByteLimit) {
  Inflights inflights(100, 50);
  inflights.add(1, 49);
  EXPECT_FALSE(inflights.full());
  inflights.add(2, 1);
  EXPECT_TRUE(inflights.full());
}

TEST(Inflights, FreeToForgetsMessagesUpToIndex) {
  Inflights inflights(3, 1000);
  inflights.add(2, 10);
  inflights.add(5, 20);
  inflights.add(9, 40);
  ASSERT_TRUE(inflights.full());
  inflights.free_to(4);
  EXPECT_EQ(inflights.count(), 2u);
  EXPECT_EQ(inflights.bytes(), 60u);
  EXPECT_FALSE(inflights.full());
  inflights.free_to(5);
  EXPECT_EQ(inflights.count(), 1u);
  EXPECT_EQ(inflights.bytes(), 40u);
  inflights.free_to(1);
  EXPECT_EQ(inflights.count(), 1u);
  inflights.free_to(100);
  EXPECT_EQ(inflights.count(), 0u);
  EXPECT_EQ(inflights.bytes(), 0u);
}

TEST(Inflights, ResetForgetsEverything) {
  Inflights inflights(2, 1000);
  inflights.add(1, 10);
  inflights.add(2, 10);
  inflights.reset();
  EXPECT_EQ(inflights.count(), 0u);
  EXPECT_EQ(inflights.bytes(), 0u);
  EXPECT_FALSE(inflights.full());
}

Progress make_progress(Index match, Index next) {
  Progress progress(next, 4, 1000);
  progress.match = match;
  return progress;
}

TEST(Progress, StartsProbingAndUnpaused) {
  Progress progress(7, 4, 1000);
  EXPECT_EQ(progress.state, ProgressState::kProbe);
  EXPECT_EQ(progress.next, 7u);
  EXPECT_EQ(progress.match, 0u);
  EXPECT_FALSE(progress.paused());
}

TEST(Progress, ProbePausesAfterOneAppendUntilAnswered) {
  Progress progress = make_progress(0, 5);
  progress.sent_entries(7, 30);
  EXPECT_TRUE(progress.paused());
  EXPECT_EQ(progress.next, 5u)
      << "probing does not advance next optimistically";
  EXPECT_EQ(progress.inflights.count(), 0u);
  EXPECT_TRUE(progress.maybe_update(7));
  EXPECT_FALSE(progress.paused());
}

TEST(Progress, MaybeUpdateAdvancesMatchAndNextOnly) {
  Progress progress = make_progress(5, 6);
  EXPECT_TRUE(progress.maybe_update(8));
  EXPECT_EQ(progress.match, 8u);
  EXPECT_EQ(progress.next, 9u);
  EXPECT_FALSE(progress.maybe_update(6)) << "an old acknowledgement";
  EXPECT_EQ(progress.match, 8u);
  EXPECT_EQ(progress.next, 9u);
}

TEST(Progress, MaybeUpdateKeepsANextAlreadyAhead) {
  Progress progress = make_progress(5, 6);
  progress.become_replicate();
  progress.sent_entries(20, 10);
  ASSERT_EQ(progress.next, 21u);
  EXPECT_TRUE(progress.maybe_update(10));
  EXPECT_EQ(progress.match, 10u);
  EXPECT_EQ(progress.next, 21u);
}

TEST(Progress, ReplicateSendsOptimisticallyUntilInflightsFull) {
  Progress progress = make_progress(3, 4);
  progress.become_replicate();
  EXPECT_EQ(progress.state, ProgressState::kReplicate);
  EXPECT_EQ(progress.next, 4u);
  for (Index last = 5; last <= 11; last += 2) {
    EXPECT_FALSE(progress.paused());
    progress.sent_entries(last, 10);
    EXPECT_EQ(progress.next, last + 1);
  }
  EXPECT_TRUE(progress.paused()) << "4 messages in flight, limit 4";
  progress.inflights.free_to(5);
  EXPECT_FALSE(progress.paused());
}

TEST(Progress, ReplicateIgnoresRejectionAtOrBelowMatch) {
  Progress progress = make_progress(5, 6);
  progress.become_replicate();
  progress.sent_entries(10, 10);
  EXPECT_FALSE(progress.maybe_decrease(5, 3));
  EXPECT_FALSE(progress.maybe_decrease(4, 3));
  EXPECT_EQ(progress.next, 11u);
}

TEST(Progress, ReplicateRejectionMovesNextBackButNotBelowMatch) {
  Progress progress = make_progress(5, 6);
  progress.become_replicate();
  progress.sent_entries(10, 10);
  EXPECT_TRUE(progress.maybe_decrease(9, 8));
  EXPECT_EQ(progress.next, 8u);
  progress.sent_entries(10, 10);
  EXPECT_TRUE(progress.maybe_decrease(9, 2));
  EXPECT_EQ(progress.next, 6u) << "never below match + 1";
}

TEST(Progress, ProbeIgnoresRejectionOfAnythingButTheLastProbe) {
  Progress progress = make_progress(0, 10);
  progress.sent_entries(12, 10);
  EXPECT_FALSE(progress.maybe_decrease(5, 3)) << "not next - 1 = 9";
  EXPECT_EQ(progress.next, 10u);
  EXPECT_TRUE(progress.paused());
}

TEST(Progress, ProbeRejectionUsesHintAndUnpauses) {
  Progress progress = make_progress(0, 10);
  progress.sent_entries(12, 10);
  EXPECT_TRUE(progress.maybe_decrease(9, 4));
  EXPECT_EQ(progress.next, 4u);
  EXPECT_FALSE(progress.paused());
}

TEST(Progress, ProbeRejectionNeverMovesNextForwardOrToZero) {
  Progress progress = make_progress(0, 10);
  EXPECT_TRUE(progress.maybe_decrease(9, 50));
  EXPECT_EQ(progress.next, 9u) << "capped at the rejected index";
  EXPECT_TRUE(progress.maybe_decrease(8, 0));
  EXPECT_EQ(progress.next, 1u);
}

TEST(Progress, SnapshotStateIsPausedAndTracksPendingSnapshot) {
  Progress progress = make_progress(2, 3);
  progress.become_replicate();
  progress.sent_entries(5, 10);
  progress.become_snapshot(40);
  EXPECT_EQ(progress.state, ProgressState::kSnapshot);
  EXPECT_EQ(progress.pending_snapshot, 40u);
  EXPECT_EQ(progress.inflights.count(), 0u);
  EXPECT_TRUE(progress.paused());
}

TEST(Progress, ProbeAfterSnapshotResumesPastTheSnapshot) {
  Progress progress = make_progress(2, 3);
  progress.become_snapshot(40);
  progress.become_probe();
  EXPECT_EQ(progress.state, ProgressState::kProbe);
  EXPECT_EQ(progress.next, 41u);
  EXPECT_EQ(progress.pending_snapshot, 0u);
  EXPECT_FALSE(progress.paused());
}

TEST(Progress, ProbeAfterSnapshotUsesMatchWhenAhead) {
  Progress progress = make_progress(2, 3);
  progress.become_snapshot(40);
  progress.maybe_update(45);
  progress.become_probe();
  EXPECT_EQ(progress.next, 46u);
}

TEST(Progress, ProbeFromReplicateRestartsAfterMatch) {
  Progress progress = make_progress(5, 6);
  progress.become_replicate();
  progress.sent_entries(10, 10);
  progress.sent_entries(15, 10);
  progress.become_probe();
  EXPECT_EQ(progress.next, 6u);
  EXPECT_EQ(progress.inflights.count(), 0u);
  EXPECT_FALSE(progress.paused());
}

TEST(Progress, StateNames) {
  EXPECT_STREQ(to_string(ProgressState::kProbe), "Probe");
  EXPECT_STREQ(to_string(ProgressState::kReplicate), "Replicate");
  EXPECT_STREQ(to_string(ProgressState::kSnapshot), "Snapshot");
}

}  // namespace
}  // namespace dengine::raft
