// The Raft algorithm as a pure, deterministic object (in the manner of
// etcd-io/raft). Inputs: step(message), tick(), propose(), read_index(),
// transfer_leadership(), and the durable state it restarts from (Storage).
// Output: a Ready batch the host persists, sends and applies before calling
// advance(). No threads, no I/O, no clock; the only randomness is a generator
// seeded from Config::seed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "raft/conf_change.h"
#include "raft/config.h"
#include "raft/progress.h"
#include "raft/raft_log.h"
#include "raft/read_only.h"
#include "raft/storage.h"
#include "raft/types.h"

namespace dengine::raft {

// Outcome of a request to the core.
enum class Code : uint8_t {
  kOk,
  kNotLeader,           // `leader` names the known leader, or kNoNode
  kLeaderNotReady,      // leader has not yet committed an entry of its term
  kTransferInProgress,  // proposals pause while leadership moves
  kConfChangePending,   // the previous membership change has not committed
  kInvalidConfChange,   // e.g. removing an unknown node; see `message`
  kLearnerNotCaughtUp,  // promote refused: the learner lags the commit index
  kProposalTooLarge,
  kInvalidArgument,
};

const char* to_string(Code code);

struct Result {
  Code code = Code::kOk;
  NodeId leader = kNoNode;  // with kNotLeader
  Index index = 0;          // with kOk from propose: where the entry landed
  Term term = 0;
  std::string message;

  bool ok() const { return code == Code::kOk; }
};

enum class ReadMode : uint8_t {
  kReadIndex,  // one quorum round (shared by all reads waiting for it)
  kLease,      // served at once while the leader lease holds, else kReadIndex
};

// Per-peer replication state as seen by a leader (for status and tests).
struct PeerStatus {
  NodeId id = kNoNode;
  bool voter = false;
  Progress progress;
};

struct Status {
  NodeId id = kNoNode;
  HardState hard_state;
  SoftState soft_state;
  Index applied = 0;
  Index last_index = 0;
  ConfState conf;
  std::vector<PeerStatus> peers;  // only on a leader
  NodeId transferee = kNoNode;
  bool lease_valid = false;
  // Messages dropped because they were malformed (bad entry indexes, ...).
  uint64_t malformed_messages = 0;
};

class Raft {
 public:
  // Restarts from `storage` (which must outlive the core). Returns nullptr and
  // sets *error when the configuration or the stored state is unusable.
  static std::unique_ptr<Raft> create(const Config& config, Storage* storage,
                                      std::string* error);

  // --- inputs ---
  void tick();
  // Feeds a message from a peer. Malformed or stale messages are dropped.
  void step(const Message& message);
  Result propose(std::string data);
  Result propose_conf_change(const ConfChange& change);
  // Requests a linearizable read. On success a ReadState with this context
  // appears in a later Ready (on a follower, after a round trip to the leader).
  Result read_index(std::string context, ReadMode mode = ReadMode::kReadIndex);
  Result transfer_leadership(NodeId to);
  // Starts an election now (tests and operators); ignored on a leader.
  void campaign();
  // The host could not reach `to`, or failed to send it a snapshot.
  void report_unreachable(NodeId to);
  void report_snapshot(NodeId to, bool success);

  // --- outputs ---
  bool has_ready() const;
  // Collects the pending work. Call advance() with it before the next ready().
  Ready ready();
  void advance(const Ready& ready);

  // --- introspection ---
  NodeId id() const { return id_; }
  Role role() const { return role_; }
  NodeId leader() const { return leader_; }
  Term term() const { return term_; }
  const RaftLog& log() const { return log_; }
  const ConfState& conf() const { return conf_; }
  Status status() const;

 private:
  Raft(const Config& config, Storage* storage);
  bool restore(std::string* error);

  // Roles and elections.
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);
  void reset_randomized_election_timeout();
  void start_election(bool pre_vote, bool transfer);
  bool promotable() const;
  bool in_lease() const;
  void tick_election();
  void tick_leader();
  bool quorum_active();

  // Message handling by role.
  void send(Message m);
  void step_leader(const Message& m);
  void step_candidate(const Message& m);
  void step_follower(const Message& m);
  void handle_vote_request(const Message& m);
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_install_snapshot(const Message& m);
  void handle_append_response(const Message& m, Progress& pr);
  void handle_append_ack(NodeId from, Progress& pr, Index index);
  void commit_to(Index index);

  // Replication (leader).
  Progress* progress(NodeId id);
  void rebuild_progress();
  void append_entry(Entry entry);
  bool send_append(NodeId to, bool send_if_empty);
  bool send_snapshot(NodeId to, Progress& pr);
  void send_heartbeat(NodeId to);
  void replicate_to_all(bool heartbeat_if_idle);
  void broadcast_heartbeat();
  bool maybe_commit();
  void on_leader_commit();
  Result not_leader() const;
  void send_timeout_now(NodeId to);
  void abort_transfer();

  // Membership.
  void on_entries_appended(const std::vector<Entry>& entries);
  void on_log_truncated(Index from);
  void apply_conf(const ConfState& conf);
  void prune_conf_history();

  // Reads.
  void add_read(std::string context, NodeId requester);
  void release_confirmed_reads();
  void fail_pending_reads();
  void on_read_index_response(const Message& m);
  void expire_forwarded_reads();
  bool lease_valid() const;

  // Ready bookkeeping.
  void flush();
  HardState hard_state() const { return {term_, vote_, log_.committed()}; }
  SoftState soft_state() const;

  NodeId id_;
  Config config_;
  Storage* storage_;
  RaftLog log_;

  Term term_ = 0;
  NodeId vote_ = kNoNode;
  Role role_ = Role::kFollower;
  NodeId leader_ = kNoNode;
  bool leader_ready_ = false;

  // Membership: the configuration in force (the latest in the log) and the
  // history it came from: the newest configuration known committed, then
  // every later one, as (entry index, configuration), oldest first.
  ConfState conf_;
  std::vector<std::pair<Index, ConfState>> conf_history_;

  std::map<NodeId, Progress> progress_;
  std::map<NodeId, bool> votes_;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  uint64_t now_ = 0;  // ticks since creation; only differences matter
  // Until this tick a restarted node refuses votes (see in_lease()).
  uint64_t vote_guard_until_ = 0;
  uint64_t malformed_messages_ = 0;
  std::mt19937_64 rng_;

  NodeId transferee_ = kNoNode;
  int transfer_elapsed_ = 0;

  // ReadIndex rounds, the lease and forwarded reads (read_only.h).
  ReadOnly reads_;

  bool broadcast_wanted_ = false;

  // Outputs gathered for the next Ready.
  std::vector<Message> msgs_;
  std::vector<Message> msgs_after_persist_;
  std::vector<ReadState> read_states_;
  std::vector<ReadFailure> failed_reads_;
  SoftState prev_soft_state_;
  HardState prev_hard_state_;
};

}  // namespace dengine::raft
