// The state-machine handler's snapshot work, all on the apply thread:
// recovery at start(), taking a snapshot (by policy or on request) and
// installing one received from the leader. The apply pipeline, the queue and
// the waiters live in state_machine_handler.cc.
#include "sm/state_machine_handler.h"

#include <chrono>
#include <memory>
#include <utility>

#include "sm/apply_results.h"
#include "storage/file_system.h"

namespace dengine::sm {

namespace {

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

// ---------------------------------------------------------------------------
// Recovery (start())

int StateMachineHandler::recover(std::string* error) {
  uint64_t applied = 0;
  if (int rc = read_machine_applied(&applied, error); rc != DENGINE_OK) {
    return rc;
  }
  storage::SnapshotInfo latest;
  if (options_.snapshots != nullptr) {
    storage::Status s = options_.snapshots->latest(&latest);
    if (!s && s.code() != storage::StatusCode::kNotFound) {
      *error = s.to_string();
      return storage::to_dengine_code(s);
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
  track_snapshot(latest.meta);
  std::lock_guard lock(mutex_);
  last_applied_ = applied;
  // Unknown (0) until the entry at `applied` is re-delivered.
  last_applied_term_ = applied == latest.meta.index ? latest.meta.term : 0;
  return DENGINE_OK;
}

int StateMachineHandler::read_machine_applied(uint64_t* applied,
                                              std::string* error) {
  if (machine_.last_applied != nullptr) {
    *applied = machine_.last_applied(machine_.user);
  } else if (machine_.reset != nullptr) {
    // It cannot say what it holds: start from empty and replay everything.
    if (int rc = machine_.reset(machine_.user); rc != DENGINE_OK) {
      *error = "state machine reset failed with status " + std::to_string(rc);
      return DENGINE_ERR_STATE_MACHINE;
    }
  }
  return DENGINE_OK;
}

// The next snapshot builds on `meta`: its term and membership, and the policy
// counts from it.
void StateMachineHandler::track_snapshot(const raft::SnapshotMeta& meta) {
  tracked_index_ = meta.index;
  tracked_term_ = meta.term;
  tracked_conf_ = meta.conf;
  last_snapshot_index_ = meta.index;
}

// ---------------------------------------------------------------------------
// Taking a snapshot

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
  std::string message;
  if (int rc = snapshot_refusal(applied, &message); rc != DENGINE_OK) {
    finish(rc, message, {});
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
  storage::SnapshotInfo info;
  const raft::SnapshotMeta meta{applied, tracked_term_, tracked_conf_};
  const auto began = std::chrono::steady_clock::now();
  if (int rc = write_snapshot(meta, &info, &message); rc != DENGINE_OK) {
    finish(rc, message, {});
    return;
  }
  const std::chrono::duration<double> took =
      std::chrono::steady_clock::now() - began;
  last_snapshot_index_ = applied;
  if (options_.on_snapshot_taken) {
    options_.on_snapshot_taken(info, took.count());
  }
  finish(DENGINE_OK, "", info);
}

// Why no snapshot can be taken at `applied` now (DENGINE_OK: it can).
int StateMachineHandler::snapshot_refusal(raft::Index applied,
                                          std::string* message) const {
  if (options_.snapshots == nullptr) {
    *message = "no snapshot store configured";
    return DENGINE_ERR_UNSUPPORTED;
  }
  if (applied == 0) {
    *message = "nothing applied yet to snapshot";
    return DENGINE_ERR_NOT_FOUND;
  }
  if (tracked_index_ != applied) {
    *message = "membership as of index " + std::to_string(applied) +
               " is unknown until entries from " +
               std::to_string(tracked_index_ + 1) + " are re-delivered";
    return DENGINE_ERR_BUSY;
  }
  return DENGINE_OK;
}

// The machine's part into <data dir>/machine, the session table into
// <data dir>/sessions, then the commit (which syncs both and hashes them).
int StateMachineHandler::write_snapshot(const raft::SnapshotMeta& meta,
                                        storage::SnapshotInfo* info,
                                        std::string* message) {
  std::unique_ptr<storage::SnapshotWriter> writer;
  storage::Status s = options_.snapshots->begin(meta, &writer);
  const std::string machine_dir =
      s ? writer->data_dir() + "/" + kSnapshotMachineDir : "";
  if (s) s = storage::posix_file_system()->create_dirs(machine_dir);
  if (!s) {
    *message = s.to_string();
    return storage::to_dengine_code(s);
  }
  if (int rc = machine_.generate_snapshot(machine_.user, machine_dir.c_str(),
                                          meta.index);
      rc != DENGINE_OK) {
    writer->abort();
    *message = "state machine: generate_snapshot returned " +
               std::to_string(rc) + " for " + describe(meta);
    return DENGINE_ERR_STATE_MACHINE;
  }
  std::unique_ptr<storage::File> file;
  s = storage::posix_file_system()->open(
      writer->data_dir() + "/" + kSnapshotSessionsFile, true, &file);
  if (s) s = file->write(0, sessions_.encode());
  if (s) s = writer->commit("", info);
  if (!s) {
    *message = s.to_string();
    return storage::to_dengine_code(s);
  }
  return DENGINE_OK;
}

// ---------------------------------------------------------------------------
// Installing a snapshot

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
    return s.code() == storage::StatusCode::kNotFound
               ? DENGINE_ERR_CORRUPTION
               : storage::to_dengine_code(s);
  }
  return DENGINE_OK;
}

int StateMachineHandler::install_into_machine(const storage::SnapshotInfo& info,
                                              std::string* error) {
  std::string actual;
  if (storage::Status s = storage::sha256_of_dir(info.data_dir, &actual); !s) {
    *error = "cannot verify " + describe(info.meta) + ": " + s.to_string();
    return storage::to_dengine_code(s);
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
  track_snapshot(work.info.meta);
  entries_since_snapshot_ = 0;
  bytes_since_snapshot_ = 0;
  // The entries the snapshot covers were never applied here: their events
  // are unknown.
  if (options_.on_events_reset) options_.on_events_reset(work.info.meta.index);
  // Reported before waiters see the new index, so whoever waits for it also
  // sees the install's completion.
  finish(DENGINE_OK, "");
  advance_to(work.info.meta.index, work.info.meta.term, {}, {},
             dengine_results{});
}

}  // namespace dengine::sm
