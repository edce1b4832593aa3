#include "testkit/sm_suite.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <system_error>

#include "sm/apply_results.h"
#include "sm/versioned_struct.h"

namespace dengine::testkit {
namespace {

namespace fs = std::filesystem;

// Returns the failure of a step from the enclosing case.
#define SM_SUITE_TRY(step)                                  \
  do {                                                      \
    if (std::string failure_ = (step); !failure_.empty()) { \
      return failure_;                                      \
    }                                                       \
  } while (0)

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kEntriesPerTerm = 50;
constexpr auto kFlushAsyncPatience = std::chrono::seconds(60);

bool is_noop(uint64_t index) { return index % kEntriesPerTerm == 1; }
uint64_t term_of(uint64_t index) {
  return index == 0 ? 0 : 1 + (index - 1) / kEntriesPerTerm;
}

std::string status_text(const char* callback, int status) {
  return std::string(callback) + " returned " + std::to_string(status) + " (" +
         dengine_strerror(status) + ")";
}

// Calls an snprintf-style writer, growing the buffer once if it asks to.
Bytes call_writer(const std::function<size_t(uint8_t*, size_t)>& write) {
  Bytes buf(256);
  size_t len = write(buf.data(), buf.size());
  if (len > buf.size()) {
    buf.resize(len);
    len = write(buf.data(), buf.size());
  }
  buf.resize(std::min(len, buf.size()));
  return buf;
}

// The builder's view of commands and state, with the documented defaults.
class Workload {
 public:
  explicit Workload(const dengine_sm_builder& builder) : builder_(builder) {}

  Bytes command(uint64_t n) const {
    if (builder_.make_command == nullptr) {
      Bytes le(8);
      for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(n >> (8 * i));
      return le;
    }
    return call_writer([&](uint8_t* buf, size_t cap) {
      return builder_.make_command(builder_.user, n, buf, cap);
    });
  }

  bool has_state_query() const { return builder_.make_state_query != nullptr; }
  Bytes state_query() const {
    return call_writer([&](uint8_t* buf, size_t cap) {
      return builder_.make_state_query(builder_.user, buf, cap);
    });
  }

  const dengine_sm_builder& builder() const { return builder_; }

 private:
  const dengine_sm_builder& builder_;
};

std::string read_file(const fs::path& path, Bytes* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read " + path.string();
  out->assign(std::istreambuf_iterator<char>(in), {});
  return "";
}

// Every regular file under `dir`, by relative path, with its bytes.
std::string directory_contents(const fs::path& dir, std::string* out) {
  std::map<std::string, Bytes> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    SM_SUITE_TRY(read_file(entry.path(),
                           &files[fs::relative(entry.path(), dir).string()]));
  }
  out->clear();
  for (const auto& [name, bytes] : files) {
    *out += name + '\0' + std::to_string(bytes.size()) + '\0';
    out->append(bytes.begin(), bytes.end());
  }
  return "";
}

void make_fresh_directory(const fs::path& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
}

// One machine from the builder, opened and started. Destroying it without
// stop_and_close() closes it without stop: a simulated crash.
class Machine {
 public:
  Machine(const Workload& workload, fs::path path)
      : workload_(workload), path_(std::move(path)) {}
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;
  ~Machine() { crash(); }

  // Opens (recovering what is in the directory), checks the vtable, starts.
  std::string open() {
    fs::create_directories(path_);
    sm_ = {};
    int status = builder().open(builder().user, path_.c_str(), &sm_);
    if (status != DENGINE_OK) return status_text("open", status);
    open_ = true;
    SM_SUITE_TRY(check_vtable());
    if (sm_.start != nullptr) {
      status = sm_.start(sm_.user);
      if (status != DENGINE_OK) return status_text("start", status);
    }
    applied_ = last_applied();
    return "";
  }

  std::string stop_and_close() {
    if (sm_.stop != nullptr) {
      int status = sm_.stop(sm_.user);
      if (status != DENGINE_OK) return status_text("stop", status);
    }
    crash();
    return "";
  }

  void crash() {
    if (!open_) return;
    open_ = false;
    builder().close(builder().user, &sm_);
  }

