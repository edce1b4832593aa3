// A history of concurrent client operations on key-value registers, for the
// linearizability checker (linearizability.h): each operation's call and
// return times on one steady clock, its arguments and its result.
//
// A write whose outcome is unknown (the call failed: it timed out, lost its
// connection, or was retried until it gave up, so some attempt may still have
// landed) stays in the history with no return time: it may have taken effect
// at any moment after its call, or never. A read that failed had no effect
// and is dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dengine::cluster_test {

enum class OpKind : uint8_t { kPut, kGet, kCompareAndSwap };

// A register's value; nullopt: the key is absent.
using Value = std::optional<std::string>;

struct Operation {
  int client = 0;  // who called it, for messages
  OpKind kind = OpKind::kGet;
  std::string key;
  Value expected;     // compare-and-swap: the value it requires
  std::string value;  // put and compare-and-swap: the value written
  // false: no return, no result; the write may or may not have happened.
  bool known = true;
  // get: the value read; compare-and-swap: the key's value after it.
  Value output;
  bool swapped = false;   // compare-and-swap: whether it wrote
  int64_t call_ns = 0;    // since the history began
  int64_t return_ns = 0;  // since the history began; only when known
};

// "client 2: cas(a, expected=v1, v3) -> swapped, a=v3 [120.016ms, 125.250ms]".
std::string describe(const Operation& op);

// Records operations as they happen. Thread-safe.
class History {
 public:
  History();

  // Stamps `op` with the call time now; returns its handle.
  size_t call(Operation op);
  // The operation returned now with this result.
  void returned(size_t handle, Value output, bool swapped = false);
  // The write's outcome is unknown: it may have been applied.
  void unknown(size_t handle);
  // The operation had no effect (a failed read): it leaves the history.
  void discard(size_t handle);

  // Every operation kept, in call order. One that never returned counts as
  // unknown.
  std::vector<Operation> operations() const;

 private:
  int64_t now_ns() const;

  const std::chrono::steady_clock::time_point start_;
  mutable std::mutex mu_;
  std::vector<Operation> operations_;
  std::vector<bool> discarded_;
};

}  // namespace dengine::cluster_test
