// The node: one member of a dengine cluster, running in the host process.
// It puts the layers together: the Raft core (lib/raft) on a libuv loop
// thread, the log and hard state (lib/storage) on a storage thread, the state
// machine (lib/sm) on the apply thread, peers over lib/net.
//
// Threads and the life of a write. The loop thread owns the core: it feeds
// it peer messages, ticks, proposals and reads, and takes its Ready batches
// one at a time. Of each Ready it sends the leader's appends at once, hands
// the entries and hard state to the storage thread (one fsync for everything
// that arrived meanwhile: group commit), and when they are durable sends the
// acknowledgements and votes, queues the committed entries on the apply
// thread, and advances the core. The leader counts its own entries toward
// commit only once durable, so it writes its disk in parallel with its
// followers. A proposal completes when its entry is applied, with the
// machine's result for it.
//
// Every method is thread-safe. Completion callbacks run on an internal
// dengine thread (the loop, storage or apply thread), or on the caller's
// thread when a request fails before it is queued: they must not block and
// must not call the blocking methods of this node, but may call the async
// ones.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dengine.h"
#include "node/metrics.h"
#include "node/options.h"
#include "raft/types.h"
#include "watch/hub.h"

namespace dengine::node {

// How a request ended. status is DENGINE_OK or a DENGINE_ERR_* code with
// `message` saying why; on DENGINE_ERR_NOT_LEADER, leader_id and
// leader_address name the leader when known (0 and "" otherwise).
struct Reply {
  int status = DENGINE_OK;
  std::string message;
  raft::NodeId leader_id = raft::kNoNode;
  std::string leader_address;
  // Proposals: the machine's result for the entry (status and bytes), and
  // the entry's index. Reads: `data` is the answer, and `index` the
  // revision it reflects when the machine knows it (the built-in KV
  // machines), else 0.
  int32_t result = 0;
  std::string data;
  raft::Index index = 0;
  // A write of a session that was applied before: `result` and `data` are
  // the first application's (result_known false: not remembered, e.g.
  // learned from the log at a restart).
  bool duplicate = false;
  bool result_known = true;
};

// The wait of a request whose timeout is zero: zero means "the default"
// everywhere (include/dengine.h, DENGINE_DEFAULT_TIMEOUT_MS).
inline constexpr std::chrono::milliseconds kDefaultRequestTimeout{30000};

// A client session's place in a write: see docs/architecture.md ("Client
// sessions"). A retried write reuses its seq; the node applies it once.
struct Session {
  uint64_t client_id = 0;  // from Node::open_session
  uint64_t seq = 0;        // >= 1, one per new write
  uint64_t acked_seq = 0;  // every seq <= this has its reply at the client
};

struct NodeStatus {
  raft::NodeId id = raft::kNoNode;
  raft::Role role = raft::Role::kFollower;
  raft::Term term = 0;
  raft::NodeId leader_id = raft::kNoNode;
  std::string leader_address;
  raft::Index commit_index = 0;
  raft::Index applied_index = 0;
  raft::Index last_log_index = 0;
  raft::Index snapshot_index = 0;
  std::vector<Member> members;  // voters, then learners, by id
  // On a leader: the highest index known to be in each other member's log.
  struct Replication {
    raft::NodeId id = raft::kNoNode;
    raft::Index match = 0;
  };
  std::vector<Replication> replication;
  // Requests waiting for the core: reads it has not yet confirmed, and
  // leadership transfers not yet done (a request that timed out is gone).
  size_t pending_reads = 0;
  size_t pending_transfers = 0;
  // Set when the node stopped on a fatal error (storage or state machine).
  int fatal_status = DENGINE_OK;
  std::string fatal_message;
};

class Node {
 public:
  using Callback = std::function<void(Reply reply)>;
  // New leader (kNoNode: none known) and term, whenever either changes.
  using LeaderChangeCallback =
      std::function<void(raft::NodeId leader, raft::Term term)>;

  // Opens the data directory (recovering after a crash), starts the state
  // machine, listens for peers and starts the loop. Returns DENGINE_OK and
  // *out, or a code with *error saying what failed (nothing keeps running).
  static int start(NodeOptions options, std::unique_ptr<Node>* out,
                   std::string* error);
  // stop(), then frees the node. On one of the node's own threads (from a
  // callback), where stop() cannot wait, the node stops and is freed on a
  // thread of its own instead: this returns at once, the leader-change
  // callback is removed and the client server stopped first, and pending
  // requests still complete. (On the client server's own thread, which no
  // user callback should be on, it cannot be stopped: the node is left
  // running, and an error logged.)
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Stops serving (pending requests fail with DENGINE_ERR_SHUTTING_DOWN),
  // makes everything durable, stops the machine. Idempotent; returns the
  // first error met (e.g. the fatal error that stopped the node), with
  // *error (may be null) saying what it was. Called on one of the node's
  // own threads (a completion, machine or leader-change callback) it would
  // wait for itself: it does nothing and returns
  // DENGINE_ERR_INVALID_ARGUMENT.
  int stop(std::string* error = nullptr);

