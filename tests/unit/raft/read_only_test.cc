// ReadOnly: the books of ReadIndex rounds, the lease and forwarded reads.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "raft/read_only.h"

namespace dengine::raft {
namespace {

Config lease_config() {
  Config config;
  config.election_tick = 10;
  config.lease_drift_ticks = 2;
  config.check_quorum = true;
  return config;
}

std::vector<std::string> contexts(const std::vector<PendingRead>& reads) {
  std::vector<std::string> out;
  for (const PendingRead& read : reads) out.push_back(read.context);
  return out;
}

TEST(ReadOnly, ReadWaitsForARoundStartedAfterIt) {
  ReadOnly reads(lease_config(), 1);
  reads.start_round(0);  // round 1, before the read
  reads.add("a", kNoNode, 5);
  EXPECT_TRUE(reads.round_wanted());
  EXPECT_TRUE(reads.confirm(1).empty());
  reads.start_round(1);  // round 2
  EXPECT_FALSE(reads.round_wanted());
  const std::vector<PendingRead> released = reads.confirm(2);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].context, "a");
  EXPECT_EQ(released[0].index, 5u);
}

TEST(ReadOnly, ConfirmReleasesOnlyReadsOfConfirmedRounds) {
  ReadOnly reads(lease_config(), 1);
  reads.add("a", kNoNode, 1);
  reads.start_round(0);  // round 1 carries "a"
  reads.add("b", 2, 1);
  reads.start_round(0);  // round 2 carries "b"
  EXPECT_EQ(contexts(reads.confirm(1)), std::vector<std::string>{"a"});
  EXPECT_EQ(contexts(reads.take_pending()), std::vector<std::string>{"b"});
}

TEST(ReadOnly, ReadsBeforeReadyJoinTheNextRound) {
  ReadOnly reads(lease_config(), 1);
  reads.add_before_ready("early", 3);
  EXPECT_FALSE(reads.round_wanted());
  reads.leader_ready(4);
  EXPECT_TRUE(reads.round_wanted());
  reads.start_round(0);
  const std::vector<PendingRead> released = reads.confirm(1);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].requester, 3u);
  EXPECT_EQ(released[0].index, 4u);
}

TEST(ReadOnly, TakePendingListsBeforeReadyReadsFirst) {
  ReadOnly reads(lease_config(), 1);
  reads.add("pending", kNoNode, 1);
  reads.add_before_ready("early", kNoNode);
  EXPECT_EQ(contexts(reads.take_pending()),
            (std::vector<std::string>{"early", "pending"}));
  EXPECT_TRUE(reads.take_pending().empty());
}

TEST(ReadOnly, ConfirmedRoundEarnsALeaseFromItsStart) {
  ReadOnly reads(lease_config(), 1);
  EXPECT_FALSE(reads.lease_valid(0));
  reads.start_round(3);
  reads.confirm(1);
  // election_tick - lease_drift_ticks = 8 ticks from tick 3.
  EXPECT_TRUE(reads.lease_valid(10));
  EXPECT_FALSE(reads.lease_valid(11));
}

TEST(ReadOnly, RoundOlderThanAnElectionTimeoutEarnsNoLease) {
  ReadOnly reads(lease_config(), 1);
  reads.start_round(0);   // round 1
  reads.start_round(10);  // round 2; round 1 is too old now
  reads.confirm(1);
  EXPECT_FALSE(reads.lease_valid(10));
}

TEST(ReadOnly, NoLeaseWithoutCheckQuorum) {
  Config config = lease_config();
  config.check_quorum = false;
  ReadOnly reads(config, 1);
  reads.start_round(0);
  reads.confirm(1);
  EXPECT_FALSE(reads.lease_valid(0));
}

TEST(ReadOnly, ForfeitedLeaseStaysLostUntilReset) {
  ReadOnly reads(lease_config(), 1);
  reads.forfeit_lease();
  reads.start_round(0);
  reads.confirm(1);
  EXPECT_FALSE(reads.lease_valid(0));
  reads.reset();
  reads.start_round(0);
  reads.confirm(2);
  EXPECT_TRUE(reads.lease_valid(0));
}

TEST(ReadOnly, ForwardedReadCarriesTheNonce) {
  ReadOnly reads(lease_config(), 1);
  const std::string wire = reads.forward("ctx", 0);
  ASSERT_EQ(wire.size(), 17u + 3u);
  EXPECT_EQ(wire.substr(16), ":ctx");
  EXPECT_TRUE(reads.has_forwarded());
  EXPECT_EQ(reads.answer(wire), "ctx");
  EXPECT_FALSE(reads.has_forwarded());
  EXPECT_EQ(reads.answer(wire), std::nullopt);  // a duplicate
}

TEST(ReadOnly, AnswerForAnEarlierInstanceIsNotOurs) {
  ReadOnly earlier(lease_config(), 1);
  ReadOnly now(lease_config(), 2);
  const std::string old_wire = earlier.forward("ctx", 0);
  now.forward("ctx", 0);
  EXPECT_EQ(now.answer(old_wire), std::nullopt);
  EXPECT_TRUE(now.has_forwarded());
}

TEST(ReadOnly, ForwardedReadsExpireAfterTwoElectionTimeouts) {
  ReadOnly reads(lease_config(), 1);
  reads.forward("old", 0);
  reads.forward("new", 5);
  EXPECT_TRUE(reads.expire_forwarded(19).empty());
  EXPECT_EQ(reads.expire_forwarded(20), std::vector<std::string>{"old"});
  EXPECT_EQ(reads.take_forwarded(), std::vector<std::string>{"new"});
  EXPECT_FALSE(reads.has_forwarded());
}

}  // namespace
}  // namespace dengine::raft
