// The state-machine handler's apply pipeline: the apply thread and its queue,
// committed entries through the session table into apply_chunk, the waiters
// settled as last_applied moves, and shutdown. Snapshot work (recovery,
// taking, installing) is in state_machine_handler_snapshots.cc.
//
// The hand-off. The Raft (loop) thread pushes Work onto queue_ under mutex_
// and wakes the apply thread: committed entries one by one (the apply
// thread regroups them into chunks), a snapshot from the leader to install
// (InstallWork), or a request to take a snapshot (SnapshotWork). Nothing
// else crosses: the apply thread alone touches the machine and the state
// the next snapshot records (tracked_*, sessions_), and hands back
// last_applied and the settled waiters' callbacks under the same mutex.
#include "sm/state_machine_handler.h"

#include <chrono>
#include <utility>

#include "base/write_trace.h"
#include "raft/conf_change.h"
#include "sm/apply_results.h"
#include "sm/chunk_events.h"

namespace dengine::sm {

namespace {

uint32_t kind_of(raft::EntryType type) {
  switch (type) {
    case raft::EntryType::kNoop:
      return DENGINE_ENTRY_NOOP;
    case raft::EntryType::kConfChange:
      return DENGINE_ENTRY_MEMBERSHIP;
    case raft::EntryType::kNormal:
      break;
  }
  return DENGINE_ENTRY_NORMAL;
}

void trace_chunk(base::write_trace::Stage stage,
                 const std::vector<raft::Entry>& chunk) {
  if (!base::write_trace::enabled()) return;
  for (const raft::Entry& e : chunk) base::write_trace::mark(stage, e.index);
}

}  // namespace

StateMachineHandler::StateMachineHandler(const dengine_state_machine& machine,
                                         StateMachineHandlerOptions options)
    : machine_(machine), options_(std::move(options)) {}

StateMachineHandler::~StateMachineHandler() { stop(); }

int StateMachineHandler::start(std::string* error) {
  if (machine_.apply_chunk == nullptr ||
      machine_.generate_snapshot == nullptr ||
      machine_.install_snapshot == nullptr) {
    *error = "state machine lacks a required callback";
    return DENGINE_ERR_INVALID_ARGUMENT;
  }
  {
    std::lock_guard lock(mutex_);
    if (machine_started_ || stopped_) {
      *error = "state machine handler already started or stopped";
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
  }
  if (machine_.start != nullptr) {
    if (int rc = machine_.start(machine_.user); rc != DENGINE_OK) {
      *error = "state machine start failed with status " + std::to_string(rc);
      return DENGINE_ERR_STATE_MACHINE;
    }
  }
  std::unique_lock lock(mutex_);
  machine_started_ = true;
  // Recovery calls reset and install_snapshot, which belong on the apply
  // thread: it runs first there, and start() waits for its outcome.
  thread_ = std::thread([this] {
    thread_id_ = std::this_thread::get_id();
    run();
  });
  applied_changed_.wait(lock, [&] { return recovered_; });
  if (recover_code_ != DENGINE_OK) {
    *error = recover_error_;
    return recover_code_;
  }
  return DENGINE_OK;
}

uint64_t StateMachineHandler::last_applied() const {
  std::lock_guard lock(mutex_);
  return last_applied_;
}

raft::Term StateMachineHandler::last_applied_term() const {
  std::lock_guard lock(mutex_);
  return last_applied_term_;
}

void StateMachineHandler::run() {
  if (!report_recovery()) return;
  while (run_next()) {
  }
  std::string flush_error;
  int flush_code = DENGINE_OK;
  if (fatal_status(nullptr) == DENGINE_OK) {
    flush_code = flush_machine(&flush_error);
  }
  std::lock_guard lock(mutex_);
  flush_code_ = flush_code;
  flush_error_ = std::move(flush_error);
}

// Recovers, and tells start() (waiting on applied_changed_) how it went.
bool StateMachineHandler::report_recovery() {
  std::string error;
  const int rc = recover(&error);
  {
    std::lock_guard lock(mutex_);
    recovered_ = true;
    recover_code_ = rc;
    recover_error_ = std::move(error);
  }
  applied_changed_.notify_all();
  return rc == DENGINE_OK;
}

// Waits for work and runs the next item: a chunk of entries, an install or a
// snapshot. Returns false once stopping and everything queued is done.
bool StateMachineHandler::run_next() {
  std::unique_lock lock(mutex_);
  work_ready_.wait(lock, [&] { return !queue_.empty() || stopping_; });
  if (queue_.empty()) return false;
  if (std::holds_alternative<raft::Entry>(queue_.front())) {
    std::vector<raft::Entry> chunk = pop_chunk();
    lock.unlock();
    apply_entries(std::move(chunk));
  } else if (std::holds_alternative<InstallWork>(queue_.front())) {
    InstallWork work = std::move(std::get<InstallWork>(queue_.front()));
    queue_.pop_front();
    lock.unlock();
    install_snapshot(std::move(work));
  } else {
    SnapshotWork work = std::move(std::get<SnapshotWork>(queue_.front()));
    queue_.pop_front();
    lock.unlock();
    take_snapshot(std::move(work.done));
  }
  return true;
}

// The entries at the front of the queue, up to the chunk bounds. mutex_ held.
std::vector<raft::Entry> StateMachineHandler::pop_chunk() {
  std::vector<raft::Entry> chunk;
  uint64_t bytes = 0;
  while (!queue_.empty() && chunk.size() < options_.max_chunk_entries &&
         std::holds_alternative<raft::Entry>(queue_.front())) {
    auto& entry = std::get<raft::Entry>(queue_.front());
    if (!chunk.empty() &&
        bytes + entry.data.size() > options_.max_chunk_bytes) {
      break;
    }
    bytes += entry.data.size();
    chunk.push_back(std::move(entry));
    queue_.pop_front();
  }
  return chunk;
}

void StateMachineHandler::apply(std::vector<raft::Entry> entries) {
  if (entries.empty()) return;
  {
    std::lock_guard lock(mutex_);
    // After a fatal error nothing applies again; after stop, nothing new.
    if (fatal_code_ != DENGINE_OK || stopping_) return;
    for (auto& entry : entries) queue_.emplace_back(std::move(entry));
  }
  work_ready_.notify_one();
}

// Moves `work` to the apply thread's queue unless a fatal error or stop()
// came first; then leaves it in place, sets *refused and *message and
// returns false.
bool StateMachineHandler::enqueue(Work& work, int* refused,
                                  std::string* message) {
  {
    std::lock_guard lock(mutex_);
    if (fatal_code_ != DENGINE_OK) {
      *refused = fatal_code_;
      *message = fatal_message_;
      return false;
    }
    if (stopping_) {
      *refused = DENGINE_ERR_SHUTTING_DOWN;
      *message = "state machine handler is stopping";
      return false;
    }
    queue_.push_back(std::move(work));
  }
  work_ready_.notify_one();
  return true;
}

void StateMachineHandler::install(storage::SnapshotInfo info,
                                  InstallCallback done) {
  int refused = DENGINE_OK;
  std::string message;
  Work work = InstallWork{std::move(info), std::move(done)};
  if (!enqueue(work, &refused, &message)) {
    const InstallCallback& refuse = std::get<InstallWork>(work).done;
    if (refuse) refuse(refused, message);
  }
}

void StateMachineHandler::request_snapshot(SnapshotCallback done) {
  int refused = DENGINE_OK;
  std::string message;
  Work work = SnapshotWork{std::move(done)};
  if (!enqueue(work, &refused, &message)) {
    const SnapshotCallback& refuse = std::get<SnapshotWork>(work).done;
    if (refuse) refuse(refused, message, storage::SnapshotInfo{});
  }
}

void StateMachineHandler::wait_proposal(raft::Index index, raft::Term term,
                                        ProposalCallback done) {
  ProposalOutcome now;
  {
    std::lock_guard lock(mutex_);
    if (fatal_code_ != DENGINE_OK) {
      now.status = fatal_code_;
      now.message = fatal_message_;
    } else if (closed_) {
      now.status = DENGINE_ERR_SHUTTING_DOWN;
      now.message = "state machine handler stopped";
    } else if (index <= last_applied_) {
      now.status = DENGINE_ERR_TIMEOUT;
      now.message = "entry " + std::to_string(index) +
                    " was already applied; its result is unknown";
    } else {
      proposals_.emplace(index, Proposal{term, std::move(done)});
      return;
    }
  }
  done(now);
}

void StateMachineHandler::wait_applied(raft::Index index, ReadCallback done) {
  int status = DENGINE_OK;
  {
    std::lock_guard lock(mutex_);
    if (index <= last_applied_) {
      status = DENGINE_OK;
    } else if (fatal_code_ != DENGINE_OK) {
      status = fatal_code_;
    } else if (closed_) {
      status = DENGINE_ERR_SHUTTING_DOWN;
    } else {
      reads_.emplace(index, std::move(done));
      return;
    }
  }
  done(status);
}

int StateMachineHandler::wait_applied_until(
    raft::Index index, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  const bool settled = applied_changed_.wait_until(lock, deadline, [&] {
    return last_applied_ >= index || fatal_code_ != DENGINE_OK || closed_;
  });
  if (last_applied_ >= index) return DENGINE_OK;
  if (!settled) return DENGINE_ERR_TIMEOUT;
  return fatal_code_ != DENGINE_OK ? fatal_code_ : DENGINE_ERR_SHUTTING_DOWN;
}

int StateMachineHandler::fatal_status(std::string* message) const {
  std::lock_guard lock(mutex_);
  if (message != nullptr) *message = fatal_message_;
  return fatal_code_;
}

void StateMachineHandler::observe(const raft::Entry& entry) {
  if (entry.index != tracked_index_ + 1) return;
  if (entry.type == raft::EntryType::kConfChange) {
    if (auto record = raft::decode_conf_change(entry.data)) {
      tracked_conf_ = record->conf;
    }
  }
  tracked_index_ = entry.index;
  tracked_term_ = entry.term;
}

StateMachineHandler::Delivery StateMachineHandler::deliver(
    const raft::Entry& entry) {
  Delivery d;
  d.data = entry.data;
  d.result_of = entry.index;
  if (entry.type != raft::EntryType::kNormal) {
    sessions_.pass(entry.index);
    return d;
  }
  Envelope envelope;
  if (storage::Status s = decode_envelope(entry.data, &envelope); !s) {
    sessions_.pass(entry.index);
    d.to_machine = false;
    d.result_of.reset();
    d.outcome.status = DENGINE_ERR_INVALID_ARGUMENT;
    d.outcome.message = "entry " + std::to_string(entry.index) + ": " +
                        s.to_string() + "; delivered as a no-op";
    return d;
  }
  d.data = envelope.payload;
  if (envelope.format == EnvelopeFormat::kPlain) {
    sessions_.pass(entry.index);
    return d;
  }
  if (envelope.format == EnvelopeFormat::kRegister) {
    // The proposer learns the new client id as its entry's index.
    sessions_.register_client(entry.index);
    d.to_machine = false;
    d.result_of.reset();
    return d;
  }
  admit(entry.index, envelope.session, &d);
  return d;
}

// A session entry: the table decides whether the machine applies it.
void StateMachineHandler::admit(raft::Index index, const SessionHeader& session,
                                Delivery* d) {
  SessionDecision decision = sessions_.admit(index, session);
  switch (decision.verdict) {
    case SessionDecision::Verdict::kApply:
      d->session = session;
      break;
    case SessionDecision::Verdict::kDuplicate:
      d->to_machine = false;
      d->result_of = decision.applied_at;
      d->outcome.duplicate = true;
      d->outcome.result_known = decision.result.known;
      d->outcome.result = decision.result.status;
      d->outcome.data = std::move(decision.result.data);
      if (!decision.result.known) {
        d->outcome.message = "duplicate of entry " +
                             std::to_string(decision.applied_at) +
                             ", re-delivered after a restart: its result is "
                             "unknown";
      }
      break;
    case SessionDecision::Verdict::kRejected:
    case SessionDecision::Verdict::kExpired:
      d->to_machine = false;
      d->result_of.reset();
      d->outcome.status = decision.verdict == SessionDecision::Verdict::kExpired
                              ? DENGINE_ERR_SESSION_EXPIRED
                              : DENGINE_ERR_INVALID_ARGUMENT;
      d->outcome.message = std::move(decision.reason);
      break;
  }
}

void StateMachineHandler::apply_entries(std::vector<raft::Entry> entries) {
  const raft::Index applied = last_applied_;  // written only on this thread
  std::vector<raft::Entry> todo;
  if (!select_new(std::move(entries), applied, &todo) || todo.empty()) return;
  if (sessions_.index() != applied) {
    fail(DENGINE_ERR_INTERNAL,
         "state machine handler: the session table is at entry " +
             std::to_string(sessions_.index()) + " but entry " +
             std::to_string(applied + 1) +
             " is to apply: the entries after the latest snapshot were not "
             "re-delivered (raft Config::applied must be replay_from())");
    return;
  }

  std::vector<Delivery> deliveries;
  deliveries.reserve(todo.size());
  trace_chunk(base::write_trace::kApplyStarted, todo);
  uint64_t bytes = 0;
  for (const raft::Entry& entry : todo) {
    deliveries.push_back(deliver(entry));
    bytes += entry.data.size();
  }
  std::vector<dengine_entry> view = machine_view(todo, deliveries);
  dengine_results results;
  prepare_results(view.data(), view.size(), &results);
  // The chunk's events, recorded (on_events_recorded) once final: by a
  // built-in machine just before its durable write, else after the call.
  std::optional<std::vector<watch::Event>> chunk;
  const auto record = [&] {
    if (chunk || !options_.on_events) return;
    chunk = chunk_events(todo, std::move(results.events));
    if (options_.on_events_recorded) {
      options_.on_events_recorded(*chunk, todo.back().index);
    }
  };
  if (options_.on_events) results.before_commit = record;
  const auto began = std::chrono::steady_clock::now();
  const int rc =
      machine_.apply_chunk(machine_.user, view.data(), view.size(), &results);
  if (options_.apply_seconds != nullptr) {
    const std::chrono::duration<double> took =
        std::chrono::steady_clock::now() - began;
    options_.apply_seconds->observe(took.count());
  }
  if (rc != DENGINE_OK) {
    fail(DENGINE_ERR_STATE_MACHINE,
         "state machine: apply_chunk returned " + std::to_string(rc) +
             " for entries [" + std::to_string(todo.front().index) + ", " +
             std::to_string(todo.back().index) + "]; applying stopped");
    return;
  }
  trace_chunk(base::write_trace::kApplied, todo);
  remember_session_results(deliveries, results);
  for (const auto& entry : todo) observe(entry);
  if (options_.on_events) {
    record();
    options_.on_events(std::move(*chunk), todo.back().index);
  }
  entries_since_snapshot_ += todo.size();
  bytes_since_snapshot_ += bytes;
  advance_to(todo.back().index, todo.back().term, todo, deliveries, results);

  if (options_.snapshots != nullptr &&
      options_.snapshot_policy.due(entries_since_snapshot_,
                                   bytes_since_snapshot_)) {
    take_snapshot(nullptr);
  }
}

// Moves the entries past `applied` to *todo. The ones at or below it were
// re-delivered after a restart or a snapshot: they only teach the session
// table the seqs they applied (with unknown results) and the tracked term
// and membership. A gap is fatal (returns false).
bool StateMachineHandler::select_new(std::vector<raft::Entry> entries,
                                     raft::Index applied,
                                     std::vector<raft::Entry>* todo) {
  for (auto& entry : entries) {
    if (entry.index <= applied) {
      if (entry.index == sessions_.index() + 1) deliver(entry);
      observe(entry);
      if (entry.index == applied) {
        std::lock_guard lock(mutex_);
        last_applied_term_ = entry.term;
      }
      continue;
    }
    const raft::Index expected = applied + 1 + todo->size();
    if (entry.index != expected) {
      fail(DENGINE_ERR_INTERNAL,
           "state machine handler: entry " + std::to_string(entry.index) +
               " arrived where " + std::to_string(expected) +
               " was expected (a gap or reordering in the committed log)");
      return false;
    }
    todo->push_back(std::move(entry));
  }
  return true;
}

// What apply_chunk is given: views into `todo` and the deliveries' payloads,
// which must outlive it.
std::vector<dengine_entry> StateMachineHandler::machine_view(
    const std::vector<raft::Entry>& todo,
    const std::vector<Delivery>& deliveries) {
  std::vector<dengine_entry> view(todo.size());
  for (size_t i = 0; i < todo.size(); ++i) {
    view[i].index = todo[i].index;
    view[i].term = todo[i].term;
    view[i].kind = DENGINE_ENTRY_NOOP;  // a no-op has no data for it
    if (deliveries[i].to_machine && todo[i].type != raft::EntryType::kNoop) {
      view[i].kind = kind_of(todo[i].type);
      view[i].data =
          reinterpret_cast<const uint8_t*>(deliveries[i].data.data());
      view[i].len = deliveries[i].data.size();
    }
  }
  return view;
}

// Session entries the machine applied: their results answer later
// duplicates.
void StateMachineHandler::remember_session_results(
    const std::vector<Delivery>& deliveries, const dengine_results& results) {
  for (size_t i = 0; i < deliveries.size(); ++i) {
    if (!deliveries[i].session) continue;
    const auto& r = results.entries[i];
    sessions_.set_result(
        *deliveries[i].session,
        {true, r.status, std::string(r.data.begin(), r.data.end())});
  }
}

void StateMachineHandler::advance_to(raft::Index index, raft::Term term,
                                     const std::vector<raft::Entry>& applied,
                                     const std::vector<Delivery>& deliveries,
                                     const dengine_results& results) {
  std::vector<std::pair<ProposalCallback, ProposalOutcome>> settled;
  std::vector<ReadCallback> woken;
  {
    std::lock_guard lock(mutex_);
    last_applied_ = index;
    last_applied_term_ = term;
    auto end = proposals_.upper_bound(index);
    for (auto it = proposals_.begin(); it != end; ++it) {
      settled.emplace_back(std::move(it->second.done),
                           outcome_of(it->first, it->second.term, index,
                                      applied, deliveries, results));
    }
    proposals_.erase(proposals_.begin(), end);
    auto read_end = reads_.upper_bound(index);
    for (auto it = reads_.begin(); it != read_end; ++it) {
      woken.push_back(std::move(it->second));
    }
    reads_.erase(reads_.begin(), read_end);
  }
  // Callbacks run outside the lock: they may register new waiters.
  applied_changed_.notify_all();
  for (auto& [done, outcome] : settled) done(outcome);
  for (auto& done : woken) done(DENGINE_OK);
}

// The outcome of the proposal of (`at`, `term`) once last_applied reached
// `index` through `applied` (empty: through a snapshot).
ProposalOutcome StateMachineHandler::outcome_of(
    raft::Index at, raft::Term term, raft::Index index,
    const std::vector<raft::Entry>& applied,
    const std::vector<Delivery>& deliveries, const dengine_results& results) {
  ProposalOutcome outcome;
  const raft::Index first = applied.empty() ? index + 1 : applied[0].index;
  if (at < first) {
    outcome.status = DENGINE_ERR_TIMEOUT;
    outcome.message = "entry " + std::to_string(at) +
                      " was covered by a snapshot; its outcome is unknown";
    return outcome;
  }
  const size_t i = at - first;
  if (applied[i].term != term) {
    outcome.status = DENGINE_ERR_NOT_LEADER;
    outcome.message = "entry " + std::to_string(at) + " has term " +
                      std::to_string(applied[i].term) +
                      ", not the proposal's " + std::to_string(term) +
                      ": leadership changed";
    return outcome;
  }
  outcome = deliveries[i].outcome;
  const std::optional<raft::Index>& source = deliveries[i].result_of;
  if (source && *source >= first) {
    const auto& r = results.entries[*source - first];
    outcome.result = r.status;
    outcome.data.assign(r.data.begin(), r.data.end());
    outcome.result_known = true;
    outcome.message.clear();
  }
  return outcome;
}

void StateMachineHandler::fail(int code, std::string message) {
  Leftovers left;
  {
    std::lock_guard lock(mutex_);
    fatal_code_ = code;
    fatal_message_ = message;
    left = take_leftovers();
  }
  applied_changed_.notify_all();
  refuse(left, code, message, message);
  if (options_.on_fatal) options_.on_fatal(code, message);
}

// Every waiter and all queued work, to be refused. mutex_ held.
StateMachineHandler::Leftovers StateMachineHandler::take_leftovers() {
  Leftovers left;
  left.proposals.swap(proposals_);
  left.reads.swap(reads_);
  left.queue.swap(queue_);
  return left;
}

// Fails what `left` holds with `code`: waiters with `message`, queued
// installs and snapshot requests with `work_message`.
void StateMachineHandler::refuse(Leftovers& left, int code,
                                 const std::string& message,
                                 const std::string& work_message) {
  ProposalOutcome outcome;
  outcome.status = code;
  outcome.message = message;
  for (auto& [index, proposal] : left.proposals) proposal.done(outcome);
  for (auto& [index, done] : left.reads) done(code);
  for (auto& work : left.queue) {
    if (auto* install = std::get_if<InstallWork>(&work)) {
      if (install->done) install->done(code, work_message);
    } else if (auto* snapshot = std::get_if<SnapshotWork>(&work)) {
      if (snapshot->done) snapshot->done(code, work_message, {});
    }
  }
}

int StateMachineHandler::flush_machine(std::string* error) {
  int rc = DENGINE_OK;
  if (machine_.flush != nullptr) {
    rc = machine_.flush(machine_.user);
  } else if (machine_.flush_async != nullptr) {
    struct Done {
      std::mutex mutex;
      std::condition_variable cv;
      bool finished = false;
      int status = DENGINE_OK;
    } done;
    rc = machine_.flush_async(
        machine_.user,
        [](void* ctx, int status) {
          auto* d = static_cast<Done*>(ctx);
          std::lock_guard lock(d->mutex);
          d->finished = true;
          d->status = status;
          d->cv.notify_all();
        },
        &done);
    // A non-zero return means it did not start, and `done` is not called.
    if (rc == DENGINE_OK) {
      std::unique_lock lock(done.mutex);
      done.cv.wait(lock, [&] { return done.finished; });
      rc = done.status;
    }
  }
  if (rc != DENGINE_OK) {
    *error = "state machine: flush returned " + std::to_string(rc);
    return DENGINE_ERR_STATE_MACHINE;
  }
  return DENGINE_OK;
}

int StateMachineHandler::stop() {
  if (on_apply_thread()) {
    return DENGINE_ERR_INVALID_ARGUMENT;  // from a callback: would join itself
  }
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return stop_code_;
    stopped_ = true;
    stopping_ = true;
  }
  // The apply thread drains the queue and flushes before it ends.
  work_ready_.notify_all();
  if (thread_.joinable()) thread_.join();

  int code = DENGINE_OK;
  bool machine_started = false;
  Leftovers left;
  {
    std::lock_guard lock(mutex_);
    if (fatal_code_ != DENGINE_OK) {
      code = fatal_code_;
    } else if (recover_code_ != DENGINE_OK) {
      code = recover_code_;
    } else {
      code = flush_code_;
    }
    closed_ = true;
    machine_started = machine_started_;
    left = take_leftovers();  // work is left only if the apply thread never ran
  }
  applied_changed_.notify_all();
  if (machine_started && machine_.stop != nullptr) {
    const int rc = machine_.stop(machine_.user);
    if (rc != DENGINE_OK && code == DENGINE_OK)
      code = DENGINE_ERR_STATE_MACHINE;
  }
  refuse(left, DENGINE_ERR_SHUTTING_DOWN, "state machine handler stopped",
         "stopped");
  std::lock_guard lock(mutex_);
  stop_code_ = code;
  return code;
}

}  // namespace dengine::sm
