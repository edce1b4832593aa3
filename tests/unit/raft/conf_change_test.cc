// Membership changes one node at a time, and the binary record carried by
// kConfChange entries.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "raft/conf_change.h"

namespace dengine::raft {
namespace {

ConfChange change(ConfChangeType type, NodeId node) {
  return ConfChange{type, node, ""};
}

TEST(ConfChange, AddLearnerKeepsLearnersSorted) {
  ConfState out;
  EXPECT_EQ(apply_conf_change(ConfState{{1, 2, 3}, {7}},
                              change(ConfChangeType::kAddLearner, 4), &out),
            "");
  EXPECT_EQ(out, (ConfState{{1, 2, 3}, {4, 7}}));
}

TEST(ConfChange, AddLearnerRefusesAnExistingMember) {
  ConfState out{{9}, {}};
  EXPECT_EQ(apply_conf_change(ConfState{{1, 2, 3}, {4}},
                              change(ConfChangeType::kAddLearner, 4), &out),
            "node 4 is already a member");
  EXPECT_EQ(apply_conf_change(ConfState{{1, 2, 3}, {4}},
                              change(ConfChangeType::kAddLearner, 2), &out),
            "node 2 is already a member");
  EXPECT_EQ(out, (ConfState{{9}, {}})) << "out untouched on refusal";
}

TEST(ConfChange, PromoteLearnerMovesItToVotersSorted) {
  ConfState out;
  EXPECT_EQ(apply_conf_change(ConfState{{1, 5}, {3, 4}},
                              change(ConfChangeType::kPromoteLearner, 3), &out),
            "");
  EXPECT_EQ(out, (ConfState{{1, 3, 5}, {4}}));
}

TEST(ConfChange, PromoteRefusesAVoterOrStranger) {
  ConfState out;
  EXPECT_EQ(apply_conf_change(ConfState{{1, 2, 3}, {}},
                              change(ConfChangeType::kPromoteLearner, 2), &out),
            "node 2 is not a learner");
  EXPECT_EQ(apply_conf_change(ConfState{{1, 2, 3}, {}},
                              change(ConfChangeType::kPromoteLearner, 4), &out),
            "node 4 is not a learner");
}

TEST(ConfChange, RemoveNodeRemovesVoterOrLearner) {
  ConfState out;
  EXPECT_EQ(apply_conf_change(ConfState{{1, 2, 3}, {4}},
                              change(ConfChangeType::kRemoveNode, 2), &out),
            "");
  EXPECT_EQ(out, (ConfState{{1, 3}, {4}}));
  EXPECT_EQ(apply_conf_change(ConfState{{1, 2, 3}, {4}},
                              change(ConfChangeType::kRemoveNode, 4), &out),
            "");
  EXPECT_EQ(out, (ConfState{{1, 2, 3}, {}}));
}

TEST(ConfChange, RemoveRefusesANonMember) {
  ConfState out;
  EXPECT_EQ(apply_conf_change(ConfState{{1, 2, 3}, {}},
                              change(ConfChangeType::kRemoveNode, 9), &out),
            "node 9 is not a member");
}

TEST(ConfChange, RemoveRefusesTheLastVoter) {
  ConfState out;
  EXPECT_EQ(apply_conf_change(ConfState{{1}, {2}},
                              change(ConfChangeType::kRemoveNode, 1), &out),
            "cannot remove the last voter");
  EXPECT_EQ(apply_conf_change(ConfState{{1}, {2}},
                              change(ConfChangeType::kRemoveNode, 2), &out),
            "")
      << "a learner may go even when one voter is left";
  EXPECT_EQ(out, (ConfState{{1}, {}}));
}

TEST(ConfChange, RefusesNodeIdZero) {
  ConfState out;
  for (ConfChangeType type :
       {ConfChangeType::kAddLearner, ConfChangeType::kPromoteLearner,
        ConfChangeType::kRemoveNode}) {
    EXPECT_EQ(apply_conf_change(ConfState{{1}, {}}, change(type, 0), &out),
              "node id 0 is not a valid member")
        << to_string(type);
  }
}

TEST(ConfChange, ResultIsSortedEvenFromAnUnsortedConf) {
  ConfState out;
  EXPECT_EQ(apply_conf_change(ConfState{{3, 1, 2}, {9, 5}},
                              change(ConfChangeType::kAddLearner, 6), &out),
            "");
  EXPECT_EQ(out, (ConfState{{1, 2, 3}, {5, 6, 9}}));
}

TEST(ConfChange, TypeNames) {
  EXPECT_STREQ(to_string(ConfChangeType::kAddLearner), "AddLearner");
  EXPECT_STREQ(to_string(ConfChangeType::kPromoteLearner), "PromoteLearner");
  EXPECT_STREQ(to_string(ConfChangeType::kRemoveNode), "RemoveNode");
  EXPECT_STREQ(to_string(ConfChangeType::kBootstrap), "Bootstrap");
}

TEST(ConfChange, BootstrapIsNotAChangeToApply) {
  ConfState out;
  EXPECT_EQ(
      apply_conf_change(ConfState{{1}, {}},
                        ConfChange{ConfChangeType::kBootstrap, 2, ""}, &out),
      "bootstrap only creates a cluster; it changes no membership");
  EXPECT_EQ(
      apply_conf_change(ConfState{},
                        ConfChange{ConfChangeType::kBootstrap, 0, ""}, &out),
      "bootstrap only creates a cluster; it changes no membership");
}

std::vector<ConfChangeRecord> sample_records() {
  return {
      ConfChangeRecord{},
      ConfChangeRecord{
          ConfChange{ConfChangeType::kAddLearner, 4, "10.0.0.4:7000"},
          ConfState{{1, 2, 3}, {4}}},
      ConfChangeRecord{ConfChange{ConfChangeType::kPromoteLearner, 4, ""},
                       ConfState{{1, 2, 3, 4}, {}}},
      ConfChangeRecord{
          ConfChange{ConfChangeType::kRemoveNode, UINT64_MAX,
                     std::string("\0\xff\x80", 3)},
          ConfState{{127, 128, 16384, UINT64_MAX - 1}, {1ull << 63, 300}}},
      ConfChangeRecord{
          ConfChange{ConfChangeType::kAddLearner, 200, std::string(1000, 'c')},
          ConfState{{1}, {200}}},
  };
}

TEST(ConfChangeCodec, RoundTripsEveryField) {
  for (const ConfChangeRecord& record : sample_records()) {
    const std::string encoded = encode_conf_change(record);
    const std::optional<ConfChangeRecord> decoded = decode_conf_change(encoded);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, record);
  }
}

TEST(ConfChangeCodec, StartsWithFormatVersionOne) {
  const std::string encoded = encode_conf_change(sample_records()[1]);
  ASSERT_FALSE(encoded.empty());
  EXPECT_EQ(encoded[0], 1);
}

TEST(ConfChangeCodec, RefusesEmptyInput) {
  EXPECT_FALSE(decode_conf_change("").has_value());
}

TEST(ConfChangeCodec, RefusesUnknownVersion) {
  std::string encoded = encode_conf_change(sample_records()[1]);
  encoded[0] = 2;
  EXPECT_FALSE(decode_conf_change(encoded).has_value());
  encoded[0] = 0;
  EXPECT_FALSE(decode_conf_change(encoded).has_value());
}

TEST(ConfChangeCodec, RefusesUnknownChangeType) {
  std::string encoded = encode_conf_change(sample_records()[1]);
  encoded[1] = 4;
  EXPECT_FALSE(decode_conf_change(encoded).has_value());
}

TEST(ConfChangeCodec, RefusesTrailingBytes) {
  std::string encoded = encode_conf_change(sample_records()[1]);
  encoded.push_back('\0');
  EXPECT_FALSE(decode_conf_change(encoded).has_value());
}

TEST(ConfChangeCodec, RefusesANodeThatIsBothVoterAndLearner) {
  ConfChangeRecord record = sample_records()[1];
  record.conf = ConfState{{1, 2}, {2}};
  EXPECT_FALSE(decode_conf_change(encode_conf_change(record)).has_value());
}

TEST(ConfChangeCodec, RefusesDuplicateIds) {
  ConfChangeRecord record = sample_records()[1];
  record.conf = ConfState{{1, 2, 1}, {}};
  EXPECT_FALSE(decode_conf_change(encode_conf_change(record)).has_value());
  record.conf = ConfState{{1}, {5, 5}};
  EXPECT_FALSE(decode_conf_change(encode_conf_change(record)).has_value());
}

TEST(ConfChangeCodec, RefusesMemberIdZero) {
  ConfChangeRecord record = sample_records()[1];
  record.conf = ConfState{{0, 1}, {}};
  EXPECT_FALSE(decode_conf_change(encode_conf_change(record)).has_value());
}

TEST(ConfChangeCodec, RefusesACountLargerThanTheRemainingBytes) {
  // version 1, AddLearner, node 4, empty context, 2^62 voters, no ids.
  const std::string encoded(
      "\x01\x00\x04\x00\x80\x80\x80\x80\x80\x80\x80\x80\x40", 13);
  EXPECT_FALSE(decode_conf_change(encoded).has_value());
}

TEST(ConfChangeCodec, RefusesAVarintLongerThan64Bits) {
  std::string encoded("\x01\x00", 2);
  encoded += std::string(10, '\xff');
  encoded += std::string("\x01\x00\x00\x00", 4);
  EXPECT_FALSE(decode_conf_change(encoded).has_value());
}

TEST(ConfChangeCodec, RefusesEveryTruncation) {
  for (const ConfChangeRecord& record : sample_records()) {
    const std::string encoded = encode_conf_change(record);
    for (size_t size = 0; size < encoded.size(); ++size) {
      EXPECT_FALSE(decode_conf_change(encoded.substr(0, size)).has_value())
          << "truncated to " << size << " of " << encoded.size();
    }
  }
}

// Whatever the bytes, decoding returns (never crashes, never throws), and
// anything it accepts is a well-formed record that encodes back to the input.
TEST(ConfChangeCodec, SurvivesRandomMutations) {
  std::mt19937_64 rng(20240611);
  int accepted = 0;
  for (const ConfChangeRecord& record : sample_records()) {
    const std::string encoded = encode_conf_change(record);
    for (int round = 0; round < 20000; ++round) {
      std::string mutated = encoded;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        const size_t at = rng() % (mutated.size() + 1);
        switch (rng() % 3) {
          case 0:
            if (at < mutated.size()) mutated[at] = static_cast<char>(rng());
            break;
          case 1:
            mutated.insert(at, 1, static_cast<char>(rng()));
            break;
          case 2:
            if (at < mutated.size()) mutated.erase(at, 1);
            break;
        }
      }
      const std::optional<ConfChangeRecord> decoded =
          decode_conf_change(mutated);
      if (!decoded) continue;
      ++accepted;
      ASSERT_EQ(encode_conf_change(*decoded), mutated);
      for (NodeId id : decoded->conf.voters) {
        ASSERT_NE(id, kNoNode);
        ASSERT_FALSE(decoded->conf.is_learner(id));
      }
    }
  }
  EXPECT_GT(accepted, 0) << "some mutations (e.g. of context bytes) are valid";
}

}  // namespace
}  // namespace dengine::raft
