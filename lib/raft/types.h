// Value types shared by every part of the Raft core: log entries, persistent
// state, membership, snapshots, messages and the Ready batch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dengine::raft {

using NodeId = uint64_t;
using Term = uint64_t;
using Index = uint64_t;

// Node id 0 means "nobody": no vote cast, no leader known.
inline constexpr NodeId kNoNode = 0;

enum class EntryType : uint8_t {
  kNormal = 0,      // an application command
  kNoop = 1,        // appended by every new leader; commits its term
  kConfChange = 2,  // a membership change; payload encoded by conf_change.h
};

struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::kNormal;
  std::string data;

  bool operator==(const Entry&) const = default;
};

// The data of a kNoop entry: the id of the leader that appended it, 8 bytes
// little-endian, so every replica learns who led the term from the log
// itself (for leader events). Logs written before 0.2.0 hold empty no-ops.
std::string encode_noop(NodeId leader);
// The leader a no-op's data names, or kNoNode when it names none.
NodeId decode_noop_leader(std::string_view data);

// Persisted before any message that depends on it is sent.
struct HardState {
  Term term = 0;
  NodeId vote = kNoNode;
  Index commit = 0;

  bool operator==(const HardState&) const = default;
};

// A cluster membership. Voters elect and form quorums; learners only receive
// the log. A node is never in both lists.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;

  bool operator==(const ConfState&) const = default;
  bool is_voter(NodeId id) const;
  bool is_learner(NodeId id) const;
  bool contains(NodeId id) const { return is_voter(id) || is_learner(id); }
};

// Describes the state a snapshot captures: everything up to and including
// `index`, the membership in force at that index.
struct SnapshotMeta {
  Index index = 0;
  Term term = 0;
  ConfState conf;

  bool operator==(const SnapshotMeta&) const = default;
};

// The core moves only the metadata. `data` is an optional inline payload for
// tests and the simulator; the node layer leaves it empty and streams the
// snapshot files itself.
struct Snapshot {
  SnapshotMeta meta;
  std::string data;

  bool empty() const { return meta.index == 0; }
  bool operator==(const Snapshot&) const = default;
};

enum class MessageType : uint8_t {
  kPreVote,
  kPreVoteResponse,
  kVote,
  kVoteResponse,
  kAppend,          // AppendEntries
  kAppendResponse,  // also answers kInstallSnapshot
  kHeartbeat,
  kHeartbeatResponse,
  kInstallSnapshot,
  kReadIndex,  // a follower forwards a read to the leader
  kReadIndexResponse,
  kTimeoutNow,  // leadership transfer: "campaign now"
};

const char* to_string(MessageType type);

// One Raft RPC. Which fields carry meaning depends on `type`:
//   kPreVote/kVote:      index/log_term = candidate's last entry; transfer
//   kAppend:             index/log_term = entry before `entries`; commit;
//   read_round kAppendResponse:     index = last matching index (or rejected
//   index);
//                        reject, reject_hint, log_term (hint term); read_round
//   kHeartbeat:          commit (capped at the follower's match); read_round
//   kHeartbeatResponse:  commit (the follower's, durable); read_round
//   kInstallSnapshot:    snapshot
//   kReadIndex(Response):context; index (the read index in a response); reject
struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  Term log_term = 0;
  Index index = 0;
  std::vector<Entry> entries;
  Index commit = 0;
  bool reject = false;
  Index reject_hint = 0;
  // A leader-transfer election: voters grant it even while they still hear
  // from a live leader.
  bool transfer = false;
  // The leader's read-confirmation round this message belongs to (0: none).
  uint64_t read_round = 0;
  std::string context;
  std::optional<Snapshot> snapshot;

  bool operator==(const Message&) const = default;
};

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };

const char* to_string(Role role);

// Volatile state worth telling the host about when it changes.
struct SoftState {
  Role role = Role::kFollower;
  NodeId leader = kNoNode;
  // The leader has committed an entry of its own term: it may serve reads and
  // accept membership changes.
  bool leader_ready = false;

  bool operator==(const SoftState&) const = default;
};

// A read that is now linearizable: once the state machine has applied
// `index`, the read identified by `context` may be served from it.
struct ReadState {
  Index index = 0;
  std::string context;

  bool operator==(const ReadState&) const = default;
};

// A read that can no longer be confirmed here: leadership changed before its
// quorum round completed, or a forwarded read got no answer within two
// election timeouts. The client may retry, at `leader` if known.
struct ReadFailure {
  std::string context;
  NodeId leader = kNoNode;

  bool operator==(const ReadFailure&) const = default;
};

// One batch of work for the host. Handle it in this order, then call
// Raft::advance():
//   1. send `messages` (they need nothing durable; a leader's appends travel
//      while its own disk write runs; while the node's current term is not
//      yet durable, everything but pre-votes waits in
//      `messages_after_persist` instead);
//   2. persist `snapshot`, then `entries` (replacing any stored entries from
//      entries.front().index on), then `hard_state`; if `must_sync`, the
//      entries must be durable before a hard state naming a commit over
//      them is (sync the log first);
//   3. send `messages_after_persist`;
//   4. install `snapshot` into the state machine, then apply
//      `committed_entries` in order;
//   5. serve `read_states` once the state machine has applied their index,
//      and fail the reads in `failed_reads`.
struct Ready {
  std::optional<SoftState> soft_state;
  std::optional<HardState> hard_state;
  std::optional<Snapshot> snapshot;
  std::vector<Entry> entries;
  bool must_sync = false;
  std::vector<Message> messages;
  std::vector<Message> messages_after_persist;
  std::vector<Entry> committed_entries;
  std::vector<ReadState> read_states;
  std::vector<ReadFailure> failed_reads;

  bool empty() const;
};

}  // namespace dengine::raft