  // Applies entries first..last as one chunk; results, if wanted, per entry.
  std::string apply(uint64_t first, uint64_t last,
                    dengine_results* results = nullptr) {
    std::vector<Bytes> commands;
    std::vector<dengine_entry> entries;
    // Reserved, so the entries' data pointers into it stay valid.
    commands.reserve(last - first + 1);
    for (uint64_t index = first; index <= last; ++index) {
      dengine_entry entry{index, term_of(index), DENGINE_ENTRY_NOOP, nullptr,
                          0};
      if (!is_noop(index)) {
        commands.push_back(workload_.command(index));
        entry.kind = DENGINE_ENTRY_NORMAL;
        entry.data = commands.back().data();
        entry.len = commands.back().size();
      }
      entries.push_back(entry);
    }
    dengine_results own_results;
    if (results == nullptr) results = &own_results;
    dengine::sm::prepare_results(entries.data(), entries.size(), results);
    int status =
        sm_.apply_chunk(sm_.user, entries.data(), entries.size(), results);
    if (status != DENGINE_OK) {
      return status_text("apply_chunk", status) + " for entries " +
             std::to_string(first) + ".." + std::to_string(last);
    }
    applied_ = std::max(applied_, last);
    return "";
  }

  std::string apply_in_chunks(uint64_t first, uint64_t last, uint64_t chunk,
                              bool flush_each = false) {
    for (uint64_t start = first; start <= last; start += chunk) {
      SM_SUITE_TRY(apply(start, std::min(last, start + chunk - 1)));
      if (flush_each) SM_SUITE_TRY(flush());
    }
    return "";
  }

  // flush_async when the machine has it (as the engine prefers), else flush.
  std::string flush() {
    if (sm_.flush_async != nullptr) return flush_async();
    if (sm_.flush == nullptr) return "";
    int status = sm_.flush(sm_.user);
    return status == DENGINE_OK ? "" : status_text("flush", status);
  }

  // What the machine says it holds; 0 when it does not say.
  uint64_t last_applied() const {
    return sm_.last_applied == nullptr ? 0 : sm_.last_applied(sm_.user);
  }

  // last_applied() must say `want`; a NULL last_applied is not checked.
  std::string expect_last_applied(uint64_t want, const std::string& when) {
    if (sm_.last_applied == nullptr) return "";
    uint64_t got = sm_.last_applied(sm_.user);
    if (got == want) return "";
    return "last_applied() is " + std::to_string(got) + " " + when +
           ", expected " + std::to_string(want);
  }

  std::string expect_empty(const std::string& when) {
    SM_SUITE_TRY(expect_last_applied(0, when));
    if (sm_.len != nullptr && sm_.len(sm_.user) != 0) {
      return "len() is " + std::to_string(sm_.len(sm_.user)) + " " + when +
             ", expected 0";
    }
    return "";
  }

  std::string generate_snapshot(const fs::path& dir) {
    make_fresh_directory(dir);
    int status = sm_.generate_snapshot(sm_.user, dir.c_str(), applied_);
    return status == DENGINE_OK ? "" : status_text("generate_snapshot", status);
  }

  std::string install_snapshot(const fs::path& dir, uint64_t last_index) {
    dengine_snapshot_meta meta{last_index, term_of(last_index), {}};
    int status = sm_.install_snapshot(sm_.user, dir.c_str(), &meta);
    if (status != DENGINE_OK) return status_text("install_snapshot", status);
    applied_ = last_index;
    return expect_last_applied(last_index, "after install_snapshot");
  }

  bool can_reset() const { return sm_.reset != nullptr; }
  std::string reset() {
    int status = sm_.reset(sm_.user);
    if (status != DENGINE_OK) return status_text("reset", status);
    applied_ = 0;
    return expect_empty("after reset");
  }

  // Whether the machine says how far it got (last_applied is not NULL).
  bool tracks_applied() const { return sm_.last_applied != nullptr; }

  // After reopening: the index to resume after. Without last_applied, the
  // engine resets the machine and replays everything, and so does this.
  std::string recover(uint64_t* resume_after) {
    if (!tracks_applied() && can_reset()) SM_SUITE_TRY(reset());
    *resume_after = last_applied();
    return "";
  }

