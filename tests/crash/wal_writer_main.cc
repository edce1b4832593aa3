// The child of the kill -9 test: appends to the WAL in `dir` forever, one
// sync per batch, and after each sync writes the durable index to stdout
// (a pipe to the parent), until the parent kills it.
//
//   dengine-wal-writer <dir> <seed> <term>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "kill_entries.h"
#include "storage/wal_log_store.h"
#include "testkit/sim_random.h"

namespace {

using dengine::raft::Entry;
using dengine::raft::Index;
using dengine::storage::Status;

int fail(const Status& s) {
  std::fprintf(stderr, "dengine-wal-writer: %s\n", s.to_string().c_str());
  return 2;
}

// One write(2) per report, so the parent never sees half a line.
bool report(Index durable) {
  const std::string line = std::to_string(durable) + "\n";
  return ::write(STDOUT_FILENO, line.data(), line.size()) ==
         static_cast<ssize_t>(line.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: dengine-wal-writer <dir> <seed> <term>\n");
    return 1;
  }
  const std::string dir = argv[1];
  dengine::testkit::SimRandom random(std::strtoull(argv[2], nullptr, 10));
  const dengine::raft::Term term = std::strtoull(argv[3], nullptr, 10);

  std::unique_ptr<dengine::storage::LogStore> log;
  Status s = dengine::storage::open_wal_log_store(
      dengine::storage::posix_file_system(),
      dengine::crash::kill_test_options(dir), &log);
  if (!s) return fail(s);
  for (;;) {
    std::vector<Entry> batch;
    const Index from = log->last_index() + 1;
    const uint64_t count = 1 + random.below(32);
    for (Index i = from; i < from + count; ++i) {
      batch.push_back({term, i, dengine::raft::EntryType::kNormal,
                       dengine::crash::kill_entry_data(i, term)});
    }
    s = log->append(batch);
    if (s) s = log->sync();
    if (!s) return fail(s);
    if (!report(log->durable_index())) return 3;
    if (log->last_index() > 3000 && random.chance(0.05)) {
      s = log->purge_prefix(log->last_index() - 2000);
      if (!s) return fail(s);
    }
  }
}
