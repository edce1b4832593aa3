// The KV byte formats: round trips, and no input, however damaged, makes a
// decoder crash or accept something it would not have produced.
#include "sm/kv_command.h"

#include <gtest/gtest.h>

#include <random>

namespace dengine::sm {
namespace {

std::vector<KvCommand> sample_commands() {
  return {KvCommand::put("k", "v").at(7),
          KvCommand::put("key", ""),
          KvCommand::put_with_ttl("t", "value", 500).at(1000),
          KvCommand::erase("gone").at(3),
          KvCommand::compare_and_swap("c", "old", "new").at(9),
          KvCommand::create_if_absent("fresh", "first").at(10),
          KvCommand::tick(12345)};
}

std::vector<KvRead> sample_reads() {
  return {KvRead::get("a"), KvRead::get_multi({"a", "bb", "ccc"}),
          KvRead::scan_prefix("pre", 10), KvRead::scan_prefix("", 1)};
}

TEST(KvCommandTest, StampingSetsOnlyTheTimestampOfACommand) {
  for (const KvCommand& c : sample_commands()) {
    std::string bytes = encode_command(c);
    stamp_command(&bytes, 987654321);
    KvCommand back;
    ASSERT_TRUE(decode_command(bytes, &back));
    EXPECT_EQ(back.timestamp_ms, 987654321u);
    EXPECT_EQ(back.type, c.type);
    EXPECT_EQ(back.key, c.key);
    EXPECT_EQ(back.value, c.value);
  }
  // Bytes that are not a command are left as they are.
  for (std::string junk :
       {std::string(), std::string("short"), std::string(20, '\x7f')}) {
    const std::string before = junk;
    stamp_command(&junk, 1);
    EXPECT_EQ(junk, before);
  }
}

TEST(KvCommandTest, CompareAndSwapWithoutExpectedValueWantsTheKeyAbsent) {
  const KvCommand absent = KvCommand::compare_and_swap("k", std::nullopt, "v");
  EXPECT_TRUE(absent.expect_absent);
  const KvCommand empty = KvCommand::compare_and_swap("k", "", "v");
  EXPECT_FALSE(empty.expect_absent);
  EXPECT_EQ(empty.expected, "");
}

TEST(KvCommandTest, WriteOutcomes) {
  KvWriteOutcome o;
  ASSERT_TRUE(decode_write_outcome(
      encode_result({KvResultCode::kCasFailed, true, "cur"}), &o));
  EXPECT_FALSE(o.applied);
  EXPECT_TRUE(o.existed);
  ASSERT_TRUE(
      decode_write_outcome(encode_result({KvResultCode::kOk, false, ""}), &o));
  EXPECT_TRUE(o.applied);
  EXPECT_FALSE(o.existed);
  EXPECT_EQ(decode_write_outcome(
                encode_result({KvResultCode::kBadCommand, false, ""}), &o)
                .code(),
            storage::StatusCode::kInvalidArgument);
  EXPECT_EQ(decode_write_outcome("junk", &o).code(),
            storage::StatusCode::kCorruption);
}

TEST(KvCommandTest, CommandsRoundTrip) {
  for (const KvCommand& c : sample_commands()) {
    KvCommand back;
    ASSERT_TRUE(decode_command(encode_command(c), &back));
    EXPECT_EQ(back.type, c.type);
    EXPECT_EQ(back.timestamp_ms, c.timestamp_ms);
    EXPECT_EQ(back.key, c.key);
    EXPECT_EQ(back.value, c.value);
    EXPECT_EQ(back.ttl_ms, c.ttl_ms);
    EXPECT_EQ(back.expect_absent, c.expect_absent);
    EXPECT_EQ(back.expected, c.expected);
  }
}

TEST(KvCommandTest, RefusesInvalidCommands) {
  KvCommand out;
  EXPECT_FALSE(decode_command("", &out));
  EXPECT_FALSE(
      decode_command(encode_command(KvCommand::put("", "v").at(1)), &out))
      << "empty key";
  EXPECT_FALSE(decode_command(
      encode_command(KvCommand::put_with_ttl("k", "v", 0).at(1)), &out))
      << "a TTL of 0 would expire at once";
  std::string wrong_version = encode_command(KvCommand::put("k", "v").at(1));
  wrong_version[0] = 2;
  EXPECT_FALSE(decode_command(wrong_version, &out));
  EXPECT_FALSE(decode_command(
      encode_command(KvCommand::put("k", "v").at(1)) + "x", &out))
      << "trailing bytes";
  const std::string put = encode_command(KvCommand::put("key", "value").at(1));
  for (size_t n = 0; n < put.size(); ++n) {
    EXPECT_FALSE(decode_command(put.substr(0, n), &out)) << "cut at " << n;
  }
}

TEST(KvCommandTest, ResultsRoundTrip) {
  for (const KvResult& r : {KvResult{KvResultCode::kOk, false, ""},
                            KvResult{KvResultCode::kCasFailed, true, "current"},
                            KvResult{KvResultCode::kAlreadyApplied, false, ""},
                            KvResult{KvResultCode::kBadCommand, false, ""}}) {
    KvResult back;
    ASSERT_TRUE(decode_result(encode_result(r), &back));
    EXPECT_EQ(back.code, r.code);
    EXPECT_EQ(back.found, r.found);
    EXPECT_EQ(back.value, r.value);
  }
}

TEST(KvCommandTest, ReadsAndAnswersRoundTrip) {
  for (const KvRead& r : sample_reads()) {
    KvRead back;
    ASSERT_TRUE(decode_read(encode_read(r), &back));
    EXPECT_EQ(back.type, r.type);
    EXPECT_EQ(back.keys, r.keys);
    EXPECT_EQ(back.prefix, r.prefix);
    EXPECT_EQ(back.limit, r.limit);
  }
  KvReadAnswer answer;
  answer.values = {std::string("x"), std::nullopt, std::string("")};
  KvReadAnswer back;
  ASSERT_TRUE(decode_read_answer(
      KvReadType::kGetMulti, encode_read_answer(KvReadType::kGetMulti, answer),
      &back));
  EXPECT_EQ(back.values, answer.values);

  KvReadAnswer scan;
  scan.entries = {{"a1", "1"}, {"a2", ""}};
  scan.more = true;
  ASSERT_TRUE(decode_read_answer(
      KvReadType::kScanPrefix,
      encode_read_answer(KvReadType::kScanPrefix, scan), &back));
  EXPECT_EQ(back.entries, scan.entries);
  EXPECT_TRUE(back.more);
  EXPECT_FALSE(decode_read_answer(
      KvReadType::kGet, encode_read_answer(KvReadType::kScanPrefix, scan),
      &back))
      << "an answer to another kind of query";
}

TEST(KvCommandTest, RefusesInvalidReads) {
  KvRead out;
  EXPECT_FALSE(decode_read(encode_read(KvRead::get("")), &out));
  EXPECT_FALSE(decode_read(encode_read(KvRead::get_multi({})), &out));
  EXPECT_FALSE(decode_read(encode_read(KvRead::scan_prefix("p", 0)), &out));
  // A get-multi claiming four billion keys in a few bytes.
  std::string huge = encode_read(KvRead::get_multi({"a"}));
  huge[2] = huge[3] = huge[4] = huge[5] = '\xff';
  EXPECT_FALSE(decode_read(huge, &out));
}

// Random mutations of valid messages: decoders never crash, and whatever
// they accept re-encodes to the same bytes (the encoding is canonical).
TEST(KvCommandTest, MutatedInputNeverCrashes) {
  std::mt19937 rng(42);
  std::vector<std::string> seeds;
  for (const KvCommand& c : sample_commands())
    seeds.push_back(encode_command(c));
  for (const KvRead& r : sample_reads()) seeds.push_back(encode_read(r));
  for (int round = 0; round < 20000; ++round) {
    std::string data = seeds[rng() % seeds.size()];
    for (int flips = 1 + rng() % 3; flips > 0; --flips) {
      switch (rng() % 3) {
        case 0:
          if (!data.empty())
            data[rng() % data.size()] = static_cast<char>(rng());
          break;
        case 1:
          data.resize(rng() % (data.size() + 1));
          break;
        default:
          data.insert(rng() % (data.size() + 1), 1, static_cast<char>(rng()));
      }
    }
    KvCommand command;
    if (decode_command(data, &command)) {
      EXPECT_EQ(encode_command(command), data);
    }
    KvRead read;
    if (decode_read(data, &read)) {
      EXPECT_EQ(encode_read(read), data);
    }
    KvResult result;
    if (decode_result(data, &result)) {
      EXPECT_EQ(encode_result(result), data);
    }
    KvReadAnswer answer;
    for (KvReadType type :
         {KvReadType::kGet, KvReadType::kGetMulti, KvReadType::kScanPrefix}) {
      if (decode_read_answer(type, data, &answer)) {
        EXPECT_EQ(encode_read_answer(type, answer), data);
      }
    }
  }
}

}  // namespace
}  // namespace dengine::sm