  // The machine's state as bytes: the answer to the builder's state query,
  // or the files of a snapshot. Equal bytes mean equal states.
  std::string state(std::string* out) {
    if (workload_.has_state_query() && sm_.read != nullptr) {
      Bytes query = workload_.state_query();
      dengine_read_result answer;
      int status = sm_.read(sm_.user, query.data(), query.size(), &answer);
      if (status != DENGINE_OK) return status_text("read", status);
      out->assign(answer.data.begin(), answer.data.end());
    } else {
      fs::path dir = path_.string() + "-state";
      SM_SUITE_TRY(generate_snapshot(dir));
      SM_SUITE_TRY(directory_contents(dir, out));
      fs::remove_all(dir);
    }
    if (sm_.len != nullptr)
      *out += "\nlen=" + std::to_string(sm_.len(sm_.user));
    return "";
  }

 private:
  const dengine_sm_builder& builder() const { return workload_.builder(); }

  // Reads the machine open made as a node would (any version up to the
  // current one), so the suite runs exactly what a node runs.
  std::string check_vtable() {
    dengine_state_machine read{};
    if (std::string e = sm::read_versioned(
            "machine", &sm_, DENGINE_STATE_MACHINE_VERSION, &read);
        !e.empty()) {
      return "open made a bad machine: " + e;
    }
    sm_ = read;
    if (sm_.apply_chunk == nullptr || sm_.generate_snapshot == nullptr ||
        sm_.install_snapshot == nullptr) {
      return "open made a machine without apply_chunk, generate_snapshot or "
             "install_snapshot (all required)";
    }
    return "";
  }

  struct FlushWait {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    int status = DENGINE_OK;
  };

  std::string flush_async() {
    // Shared with the callback, which may come late from another thread.
    auto* wait = new FlushWait;
    auto done = [](void* ctx, int status) {
      auto* w = static_cast<FlushWait*>(ctx);
      std::lock_guard lock(w->mutex);
      w->done = true;
      w->status = status;
      w->done_cv.notify_all();
    };
    int status = sm_.flush_async(sm_.user, done, wait);
    if (status != DENGINE_OK) {
      // Without a successful start, done is never called.
      delete wait;
      return status_text("flush_async", status);
    }
    std::unique_lock lock(wait->mutex);
    if (!wait->done_cv.wait_for(lock, kFlushAsyncPatience,
                                [&] { return wait->done; })) {
      lock.unlock();  // `wait` is leaked on purpose: done may still come
      return "flush_async did not call done within 60 s";
    }
    int done_status = wait->status;
    lock.unlock();
    delete wait;
    return done_status == DENGINE_OK
               ? ""
               : status_text("flush_async's done", done_status);
  }

  const Workload& workload_;
  fs::path path_;
  dengine_state_machine sm_{};
  bool open_ = false;
  uint64_t applied_ = 0;  // the index the suite last applied or installed
};

// The state of machines that applied entries 1..n once, in one chunk, kept
// by n. Each reference machine lives in its own directory under `dir`.
class References {
 public:
  References(const Workload& workload, fs::path dir)
      : workload_(workload), dir_(std::move(dir)) {}

  std::string state(uint64_t n, std::string* out) {
    if (auto it = states_.find(n); it != states_.end()) {
      *out = it->second;
      return "";
    }
    Machine machine(workload_, dir_ / std::to_string(n));
    SM_SUITE_TRY(with_context("reference machine", machine.open()));
    if (n > 0)
      SM_SUITE_TRY(with_context("reference machine", machine.apply(1, n)));
    SM_SUITE_TRY(with_context("reference machine", machine.state(out)));
    SM_SUITE_TRY(with_context("reference machine", machine.stop_and_close()));
    states_[n] = *out;
    return "";
  }

  // Fails unless `machine` holds the state of entries 1..n applied once.
  std::string expect(Machine& machine, uint64_t n, const std::string& when) {
    std::string want;
    std::string got;
    SM_SUITE_TRY(state(n, &want));
    SM_SUITE_TRY(machine.state(&got));
    if (got == want) return "";
    return "state " + when + " differs from a machine that applied entries " +
           "1.." + std::to_string(n) + " once";
  }

 private:
  static std::string with_context(const char* what, std::string failure) {
    return failure.empty() ? failure : std::string(what) + ": " + failure;
  }

  const Workload& workload_;
  fs::path dir_;
  std::map<uint64_t, std::string> states_;
};

struct CaseContext {
  const Workload& workload;
  References& references;
  fs::path dir;  // fresh and empty

