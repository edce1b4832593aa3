// What a dengine-bench run was asked to do: its command-line options.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sm/snapshot_policy.h"
#include "workload.h"

namespace dengine::bench {

struct Settings {
  std::string mode = "embedded";
  std::string workload_name = "write";
  Workload workload = Workload::kWrite;  // unless failover()
  size_t clients = 1;
  uint64_t ops = 0;
  double duration_s = 10;
  size_t key_size = 8;
  size_t value_size = 256;
  uint64_t keys = 10000;
  int read_percent = 50;
  int timeout_ms = 10000;
  bool json = false;
  bool quiet = false;
  bool limits = true;  // measure the disk and loopback first
  // embedded (data_dir also failover's, and where the limits are measured)
  int nodes = 3;
  std::string data_dir;
  std::string log_backend = "wal";
  std::string driver = "auto";
  uint64_t snapshot_entries = dengine::sm::SnapshotPolicy{}.entries;
  size_t watchers = 0;
  bool breakdown = false;  // trace each write's stages (base/write_trace.h)
  std::string watch_on = "leader";
  std::string watch_keys = "all";
  // standalone
  std::string endpoints = "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003";
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  // failover
  std::string dengined;
  int kills = 50;
  std::vector<std::string> raft_lines;     // from --raft-option
  std::vector<std::string> storage_lines;  // from --log-backend etc. if given

  bool failover() const { return workload_name == "failover"; }
};

// Which driver runs embedded clients: an eventual read completes inside
// the call, on the caller's thread, so the async API gives it no
// concurrency and its clients need threads of their own.
inline std::string embedded_driver(const Settings& s) {
  if (s.driver != "auto") return s.driver;
  return s.workload == Workload::kReadEventual ? "threads" : "async";
}

}  // namespace dengine::bench
