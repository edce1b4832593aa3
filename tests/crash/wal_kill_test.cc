// A real crash: a child process appends to the WAL on a real directory,
// syncing each batch and reporting each durable index through a pipe; the
// parent kills it with SIGKILL at a seeded moment, reopens the log and checks
// that everything reported durable is there, with the right content, and
// that entries seen in an earlier round never change.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "kill_entries.h"
#include "storage/wal_log_store.h"
#include "testkit/sim_random.h"

namespace dengine::crash {
namespace {

using raft::Entry;
using raft::Index;
using raft::Term;

constexpr int kRounds = DENGINE_KILL_ROUNDS;

// Runs the writer until it has reported `reports` durable indexes, waits
// `delay_us`, kills it, and returns the highest index it reported.
Index run_and_kill(const std::string& dir, uint64_t seed, Term term,
                   uint64_t reports, uint64_t delay_us) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    const std::string seed_arg = std::to_string(seed);
    const std::string term_arg = std::to_string(term);
    ::execl(DENGINE_WAL_WRITER, DENGINE_WAL_WRITER, dir.c_str(),
            seed_arg.c_str(), term_arg.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  Index durable = 0;
  uint64_t seen = 0;
  std::string pending;
  bool killed = false;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
      durable = std::max<Index>(durable, std::stoull(pending.substr(0, eol)));
      pending.erase(0, eol + 1);
      ++seen;
    }
    if (!killed && seen >= reports) {
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the writer stopped by itself, status " << status;
  return durable;
}

TEST(WalKillTest, EverythingReportedDurableSurvivesSigkill) {
  char dir_template[] = "/tmp/dengine-wal-kill-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  testkit::SimRandom random(20240601);
  Index reported = 0;
  // Terms of the entries the previous reopen saw, from seen_first on: the
  // writer only appends, so they may be purged but never change.
  Index seen_first = 1;
  std::vector<Term> seen_terms;

  for (Term round = 1; round <= kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const uint64_t reports = 1 + random.below(60);
    const uint64_t delay_us = random.below(3000);
    reported = std::max(
        reported, run_and_kill(dir, random.next(), round, reports, delay_us));
    if (HasFailure()) break;

    std::unique_ptr<storage::LogStore> log;
    storage::Status s = storage::open_wal_log_store(
        storage::posix_file_system(), kill_test_options(dir), &log);
    ASSERT_TRUE(s) << s.to_string();
    ASSERT_GE(log->last_index(), reported);
    ASSERT_LE(log->first_index(), reported + 1);
    std::vector<Entry> entries;
    s = log->entries(log->first_index(), log->last_index() + 1,
                     std::numeric_limits<uint64_t>::max(), &entries);
    ASSERT_TRUE(s) << s.to_string();
    Term previous = 0;
    for (const Entry& entry : entries) {
      ASSERT_EQ(entry.data, kill_entry_data(entry.index, entry.term))
          << "entry " << entry.index;
      ASSERT_LE(entry.term, round);
      ASSERT_GE(entry.term, previous) << "entry " << entry.index;
      previous = entry.term;
      if (entry.index >= seen_first &&
          entry.index - seen_first < seen_terms.size()) {
        ASSERT_EQ(entry.term, seen_terms[entry.index - seen_first])
            << "entry " << entry.index << " changed";
      }
    }
    seen_first = log->first_index();
    seen_terms.clear();
    for (const Entry& entry : entries) seen_terms.push_back(entry.term);
    ASSERT_TRUE(log->close());
  }
  EXPECT_GT(reported, 0u);
  ASSERT_TRUE(storage::posix_file_system()->remove_all(dir));
}

}  // namespace
}  // namespace dengine::crash
