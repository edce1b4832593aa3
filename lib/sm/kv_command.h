// The byte formats of the built-in KV machines: commands (the data of a
// normal log entry), per-entry results, read queries and read answers. The
// formats are documented in docs/state-machine-guide.md ("Built-in KV
// machines"); every message starts with a format version byte. Decoders are
// bounds-checked and return kInvalidArgument on any malformed input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/status.h"

namespace dengine::sm {

inline constexpr uint8_t kKvFormatVersion = 1;

enum class KvCommandType : uint8_t {
  kPut = 1,
  kPutWithTtl = 2,
  kDelete = 3,
  kCompareAndSwap = 4,
  kTick = 5,  // only advances the machine clock, expiring keys
};

// A write. `timestamp_ms` is assigned by the leader when it proposes the
// command, so every replica decides TTL expiry from the same number.
struct KvCommand {
  KvCommandType type = KvCommandType::kPut;
  uint64_t timestamp_ms = 0;
  std::string key;      // not empty (except for kTick, where it is unused)
  std::string value;    // put, put-with-TTL, and compare-and-swap's new value
  uint64_t ttl_ms = 0;  // put-with-TTL: > 0; expires at timestamp + ttl
  bool expect_absent = false;  // compare-and-swap: the key must not exist
  std::string expected;        // compare-and-swap: else the value it must hold

  // The factories leave timestamp_ms 0: the node that proposes a command
  // stamps it (stamp_command). Tests set it with at().
  static KvCommand put(std::string key, std::string value);
  static KvCommand put_with_ttl(std::string key, std::string value,
                                uint64_t ttl_ms);
  static KvCommand erase(std::string key);
  // Sets `key` to `value` if it holds `expected` (nullopt: if it is absent).
  static KvCommand compare_and_swap(std::string key,
                                    std::optional<std::string> expected,
                                    std::string value);
  static KvCommand create_if_absent(std::string key, std::string value);
  static KvCommand tick(uint64_t now_ms);

  // This command with timestamp_ms set.
  KvCommand at(uint64_t timestamp_ms) &&;
};

// Sets the timestamp of an encoded command in place to `now_ms`, the
// proposing leader's clock, so every replica decides expiry from the same
// number. Bytes that are not a KV command are left alone (the machine
// refuses them as a bad command when applied).
void stamp_command(std::string* encoded, uint64_t now_ms);

std::string encode_command(const KvCommand& command);
storage::Status decode_command(std::string_view data, KvCommand* out);

// The outcome of one command; its code is also the entry's result status.
enum class KvResultCode : uint8_t {
  kOk = 0,
  kCasFailed = 1,       // compare-and-swap: the current value did not match
  kAlreadyApplied = 2,  // a re-delivered entry at or below last_applied
  kBadCommand = 3,      // the entry's data is not a valid command: no effect
};

// `found` and `value`: put and delete: whether the key existed (value empty);
// compare-and-swap: the key's value after the command (the new value on
// success, the unchanged current one on failure).
struct KvResult {
  KvResultCode code = KvResultCode::kOk;
  bool found = false;
  std::string value;
};

std::string encode_result(const KvResult& result);
storage::Status decode_result(std::string_view data, KvResult* out);

// What a write's result tells its caller: whether it took effect (false:
// a compare-and-swap found another value) and whether the key existed
// (put, delete: before; compare-and-swap: after).
struct KvWriteOutcome {
  bool applied = false;
  bool existed = false;
};

// kInvalidArgument for a command the machine refused as malformed.
storage::Status outcome_of(const KvResult& result, KvWriteOutcome* out);
// decode_result, then outcome_of.
storage::Status decode_write_outcome(std::string_view data,
                                     KvWriteOutcome* out);

enum class KvReadType : uint8_t {
  kGet = 1,
  kGetMulti = 2,    // several keys from one consistent view
  kScanPrefix = 3,  // keys starting with a prefix, in byte order
};

struct KvRead {
  KvReadType type = KvReadType::kGet;
  std::vector<std::string> keys;  // get: exactly one; get-multi: one or more
  std::string prefix;             // scan-prefix (may be empty: every key)
  uint32_t limit = 0;             // scan-prefix: at most this many, >= 1

  static KvRead get(std::string key);
  static KvRead get_multi(std::vector<std::string> keys);
  static KvRead scan_prefix(std::string prefix, uint32_t limit);
};

std::string encode_read(const KvRead& read);
storage::Status decode_read(std::string_view data, KvRead* out);

struct KvReadAnswer {
  // get and get-multi: one per key, in query order (nullopt: absent).
  std::vector<std::optional<std::string>> values;
  // scan-prefix: key-value pairs in key order, and whether more matched
  // beyond the limit.
  std::vector<std::pair<std::string, std::string>> entries;
  bool more = false;
};

std::string encode_read_answer(KvReadType type, const KvReadAnswer& answer);
storage::Status decode_read_answer(KvReadType type, std::string_view data,
                                   KvReadAnswer* out);
// Decodes a query and the answer to it.
storage::Status decode_read_with_answer(std::string_view query,
                                        std::string_view answer, KvRead* read,
                                        KvReadAnswer* out);

}  // namespace dengine::sm
