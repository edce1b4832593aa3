// The checker itself, on small histories written by hand (and one generated
// from a real register), before it is trusted with a cluster's.
#include "linearizability.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

namespace dengine::cluster_test {
namespace {

Operation put(std::string key, std::string value, int64_t call, int64_t ret) {
  Operation op;
  op.kind = OpKind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.call_ns = call;
  op.return_ns = ret;
  return op;
}

Operation get(std::string key, Value output, int64_t call, int64_t ret) {
  Operation op;
  op.kind = OpKind::kGet;
  op.key = std::move(key);
  op.output = std::move(output);
  op.call_ns = call;
  op.return_ns = ret;
  return op;
}

Operation cas(std::string key, Value expected, std::string value, bool swapped,
              Value output, int64_t call, int64_t ret) {
  Operation op;
  op.kind = OpKind::kCompareAndSwap;
  op.key = std::move(key);
  op.expected = std::move(expected);
  op.value = std::move(value);
  op.swapped = swapped;
  op.output = std::move(output);
  op.call_ns = call;
  op.return_ns = ret;
  return op;
}

Operation unknown(Operation op) {
  op.known = false;
  op.output.reset();
  op.swapped = false;
  return op;
}

TEST(LinearizabilityTest, EmptyHistoryIsLinearizable) {
  EXPECT_TRUE(check_linearizable({}).linearizable);
}

TEST(LinearizabilityTest, SequentialReadsOfTheLastWritePass) {
  EXPECT_TRUE(check_linearizable({get("a", std::nullopt, 0, 5),
                                  put("a", "1", 10, 20), get("a", "1", 30, 40),
                                  put("a", "2", 50, 60), get("a", "2", 70, 80)})
                  .linearizable);
}

TEST(LinearizabilityTest, StaleReadFails) {
  LinearizabilityResult result = check_linearizable(
      {put("a", "1", 0, 10), put("a", "2", 20, 30), get("a", "1", 40, 50)});
  EXPECT_FALSE(result.linearizable);
  EXPECT_NE(result.explanation.find("key a"), std::string::npos)
      << result.explanation;
  EXPECT_NE(result.explanation.find("get(a) -> 1"), std::string::npos)
      << result.explanation;
}

TEST(LinearizabilityTest, ReadOfAValueNeverWrittenFails) {
  EXPECT_FALSE(check_linearizable({put("a", "1", 0, 10), get("a", "7", 20, 30)})
                   .linearizable);
}

TEST(LinearizabilityTest, ReadsConcurrentWithAWriteMaySeeEitherValue) {
  // The put spans both reads: the first sees the old value, the second the
  // new one.
  EXPECT_TRUE(
      check_linearizable({put("a", "1", 0, 100), get("a", std::nullopt, 10, 20),
                          get("a", "1", 30, 40)})
          .linearizable);
}

TEST(LinearizabilityTest, ReadsCannotGoBackInTime) {
  // Once a read saw the new value, a later read may not see the old one,
  // though the write is still in progress.
  EXPECT_FALSE(check_linearizable({put("a", "1", 0, 100), get("a", "1", 10, 20),
                                   get("a", std::nullopt, 30, 40)})
                   .linearizable);
}

TEST(LinearizabilityTest, CompareAndSwapFollowsTheRegister) {
  EXPECT_TRUE(check_linearizable(
                  {put("a", "1", 0, 10), cas("a", "1", "2", true, "2", 20, 30),
                   cas("a", "1", "3", false, "2", 40, 50),
                   cas("a", std::nullopt, "4", false, "2", 60, 70),
                   get("a", "2", 80, 90)})
                  .linearizable);
  EXPECT_TRUE(check_linearizable({cas("a", std::nullopt, "1", true, "1", 0, 10),
                                  get("a", "1", 20, 30)})
                  .linearizable);
}

TEST(LinearizabilityTest, TwoConcurrentSwapsFromOneValueCannotBothWin) {
  EXPECT_FALSE(check_linearizable({put("a", "1", 0, 10),
                                   cas("a", "1", "2", true, "2", 20, 40),
                                   cas("a", "1", "3", true, "3", 25, 35)})
                   .linearizable);
  // One wins and the other sees its value.
  EXPECT_TRUE(check_linearizable({put("a", "1", 0, 10),
                                  cas("a", "1", "2", true, "2", 20, 40),
                                  cas("a", "1", "3", false, "2", 25, 35)})
                  .linearizable);
}

TEST(LinearizabilityTest, FailedSwapMustReportTheCurrentValue) {
  EXPECT_FALSE(check_linearizable({put("a", "1", 0, 10),
                                   cas("a", "5", "2", false, "5", 20, 30)})
                   .linearizable);
}

TEST(LinearizabilityTest, UnknownWriteMayTakeEffectLateOrNever) {
  // Called before both reads, never returned: seen by the second only.
  EXPECT_TRUE(check_linearizable({unknown(put("a", "1", 0, 0)),
                                  get("a", std::nullopt, 10, 20),
                                  get("a", "1", 30, 40)})
                  .linearizable);
  // Or by none.
  EXPECT_TRUE(check_linearizable({unknown(put("a", "1", 0, 0)),
                                  get("a", std::nullopt, 10, 20)})
                  .linearizable);
  // An unknown swap behaves as the register says when it lands.
  EXPECT_TRUE(check_linearizable({put("a", "1", 0, 10),
                                  unknown(cas("a", "1", "2", {}, {}, 20, 0)),
                                  get("a", "1", 30, 40), get("a", "2", 50, 60)})
                  .linearizable);
}

TEST(LinearizabilityTest, UnknownWriteCannotTakeEffectBeforeItsCall) {
  EXPECT_FALSE(
      check_linearizable({get("a", "1", 0, 10), unknown(put("a", "1", 20, 0))})
          .linearizable);
}

TEST(LinearizabilityTest, KeysAreCheckedApart) {
  LinearizabilityResult result = check_linearizable(
      {put("a", "1", 0, 10), put("b", "1", 0, 10), get("a", "1", 20, 30),
       put("b", "2", 20, 30), get("b", "1", 40, 50)});
  EXPECT_FALSE(result.linearizable);
  EXPECT_NE(result.explanation.find("key b"), std::string::npos)
      << result.explanation;
  EXPECT_EQ(result.explanation.find("key a"), std::string::npos)
      << result.explanation;
}

// Clients run overlapping operations on a real register, each taking effect
// at a random point inside its interval: the history must pass, and be
// checked quickly despite the overlaps.
TEST(LinearizabilityTest, GeneratedHistoryOfARealRegisterPasses) {
  std::mt19937_64 random(7);
  struct Planned {
    Operation op;
    int64_t point;
  };
  std::vector<Planned> plan;
  const int kClients = 5;
  for (int client = 0; client < kClients; ++client) {
    int64_t time = static_cast<int64_t>(random() % 10);
    for (int i = 0; i < 80; ++i) {
      Operation op;
      op.client = client;
      op.key = random() % 2 == 0 ? "x" : "y";
      op.call_ns = time;
      op.return_ns = time + 1 + static_cast<int64_t>(random() % 40);
      switch (random() % 3) {
        case 0:
          op.kind = OpKind::kPut;
          op.value = std::to_string(client) + "-" + std::to_string(i);
          break;
        case 1:
          op.kind = OpKind::kGet;
          break;
        default:
          op.kind = OpKind::kCompareAndSwap;
          op.expected = std::to_string(random() % kClients) + "-" +
                        std::to_string(random() % 3 == 0 ? i : i - 1);
          op.value = std::to_string(client) + "-" + std::to_string(i);
          break;
      }
      const int64_t point =
          op.call_ns +
          static_cast<int64_t>(
              random() % static_cast<uint64_t>(op.return_ns - op.call_ns + 1));
      plan.push_back({op, point});
      time = op.return_ns + static_cast<int64_t>(random() % 5);
    }
  }
  std::stable_sort(
      plan.begin(), plan.end(),
      [](const Planned& a, const Planned& b) { return a.point < b.point; });
  std::map<std::string, Value> registers;
  std::vector<Operation> history;
  for (size_t i = 0; i < plan.size(); ++i) {
    Operation& op = plan[i].op;
    Value& reg = registers[op.key];
    switch (op.kind) {
      case OpKind::kPut:
        reg = op.value;
        break;
      case OpKind::kGet:
        op.output = reg;
        break;
      case OpKind::kCompareAndSwap:
        op.swapped = reg == op.expected;
        if (op.swapped) reg = op.value;
        op.output = reg;
        break;
    }
    // Some writes lose their answer.
    if (op.kind != OpKind::kGet && i % 37 == 0) op = unknown(op);
    history.push_back(op);
  }
  LinearizabilityResult result = check_linearizable(history);
  EXPECT_TRUE(result.linearizable) << result.explanation;

  // The same history with one read changed to a value never written.
  for (Operation& op : history) {
    if (op.kind == OpKind::kGet && op.known && op.call_ns > 1500 &&
        op.key == "x") {
      op.output = "never-written";
      break;
    }
  }
  EXPECT_FALSE(check_linearizable(history).linearizable);
}

}  // namespace
}  // namespace dengine::cluster_test
