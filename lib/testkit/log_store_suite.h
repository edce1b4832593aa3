// Conformance suites for LogStore and HardStateStore implementations,
// independent of any test framework. Every case gets a factory bound to a
// fresh, empty location; it returns "" when the store behaves as
// lib/storage/log_store.h (or hard_state_store.h) documents, else a message
// saying what went wrong. Run every case against every implementation, e.g.
// as a parameterized GoogleTest (tests/unit/storage/
// log_store_conformance_test.cc).
//
// Ground covered (a superset of d-engine's StorageEngineTestSuite and
// openraft's storage Suite log and vote tests): append and read, ranges and
// max_bytes, term lookups including the purge point, truncation (conflict
// overwrite, past the end, everything), purge (partial, everything, index 0,
// then appending on), reset, reopen after each of those, durability after
// close() without sync() and after destruction of a synced store, the empty
// store and index 0, invalid arguments rejected with the store intact,
// kCompacted / kUnavailable / kClosed, large and many entries, a seeded random
// model check across reopens, and concurrent readers during writes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "storage/hard_state_store.h"
#include "storage/log_store.h"
#include "storage/status.h"

namespace dengine::testkit {

// Opens a store at one location. A case closes or destroys the previous
// store before opening again; the new one must see what the old one made
// durable.
class LogStoreFactory {
 public:
  virtual ~LogStoreFactory() = default;
  virtual storage::Status open(std::unique_ptr<storage::LogStore>* out) = 0;
};

struct LogStoreCase {
  std::string name;  // [a-z0-9_]+, usable as a test name
  std::function<std::string(LogStoreFactory&)> run;
};

std::vector<LogStoreCase> log_store_cases();

class HardStateStoreFactory {
 public:
  virtual ~HardStateStoreFactory() = default;
  virtual storage::Status open(
      std::unique_ptr<storage::HardStateStore>* out) = 0;
};

struct HardStateStoreCase {
  std::string name;
  std::function<std::string(HardStateStoreFactory&)> run;
};

std::vector<HardStateStoreCase> hard_state_store_cases();

}  // namespace dengine::testkit
