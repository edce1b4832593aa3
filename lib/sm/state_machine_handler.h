// The state-machine handler: applies the committed log to the application's
// machine (the dengine_state_machine vtable) on one dedicated apply thread,
// and tells everyone waiting on the applied state when it moves.
//
// Threads. The Raft thread hands work over through apply(), install() and
// request_snapshot(), which only queue it and never block on the machine.
// The apply thread (owned here, started by start()) runs every machine
// callback that the vtable rules put there, one at a time and in queue
// order. Waiter callbacks (proposals, reads, snapshot completions) and the
// options' callbacks run on the apply thread; on the registering thread when
// already settled at registration; on the thread calling stop() for waiters
// failed by shutdown. They must not block on further applies; stop() from
// one is refused (DENGINE_ERR_INVALID_ARGUMENT). Every method is
// thread-safe.
//
// Ordering. Queued work is handled strictly in order: entries, snapshot
// installs and snapshot requests. Entries at or below last_applied (the
// machine's, after a restart, or a just-installed snapshot's index) are
// skipped without reaching the machine; an entry past last_applied + 1 is a
// gap, which is fatal, as is a failed apply_chunk or install: the handler
// never skips an entry it was asked to apply.
//
// Durability. Per-entry results are reported as soon as apply_chunk returns,
// without a flush: the committed log is the durable record, and the vtable
// requires last_applied to be persisted atomically with each chunk's effects,
// so a machine that loses unflushed chunks in a power loss also forgets that
// it applied them, and they are replayed. The handler flushes (flush, else
// flush_async waited for) only when it stops.
//
// Envelopes and sessions (sm/session.h). The data of every normal entry is
// an envelope, stripped before the machine sees the payload. A session
// entry goes through the session table first: a duplicate or a rejected
// one is delivered to the machine as a DENGINE_ENTRY_NOOP entry without
// data (so the machine still sees every index), and its proposer gets the
// first application's result (duplicate), DENGINE_ERR_INVALID_ARGUMENT (a
// seq forgotten) or DENGINE_ERR_SESSION_EXPIRED (a client the table does
// not hold). A register entry opens a session in the table and reaches the
// machine as a NOOP the same way; its proposer gets DENGINE_OK, and the
// entry's index is the new client id.
// A normal entry whose envelope does not decode is, the same way on every
// replica, delivered as a NOOP and its proposer gets
// DENGINE_ERR_INVALID_ARGUMENT: only the node writes envelopes, so it is a
// bug or corruption, which must not make replicas disagree.
//
// Restart. start() reads the machine's last_applied() (NULL: 0, and the
// machine is then reset, since it cannot say what it holds). If that is below
// the latest snapshot in the store, the snapshot is verified and installed
// first; otherwise the session table of the latest snapshot is loaded. The
// node must then set raft Config::applied to replay_from(): the latest
// snapshot's index, so the entries between it and last_applied() are
// re-delivered, skipped (not applied again) but read for the term and the
// membership the next snapshot must record, and fed to the session table
// (a seq applied by them has an unknown result). An entry to apply that
// finds the session table behind (entries after the snapshot were not
// re-delivered) is fatal with DENGINE_ERR_INTERNAL: deduplicating without
// them could apply a seq twice.
//
// Snapshots. By policy (after a chunk) and on request, on the apply thread:
// generate_snapshot into <data dir>/machine/ of a SnapshotStore writer, the
// session table into <data dir>/sessions, commit (SHA-256 over both), then
// on_snapshot_taken. A failed snapshot is not fatal: a request gets the
// error; a policy snapshot is retried after the next interval. An install
// requires both parts (a missing session table is corruption): the table
// is loaded before the machine is given <data dir>/machine.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "base/histogram.h"
#include "dengine.h"
#include "raft/types.h"
#include "sm/session.h"
#include "sm/snapshot_policy.h"
#include "storage/snapshot_store.h"
#include "watch/event.h"

