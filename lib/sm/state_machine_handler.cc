#include "sm/state_machine_handler.h"

#include <memory>
#include <utility>

#include "raft/conf_change.h"
#include "sm/apply_results.h"
#include "storage/file_system.h"

namespace dengine::sm {

namespace {

int code_of(const storage::Status& s) {
  switch (s.code()) {
    case storage::StatusCode::kOk:
      return DENGINE_OK;
    case storage::StatusCode::kNotFound:
      return DENGINE_ERR_NOT_FOUND;
    case storage::StatusCode::kCorruption:
      return DENGINE_ERR_CORRUPTION;
    case storage::StatusCode::kIo:
      return DENGINE_ERR_IO;
    case storage::StatusCode::kInvalidArgument:
      return DENGINE_ERR_INVALID_ARGUMENT;
    case storage::StatusCode::kClosed:
      return DENGINE_ERR_SHUTTING_DOWN;
    default:
      return DENGINE_ERR_INTERNAL;
  }
}

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

bool hex_to_sha256(const std::string& hex, uint8_t out[32]) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string describe(const raft::SnapshotMeta& meta) {
  return "snapshot at index " + std::to_string(meta.index) + " term " +
         std::to_string(meta.term);
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

int StateMachineHandler::recover(std::string* error) {
  uint64_t applied = 0;
  if (machine_.last_applied != nullptr) {
    applied = machine_.last_applied(machine_.user);
  } else if (machine_.reset != nullptr) {
    // It cannot say what it holds: start from empty and replay everything.
    if (int rc = machine_.reset(machine_.user); rc != DENGINE_OK) {
      *error = "state machine reset failed with status " + std::to_string(rc);
      return DENGINE_ERR_STATE_MACHINE;
    }
  }
  storage::SnapshotInfo latest;
  if (options_.snapshots != nullptr) {
    storage::Status s = options_.snapshots->latest(&latest);
    if (!s && s.code() != storage::StatusCode::kNotFound) {
      *error = s.to_string();
      return code_of(s);
    }
  }
  if (latest.meta.index > applied) {
    if (int rc = install_into_machine(latest, error); rc != DENGINE_OK) {
      return rc;
    }
    applied = latest.meta.index;
  } else if (latest.meta.index > 0) {
    // The entries after the snapshot are re-delivered and rebuild the rest.
    if (int rc = load_sessions(latest, &sessions_, error); rc != DENGINE_OK) {
      return rc;
    }
  }
  replay_from_ = latest.meta.index;
  tracked_index_ = latest.meta.index;
  tracked_term_ = latest.meta.term;
  tracked_conf_ = latest.meta.conf;
  last_snapshot_index_ = latest.meta.index;
  std::lock_guard lock(mutex_);
  last_applied_ = applied;
  // Unknown (0) until the entry at `applied` is re-delivered.
  last_applied_term_ = applied == latest.meta.index ? latest.meta.term : 0;
  return DENGINE_OK;
}

void StateMachineHandler::run() {
  std::string error;
  const int rc = recover(&error);
  {
    std::lock_guard lock(mutex_);
    recovered_ = true;
    recover_code_ = rc;
    recover_error_ = std::move(error);
  }
  applied_changed_.notify_all();
  if (rc != DENGINE_OK) return;

  for (;;) {
    std::unique_lock lock(mutex_);
    work_ready_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) break;  // stopping, and everything queued is done
    if (std::holds_alternative<raft::Entry>(queue_.front())) {
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
  SessionDecision decision = sessions_.admit(entry.index, envelope.session);
  switch (decision.verdict) {
    case SessionDecision::Verdict::kApply:
      d.session = envelope.session;
      break;
    case SessionDecision::Verdict::kDuplicate:
      d.to_machine = false;
      d.result_of = decision.applied_at;
      d.outcome.duplicate = true;
      d.outcome.result_known = decision.result.known;
      d.outcome.result = decision.result.status;
      d.outcome.data = std::move(decision.result.data);
      if (!decision.result.known) {
        d.outcome.message = "duplicate of entry " +
                            std::to_string(decision.applied_at) +
                            ", re-delivered after a restart: its result is "
                            "unknown";
      }
      break;
    case SessionDecision::Verdict::kRejected:
    case SessionDecision::Verdict::kExpired:
      d.to_machine = false;
      d.result_of.reset();
      d.outcome.status = decision.verdict == SessionDecision::Verdict::kExpired
                             ? DENGINE_ERR_SESSION_EXPIRED
                             : DENGINE_ERR_INVALID_ARGUMENT;
      d.outcome.message = std::move(decision.reason);
      break;
  }
  return d;
}

void StateMachineHandler::apply_entries(std::vector<raft::Entry> entries) {
  const raft::Index applied = last_applied_;  // written only on this thread
  std::vector<raft::Entry> todo;
  for (auto& entry : entries) {
    if (entry.index <= applied) {
      // Re-delivered after a restart or a snapshot: the session table learns
      // the seqs it applied, with unknown results.
      if (entry.index == sessions_.index() + 1) deliver(entry);
      observe(entry);
      if (entry.index == applied) {
        std::lock_guard lock(mutex_);
        last_applied_term_ = entry.term;
      }
      continue;
    }
    const raft::Index expected = applied + 1 + todo.size();
    if (entry.index != expected) {
      fail(DENGINE_ERR_INTERNAL,
           "state machine handler: entry " + std::to_string(entry.index) +
               " arrived where " + std::to_string(expected) +
               " was expected (a gap or reordering in the committed log)");
      return;
    }
    todo.push_back(std::move(entry));
  }
  if (todo.empty()) return;
  if (sessions_.index() != applied) {
    fail(DENGINE_ERR_INTERNAL,
         "state machine handler: the session table is at entry " +
             std::to_string(sessions_.index()) + " but entry " +
             std::to_string(applied + 1) +
             " is to apply: the entries after the latest snapshot were not "
             "re-delivered (raft Config::applied must be replay_from())");
    return;
  }

  const raft::Index first = todo.front().index;
  std::vector<Delivery> deliveries;
  deliveries.reserve(todo.size());
  std::vector<dengine_entry> view(todo.size());
  uint64_t bytes = 0;
  for (size_t i = 0; i < todo.size(); ++i) {
    const Delivery& d = deliveries.emplace_back(deliver(todo[i]));
    view[i].index = todo[i].index;
    view[i].term = todo[i].term;
    if (d.to_machine) {
      view[i].kind = kind_of(todo[i].type);
      view[i].data = reinterpret_cast<const uint8_t*>(d.data.data());
      view[i].len = d.data.size();
    } else {
      view[i].kind = DENGINE_ENTRY_NOOP;
    }
    bytes += todo[i].data.size();
  }
  dengine_results results;
  results.entries.resize(todo.size());
  const int rc =
      machine_.apply_chunk(machine_.user, view.data(), view.size(), &results);
  if (rc != DENGINE_OK) {
    fail(DENGINE_ERR_STATE_MACHINE,
         "state machine: apply_chunk returned " + std::to_string(rc) +
             " for entries [" + std::to_string(first) + ", " +
             std::to_string(todo.back().index) + "]; applying stopped");
    return;
  }
  for (size_t i = 0; i < todo.size(); ++i) {
    if (!deliveries[i].session) continue;
    const auto& r = results.entries[i];
    sessions_.set_result(
        *deliveries[i].session,
        {true, r.status, std::string(r.data.begin(), r.data.end())});
  }
  for (const auto& entry : todo) observe(entry);
  entries_since_snapshot_ += todo.size();
  bytes_since_snapshot_ += bytes;
  advance_to(todo.back().index, todo.back().term, todo, deliveries, results);

  if (options_.snapshots != nullptr &&
      options_.snapshot_policy.due(entries_since_snapshot_,
                                   bytes_since_snapshot_)) {
    take_snapshot(nullptr);
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
    const raft::Index first = applied.empty() ? index + 1 : applied[0].index;
    auto end = proposals_.upper_bound(index);
    for (auto it = proposals_.begin(); it != end; ++it) {
      ProposalOutcome outcome;
      if (it->first < first) {
        outcome.status = DENGINE_ERR_TIMEOUT;
        outcome.message = "entry " + std::to_string(it->first) +
                          " was covered by a snapshot; its outcome is unknown";
      } else {
        const size_t i = it->first - first;
        if (applied[i].term != it->second.term) {
          outcome.status = DENGINE_ERR_NOT_LEADER;
          outcome.message =
              "entry " + std::to_string(it->first) + " has term " +
              std::to_string(applied[i].term) + ", not the proposal's " +
              std::to_string(it->second.term) + ": leadership changed";
        } else {
          outcome = deliveries[i].outcome;
          const std::optional<raft::Index>& source = deliveries[i].result_of;
          if (source && *source >= first) {
            const auto& r = results.entries[*source - first];
            outcome.result = r.status;
            outcome.data.assign(r.data.begin(), r.data.end());
            outcome.result_known = true;
            outcome.message.clear();
          }
        }
      }
      settled.emplace_back(std::move(it->second.done), std::move(outcome));
    }
    proposals_.erase(proposals_.begin(), end);
    auto read_end = reads_.upper_bound(index);
    for (auto it = reads_.begin(); it != read_end; ++it) {
      woken.push_back(std::move(it->second));
    }
    reads_.erase(reads_.begin(), read_end);
  }
  applied_changed_.notify_all();
  for (auto& [done, outcome] : settled) done(outcome);
  for (auto& done : woken) done(DENGINE_OK);
}

void StateMachineHandler::take_snapshot(SnapshotCallback done) {
  auto finish = [&](int status, const std::string& message,
                    const storage::SnapshotInfo& info) {
    if (done) done(status, message, info);
  };
  // Whatever the outcome, the policy counts afresh: a failing snapshot is
  // retried after the next interval rather than after every chunk.
  entries_since_snapshot_ = 0;
  bytes_since_snapshot_ = 0;
  const raft::Index applied = last_applied_;
  if (options_.snapshots == nullptr) {
    finish(DENGINE_ERR_UNSUPPORTED, "no snapshot store configured", {});
    return;
  }
  if (applied == 0) {
    finish(DENGINE_ERR_NOT_FOUND, "nothing applied yet to snapshot", {});
    return;
  }
  if (tracked_index_ != applied) {
    finish(DENGINE_ERR_BUSY,
           "membership as of index " + std::to_string(applied) +
               " is unknown until entries from " +
               std::to_string(tracked_index_ + 1) + " are re-delivered",
           {});
    return;
  }
  if (applied == last_snapshot_index_) {
    storage::SnapshotInfo latest;
    storage::Status s = options_.snapshots->latest(&latest);
    if (s && latest.meta.index == applied) {
      finish(DENGINE_OK, "", latest);
      return;
    }
  }
  raft::SnapshotMeta meta{applied, tracked_term_, tracked_conf_};
  std::unique_ptr<storage::SnapshotWriter> writer;
  if (storage::Status s = options_.snapshots->begin(meta, &writer); !s) {
    finish(code_of(s), s.to_string(), {});
    return;
  }
  const std::string machine_dir =
      writer->data_dir() + "/" + kSnapshotMachineDir;
  if (storage::Status s =
          storage::posix_file_system()->create_dirs(machine_dir);
      !s) {
    finish(code_of(s), s.to_string(), {});
    return;
  }
  if (int rc = machine_.generate_snapshot(machine_.user, machine_dir.c_str(),
                                          applied);
      rc != DENGINE_OK) {
    writer->abort();
    finish(DENGINE_ERR_STATE_MACHINE,
           "state machine: generate_snapshot returned " + std::to_string(rc) +
               " for " + describe(meta),
           {});
    return;
  }
  // Synced by commit, with the machine's files.
  std::unique_ptr<storage::File> file;
  storage::Status s = storage::posix_file_system()->open(
      writer->data_dir() + "/" + kSnapshotSessionsFile, true, &file);
  if (s) s = file->write(0, sessions_.encode());
  if (!s) {
    finish(code_of(s), s.to_string(), {});
    return;
  }
  storage::SnapshotInfo info;
  if (s = writer->commit("", &info); !s) {
    finish(code_of(s), s.to_string(), {});
    return;
  }
  last_snapshot_index_ = applied;
  if (options_.on_snapshot_taken) options_.on_snapshot_taken(info);
  finish(DENGINE_OK, "", info);
}

int StateMachineHandler::load_sessions(const storage::SnapshotInfo& info,
                                       SessionTable* out, std::string* error) {
  const std::string path = info.data_dir + "/" + kSnapshotSessionsFile;
  std::unique_ptr<storage::File> file;
  std::string bytes;
  storage::Status s = storage::posix_file_system()->open(path, false, &file);
  if (s) s = file->read(0, file->size(), &bytes);
  if (s) s = SessionTable::decode(bytes, out);
  if (s && out->index() != info.meta.index) {
    s = storage::Status::corruption("session table at entry " +
                                    std::to_string(out->index()));
  }
  if (!s) {
    *error = describe(info.meta) + ": bad session table " + path + ": " +
             s.to_string();
    // A snapshot without its table is damaged, not absent.
    return s.code() == storage::StatusCode::kNotFound ? DENGINE_ERR_CORRUPTION
                                                      : code_of(s);
  }
  return DENGINE_OK;
}

int StateMachineHandler::install_into_machine(const storage::SnapshotInfo& info,
                                              std::string* error) {
  std::string actual;
  if (storage::Status s = storage::sha256_of_dir(info.data_dir, &actual); !s) {
    *error = "cannot verify " + describe(info.meta) + ": " + s.to_string();
    return code_of(s);
  }
  dengine_snapshot_meta meta{};
  if (actual != info.sha256 || !hex_to_sha256(info.sha256, meta.sha256)) {
    *error = "corruption: " + describe(info.meta) + " in " + info.data_dir +
             " hashes to SHA-256 " + actual + ", expected " + info.sha256 +
             "; refused";
    return DENGINE_ERR_CORRUPTION;
  }
  meta.last_index = info.meta.index;
  meta.last_term = info.meta.term;
  SessionTable sessions;
  if (int rc = load_sessions(info, &sessions, error); rc != DENGINE_OK) {
    return rc;
  }
  const std::string machine_dir = info.data_dir + "/" + kSnapshotMachineDir;
  if (int rc =
          machine_.install_snapshot(machine_.user, machine_dir.c_str(), &meta);
      rc != DENGINE_OK) {
    *error = "state machine: install_snapshot returned " + std::to_string(rc) +
             " for " + describe(info.meta);
    return DENGINE_ERR_STATE_MACHINE;
  }
  sessions_ = std::move(sessions);
  return DENGINE_OK;
}

void StateMachineHandler::install_snapshot(InstallWork work) {
  auto finish = [&](int status, const std::string& message) {
    if (work.done) work.done(status, message);
  };
  if (work.info.meta.index <= last_applied_) {
    finish(DENGINE_OK, "already applied past " + describe(work.info.meta));
    return;
  }
  std::string error;
  if (int rc = install_into_machine(work.info, &error); rc != DENGINE_OK) {
    // The log now continues after the snapshot: without it, applying on
    // would leave a gap.
    fail(rc, error);
    finish(rc, error);
    return;
  }
  tracked_index_ = work.info.meta.index;
  tracked_term_ = work.info.meta.term;
  tracked_conf_ = work.info.meta.conf;
  last_snapshot_index_ = work.info.meta.index;
  entries_since_snapshot_ = 0;
  bytes_since_snapshot_ = 0;
  // Reported before waiters see the new index, so whoever waits for it also
  // sees the install's completion.
  finish(DENGINE_OK, "");
  advance_to(work.info.meta.index, work.info.meta.term, {}, {},
             dengine_results{});
}

void StateMachineHandler::fail(int code, std::string message) {
  std::multimap<raft::Index, Proposal> proposals;
  std::multimap<raft::Index, ReadCallback> reads;
  std::deque<Work> queue;
  {
    std::lock_guard lock(mutex_);
    fatal_code_ = code;
    fatal_message_ = message;
    proposals.swap(proposals_);
    reads.swap(reads_);
    queue.swap(queue_);
  }
  applied_changed_.notify_all();
  ProposalOutcome outcome;
  outcome.status = code;
  outcome.message = message;
  for (auto& [index, proposal] : proposals) proposal.done(outcome);
  for (auto& [index, done] : reads) done(code);
  for (auto& work : queue) {
    if (auto* install = std::get_if<InstallWork>(&work)) {
      if (install->done) install->done(code, message);
    } else if (auto* snapshot = std::get_if<SnapshotWork>(&work)) {
      if (snapshot->done) snapshot->done(code, message, {});
    }
  }
  if (options_.on_fatal) options_.on_fatal(code, message);
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
  work_ready_.notify_all();
  if (thread_.joinable()) thread_.join();

  int code = DENGINE_OK;
  bool machine_started = false;
  std::multimap<raft::Index, Proposal> proposals;
  std::multimap<raft::Index, ReadCallback> reads;
  std::deque<Work> queue;
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
    proposals.swap(proposals_);
    reads.swap(reads_);
    queue.swap(queue_);  // left only if the apply thread never ran
  }
  applied_changed_.notify_all();
  if (machine_started && machine_.stop != nullptr) {
    const int rc = machine_.stop(machine_.user);
    if (rc != DENGINE_OK && code == DENGINE_OK)
      code = DENGINE_ERR_STATE_MACHINE;
  }
  ProposalOutcome outcome;
  outcome.status = DENGINE_ERR_SHUTTING_DOWN;
  outcome.message = "state machine handler stopped";
  for (auto& [index, proposal] : proposals) proposal.done(outcome);
  for (auto& [index, done] : reads) done(DENGINE_ERR_SHUTTING_DOWN);
  for (auto& work : queue) {
    if (auto* install = std::get_if<InstallWork>(&work)) {
      if (install->done) install->done(DENGINE_ERR_SHUTTING_DOWN, "stopped");
    } else if (auto* snapshot = std::get_if<SnapshotWork>(&work)) {
      if (snapshot->done)
        snapshot->done(DENGINE_ERR_SHUTTING_DOWN, "stopped", {});
    }
  }
  std::lock_guard lock(mutex_);
  stop_code_ = code;
  return code;
}

}  // namespace dengine::sm
