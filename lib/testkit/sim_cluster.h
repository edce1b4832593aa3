// A cluster of Raft cores on a virtual clock: the deterministic simulator's
// engine. It plays the host for every node (ticks at a fixed interval with a
// per-node phase, Ready handling in the order documented in raft/types.h, a
// disk write that takes simulated time and is lost if the node crashes first,
// log compaction by snapshot), carries messages over a SimNetwork, and reports
// everything it observes to a SimChecker. All randomness comes from one
// SimRandom, so a seed replays exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "raft/raft.h"
#include "raft/types.h"
#include "testkit/sim_checker.h"
#include "testkit/sim_network.h"
#include "testkit/sim_node.h"
#include "testkit/sim_random.h"
#include "testkit/sim_trace.h"

namespace dengine::testkit {

struct SimClusterOptions {
  int voters = 3;  // initial voters, ids 1..voters
  int64_t tick_us = 10'000;
  // Each node's clock runs up to this fraction fast or slow (well within the
  // lease's drift margin, Config::lease_drift_ticks / election_tick).
  double max_clock_skew = 0.02;
  int election_tick = 10;
  int heartbeat_tick = 1;
  NetworkTiming network;
  // A durable write (entries, hard state, snapshot) takes this long.
  int64_t min_disk_us = 50;
  int64_t max_disk_us = 2'000;
  // Each node compacts after between 1/2 and 3/2 of this many applied entries.
  raft::Index snapshot_interval = 32;
  uint64_t max_msg_bytes = 1ull << 20;
  uint64_t max_inflight_msgs = 256;
};

struct SimStats {
  uint64_t messages_sent = 0;
  uint64_t messages_dropped = 0;
  uint64_t messages_duplicated = 0;
  uint64_t leaders_elected = 0;
  uint64_t disk_writes = 0;
  uint64_t writes_lost = 0;  // in flight when their node crashed
  uint64_t entries_applied = 0;
  uint64_t snapshots_created = 0;
  uint64_t snapshots_installed = 0;
  uint64_t crashes = 0;
  uint64_t reads_confirmed = 0;
  uint64_t reads_served = 0;
  uint64_t proposals = 0;
  uint64_t proposals_acknowledged = 0;
  uint64_t conf_changes_proposed = 0;
  uint64_t conf_changes_applied = 0;  // on each node, bootstrap excluded
  uint64_t transfers = 0;

  void add(const SimStats& other);
};

class SimCluster {
 public:
  SimCluster(const SimClusterOptions& options, uint64_t seed, SimRandom* rng,
             SimChecker* checker, SimTrace* trace);
  ~SimCluster();
  SimCluster(const SimCluster&) = delete;
  SimCluster& operator=(const SimCluster&) = delete;

  // --- the clock ---
  int64_t now() const { return now_; }
  // Runs `call` at virtual time `time` (not before now()).
  void at(int64_t time, std::function<void()> call);
  // Processes events in time order up to `until`, stopping early when the
  // checker finds a violation or stop() is called.
  void run_until(int64_t until);
  void stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }

  // --- nodes ---
  // Creates a node with a fresh id and empty storage, and starts it.
  raft::NodeId add_node();
  void crash(raft::NodeId id);
  void restart(raft::NodeId id);
  // Shuts a removed node down for good.
  void decommission(raft::NodeId id);
  SimNode* node(raft::NodeId id);
  const SimNode* node(raft::NodeId id) const;
  // Every node ever created, in id order.
  std::vector<raft::NodeId> node_ids() const;
  std::vector<raft::NodeId> up_nodes() const;
  // The running leader of the highest term, or kNoNode.
  raft::NodeId leader() const;
  // True if `id` is up and a leader whose no-op has committed.
  bool leader_ready(raft::NodeId id) const;
  // One line per node: role, term, commit, applied, log bounds, conf.
  std::string describe_nodes() const;

  // --- requests to a running node's core ---
  raft::Result propose(raft::NodeId id, std::string data);
  raft::Result propose_conf_change(raft::NodeId id,
                                   const raft::ConfChange& change);
  raft::Result read_index(raft::NodeId id, raft::ReadMode mode);
  raft::Result transfer_leadership(raft::NodeId id, raft::NodeId to);

  // Called after each entry a node applies (for the workload's clients).
  void set_apply_listener(
      std::function<void(const SimNode&, const raft::Entry&)> listener) {
    apply_listener_ = std::move(listener);
  }

  SimNetwork& network() { return network_; }
  SimChecker& checker() { return *checker_; }
  SimStats& stats() { return stats_; }
  const SimClusterOptions& options() const { return options_; }
  bool tracing() const { return trace_ != nullptr; }
  void trace(const std::string& line);

 private:
  enum class EventKind : uint8_t { kTick, kDeliver, kDiskWrite, kCall };
  struct Event {
    int64_t time;
    uint64_t seq;
    EventKind kind;
    raft::NodeId node;
    uint64_t incarnation;
    uint32_t slot;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.seq > b.seq;
    }
  };

  void schedule(int64_t time, EventKind kind, raft::NodeId node,
                uint64_t incarnation, uint32_t slot);
  void dispatch(const Event& event);
  bool alive(const SimNode* n, uint64_t incarnation) const;
  SimNode& create_node(std::vector<raft::NodeId> bootstrap_voters);
  void start(SimNode& n);

  // The host loop of one node.
  void after_input(SimNode& n);
  void observe(SimNode& n);
  void pump(SimNode& n);
  void check_durable_term(const SimNode& n,
                          const std::vector<raft::Message>& messages);
  void finish_ready(SimNode& n, raft::Ready& rd);
  void install_snapshot(SimNode& n, const raft::Snapshot& snapshot);
  void apply(SimNode& n, const raft::Entry& entry);
  void serve_reads(SimNode& n);
  void maybe_compact(SimNode& n);
  void send(std::vector<raft::Message>& messages);
  void report_send_failure(const raft::Message& m, bool connection_lost);
  void report_snapshot_sent(const raft::Message& m);

  SimClusterOptions options_;
  uint64_t seed_;
  SimRandom* rng_;
  SimChecker* checker_;
  SimTrace* trace_;
  SimNetwork network_;
  SimStats stats_;

  int64_t now_ = 0;
  uint64_t next_seq_ = 0;
  bool stopped_ = false;
  std::priority_queue<Event, std::vector<Event>, Later> events_;
  // Payloads of pending events, reused through free lists.
  std::vector<raft::Message> messages_;
  std::vector<uint32_t> free_messages_;
  std::vector<std::function<void()>> calls_;
  std::vector<uint32_t> free_calls_;

  // Indexed by node id; [0] is unused.
  std::vector<std::unique_ptr<SimNode>> nodes_;
  // (node, read context) -> read_floor() when it was requested; a node's
  // entries are dropped when it restarts.
  std::map<std::pair<raft::NodeId, std::string>, raft::Index> read_floors_;
  std::function<void(const SimNode&, const raft::Entry&)> apply_listener_;
};

}  // namespace dengine::testkit
