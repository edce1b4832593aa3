// dengine-bench --workload failover: how long a 3-node dengined cluster
// stops acknowledging writes when its leader dies. Writers put through
// lib/client against all three nodes the whole time; the procedure kills
// the leader with SIGKILL, waits for the next write acknowledged after the
// kill (the gap), restarts the killed node on its configuration and data,
// waits until it has caught up, and kills the leader again.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dengined_cluster.h"

namespace dengine::bench {

struct FailoverOptions {
  DenginedClusterOptions cluster;  // raft_lines: see raft_option_line()
  size_t clients = 4;              // writers, a thread and a Client each
  int kills = 50;
  size_t key_size = 8;
  size_t value_size = 256;
  uint64_t keys = 10000;
  // One write, retries included: a write that has not been acknowledged
  // by then fails (with an unknown outcome, DENGINE_ERR_TIMEOUT).
  std::chrono::milliseconds write_timeout{10000};
  bool progress = true;  // a line on stderr per kill
};

// One kill of the leader.
struct KillRecord {
  uint64_t node = 0;         // the leader killed
  uint64_t term_before = 0;  // its term then
  uint64_t new_leader = 0;   // who led once writes were acknowledged again
  uint64_t term_after = 0;   // its term then
  double gap_ms = 0;         // from the kill to the next write acknowledged
  double catch_up_s = 0;     // from the restart to caught up

  // Terms the cluster went through to elect the new leader: 1 when the
  // first election succeeded, more after split votes.
  uint64_t elections() const { return term_after - term_before; }
};

struct FailoverResult {
  std::vector<KillRecord> kills;  // those done, in order
  uint64_t writes_ok = 0;
  // Failed writes whose outcome is unknown (DENGINE_ERR_TIMEOUT, _IO,
  // _SESSION_EXPIRED: they may have been applied): expected around a kill.
  uint64_t writes_unknown = 0;
  // Failed writes with any other error: the cluster refused them.
  uint64_t writes_failed = 0;
  std::string first_error;  // of the failed writes of either kind
  double seconds = 0;       // the writers' run
  // Non-empty when the cluster did not recover from a kill (no write
  // acknowledged, or the killed node did not come back or catch up, or a
  // node exited on its own): what happened. The kills before it count.
  std::string failure;
  std::string kept_dir;  // where the logs are, when the directory was kept
};

// The TOML line of a --raft-option "key=value" ("key = value": the value
// is TOML as given, e.g. tick_ms=10, default_read="lease"). False, with
// *error, when it is not of that form.
bool raft_option_line(const std::string& key_value, std::string* line,
                      std::string* error);
// The election timeout, election_ticks × tick_ms in ms, of `raft_lines`
// (the node's defaults for what they do not set).
double election_timeout_ms(const std::vector<std::string>& raft_lines);

// Starts the cluster and the writers, and runs the kills. False, with
// *error, when the cluster could not be set up before the first kill.
bool run_failover(const FailoverOptions& options, FailoverResult* result,
                  std::string* error);

}  // namespace dengine::bench