  std::unique_ptr<Machine> machine(const std::string& name) const {
    return std::make_unique<Machine>(workload, dir / name);
  }
};

// start, stop and reopen an empty machine; NULL optional callbacks are fine.
std::string lifecycle(const CaseContext& c) {
  auto m = c.machine("machine");
  SM_SUITE_TRY(m->open());
  SM_SUITE_TRY(m->expect_empty("on a new machine"));
  SM_SUITE_TRY(m->stop_and_close());
  SM_SUITE_TRY(m->open());
  SM_SUITE_TRY(m->expect_empty("after reopening an empty machine"));
  SM_SUITE_TRY(c.references.expect(*m, 0, "after reopening an empty machine"));
  return m->stop_and_close();
}

// Chunks of any size give the same per-entry results and the same state as
// one big chunk, and each new entry changes the state.
std::string apply_in_order(const CaseContext& c) {
  constexpr uint64_t kLast = 60;
  auto whole = c.machine("whole");
  auto chunked = c.machine("chunked");
  SM_SUITE_TRY(whole->open());
  SM_SUITE_TRY(chunked->open());
  dengine_results whole_results;
  SM_SUITE_TRY(whole->apply(1, kLast, &whole_results));
  SM_SUITE_TRY(whole->expect_last_applied(kLast, "after one chunk"));
  for (uint64_t first = 1; first <= kLast; first += 7) {
    const uint64_t last = std::min(kLast, first + 6);
    dengine_results results;
    SM_SUITE_TRY(chunked->apply(first, last, &results));
    SM_SUITE_TRY(chunked->expect_last_applied(
        last, "after the chunk " + std::to_string(first) + ".." +
                  std::to_string(last)));
    for (uint64_t index = first; index <= last; ++index) {
      const auto& got = results.entries[index - first];
      const auto& want = whole_results.entries[index - 1];
      if (got.status != want.status || got.data != want.data) {
        return "the result of entry " + std::to_string(index) +
               " depends on how entries are chunked";
      }
    }
  }
  SM_SUITE_TRY(c.references.expect(*chunked, kLast, "after chunks of 7"));
  std::string before;
  std::string after;
  SM_SUITE_TRY(c.references.state(kLast - 1, &before));
  SM_SUITE_TRY(c.references.state(kLast, &after));
  if (before == after) {
    return "applying entry " + std::to_string(kLast) +
           " left the state unchanged: commands must change the state (see "
           "make_command)";
  }
  SM_SUITE_TRY(whole->stop_and_close());
  return chunked->stop_and_close();
}

// After a crash, entries already applied come again: they must change nothing.
std::string redelivery_after_crash(const CaseContext& c) {
  auto m = c.machine("machine");
  SM_SUITE_TRY(m->open());
  SM_SUITE_TRY(m->apply_in_chunks(1, 20, 10, /*flush_each=*/true));
  m->crash();
  SM_SUITE_TRY(m->open());
  uint64_t resume_after = 0;
  SM_SUITE_TRY(m->recover(&resume_after));
  if (m->tracks_applied()) {
    SM_SUITE_TRY(m->expect_last_applied(20, "after flush, crash and reopen"));
    SM_SUITE_TRY(m->apply(11, 20));
    SM_SUITE_TRY(c.references.expect(*m, 20, "after re-delivering 11..20"));
    SM_SUITE_TRY(m->apply(15, 30));
    SM_SUITE_TRY(c.references.expect(*m, 30, "after re-delivering 15..30"));
  } else {
    SM_SUITE_TRY(m->apply_in_chunks(1, 30, 10));
    SM_SUITE_TRY(c.references.expect(*m, 30, "after replaying 1..30"));
  }
  SM_SUITE_TRY(m->expect_last_applied(30, "after re-delivery"));
  return m->stop_and_close();
}

// generate -> reset -> install restores the state as of the snapshot, both
// on the machine that made it and on a fresh one (a follower); the snapshot
// is unaffected by later applies, and applying goes on after an install.
std::string snapshot_generate_reset_install(const CaseContext& c) {
  const fs::path snapshot = c.dir / "snapshot";
  auto m = c.machine("machine");
  SM_SUITE_TRY(m->open());
  SM_SUITE_TRY(m->apply_in_chunks(1, 30, 10));
  SM_SUITE_TRY(m->generate_snapshot(snapshot));
  SM_SUITE_TRY(m->apply(31, 40));
  if (m->can_reset()) {
    SM_SUITE_TRY(m->reset());
    SM_SUITE_TRY(c.references.expect(*m, 0, "after reset"));
  }
  SM_SUITE_TRY(m->install_snapshot(snapshot, 30));
  SM_SUITE_TRY(c.references.expect(*m, 30, "after install_snapshot"));
  SM_SUITE_TRY(m->apply(31, 45));
  SM_SUITE_TRY(c.references.expect(*m, 45, "after applying past a snapshot"));
  SM_SUITE_TRY(m->stop_and_close());

  auto follower = c.machine("follower");
  SM_SUITE_TRY(follower->open());
  SM_SUITE_TRY(follower->install_snapshot(snapshot, 30));
  SM_SUITE_TRY(c.references.expect(*follower, 30,
                                   "after install_snapshot on a new machine"));
  SM_SUITE_TRY(follower->stop_and_close());
  SM_SUITE_TRY(follower->open());
  uint64_t resume_after = 0;
  SM_SUITE_TRY(follower->recover(&resume_after));
  if (follower->tracks_applied()) {
    SM_SUITE_TRY(follower->expect_last_applied(
        30, "after install_snapshot, stop and reopen"));
    SM_SUITE_TRY(c.references.expect(
        *follower, 30, "after install_snapshot, stop and reopen"));
  }
  return follower->stop_and_close();
}

// stop makes everything applied durable, flushed or not.
std::string durability_after_stop(const CaseContext& c) {
  auto m = c.machine("machine");
  SM_SUITE_TRY(m->open());
  SM_SUITE_TRY(m->apply_in_chunks(1, 25, 5));
  SM_SUITE_TRY(m->stop_and_close());
  SM_SUITE_TRY(m->open());
  uint64_t resume_after = 0;
  SM_SUITE_TRY(m->recover(&resume_after));
  if (m->tracks_applied()) {
    SM_SUITE_TRY(m->expect_last_applied(25, "after stop and reopen"));
    SM_SUITE_TRY(c.references.expect(*m, 25, "after stop and reopen"));
  }
  return m->stop_and_close();
}

// A crash keeps at least what was flushed, and whole chunks only: recovery
// then resumes from last_applied to the same state.
std::string durability_after_crash(const CaseContext& c) {
  auto m = c.machine("machine");
  SM_SUITE_TRY(m->open());
  SM_SUITE_TRY(m->apply(1, 10));
  SM_SUITE_TRY(m->flush());
  SM_SUITE_TRY(m->apply(11, 20));
  m->crash();
  SM_SUITE_TRY(m->open());
  uint64_t resume_after = 0;
  SM_SUITE_TRY(m->recover(&resume_after));
  if (m->tracks_applied() && resume_after != 10 && resume_after != 20) {
    return "last_applied() is " + std::to_string(resume_after) +
           " after a crash; expected 10 (flushed) or 20 (the next chunk, "
           "whole)";
  }
  if (m->tracks_applied()) {
    SM_SUITE_TRY(c.references.expect(*m, resume_after, "after a crash"));
  }
  if (resume_after < 20) SM_SUITE_TRY(m->apply(resume_after + 1, 20));
  SM_SUITE_TRY(c.references.expect(*m, 20, "after recovering from a crash"));
  return m->stop_and_close();
}

// reset empties the machine, durably, and it works as new afterwards.
std::string reset_clears(const CaseContext& c) {
  auto m = c.machine("machine");
  SM_SUITE_TRY(m->open());
  if (!m->can_reset()) return m->stop_and_close();
  SM_SUITE_TRY(m->apply_in_chunks(1, 15, 5));
  SM_SUITE_TRY(m->reset());
  SM_SUITE_TRY(c.references.expect(*m, 0, "after reset"));
  SM_SUITE_TRY(m->stop_and_close());
  SM_SUITE_TRY(m->open());
  SM_SUITE_TRY(m->expect_empty("after reset, stop and reopen"));
  SM_SUITE_TRY(c.references.expect(*m, 0, "after reset, stop and reopen"));
  SM_SUITE_TRY(m->apply_in_chunks(1, 15, 5));
  SM_SUITE_TRY(c.references.expect(*m, 15, "after reset and re-applying"));
  return m->stop_and_close();
}

struct SmCase {
  const char* name;
  std::string (*run)(const CaseContext&);
};

constexpr SmCase kCases[] = {
    {"lifecycle", lifecycle},
    {"apply_in_order", apply_in_order},
    {"redelivery_after_crash", redelivery_after_crash},
    {"snapshot_generate_reset_install", snapshot_generate_reset_install},
    {"durability_after_stop", durability_after_stop},
    {"durability_after_crash", durability_after_crash},
    {"reset_clears", reset_clears},
};

// A case's failure, also when the file system throws on the suite's side.
std::string run_guarded(const std::function<std::string()>& run) {
  try {
    return run();
  } catch (const std::exception& e) {
    return std::string("the suite failed: ") + e.what();
  }
}

std::string time_apply(const Workload& workload, const fs::path& dir,
                       uint64_t count, double* seconds) {
  make_fresh_directory(dir);
  Machine m(workload, dir / "machine");
  SM_SUITE_TRY(m.open());
  auto start = std::chrono::steady_clock::now();
  SM_SUITE_TRY(m.apply_in_chunks(1, count, 10, /*flush_each=*/true));
  *seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return m.stop_and_close();
}

}  // namespace

