// A node's watch history across restarts: what the files on disk hold when
// the node starts again, against what the machine applied.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "node/kv.h"
#include "node/node.h"
#include "watch/history_log.h"

namespace dengine::node {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
constexpr milliseconds kTimeout{5000};

// Everything a watch received until it ended (or the wait gave up).
struct Received {
  std::mutex mu;
  std::condition_variable changed;
  std::vector<watch::Event> events;
  std::optional<watch::WatchEnd> end;

  bool wait_for(size_t count) {
    std::unique_lock lock(mu);
    return changed.wait_for(lock, std::chrono::seconds(20), [&] {
      return events.size() >= count || end.has_value();
    }) && events.size() >= count;
  }
};

class WatchHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("dengine-watch-history-" + std::string(info->name()) + "-" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    options_.id = 1;
    options_.initial_voters = {1};
    options_.data_dir = dir_.string();
    options_.listen_address = "127.0.0.1:0";
    options_.tick_interval = milliseconds(10);
  }
  void TearDown() override {
    node_.reset();
    fs::remove_all(dir_);
  }

  void start() {
    std::string error;
    ASSERT_EQ(Node::start(options_, &node_, &error), DENGINE_OK) << error;
  }
  void stop() {
    ASSERT_EQ(node_->stop(), DENGINE_OK);
    node_.reset();
  }
  uint64_t put(const std::string& key, const std::string& value) {
    for (int attempt = 0; attempt < 500; ++attempt) {
      const KvWriteReply r =
          kv_write(*node_, sm::KvCommand::put(key, value), nullptr, kTimeout);
      if (r.reply.status == DENGINE_OK) return r.reply.index;
      std::this_thread::sleep_for(milliseconds(10));  // electing itself
    }
    ADD_FAILURE() << "put " << key << " never applied";
    return 0;
  }
  // A watch of every key from `from`; the caller cancels it.
  uint64_t watch_all(uint64_t from, Received* into, int* status) {
    watch::WatchOptions w;
    w.filter = {watch::Stream::kKv, "", true};
    w.start_revision = from;
    uint64_t id = 0;
    std::string error;
    uint64_t oldest = 0;
    *status = node_->watches()->watch(
        w,
        [into](const watch::Event& e) {
          std::lock_guard lock(into->mu);
          into->events.push_back(e);
          into->changed.notify_all();
        },
        [into](const watch::WatchEnd& end) {
          std::lock_guard lock(into->mu);
          into->end = end;
          into->changed.notify_all();
        },
        &id, &error, &oldest);
    return id;
  }

  fs::path dir_;
  NodeOptions options_;
  std::unique_ptr<Node> node_;
};

// A crash between a chunk's history record and the machine's write leaves
// the history ahead of the machine. At the restart the history is cut back
// to what the machine applied, and the entries after it, applied again,
// report their events once: a watch from the start sees each write once.
TEST_F(WatchHistoryTest, AHistoryAheadOfTheMachineIsCutBackNotLost) {
  start();
  const uint64_t first = put("a", "1");
  put("b", "2");
  const uint64_t applied = put("c", "3");
  stop();

  {  // The record of a chunk the machine never wrote.
    std::unique_ptr<watch::HistoryLog> log;
    watch::HistoryLog::Restored restored;
    std::string error;
    ASSERT_EQ(watch::HistoryLog::open(dir_.string() + "/watch",
                                      options_.watch_history, &log, &restored,
                                      &error),
              DENGINE_OK)
        << error;
    ASSERT_TRUE(restored.found);
    ASSERT_GE(restored.covered_to, applied);
    watch::Event ghost;
    ghost.revision = restored.covered_to + 1;
    ghost.key = "ghost";
    ghost.value = "never applied";
    log->append({ghost}, restored.covered_to + 2);
  }

  start();
  Received received;
  int status = 0;
  const uint64_t id = watch_all(first, &received, &status);
  ASSERT_EQ(status, DENGINE_OK) << "the history was lost at the restart";
  ASSERT_TRUE(received.wait_for(3));
  const uint64_t after = put("d", "4");
  ASSERT_TRUE(received.wait_for(4));
  node_->watches()->cancel(id);
  std::lock_guard lock(received.mu);
  std::vector<std::string> keys;
  for (const watch::Event& e : received.events) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(received.events.back().revision, after);
}

// The history continues across a clean restart: a watch from before it
// gets every write once, in order.
TEST_F(WatchHistoryTest, ACleanRestartKeepsTheHistory) {
  start();
  const uint64_t first = put("a", "1");
  put("b", "2");
  stop();
  start();
  put("c", "3");
  Received received;
  int status = 0;
  const uint64_t id = watch_all(first, &received, &status);
  ASSERT_EQ(status, DENGINE_OK);
  ASSERT_TRUE(received.wait_for(3));
  node_->watches()->cancel(id);
  std::lock_guard lock(received.mu);
  ASSERT_EQ(received.events.size(), 3u);
  EXPECT_EQ(received.events[0].key, "a");
  EXPECT_EQ(received.events[2].key, "c");
}

}  // namespace
}  // namespace dengine::node