  // Requests that need the leader wait while none is known (an election is
  // running), within their timeout; with a leader elsewhere they fail with
  // DENGINE_ERR_NOT_LEADER naming it.
  //
  // Proposes `data` for the machine (any bytes; at most max_entry_bytes).
  // Completes once applied (DENGINE_OK with the machine's result), or with
  // DENGINE_ERR_NOT_LEADER (not the leader, or the entry was replaced by
  // another leader's: never applied) or DENGINE_ERR_TIMEOUT (the deadline
  // passed: the entry may still apply later). A timeout of zero is
  // kDefaultRequestTimeout, for every request below too. On a node running
  // the built-in KV machine, a KV command (sm/kv_command.h) is stamped here
  // with this node's clock, the time its TTL counts from.
  void propose_async(std::string data, const Session* session,
                     std::chrono::milliseconds timeout, Callback done);
  Reply propose(std::string data, const Session* session,
                std::chrono::milliseconds timeout);

  // Opens a client session through the log: completes once its
  // registration entry applied, with reply.index = the new client id (that
  // entry's index), or fails as propose does. A session write of a client
  // id not opened so, or whose session expired, fails with
  // DENGINE_ERR_SESSION_EXPIRED and is not applied. On DENGINE_ERR_TIMEOUT
  // the registration may still apply: the session it opens goes unused and
  // is evicted in time.
  void open_session_async(std::chrono::milliseconds timeout, Callback done);
  Reply open_session(std::chrono::milliseconds timeout);

  // Reads `query` through the machine's read callback at `consistency`.
  void read_async(std::string query, ReadConsistency consistency,
                  std::chrono::milliseconds timeout, Callback done);
  Reply read(std::string query, ReadConsistency consistency,
             std::chrono::milliseconds timeout);

  // Membership, one change at a time; each completes once the change is
  // committed. DENGINE_ERR_BUSY while another change is pending.
  void add_learner_async(raft::NodeId id, std::string address,
                         std::chrono::milliseconds timeout, Callback done);
  void promote_async(raft::NodeId id, std::chrono::milliseconds timeout,
                     Callback done);
  void remove_node_async(raft::NodeId id, std::chrono::milliseconds timeout,
                         Callback done);
  // Hands leadership to `to` (kNoNode: the most caught-up voter); completes
  // when `to` leads, or with DENGINE_ERR_TIMEOUT.
  void transfer_leadership_async(raft::NodeId to,
                                 std::chrono::milliseconds timeout,
                                 Callback done);
  // Takes a snapshot now; reply.index is its last included index.
  void snapshot_async(std::chrono::milliseconds timeout, Callback done);

  NodeStatus status() const;
  // A snapshot of the node's metrics (node/metrics.h; docs/operations.md
  // lists them). Thread-safe; takes no lock the loop holds for long.
  Metrics metrics() const;
  // Certificate rotation: reads the TLS files of the node's options again
  // (the same paths) and uses them for connections opened from now on, to
  // and from peers and from clients; open connections keep theirs. On a bad
  // file nothing changes: returns DENGINE_ERR_INVALID_ARGUMENT and *error
  // names the file and why. DENGINE_ERR_UNSUPPORTED without TLS.
  // Thread-safe; reads the files on the calling thread.
  int reload_tls(std::string* error);
  // Replaces the leader-change callback (empty: none). Runs on the loop
  // thread; the same rules as completion callbacks. Once this returns the
  // previous callback is not running and never runs again: from another
  // thread it waits for a running call to return; from inside the callback
  // it returns at once.
  void set_leader_change_callback(LeaderChangeCallback callback);

  // The events of the entries this node applies, and their watchers
  // (watch/hub.h): key changes of the built-in KV machine, what an
  // application machine publishes, membership changes and leaders, each at
  // the revision (log index) of its entry. Thread-safe; the hub's callbacks
  // run on its delivery thread (an internal thread, as above). Every watch
  // ends with DENGINE_ERR_SHUTTING_DOWN when the node stops. Shared, so a
  // handle may outlive the node.
  std::shared_ptr<watch::Hub> watches() const;

  // The ports actually bound (useful with port 0); client_port() is 0
  // without a client listener.
  uint16_t peer_port() const;
  uint16_t client_port() const;
  // Whether this node runs the built-in KV machine (see node/kv.h).
  bool has_kv_machine() const;
  ReadConsistency default_read() const;
  // The consistency a DENGINE_READ_* value asks of this node
  // (DENGINE_READ_DEFAULT: default_read()); false for any other value. The
  // client protocol's values are the same numbers.
  bool read_consistency_of(int dengine_read, ReadConsistency* out) const;

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dengine::node