namespace dengine::sm {

// How a proposal ended. status: DENGINE_OK (the entry applied, or is a
// duplicate of a session seq that applied: `result` and `data` are what the
// machine set for it; a register entry: it opened a session, and both are
// empty), DENGINE_ERR_NOT_LEADER (another leader's entry took
// its index: it was never applied), DENGINE_ERR_INVALID_ARGUMENT (not
// applied: a bad envelope, or a session seq already acknowledged or too
// old; see `message`), DENGINE_ERR_SESSION_EXPIRED (not applied: the
// session's client is not in the table), DENGINE_ERR_TIMEOUT (outcome
// unknown: a snapshot from the leader covered it, or it was registered
// after it applied), DENGINE_ERR_SHUTTING_DOWN, or the fatal error's code
// once the handler stopped on one.
struct ProposalOutcome {
  int status = DENGINE_OK;
  int32_t result = 0;
  std::string data;
  // Why, when status is not DENGINE_OK or the result is unknown.
  std::string message;
  // A session seq that had applied before: this entry was not applied, and
  // `result` and `data` are the first application's.
  bool duplicate = false;
  // false for a duplicate whose first application's result is unknown (it
  // was re-delivered after a restart): `result` and `data` are empty.
  bool result_known = true;
};

// The snapshot layout under SnapshotInfo::data_dir.
inline constexpr char kSnapshotMachineDir[] = "machine";     // the machine's
inline constexpr char kSnapshotSessionsFile[] = "sessions";  // the table's

struct StateMachineHandlerOptions {
  // Chunk bounds: at most this many entries, and entries are added while the
  // chunk's data is under max_chunk_bytes (one entry always fits).
  size_t max_chunk_entries = 256;
  uint64_t max_chunk_bytes = 4ull << 20;
  SnapshotPolicy snapshot_policy;
  // Where snapshots are written and recovered from; borrowed, must outlive
  // the handler. nullptr: no snapshots (requests fail with
  // DENGINE_ERR_UNSUPPORTED) and no recovery from one.
  storage::SnapshotStore* snapshots = nullptr;
  // After each snapshot taken here is complete in the store: the node
  // compacts its log (DurableStorage::compact(info.meta)). Apply thread.
  // `seconds`: how long writing it took (the machine's part, the session
  // table, the commit and its syncs).
  std::function<void(const storage::SnapshotInfo& info, double seconds)>
      on_snapshot_taken;
  // Where the seconds each apply_chunk call took are counted (borrowed,
  // must outlive the handler); nullptr: not counted.
  base::Histogram* apply_seconds = nullptr;
  // After each chunk applied: its watch events (sm/chunk_events.h), in
  // revision order, and the index of its last entry — every entry up to it
  // has reported its events. Apply thread; must not block. Empty: events
  // are not collected.
  std::function<void(std::vector<watch::Event> events, uint64_t covered_to)>
      on_events;
  // The same events, earlier where the machine allows: a built-in KV
  // machine has them recorded just before its durable write, so a crash
  // leaves the watch history at or ahead of what the machine applied,
  // never behind it (the node cuts a history that is ahead at its restart).
  // Any other machine has them recorded after apply_chunk returns. Apply
  // thread; only with on_events; empty: not called.
  std::function<void(const std::vector<watch::Event>& events,
                     uint64_t covered_to)>
      on_events_recorded;
  // After a snapshot from the leader was installed at `index`: the events
  // of the entries up to it are unknown here. Apply thread.
  std::function<void(uint64_t index)> on_events_reset;
  // Once, when the handler stops applying because of an error (code is a
  // DENGINE_ERR_*); the node must stop. Apply thread.
  std::function<void(int code, const std::string& message)> on_fatal;
};

class StateMachineHandler {
 public:
  using ProposalCallback = std::function<void(const ProposalOutcome&)>;
  // status: DENGINE_OK once applied >= the index, else SHUTTING_DOWN or the
  // fatal error's code.
  using ReadCallback = std::function<void(int status)>;
  using SnapshotCallback =
      std::function<void(int status, const std::string& message,
                         const storage::SnapshotInfo& info)>;
  using InstallCallback =
      std::function<void(int status, const std::string& message)>;

