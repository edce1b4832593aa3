// Quorum arithmetic: the commit index a majority of voters holds, and the
// outcome of a vote tally.
#include <gtest/gtest.h>

#include <map>

#include "raft/quorum.h"

namespace dengine::raft::quorum {
namespace {

// Each voter has acknowledged the value in `acked`; absent ones nothing.
Acked from(const std::map<NodeId, uint64_t>& acked) {
  return [acked](NodeId voter) {
    auto it = acked.find(voter);
    return it == acked.end() ? uint64_t{0} : it->second;
  };
}

ConfState voters(std::vector<NodeId> ids, std::vector<NodeId> learners = {}) {
  return ConfState{std::move(ids), std::move(learners)};
}

TEST(Quorum, MajorityOfVoters) {
  EXPECT_EQ(majority(1), 1u);
  EXPECT_EQ(majority(2), 2u);
  EXPECT_EQ(majority(3), 2u);
  EXPECT_EQ(majority(4), 3u);
  EXPECT_EQ(majority(5), 3u);
}

TEST(Quorum, SingleVoterCommitsWhatItHolds) {
  EXPECT_EQ(committed_index(voters({1}), from({{1, 7}})), 7u);
  EXPECT_EQ(committed_index(voters({1}), from({})), 0u);
}

TEST(Quorum, ThreeVotersCommitTheSecondHighestMatch) {
  EXPECT_EQ(committed_index(voters({1, 2, 3}), from({{1, 9}, {2, 5}, {3, 2}})),
            5u);
  // Only one voter holds anything: no majority yet.
  EXPECT_EQ(committed_index(voters({1, 2, 3}), from({{1, 9}})), 0u);
  EXPECT_EQ(committed_index(voters({1, 2, 3}), from({{1, 4}, {3, 4}})), 4u);
}

TEST(Quorum, FiveVotersCommitTheThirdHighestMatch) {
  const ConfState conf = voters({1, 2, 3, 4, 5});
  EXPECT_EQ(
      committed_index(conf, from({{1, 10}, {2, 8}, {3, 6}, {4, 4}, {5, 2}})),
      6u);
  EXPECT_EQ(committed_index(conf, from({{1, 10}, {2, 8}})), 0u);
  EXPECT_EQ(committed_index(conf, from({{2, 3}, {4, 3}, {5, 3}})), 3u);
}

TEST(Quorum, LearnersNeverCount) {
  // Learners 4 and 5 hold everything; only voter 1 does among the voters.
  const ConfState conf = voters({1, 2, 3}, {4, 5});
  EXPECT_EQ(committed_index(conf, from({{1, 9}, {4, 9}, {5, 9}})), 0u);
  EXPECT_EQ(committed_index(conf, from({{1, 9}, {2, 6}, {4, 9}, {5, 9}})), 6u);
}

TEST(Quorum, NoVotersCommitNothing) {
  EXPECT_EQ(committed_index(voters({}), from({{1, 5}})), 0u);
}

TEST(Quorum, VoteWonByAMajorityOfGrants) {
  EXPECT_EQ(vote_result(voters({1}), {{1, true}}), VoteResult::kWon);
  EXPECT_EQ(vote_result(voters({1, 2, 3}), {{1, true}, {3, true}}),
            VoteResult::kWon);
  EXPECT_EQ(vote_result(voters({1, 2, 3, 4, 5}),
                        {{1, true}, {2, false}, {4, true}, {5, true}}),
            VoteResult::kWon);
}

TEST(Quorum, VoteLostByAMajorityOfRejections) {
  EXPECT_EQ(vote_result(voters({1, 2, 3}), {{1, true}, {2, false}, {3, false}}),
            VoteResult::kLost);
  EXPECT_EQ(vote_result(voters({1, 2, 3, 4, 5}),
                        {{1, true}, {2, false}, {3, false}, {4, false}}),
            VoteResult::kLost);
}

TEST(Quorum, VotePendingWhileNeitherSideHasAMajority) {
  EXPECT_EQ(vote_result(voters({1, 2, 3}), {{1, true}}), VoteResult::kPending);
  EXPECT_EQ(vote_result(voters({1, 2, 3}), {{1, true}, {2, false}}),
            VoteResult::kPending);
  EXPECT_EQ(vote_result(voters({1, 2, 3, 4, 5}),
                        {{1, true}, {2, true}, {3, false}, {4, false}}),
            VoteResult::kPending);
}

TEST(Quorum, VotesOfNonVotersAreIgnored) {
  // Learner 4 and stranger 9 grant; only voter 1 of three did.
  EXPECT_EQ(
      vote_result(voters({1, 2, 3}, {4}), {{1, true}, {4, true}, {9, true}}),
      VoteResult::kPending);
  EXPECT_EQ(vote_result(voters({1, 2, 3}, {4}),
                        {{1, true}, {2, false}, {4, false}, {9, false}}),
            VoteResult::kPending);
}

}  // namespace
}  // namespace dengine::raft::quorum
