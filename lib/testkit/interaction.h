// A scenario environment for the Raft core, driven by script commands (see
// datadriven.h): a set of cores, each over a MemoryStorage with a toy state
// machine, and a message bus that holds every message until a command delivers
// it. Nothing happens unless a command says so, so a script is an exact,
// replayable protocol trace. Use it from a test like this:
//
//   InteractionEnv env;
//   auto failures = run_script("elections.txt", [&](const TestData& d) {
//     return env.handle(d);
//   });
//
// or call run_interaction_script(path), which does exactly that.
//
// Commands (ID is a node id; (a,b) lists may also be written (a b)):
//
//   add-nodes N [voters=(..)] [learners=(..)] [index=K] [prevote=B]
//       [checkquorum=B] [election=T] [heartbeat=T] [max-inflight=N]
//       [max-inflight-bytes=N] [max-msg-bytes=N] [max-entry-bytes=N]
//       [lease-drift=T] [seed=S]
//     Adds N nodes with the next free ids and empty storage. Without index=,
//     nodes listed in voters= bootstrap a new cluster with those voters; the
//     others start without membership and join when a leader reaches them.
//     With index=K every new node starts from a snapshot at index K (term 1)
//     holding voters= and learners=. The election timeout seed defaults to
//     the node id.
//   campaign ID                      starts an election on ID
//   propose ID DATA                  proposes a normal entry (no ',' in DATA)
//   propose-conf-change ID add-learner|promote|remove NODE
//   read-index ID CTX [lease]        requests a read (lease: ReadMode::kLease)
//   transfer-leadership ID to=N
//   report-unreachable ID N          ID could not reach N
//   report-snapshot ID N ok|fail
//     The requests above print nothing when the core accepts them, else the
//     refusal ("rejected: NotLeader leader=2").
//   tick ID|all [N]                  N ticks (default 1), one node or every
//                                    live node in turn
//   tick-heartbeat ID                heartbeat_tick ticks
//   tick-election ID                 enough ticks for one election timeout to
//                                    fire: election_tick on a leader (its
//                                    check-quorum point), 2*election_tick-1 on
//                                    others (the longest randomized timeout)
//     Tick commands print every change of role or term they cause.
//   process-ready ID... [persist=false]
//     Prints each node's Ready and handles it in the documented order: sends
//     `messages` (onto the bus), persists, sends `messages_after_persist`,
//     applies, advance(). With persist=false only `messages` go out and the
//     Ready stays in flight ("a slow disk") until `persist ID` or `crash ID`.
//   persist ID                       completes the in-flight Ready of ID
//   deliver-msgs [ID...] [drop=(..)]
//     Steps the queued messages addressed to ID... (default: all), grouped by
//     recipient. Messages to nodes in drop= (which are taken off the bus
//     too), to crashed or unknown nodes, or across a partition are dropped
//     (a dropped InstallSnapshot is reported to its sender as failed).
//   drop-msgs [from=X] [to=Y]        discards queued messages
//   stabilize [ID...]                repeats process-ready and deliver-msgs on
//                                    the given nodes (default: all) until
//                                    nothing is left to do
//   partition (a..) (b..) ...        only nodes of one group talk; unlisted
//                                    nodes form one more group
//   isolate ID                       cuts ID off from everyone
//   heal                             removes every partition and isolation
//   crash ID      drops the core, its unpersisted state and the messages
//                 queued for it; storage survives
//   restart ID    recreates the core from its storage; the state machine is
//                 rebuilt from the storage's snapshot
//   compact ID [INDEX]   snapshots the state machine at INDEX (default: the
//                        applied index) and compacts the log up to it
//   status ID     role, term, commit, applied, conf; a leader's peer progress
//   raft-log ID   the snapshot and entries in ID's storage
//   raft-state    one line per node: role, term, leader
//   applied ID    the normal entries ID's state machine has applied
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "raft/raft.h"
#include "raft/storage.h"
#include "raft/types.h"
#include "testkit/datadriven.h"

namespace dengine::testkit {

class InteractionEnv {
 public:
  InteractionEnv();
  ~InteractionEnv();
  InteractionEnv(const InteractionEnv&) = delete;
  InteractionEnv& operator=(const InteractionEnv&) = delete;

  // Runs one command and returns its output. Throws std::invalid_argument on
  // an unknown command or bad arguments, std::logic_error when the core hands
  // back something a host cannot handle.
  std::string handle(const TestData& data);

  // The core of `id`, or nullptr while it is crashed.
  raft::Raft* raft(raft::NodeId id);
  raft::MemoryStorage& storage(raft::NodeId id);
  // (index, data) of every normal entry applied by `id`'s state machine.
  const std::vector<std::pair<raft::Index, std::string>>& applied(
      raft::NodeId id);

 private:
  struct Node {
    raft::Config config;
    std::unique_ptr<raft::MemoryStorage> storage;
    std::unique_ptr<raft::Raft> raft;  // null while crashed
    // A Ready whose messages went out but whose writes have not finished.
    std::optional<raft::Ready> in_flight;
    // The toy state machine: normal entries applied, and the membership after
    // each applied configuration entry (for snapshots).
    std::vector<std::pair<raft::Index, std::string>> applied_data;
    std::vector<std::pair<raft::Index, raft::ConfState>> conf_history;
    raft::Index applied = 0;
    // Each start seeds the core anew, as a real host does (a restarted node
    // draws other election timeouts and another forwarded-read prefix).
    uint64_t seed = 0;
    uint64_t starts = 0;
  };

  Node& node(raft::NodeId id);
  Node& live_node(raft::NodeId id);
  std::vector<raft::NodeId> node_ids() const;
  std::vector<raft::NodeId> ids_or_all(const TestData& data) const;

  void add_nodes(const TestData& data, std::ostringstream& out);
  void start(raft::NodeId id, Node& n);
  void request(const TestData& data, std::ostringstream& out);
  void tick(const TestData& data, std::ostringstream& out);
  // Ticks `id` once for each tick number in [first, last], printing changes.
  void tick_node(raft::NodeId id, int first, int last, std::ostringstream& out);
  bool process_ready(raft::NodeId id, bool persist, std::ostringstream& out);
  void finish_ready(Node& n, const raft::Ready& ready);
  void apply_snapshot(Node& n, const raft::Snapshot& snapshot);
  void apply_entry(Node& n, const raft::Entry& entry);
  bool deliver(const std::vector<raft::NodeId>& to,
               const std::set<raft::NodeId>& drop, std::ostringstream& out);
  std::string drop_reason(const raft::Message& m,
                          const std::set<raft::NodeId>& drop);
  void dropped(const raft::Message& m, const std::string& reason,
               std::ostringstream& out);
  void stabilize(const std::vector<raft::NodeId>& ids, std::ostringstream& out);
  void partition(const TestData& data);
  void crash(raft::NodeId id, std::ostringstream& out);
  void compact(const TestData& data, std::ostringstream& out);
  void status(raft::NodeId id, std::ostringstream& out);
  void raft_log(raft::NodeId id, std::ostringstream& out);
  std::string state_line(raft::NodeId id);

  std::map<raft::NodeId, Node> nodes_;
  std::vector<raft::Message> bus_;
  // Partition group of each listed node (unlisted nodes are in group 0), and
  // nodes cut off from everyone.
  std::map<raft::NodeId, int> group_;
  std::set<raft::NodeId> isolated_;
};

// Runs the script at `path` against a fresh InteractionEnv; see run_script().
std::vector<std::string> run_interaction_script(const std::string& path);

}  // namespace dengine::testkit