  // `machine` is copied; its user pointer is borrowed and must stay valid
  // until stop() returns.
  StateMachineHandler(const dengine_state_machine& machine,
                      StateMachineHandlerOptions options);
  ~StateMachineHandler();  // stops
  StateMachineHandler(const StateMachineHandler&) = delete;
  StateMachineHandler& operator=(const StateMachineHandler&) = delete;

  // Calls the machine's start, recovers (see Restart above) and starts the
  // apply thread. Returns DENGINE_OK, or an error code with *error set (the
  // apply thread has then ended; stop() still stops the machine). Call once.
  int start(std::string* error);

  // Restart facts, valid after a successful start().
  uint64_t replay_from() const { return replay_from_; }
  uint64_t last_applied() const;
  raft::Term last_applied_term() const;

  // Queues committed entries (Ready::committed_entries) in log order.
  void apply(std::vector<raft::Entry> entries);
  // Queues the install of a snapshot received from the leader, complete in
  // the store (`info` from a commit: SnapshotWriter::commit,
  // StagedSnapshot::commit, or SnapshotStore::latest). Its SHA-256 is
  // recomputed first; a mismatch is fatal with DENGINE_ERR_CORRUPTION and the
  // machine is never called. `done` may be empty.
  void install(storage::SnapshotInfo info, InstallCallback done);
  // Queues a snapshot of the state as of everything queued before it.
  void request_snapshot(SnapshotCallback done);

  // Calls `done` once the entry at `index` applied: with its result if it
  // has `term`, else as failed (see ProposalOutcome). Register right after
  // proposing, before the entry can be queued.
  void wait_proposal(raft::Index index, raft::Term term, ProposalCallback done);
  // Calls `done` once last_applied >= index (at once if already so).
  void wait_applied(raft::Index index, ReadCallback done);
  // Blocks until last_applied >= index, the deadline passes
  // (DENGINE_ERR_TIMEOUT), or the handler stops.
  int wait_applied_until(raft::Index index,
                         std::chrono::steady_clock::time_point deadline);

  // DENGINE_OK, or the fatal error's code; *message gets its text.
  int fatal_status(std::string* message) const;

  // Applies everything queued (work queued after stop() began is refused),
  // flushes, joins the apply thread, calls the machine's stop on this thread,
  // and fails every remaining waiter with DENGINE_ERR_SHUTTING_DOWN. Returns
  // the fatal error if there was one, else the first error among flush and
  // the machine's stop. Idempotent: later calls return the same status (a
  // call racing the first one may return before it finishes).
  int stop();
  // Whether the caller is the apply thread (inside a machine call or a
  // completion it runs).
  bool on_apply_thread() const {
    return std::this_thread::get_id() == thread_id_;
  }

 private:
  // What travels the queue from the Raft thread to the apply thread, handled
  // strictly in order: a committed entry, a snapshot to install, or a
  // request to take one. The callbacks inside travel back: the apply thread
  // runs them.
  struct InstallWork {
    storage::SnapshotInfo info;
    InstallCallback done;
  };
  struct SnapshotWork {
    SnapshotCallback done;
  };
  using Work = std::variant<raft::Entry, InstallWork, SnapshotWork>;
  bool enqueue(Work& work, int* refused, std::string* message);
  struct Proposal {
    raft::Term term;
    ProposalCallback done;
  };
  // Waiters and queued work that can no longer complete (fatal error, stop).
  struct Leftovers {
    std::multimap<raft::Index, Proposal> proposals;
    std::multimap<raft::Index, ReadCallback> reads;
    std::deque<Work> queue;
  };

  // What becomes of one committed entry: what the machine is given and how
  // its proposer is answered.
  struct Delivery {
    bool to_machine = true;  // false: given as a NOOP entry without data
    std::string_view data;   // the payload (a view into the entry)
    // Admitted by the session table: its result is to be remembered.
    std::optional<SessionHeader> session;
    // The proposer gets the machine's result for the entry at this index
    // when that entry is in the same chunk (itself, or the first
    // application of a duplicate); else `outcome` as it is.
    std::optional<raft::Index> result_of;
    ProposalOutcome outcome;
  };

