// What the state-machine handler tests share: a machine that records what
// the handler does with it, entry builders, and a fixture with a snapshot
// store in a fresh directory.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "raft/conf_change.h"
#include "sm/apply_results.h"
#include "sm/session.h"
#include "sm/state_machine_handler.h"
#include "storage/snapshot_store.h"

namespace dengine::sm::handler_test {

namespace fs = std::filesystem;

// A machine whose state is the list of indexes it applied; it records every
// callback so tests can check what the handler did. `gate` (when armed)
// holds the first apply_chunk until released, so work piles up behind it.
struct RecordingMachine {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::vector<uint64_t>> chunks;  // indexes per apply_chunk
  std::vector<uint32_t> kinds;
  std::vector<std::string> payloads;  // the data of each applied entry
  uint64_t applied = 0;
  uint64_t fail_at = 0;  // apply_chunk fails on a chunk holding this index
  bool gate_armed = false;
  bool in_gate = false;
  bool gate_open = false;
  int installs = 0;
  int resets = 0;
  int flushes = 0;
  int stops = 0;
  int starts = 0;

  static RecordingMachine* of(void* user) {
    return static_cast<RecordingMachine*>(user);
  }

  dengine_state_machine vtable() {
    dengine_state_machine m{};
    m.version = DENGINE_STATE_MACHINE_VERSION;
    m.struct_size = sizeof(m);
    m.user = this;
    m.start = [](void* u) {
      of(u)->starts++;
      return 0;
    };
    m.stop = [](void* u) {
      of(u)->stops++;
      return 0;
    };
    m.apply_chunk = [](void* u, const dengine_entry* e, size_t n,
                       dengine_results* r) { return of(u)->apply(e, n, r); };
    m.last_applied = [](void* u) {
      std::lock_guard lock(of(u)->mutex);
      return of(u)->applied;
    };
    m.generate_snapshot = [](void* u, const char* dir, uint64_t last) -> int {
      std::lock_guard lock(of(u)->mutex);
      if (last != of(u)->applied) return DENGINE_ERR_INVALID_ARGUMENT;
      std::ofstream(std::string(dir) + "/state") << last;
      return 0;
    };
    m.install_snapshot = [](void* u, const char* dir,
                            const dengine_snapshot_meta* meta) -> int {
      uint64_t index = 0;
      std::ifstream(std::string(dir) + "/state") >> index;
      if (index != meta->last_index) return DENGINE_ERR_CORRUPTION;
      std::lock_guard lock(of(u)->mutex);
      of(u)->installs++;
      of(u)->applied = index;
      return 0;
    };
    m.flush = [](void* u) {
      std::lock_guard lock(of(u)->mutex);
      of(u)->flushes++;
      return 0;
    };
    return m;
  }

  int apply(const dengine_entry* e, size_t n, dengine_results* r) {
    std::unique_lock lock(mutex);
    if (gate_armed) {
      gate_armed = false;
      in_gate = true;
      cv.notify_all();
      cv.wait(lock, [&] { return gate_open; });
    }
    std::vector<uint64_t> indexes;
    for (size_t i = 0; i < n; ++i) {
      if (e[i].index == fail_at) return DENGINE_ERR_IO;
      indexes.push_back(e[i].index);
    }
    for (size_t i = 0; i < n; ++i) {
      if (e[i].index != applied + 1) return DENGINE_ERR_INVALID_ARGUMENT;
      applied = e[i].index;
      kinds.push_back(e[i].kind);
      payloads.emplace_back(reinterpret_cast<const char*>(e[i].data), e[i].len);
      const std::string answer = "r" + std::to_string(e[i].index);
      dengine_results_set(r, i, static_cast<int32_t>(e[i].index * 10),
                          answer.data(), answer.size());
    }
    chunks.push_back(indexes);
    return 0;
  }

  void wait_in_gate() {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return in_gate; });
  }
  void open_gate() {
    std::lock_guard lock(mutex);
    gate_open = true;
    cv.notify_all();
  }
  uint64_t last() {
    std::lock_guard lock(mutex);
    return applied;
  }
};

// A normal entry as the node proposes it: `payload` in a plain envelope.
inline raft::Entry entry(raft::Index index, raft::Term term = 1,
                         std::string_view payload = "x") {
  raft::Entry e;
  e.index = index;
  e.term = term;
  e.type = raft::EntryType::kNormal;
  e.data = wrap_plain(payload);
  return e;
}

inline raft::Entry session_entry(raft::Index index, raft::Term term,
                                 const SessionHeader& header,
                                 std::string_view payload) {
  raft::Entry e = entry(index, term);
  e.data = wrap_session(header, payload);
  return e;
}

inline std::vector<raft::Entry> entries(raft::Index from, raft::Index to,
                                        raft::Term term = 1) {
  std::vector<raft::Entry> out;
  for (raft::Index i = from; i <= to; ++i) out.push_back(entry(i, term));
  return out;
}

inline raft::Entry bootstrap_entry(std::vector<raft::NodeId> voters) {
  raft::ConfChangeRecord record;
  record.change.type = raft::ConfChangeType::kBootstrap;
  record.conf.voters = std::move(voters);
  raft::Entry e;
  e.index = 1;
  e.term = 1;
  e.type = raft::EntryType::kConfChange;
  e.data = raft::encode_conf_change(record);
  return e;
}

// Waits for the handler to apply through `index`; fails the test if it does
// not within a generous bound (a hang, not a timing assertion).
inline void await_applied(StateMachineHandler& h, raft::Index index) {
  ASSERT_EQ(h.wait_applied_until(index, std::chrono::steady_clock::now() +
                                            std::chrono::seconds(30)),
            DENGINE_OK);
}

class HandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("handler-" + std::to_string(::getpid()) + "-" +
            test->test_suite_name() + "-" + test->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(
        storage::SnapshotStore::open((dir_ / "snapshots").string(), 3, &store_)
            .is_ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<StateMachineHandler> start(StateMachineHandlerOptions o) {
    auto h =
        std::make_unique<StateMachineHandler>(machine_.vtable(), std::move(o));
    std::string error;
    EXPECT_EQ(h->start(&error), DENGINE_OK) << error;
    return h;
  }

  // A snapshot at `meta` in the store as a leader would send it: the
  // machine's state file under machine/ and the session table.
  storage::SnapshotInfo make_snapshot(const raft::SnapshotMeta& meta) {
    std::unique_ptr<storage::SnapshotWriter> writer;
    EXPECT_TRUE(store_->begin(meta, &writer).is_ok());
    const fs::path data = writer->data_dir();
    fs::create_directories(data / kSnapshotMachineDir);
    std::ofstream(data / kSnapshotMachineDir / "state") << meta.index;
    std::ofstream(data / kSnapshotSessionsFile, std::ios::binary)
        << SessionTable(meta.index).encode();
    storage::SnapshotInfo info;
    EXPECT_TRUE(writer->commit("", &info).is_ok());
    return info;
  }

  fs::path dir_;
  std::unique_ptr<storage::SnapshotStore> store_;
  RecordingMachine machine_;
};

}  // namespace dengine::sm::handler_test