std::string read_sm_suite_input(const dengine_sm_builder* builder,
                                const char* dir, dengine_sm_builder* out) {
  if (std::string e = sm::read_versioned("builder", builder,
                                         DENGINE_SM_BUILDER_VERSION, out);
      !e.empty()) {
    return e;
  }
  if (out->open == nullptr || out->close == nullptr) {
    return "builder->open and builder->close are required";
  }
  if (dir == nullptr) return "dir is NULL";
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return std::string("dir \"") + dir + "\" is not an existing directory";
  }
  return "";
}

std::vector<SmCaseOutcome> run_sm_conformance(const dengine_sm_builder& builder,
                                              const std::string& dir) {
  Workload workload(builder);
  // Reference machines from an earlier run in this directory may come from
  // another machine or workload: always start over.
  make_fresh_directory(fs::path(dir) / "references");
  References references(workload, fs::path(dir) / "references");
  std::vector<SmCaseOutcome> outcomes;
  for (const SmCase& sm_case : kCases) {
    std::string failure = run_guarded([&] {
      CaseContext context{workload, references, fs::path(dir) / sm_case.name};
      make_fresh_directory(context.dir);
      return sm_case.run(context);
    });
    outcomes.push_back({sm_case.name, failure});
  }
  return outcomes;
}

