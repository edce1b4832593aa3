// The inside of a Node, shared by node.cc (start, stop, the public methods),
// node_loop.cc (the loop thread: Ready handling, ticks, peers) and
// node_requests.cc (proposals, reads, membership, transfers, snapshots).
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/snapshot_transfer.h"
#include "net/transport.h"
#include "node/address_book.h"
#include "node/client_server.h"
#include "node/node.h"
#include "node/serial_executor.h"
#include "node/tick_clock.h"
#include "raft/raft.h"
#include "sm/state_machine_handler.h"
#include "storage/raft_storage.h"
#include "storage/snapshot_store.h"
#include "watch/history_log.h"
#include "watch/hub.h"

namespace dengine::node {

// The wall clock in milliseconds since the epoch: the time the leader
// stamps on the built-in KV machine's commands and ticks.
inline uint64_t wall_clock_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

using Clock = std::chrono::steady_clock;

// One request waiting for its outcome. Whichever comes first (the outcome,
// its deadline, a shutdown) finishes it; later attempts do nothing.
struct Pending {
  explicit Pending(Node::Callback callback) : done(std::move(callback)) {}
  bool finish(Reply reply) {
    if (finished.exchange(true)) return false;
    done(std::move(reply));
    return true;
  }
  Node::Callback done;
  std::atomic<bool> finished{false};
};

Reply error_reply(int status, std::string message);

struct Node::Impl {
  NodeOptions options;
  raft::Config raft_config;

  // --- built in start(), torn down in stop() ---
  AddressBook addresses;
  dengine_state_machine machine{};
  bool owns_machine = false;  // the built-in KV machine
  std::unique_ptr<storage::SnapshotStore> snapshots;
  std::unique_ptr<storage::DurableStorage> storage;
  std::unique_ptr<sm::StateMachineHandler> handler;
  // The events the handler reports from the apply thread, and their
  // watchers; shared with the C API's watch handles, which may outlive the
  // node.
  std::shared_ptr<watch::Hub> watches;
  // The watch history on disk (apply thread once started) and what it held
  // at start, until the handler has recovered.
  std::unique_ptr<watch::HistoryLog> history_log;
  watch::HistoryLog::Restored restored_history;
  std::unique_ptr<raft::Raft> raft;  // loop thread only, once running
  // The TLS credentials the transport and the client listener take for
  // each new connection; null without TLS. Thread-safe (rotation).
  std::shared_ptr<net::TlsCredentials> tls;
  std::unique_ptr<net::Transport> transport;
  std::unique_ptr<net::SnapshotTransfer> snapshot_transfer;
  SerialExecutor storage_thread;
  std::unique_ptr<ClientServer> client_server;  // with a client_address

  // --- the loop ---
  uv_loop_t loop{};
  uv_async_t wakeup{};
  uv_timer_t ticker{};
  std::thread loop_thread;
  std::atomic<bool> loop_started{false};          // set by the starting thread
  std::atomic<std::thread::id> loop_thread_id{};  // kept after the join

  // Tasks for the loop thread, from any thread; closed until the loop runs.
  std::mutex inbox_mutex;
  std::vector<std::function<void()>> inbox;
  bool inbox_closed = true;

  std::atomic<bool> stopping{false};
  std::mutex stop_mutex;
  bool stopped = false;
  int stop_status = DENGINE_OK;

  // --- loop-thread state ---
  bool persisting = false;     // a Ready is on the storage thread
  bool shutting_down = false;  // take no new Ready
  bool failed = false;         // a fatal error stopped the node
  uint64_t next_read_id = 1;
  struct PendingRead {
    std::shared_ptr<Pending> pending;
    std::string query;
  };
  std::unordered_map<std::string, PendingRead> reads;
  struct PendingTransfer {
    raft::NodeId target;
    std::shared_ptr<Pending> pending;
  };
  std::vector<PendingTransfer> transfers;
  std::multimap<Clock::time_point, std::weak_ptr<Pending>> deadlines;
  // Requests that met "no leader known" (an election is running): retried
  // once a leader is known; their deadlines still apply.
  std::vector<std::function<void()>> awaiting_leader;
  // Snapshots received from a leader, by index: staged, out of the store's
  // latest() until the core's Ready installs one (handle_ready). Dropping
  // one removes its files.
  std::map<raft::Index, std::shared_ptr<storage::StagedSnapshot>>
      received_snapshots;
  raft::SoftState soft_state;
  // On the leader, the proposals appended and not yet committed: their
  // index and when they were appended (for commit latency), oldest first.
  std::deque<std::pair<raft::Index, Clock::time_point>> proposed_at;
  raft::Term last_reported_term = 0;
  raft::NodeId last_reported_leader = raft::kNoNode;
  Clock::time_point last_proposal = Clock::now();
  std::optional<TickClock> tick_clock;  // the core's clock (set by start)

