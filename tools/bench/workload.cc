#include "workload.h"

#include <array>
#include <utility>

namespace dengine::bench {
namespace {

struct WorkloadName {
  Workload workload;
  const char* name;
};

constexpr std::array<WorkloadName, 5> kWorkloadNames{{
    {Workload::kWrite, "write"},
    {Workload::kReadLinearizable, "read-linearizable"},
    {Workload::kReadLease, "read-lease"},
    {Workload::kReadEventual, "read-eventual"},
    {Workload::kMixed, "mixed"},
}};

// Distinct values, so the KV machine's storage cannot gain from repeats
// within an entry, and few enough to stay in the cache.
constexpr size_t kValuePool = 64;

Op read_of(std::string key, ReadConsistency consistency) {
  Op op;
  op.kind = Op::Kind::kGet;
  op.key = std::move(key);
  op.consistency = consistency;
  return op;
}

Op put_of(std::string key, std::string_view value) {
  Op op;
  op.kind = Op::Kind::kPut;
  op.key = std::move(key);
  op.value = value;
  return op;
}

}  // namespace

std::optional<Workload> parse_workload(std::string_view name) {
  for (const WorkloadName& entry : kWorkloadNames) {
    if (name == entry.name) return entry.workload;
  }
  return std::nullopt;
}

const char* to_string(Workload workload) {
  for (const WorkloadName& entry : kWorkloadNames) {
    if (workload == entry.workload) return entry.name;
  }
  return "unknown";
}

bool reads_keys(Workload workload) { return workload != Workload::kWrite; }

std::string KeyValueSource::check(size_t key_size, size_t value_size,
                                  uint64_t keys) {
  if (key_size == 0) return "--key-size must be at least 1";
  if (value_size == 0) return "--value-size must be at least 1";
  if (keys == 0) return "--keys must be at least 1";
  const size_t digits = std::to_string(keys - 1).size();
  if (digits > key_size) {
    return "--key-size " + std::to_string(key_size) + " is too small for " +
           std::to_string(keys) + " keys (needs " + std::to_string(digits) +
           " bytes)";
  }
  return "";
}

KeyValueSource::KeyValueSource(size_t key_size, size_t value_size,
                               uint64_t keys)
    : key_size_(key_size), keys_(keys) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int> byte(0, 255);
  values_.resize(kValuePool);
  for (std::string& value : values_) {
    value.resize(value_size);
    for (char& c : value) c = static_cast<char>(byte(rng));
  }
}

std::string KeyValueSource::key(uint64_t i) const {
  std::string digits = std::to_string(i);
  return std::string(key_size_ - digits.size(), '0') + digits;
}

std::string KeyValueSource::common_prefix() const {
  return std::string(key_size_ - std::to_string(keys_ - 1).size(), '0');
}

std::string_view KeyValueSource::random_value(std::mt19937_64& rng) const {
  return values_[rng() % values_.size()];
}

OpSource preload_ops(const KeyValueSource& kv) {
  return [&kv](uint64_t ticket, std::mt19937_64& rng) {
    return put_of(kv.key(ticket), kv.random_value(rng));
  };
}

OpSource workload_ops(const KeyValueSource& kv, Workload workload,
                      int read_percent) {
  return [&kv, workload, read_percent](uint64_t, std::mt19937_64& rng) {
    std::string key = kv.key(rng() % kv.keys());
    switch (workload) {
      case Workload::kWrite:
        break;
      case Workload::kReadLinearizable:
        return read_of(std::move(key), ReadConsistency::kLinearizable);
      case Workload::kReadLease:
        return read_of(std::move(key), ReadConsistency::kLease);
      case Workload::kReadEventual:
        return read_of(std::move(key), ReadConsistency::kEventual);
      case Workload::kMixed:
        if (static_cast<int>(rng() % 100) < read_percent) {
          return read_of(std::move(key), ReadConsistency::kLinearizable);
        }
        break;
    }
    return put_of(std::move(key), kv.random_value(rng));
  };
}

}  // namespace dengine::bench
