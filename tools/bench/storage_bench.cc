// Storage benchmarks: WAL append throughput with group commit beside the
// raw fdatasync rate of the same disk, and WAL reopen time.
//
//   dengine-bench-storage [--dir=PATH] [benchmark flags]
//
// --dir picks the disk (default: a new directory under /tmp, removed after).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "storage/wal_log_store.h"

namespace dengine::storage {
namespace {

constexpr size_t kEntryBytes = 256;
constexpr raft::Index kReopenEntries = 1'000'000;

std::string& bench_dir() {
  static std::string dir;
  return dir;
}

void check(const Status& s, benchmark::State& state) {
  if (!s) state.SkipWithError(s.to_string().c_str());
}

std::vector<raft::Entry> batch_at(raft::Index from, size_t count) {
  std::vector<raft::Entry> batch(count);
  for (size_t k = 0; k < count; ++k) {
    batch[k] = {1, from + k, raft::EntryType::kNormal,
                std::string(kEntryBytes, static_cast<char>('a' + k % 26))};
  }
  return batch;
}

// One append of `batch` entries and one sync per iteration.
void BM_WalAppendSync(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  const std::string dir = bench_dir() + "/append-" + std::to_string(batch);
  FileSystem* fs = posix_file_system();
  check(fs->remove_all(dir), state);
  std::unique_ptr<LogStore> log;
  check(open_wal_log_store(fs, {dir}, &log), state);
  raft::Index next = 1;
  for (auto _ : state) {
    state.PauseTiming();
    const auto entries = batch_at(next, batch);
    state.ResumeTiming();
    Status s = log->append(entries);
    if (s) s = log->sync();
    if (!s) {
      state.SkipWithError(s.to_string().c_str());
      break;
    }
    next += batch;
  }
  const double entries = static_cast<double>(next - 1);
  state.counters["entries/s"] =
      benchmark::Counter(entries, benchmark::Counter::kIsRate);
  state.counters["syncs/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(entries * kEntryBytes));
  check(log->close(), state);
  check(fs->remove_all(dir), state);
}
BENCHMARK(BM_WalAppendSync)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();

// The physical limit: write 256 bytes into a preallocated file, fdatasync.
void BM_RawFdatasync(benchmark::State& state) {
  const std::string path = bench_dir() + "/raw";
  const int fd =
      ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::fallocate(fd, 0, 0, 64 << 20) != 0) {
    state.SkipWithError("cannot create the file");
    return;
  }
  const std::string data(kEntryBytes, 'x');
  off_t offset = 0;
  for (auto _ : state) {
    if (::pwrite(fd, data.data(), data.size(), offset) !=
            static_cast<ssize_t>(data.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError(std::strerror(errno));
      break;
    }
    offset = (offset + kEntryBytes) % (64 << 20);
  }
  ::close(fd);
  ::unlink(path.c_str());
  state.counters["syncs/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(kEntryBytes));
}
BENCHMARK(BM_RawFdatasync)->UseRealTime();

// Opening a log of a million 256-byte entries: scan, index, cache fill.
void BM_WalReopen(benchmark::State& state) {
  const std::string dir = bench_dir() + "/reopen";
  FileSystem* fs = posix_file_system();
  check(fs->remove_all(dir), state);
  {
    std::unique_ptr<LogStore> log;
    check(open_wal_log_store(fs, {dir}, &log), state);
    for (raft::Index from = 1; from <= kReopenEntries; from += 1000) {
      check(log->append(batch_at(from, 1000)), state);
    }
    check(log->close(), state);
  }
  for (auto _ : state) {
    std::unique_ptr<LogStore> log;
    Status s = open_wal_log_store(fs, {dir}, &log);
    if (!s || log->last_index() != kReopenEntries) {
      state.SkipWithError(("reopen: " + s.to_string()).c_str());
      break;
    }
    state.PauseTiming();
    check(log->close(), state);
    state.ResumeTiming();
  }
  state.counters["entries"] = static_cast<double>(kReopenEntries);
  check(fs->remove_all(dir), state);
}
BENCHMARK(BM_WalReopen)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace
}  // namespace dengine::storage

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--dir=", 6) == 0) {
      dengine::storage::bench_dir() = argv[i] + 6;
    } else {
      args.push_back(argv[i]);
    }
  }
  bool temporary = false;
  if (dengine::storage::bench_dir().empty()) {
    char dir_template[] = "/tmp/dengine-bench-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) return 1;
    dengine::storage::bench_dir() = dir_template;
    temporary = true;
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (temporary) {
    static_cast<void>(dengine::storage::posix_file_system()->remove_all(
        dengine::storage::bench_dir()));
  }
  return 0;
}