  // --- the apply thread and the pipeline (state_machine_handler.cc) ---
  void run();
  bool report_recovery();
  bool run_next();
  std::vector<raft::Entry> pop_chunk();
  void apply_entries(std::vector<raft::Entry> entries);
  bool select_new(std::vector<raft::Entry> entries, raft::Index applied,
                  std::vector<raft::Entry>* todo);
  static std::vector<dengine_entry> machine_view(
      const std::vector<raft::Entry>& todo,
      const std::vector<Delivery>& deliveries);
  void remember_session_results(const std::vector<Delivery>& deliveries,
                                const dengine_results& results);
  // Strips the envelope of the entry at sessions_.index() + 1 and feeds it
  // to the session table.
  Delivery deliver(const raft::Entry& entry);
  void admit(raft::Index index, const SessionHeader& session, Delivery* d);
  // Records the term and membership of an entry as it applies or is skipped.
  void observe(const raft::Entry& entry);
  // Moves last_applied to `index` and settles the waiters it satisfies:
  // proposals at entries of `applied` (delivered as `deliveries`, with the
  // machine's `results`) get their outcome, earlier ones (covered by a
  // snapshot) an unknown one.
  void advance_to(raft::Index index, raft::Term term,
                  const std::vector<raft::Entry>& applied,
                  const std::vector<Delivery>& deliveries,
                  const dengine_results& results);
  static ProposalOutcome outcome_of(raft::Index at, raft::Term term,
                                    raft::Index index,
                                    const std::vector<raft::Entry>& applied,
                                    const std::vector<Delivery>& deliveries,
                                    const dengine_results& results);
  void fail(int code, std::string message);
  Leftovers take_leftovers();
  static void refuse(Leftovers& left, int code, const std::string& message,
                     const std::string& work_message);
  int flush_machine(std::string* error);

  // --- snapshots (state_machine_handler_snapshots.cc) ---
  int recover(std::string* error);
  int read_machine_applied(uint64_t* applied, std::string* error);
  void track_snapshot(const raft::SnapshotMeta& meta);
  // Reads the session table of a snapshot; not fatal by itself.
  int load_sessions(const storage::SnapshotInfo& info, SessionTable* out,
                    std::string* error);
  // Verifies `info` and installs it into the machine and the session table;
  // not fatal by itself.
  int install_into_machine(const storage::SnapshotInfo& info,
                           std::string* error);
  void install_snapshot(InstallWork work);
  void take_snapshot(SnapshotCallback done);
  int snapshot_refusal(raft::Index applied, std::string* message) const;
  int write_snapshot(const raft::SnapshotMeta& meta,
                     storage::SnapshotInfo* info, std::string* message);

  dengine_state_machine machine_;
  const StateMachineHandlerOptions options_;
  uint64_t replay_from_ = 0;

  // Apply-thread state: what the next snapshot records.
  raft::Index tracked_index_ = 0;  // term and conf are known as of here
  raft::Term tracked_term_ = 0;
  raft::ConfState tracked_conf_;
  raft::Index last_snapshot_index_ = 0;
  SessionTable sessions_;  // as of tracked_index_
  uint64_t entries_since_snapshot_ = 0;
  uint64_t bytes_since_snapshot_ = 0;

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable work_ready_;
  std::condition_variable applied_changed_;
  std::deque<Work> queue_;
  raft::Index last_applied_ = 0;
  raft::Term last_applied_term_ = 0;
  std::multimap<raft::Index, Proposal> proposals_;
  std::multimap<raft::Index, ReadCallback> reads_;
  bool recovered_ = false;  // the apply thread finished recovery
  int recover_code_ = DENGINE_OK;
  std::string recover_error_;
  bool stopping_ = false;  // no new work; the queue drains
  bool stopped_ = false;   // stop() ran (or is running)
  bool closed_ = false;    // waiters are failed from now on
  int stop_code_ = DENGINE_OK;
  std::string flush_error_;
  int flush_code_ = DENGINE_OK;
  bool machine_started_ = false;
  int fatal_code_ = DENGINE_OK;
  std::string fatal_message_;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};  // thread_'s, kept after join
};

}  // namespace dengine::sm
