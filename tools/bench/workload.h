// What a benchmark client sends: the workloads of dengine-bench and the
// operations they are made of. Keys are fixed-size decimal numbers drawn
// from a key space; values are fixed-size random bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "node/node.h"

namespace dengine::bench {

using node::ReadConsistency;

enum class Workload : uint8_t {
  kWrite,
  kReadLinearizable,
  kReadLease,
  kReadEventual,
  kMixed,  // writes and linearizable reads, read_percent of them reads
};

std::optional<Workload> parse_workload(std::string_view name);
const char* to_string(Workload workload);
// Whether the workload reads keys that must exist first.
bool reads_keys(Workload workload);

struct Op {
  enum class Kind : uint8_t { kPut, kGet };
  Kind kind = Kind::kPut;
  std::string key;
  std::string_view value;  // kPut: into the KeyValueSource's pool
  ReadConsistency consistency = ReadConsistency::kLinearizable;  // kGet
};

// Produces the op a client sends next. `ticket` numbers the ops of a run
// from 0; `rng` is the client's own generator.
using OpSource = std::function<Op(uint64_t ticket, std::mt19937_64& rng)>;

// The keys and values of a run.
class KeyValueSource {
 public:
  // Empty when usable, else what is wrong with the sizes.
  static std::string check(size_t key_size, size_t value_size, uint64_t keys);
  KeyValueSource(size_t key_size, size_t value_size, uint64_t keys);

  uint64_t keys() const { return keys_; }
  // Key number i (< keys()), zero-padded to the key size.
  std::string key(uint64_t i) const;
  // The prefix every key has: the zeros that pad the largest key number
  // (empty when that number fills the key size).
  std::string common_prefix() const;
  std::string_view random_value(std::mt19937_64& rng) const;

 private:
  size_t key_size_;
  uint64_t keys_;
  std::vector<std::string> values_;
};

// Puts of every key of `kv` in order, one per ticket: the preload before
// a read workload.
OpSource preload_ops(const KeyValueSource& kv);
// The ops of `workload` on uniformly random keys. `kv` must outlive the
// source.
OpSource workload_ops(const KeyValueSource& kv, Workload workload,
                      int read_percent);

}  // namespace dengine::bench