  // Reads of the machine (any thread) end before it is stopped.
  std::shared_mutex machine_mutex;
  bool machine_closed = false;

  // --- shared with every thread ---
  NodeCounters counters;
  mutable std::mutex status_mutex;
  NodeStatus status;  // refreshed by the loop after each Ready
  // Held by the loop thread while it runs the leader-change callback, so a
  // replacement from another thread waits for a running call to return and
  // the old callback's context may be freed once it has.
  std::mutex leader_callback_mutex;
  LeaderChangeCallback on_leader_change;  // guarded by leader_callback_mutex

  // node.cc
  int open(std::string* error);
  int open_machine(std::string* error);
  int start_watches(sm::StateMachineHandlerOptions* handler_options,
                    std::string* error);
  void restore_watch_history(uint64_t applied);
  void learn_address(raft::NodeId id, const std::string& address);
  int stop();
  // The name of the node's own thread the caller is on (its callbacks run
  // there, and stop() would wait for it), or nullptr.
  const char* internal_thread() const;

  // node_loop.cc: everything below runs on the loop thread.
  int start_loop(std::string* error);
  // Queues `task` for the loop thread; false (task dropped) once closed.
  bool post(std::function<void()> task);
  void drain_inbox();
  void on_tick();
  // Ticks the core for every tick interval elapsed since the last tick.
  void advance_clock();
  // Arms the ticker (a one-shot timer) for the tick clock's next grid point.
  void arm_ticker();
  void drive();
  void handle_ready(raft::Ready ready);
  // Any thread: the write-path trace's marks of a peer message.
  void trace_message(const raft::Message& m, bool stepped);
  // Storage thread: sends (and removes) the messages before any snapshot.
  void send_after_persist(std::vector<raft::Message>& messages);
  std::shared_ptr<storage::StagedSnapshot> take_received_snapshot(
      const raft::SnapshotMeta& meta);
  // Storage thread.
  storage::Status persist_ready(const raft::Ready& ready,
                                storage::StagedSnapshot* snapshot,
                                storage::SnapshotInfo* installed);
  // `installed`: the Ready's snapshot, now the store's latest.
  void finish_ready(std::shared_ptr<raft::Ready> ready,
                    storage::Status persisted,
                    const storage::SnapshotInfo& installed);
  void observe_commits(const std::vector<raft::Entry>& committed);
  void send_messages(std::vector<raft::Message>& messages);
  void observe_entries(const std::vector<raft::Entry>& entries);
  void on_soft_state(const raft::SoftState& soft);
  void publish_status();
  void fatal(int code, const std::string& message);
  void expire_deadlines(Clock::time_point now);
  void fail_all(int code, const std::string& message);
  void close_loop();

  // node_requests.cc
  void track(const std::shared_ptr<Pending>& pending,
             std::chrono::milliseconds timeout);
  Reply not_leader_reply(raft::NodeId leader, const std::string& message);
  Reply reply_for(const raft::Result& result);
  void submit(std::shared_ptr<Pending> pending,
              std::chrono::milliseconds timeout,
              std::function<void(const std::shared_ptr<Pending>&)> task);
  // Parks `retry` when `result` says no leader is known; false otherwise.
  bool park_until_leader(const raft::Result& result,
                         std::function<void()> retry);
  void retry_parked_requests();
  void propose_entry(const std::shared_ptr<Pending>& pending, std::string data);
  void start_read(const std::shared_ptr<Pending>& pending, std::string query,
                  raft::ReadMode mode);
  void serve_read_states(const std::vector<raft::ReadState>& states);
  void fail_reads(const std::vector<raft::ReadFailure>& failures);
  Reply read_machine(const std::string& query);
  void change_membership(const std::shared_ptr<Pending>& pending,
                         const raft::ConfChange& change);
  void check_transfers();
  void maybe_tick_kv_clock(Clock::time_point now);
};

}  // namespace dengine::node