std::string format_sm_report(const std::vector<SmCaseOutcome>& outcomes) {
  std::string report;
  for (const SmCaseOutcome& outcome : outcomes) {
    report += outcome.failure.empty()
                  ? "ok " + outcome.name + "\n"
                  : "FAIL " + outcome.name + ": " + outcome.failure + "\n";
  }
  return report;
}

SmPerformance run_sm_performance(const dengine_sm_builder& builder,
                                 const std::string& dir) {
  Workload workload(builder);
  SmPerformance perf;
  perf.failure = run_guarded([&] {
    SM_SUITE_TRY(time_apply(workload, fs::path(dir) / "perf_100", 100,
                            &perf.seconds_100));
    return time_apply(workload, fs::path(dir) / "perf_1000", 1000,
                      &perf.seconds_1000);
  });
  std::ostringstream report;
  report << "100 entries: " << perf.seconds_100 * 1e3 << " ms\n"
         << "1000 entries: " << perf.seconds_1000 * 1e3 << " ms\n";
  if (perf.failure.empty() && perf.seconds_100 >= 1.0) {
    perf.failure = "100 entries took 1 s or more";
  } else if (perf.failure.empty() &&
             perf.seconds_1000 > 30 * perf.seconds_100) {
    perf.failure = "1000 entries took over 30 times as long as 100";
  }
  report << (perf.failure.empty() ? "ok" : "FAIL: " + perf.failure) << "\n";
  perf.report = report.str();
  return perf;
}

#undef SM_SUITE_TRY

}  // namespace dengine::testkit
