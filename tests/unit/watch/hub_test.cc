// The watch hub as its callers see it: each watch gets exactly the events of
// its filter, in revision order, from now or from a past revision, with no
// gap and no repeat (checked against a model over many random publishes);
// a watch ends once, last, with a status and a revision to resume from:
// refused when compacted, overflowed when blocked while the producer goes
// on (which never waits), cancelled from any thread or from a callback,
// compacted by a reset, shut down by stop; and 10,000 watches at once.
#include "watch/hub.h"

#include <gtest/gtest.h>

#include <dirent.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../base/log_capture.h"

namespace dengine::watch {
namespace {

using namespace std::chrono_literals;

// Every wait in these tests is for a condition; this only stops a broken
// build from hanging.
constexpr auto kDeadline = 60s;

Event kv_event(uint64_t revision, EventType type, std::string key,
               std::string value = "") {
  Event event;
  event.revision = revision;
  event.type = type;
  event.key = std::move(key);
  event.value = std::move(value);
  return event;
}

Event put(uint64_t revision, std::string key, std::string value = "") {
  if (value.empty()) value = "v" + std::to_string(revision);
  return kv_event(revision, EventType::kPut, std::move(key), std::move(value));
}

Event user(uint64_t revision, std::string topic, std::string bytes) {
  return kv_event(revision, EventType::kUser, std::move(topic),
                  std::move(bytes));
}

Event cluster(uint64_t revision, EventType type, uint64_t node_id) {
  Event event;
  event.revision = revision;
  event.type = type;
  event.node_id = node_id;
  if (type == EventType::kMemberAdded) event.address = "10.0.0.1:7000";
  if (type == EventType::kLeader) event.term = 3;
  return event;
}

WatchOptions on_key(std::string key, uint64_t start_revision = 0) {
  WatchOptions options;
  options.filter = Filter{Stream::kKv, std::move(key), false};
  options.start_revision = start_revision;
  return options;
}

WatchOptions on_prefix(std::string prefix, uint64_t start_revision = 0) {
  WatchOptions options = on_key(std::move(prefix), start_revision);
  options.filter.prefix = true;
  return options;
}

std::vector<uint64_t> revisions_of(const std::vector<Event>& events) {
  std::vector<uint64_t> revisions;
  for (const Event& event : events) revisions.push_back(event.revision);
  return revisions;
}

std::vector<uint64_t> range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> revisions;
  for (uint64_t r = first; r <= last; ++r) revisions.push_back(r);
  return revisions;
}

// Publishes one put of `key` per revision, first..last, in one batch.
void publish_puts(Hub& hub, uint64_t first, uint64_t last,
                  const std::string& key = "k") {
  std::vector<Event> events;
  for (uint64_t r = first; r <= last; ++r) events.push_back(put(r, key));
  hub.publish(std::move(events), last);
}

// Polls `condition` until it holds or the deadline passes.
bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A door a callback waits at until the test opens it; `reached` says a
// callback is waiting there.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    reached_ = true;
    changed_.notify_all();
    changed_.wait_for(lock, kDeadline, [&] { return open_; });
  }
  bool wait_reached() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadline, [&] { return reached_; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool reached_ = false;
  bool open_ = false;
};

// What one watch received, for the test thread to wait on. `hook`, when
// set, runs inside on_event before the event is recorded: once a test saw
// an event recorded, the hook's effects are visible.
class Recorder {
 public:
  std::function<void(const Event&)> hook;

  Hub::EventFn on_event() {
    return [this](const Event& event) {
      if (hook) hook(event);
      std::lock_guard lock(mutex_);
      events_.push_back(event);
      changed_.notify_all();
    };
  }
  Hub::EndFn on_end() {
    return [this](const WatchEnd& end) {
      std::lock_guard lock(mutex_);
      ends_.push_back(end);
      changed_.notify_all();
    };
  }

  bool wait_for_events(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadline,
                             [&] { return events_.size() >= count; });
  }
  bool wait_for_end() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadline, [&] { return !ends_.empty(); });
  }
  std::vector<Event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<WatchEnd> ends() const {
    std::lock_guard lock(mutex_);
    return ends_;
  }
  // The one end it must have had.
  WatchEnd end() const {
    const std::vector<WatchEnd> all = ends();
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? WatchEnd{} : all.front();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Event> events_;
  std::vector<WatchEnd> ends_;
};

// Registers a watch that must be accepted; its id.
uint64_t must_watch(Hub& hub, WatchOptions options, Recorder& recorder) {
  uint64_t id = 0;
  std::string error;
  EXPECT_EQ(hub.watch(std::move(options), recorder.on_event(),
                      recorder.on_end(), &id, &error, nullptr),
            DENGINE_OK)
      << error;
  return id;
}

// What `recorder` holds once it has `count` events. A test waits for the
// last event it published to the watch: one published before it that the
// watch should not get would be there already.
std::vector<Event> events_until(Recorder& recorder, size_t count) {
  EXPECT_TRUE(recorder.wait_for_events(count));
  return recorder.events();
}

size_t thread_count() {
  size_t count = 0;
  if (DIR* tasks = opendir("/proc/self/task")) {
    while (dirent* entry = readdir(tasks)) count += entry->d_name[0] != '.';
    closedir(tasks);
  }
  return count;
}

TEST(WatchHub, AKeyWatchReceivesOnlyThatKeysChanges) {
  Recorder recorder;
  Hub hub;
  must_watch(hub, on_key("a"), recorder);
  hub.publish(
      {put(1, "a"), put(1, "ab"), kv_event(2, EventType::kDelete, "a"),
       put(2, "b"), user(3, "a", "bytes"), cluster(3, EventType::kLeader, 1),
       kv_event(4, EventType::kExpire, "a")},
      4);
  hub.publish({put(6, "a", "last")}, 6);
  const std::vector<Event> events = events_until(recorder, 4);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0], put(1, "a"));
  EXPECT_EQ(events[1], kv_event(2, EventType::kDelete, "a"));
  EXPECT_EQ(events[2], kv_event(4, EventType::kExpire, "a"));
  EXPECT_EQ(events[3], put(6, "a", "last"));
}

// An exact-key watch skips other keys' events through the history's index:
// a burst far beyond its max_lag, none of it for its key, does not end it,
// and it still gets its key's events, also after a burst that has some.
TEST(WatchHub, AnIdleKeyWatchSkipsOtherKeysWithoutFallingBehind) {
  Recorder idle, busy;
  Hub hub;
  WatchOptions options = on_key("idle");
  options.max_lag = 5;
  must_watch(hub, options, idle);
  must_watch(hub, on_prefix("busy"), busy);
  // Caught up (max_lag applies from here on).
  hub.publish({put(1, "idle", "first")}, 1);
  ASSERT_TRUE(idle.wait_for_events(1));
  std::vector<Event> burst;
  for (uint64_t r = 2; r <= 1001; ++r) burst.push_back(put(r, "busy"));
  hub.publish(std::move(burst), 1001);
  // Rounds visit the idle watch (registered first) before the busy one has
  // all of the burst.
  ASSERT_TRUE(busy.wait_for_events(1000));
  hub.publish({put(1002, "idle", "mine")}, 1002);
  ASSERT_TRUE(idle.wait_for_events(2));
  EXPECT_EQ(idle.events()[1], put(1002, "idle", "mine"));
  EXPECT_TRUE(idle.ends().empty());
  hub.stop();
  EXPECT_EQ(idle.end().status, DENGINE_ERR_SHUTTING_DOWN);
  EXPECT_EQ(idle.end().next_revision, 1003u);
}

TEST(WatchHub, APrefixWatchReceivesEveryKeyUnderThePrefix) {
  Recorder under_a, everything;
  Hub hub;
  must_watch(hub, on_prefix("a"), under_a);
  must_watch(hub, on_prefix(""), everything);
  hub.publish({put(1, "a"), put(2, "ab"), put(2, "b"), user(3, "a", "x"),
               put(4, "abc"), put(5, "")},
              5);
  EXPECT_EQ(revisions_of(events_until(under_a, 3)),
            (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_EQ(revisions_of(events_until(everything, 5)),
            (std::vector<uint64_t>{1, 2, 2, 4, 5}));
}

TEST(WatchHub, TopicAndClusterStreamsReceiveTheirOwnEvents) {
  Recorder on_topic, on_topics, on_cluster;
  Hub hub;
  WatchOptions topic_options;
  topic_options.filter = Filter{Stream::kTopic, "jobs", false};
  must_watch(hub, topic_options, on_topic);
  topic_options.filter = Filter{Stream::kTopic, "jobs/", true};
  must_watch(hub, topic_options, on_topics);
  WatchOptions cluster_options;
  cluster_options.filter.stream = Stream::kCluster;
  must_watch(hub, cluster_options, on_cluster);

  hub.publish({user(1, "jobs", "a"), user(1, "jobs/1", "b"), put(2, "jobs"),
               cluster(3, EventType::kMemberAdded, 4),
               cluster(4, EventType::kMemberPromoted, 4),
               cluster(5, EventType::kMemberRemoved, 2),
               cluster(6, EventType::kLeader, 4), user(7, "jobs", "c"),
               user(7, "jobs/2", "d")},
              7);
  const std::vector<Event> topic = events_until(on_topic, 2);
  ASSERT_EQ(topic.size(), 2u);
  EXPECT_EQ(topic[0].value, "a");
  EXPECT_EQ(topic[1].value, "c");
  const std::vector<Event> topics = events_until(on_topics, 2);
  ASSERT_EQ(topics.size(), 2u);
  EXPECT_EQ(topics[0].value, "b");
  EXPECT_EQ(topics[1].value, "d");
  const std::vector<Event> members = events_until(on_cluster, 4);
  ASSERT_EQ(members.size(), 4u);
  EXPECT_EQ(members[0], cluster(3, EventType::kMemberAdded, 4));
  EXPECT_EQ(members[1], cluster(4, EventType::kMemberPromoted, 4));
  EXPECT_EQ(members[2], cluster(5, EventType::kMemberRemoved, 2));
  EXPECT_EQ(members[3], cluster(6, EventType::kLeader, 4));
}

TEST(WatchHub, AWatchFromNowReceivesOnlyLaterRevisions) {
  Recorder recorder;
  Hub hub;
  publish_puts(hub, 1, 10);
  must_watch(hub, on_key("k"), recorder);
  publish_puts(hub, 11, 15);
  EXPECT_EQ(revisions_of(events_until(recorder, 5)), range(11, 15));
}

TEST(WatchHub, AWatchFromAPastRevisionReplaysItThenGoesLive) {
  Recorder recorder;
  Hub hub;
  publish_puts(hub, 1, 100);
  must_watch(hub, on_key("k", 40), recorder);
  for (uint64_t r = 101; r <= 150; ++r) publish_puts(hub, r, r);
  EXPECT_EQ(revisions_of(events_until(recorder, 111)), range(40, 150));
}

TEST(WatchHub, AWatchFromAFutureRevisionStartsThere) {
  Recorder recorder;
  Hub hub;
  publish_puts(hub, 1, 10);
  must_watch(hub, on_key("k", 20), recorder);
  publish_puts(hub, 11, 30);
  EXPECT_EQ(revisions_of(events_until(recorder, 11)), range(20, 30));
}

// Random publishes (several events per revision, entries without events,
// batches of entries) with watches joining on the way, from now or from a
// past or future revision: each receives exactly the model's events.
TEST(WatchHub, ManyRandomPublishesMatchAModel) {
  struct Watched {
    WatchOptions options;
    uint64_t from = 0;
    std::unique_ptr<Recorder> recorder;
  };
  std::mt19937_64 random(20240607);
  const std::vector<std::string> keys = {"a", "ab", "abc", "b", "x/1", "x/2"};
  const auto pick = [&](size_t n) { return random() % n; };

  std::vector<Watched> watched;
  Hub hub;
  std::vector<Event> model;
  uint64_t revision = 0;
  while (revision < 3000) {
    std::vector<Event> batch;
    const uint64_t entries = 1 + pick(20);
    for (uint64_t e = 0; e < entries; ++e) {
      ++revision;
      for (size_t n = pick(4); n > 0; --n) {
        const std::string& key = keys[pick(keys.size())];
        const std::string value = std::to_string(model.size() + batch.size());
        switch (pick(6)) {
          case 0:
            batch.push_back(kv_event(revision, EventType::kDelete, key));
            break;
          case 1:
            batch.push_back(user(revision, key, value));
            break;
          case 2:
            batch.push_back(cluster(revision, EventType::kLeader, pick(5)));
            break;
          default:
            batch.push_back(put(revision, key, value));
        }
      }
    }
    model.insert(model.end(), batch.begin(), batch.end());
    hub.publish(std::move(batch), revision);

    if (pick(4) == 0) {
      Watched w;
      switch (pick(3)) {
        case 0:
          w.options.filter =
              Filter{Stream::kKv, keys[pick(keys.size())], pick(2) == 0};
          break;
        case 1:
          w.options.filter = Filter{Stream::kTopic, "a", pick(2) == 0};
          break;
        default:
          w.options.filter.stream = Stream::kCluster;
      }
      const uint64_t choice = pick(3);
      w.options.start_revision =
          choice == 0 ? 0 : 1 + pick(revision + (choice == 1 ? 0 : 50));
      w.from = w.options.start_revision == 0 ? revision + 1
                                             : w.options.start_revision;
      w.recorder = std::make_unique<Recorder>();
      must_watch(hub, w.options, *w.recorder);
      watched.push_back(std::move(w));
    }
  }
  ASSERT_GT(watched.size(), 20u);
  for (const Watched& w : watched) {
    std::vector<Event> expected;
    for (const Event& event : model) {
      if (event.revision >= w.from && matches(w.options.filter, event)) {
        expected.push_back(event);
      }
    }
    ASSERT_TRUE(w.recorder->wait_for_events(expected.size()));
    EXPECT_EQ(w.recorder->events(), expected);
  }
  hub.stop();
  for (const Watched& w : watched) {
    const WatchEnd end = w.recorder->end();
    EXPECT_EQ(end.status, DENGINE_ERR_SHUTTING_DOWN);
    // Everything it received lies below next_revision; nothing it missed.
    EXPECT_GE(end.next_revision, w.from);
    EXPECT_LE(end.next_revision, std::max(w.from, revision + 1));
    for (const Event& event : w.recorder->events()) {
      EXPECT_LT(event.revision, end.next_revision);
    }
  }
}

TEST(WatchHub, AStartBelowTheHistoryIsRefusedWithTheOldestAvailable) {
  bool called = false;
  Recorder recorder;
  Hub hub(HistoryLimits{.max_events = 10});
  publish_puts(hub, 1, 50);
  ASSERT_EQ(hub.available_from(), 41u);

  uint64_t id = 0, oldest = 0;
  std::string error;
  EXPECT_EQ(hub.watch(
                on_key("k", 5), [&](const Event&) { called = true; },
                [&](const WatchEnd&) { called = true; }, &id, &error, &oldest),
            DENGINE_ERR_COMPACTED);
  EXPECT_EQ(oldest, 41u);
  EXPECT_EQ(error, "revision 5 is compacted; the oldest available is 41");
  EXPECT_EQ(hub.watch_count(), 0u);

  must_watch(hub, on_key("k", oldest), recorder);
  EXPECT_EQ(revisions_of(events_until(recorder, 10)), range(41, 50));
  hub.stop();
  EXPECT_FALSE(called);
}

TEST(WatchHub, RefusesAZeroMaxLagAndMissingCallbacks) {
  Recorder recorder;
  Hub hub;
  WatchOptions options = on_key("k");
  options.max_lag = 0;
  std::string error;
  EXPECT_EQ(hub.watch(options, recorder.on_event(), recorder.on_end(), nullptr,
                      &error, nullptr),
            DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(error, "max_lag must be at least 1");
  EXPECT_EQ(hub.watch(on_key("k"), nullptr, recorder.on_end(), nullptr, nullptr,
                      nullptr),
            DENGINE_ERR_INVALID_ARGUMENT);
  // An empty key names nothing; an empty prefix names everything.
  EXPECT_EQ(hub.watch(on_key(""), recorder.on_event(), recorder.on_end(),
                      nullptr, &error, nullptr),
            DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(error.find("the key is empty"), std::string::npos);
  EXPECT_EQ(hub.watch_count(), 0u);
}

TEST(WatchHub, TheDeliveryThreadStartsWithTheFirstWatch) {
  const size_t before = thread_count();
  Recorder recorder;
  std::atomic<bool> in_callback_on_thread = false;
  Hub hub;
  publish_puts(hub, 1, 100);
  // No watch: nothing to deliver, no thread (another test's thread may
  // still be exiting, never starting).
  EXPECT_LE(thread_count(), before);
  EXPECT_FALSE(hub.on_delivery_thread());

  recorder.hook = [&](const Event&) {
    in_callback_on_thread = hub.on_delivery_thread();
  };
  must_watch(hub, on_key("k"), recorder);
  publish_puts(hub, 101, 101);
  ASSERT_TRUE(recorder.wait_for_events(1));
  EXPECT_TRUE(eventually([&] { return in_callback_on_thread.load(); }));
  EXPECT_FALSE(hub.on_delivery_thread());
}

TEST(WatchHub, EventsOutOfOrderAreDroppedAndLogged) {
  base::LogCapture log;
  Hub hub;
  publish_puts(hub, 1, 5);
  hub.publish({put(3, "k")}, 6);
  EXPECT_EQ(hub.covered_to(), 5u);
  EXPECT_EQ(log.find(DENGINE_LOG_ERROR, {"watch", "entries up to 6"}).size(),
            1u);
}

// A watch blocked in its callback while the producer publishes far more
// than its max_lag: every publish returns (the test thread is the producer),
// the watch then overflows, and a new watch from its next_revision picks
// up every event after those it received, with none twice.
TEST(WatchHub, ABlockedWatchOverflowsWhileTheProducerGoesOn) {
  Recorder blocked;
  Gate gate;
  Recorder resumed;
  Hub hub;
  blocked.hook = [&](const Event&) { gate.wait(); };
  WatchOptions options = on_prefix("");
  options.max_lag = 50;
  must_watch(hub, options, blocked);

  std::vector<Event> model;
  const auto publish_revision = [&](uint64_t r) {
    std::vector<Event> events = {put(r, "a"), put(r, "b"), put(r, "c")};
    model.insert(model.end(), events.begin(), events.end());
    hub.publish(std::move(events), r);
  };
  publish_revision(1);
  ASSERT_TRUE(gate.wait_reached());
  for (uint64_t r = 2; r <= 300; ++r) publish_revision(r);
  EXPECT_EQ(hub.covered_to(), 300u);
  gate.open();

  ASSERT_TRUE(blocked.wait_for_end());
  const WatchEnd end = blocked.end();
  EXPECT_EQ(end.status, DENGINE_ERR_WATCH_OVERFLOW);
  EXPECT_NE(end.message.find("events behind (max_lag 50); resume from "
                             "revision " +
                             std::to_string(end.next_revision)),
            std::string::npos)
      << end.message;
  const std::vector<Event> before = blocked.events();
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(before.back().revision + 1, end.next_revision);

  must_watch(hub, on_prefix("", end.next_revision), resumed);
  std::vector<Event> all = before;
  const std::vector<Event> after =
      events_until(resumed, model.size() - before.size());
  all.insert(all.end(), after.begin(), after.end());
  EXPECT_EQ(all, model);
  EXPECT_EQ(hub.watch_count(), 1u);
}

// A turn ends between two revisions, however many events one holds: the
// watch overflows after the whole of revision 1, not inside it.
TEST(WatchHub, ARevisionLargerThanABatchIsDeliveredWhole) {
  Recorder blocked;
  Gate gate;
  Hub hub;
  blocked.hook = [&](const Event& event) {
    if (event.key == "0") gate.wait();
  };
  WatchOptions options = on_prefix("");
  options.max_lag = 1000;
  must_watch(hub, options, blocked);
  std::vector<Event> large;
  for (int i = 0; i < 500; ++i) large.push_back(put(1, std::to_string(i)));
  hub.publish(std::move(large), 1);
  ASSERT_TRUE(gate.wait_reached());
  publish_puts(hub, 2, 3000);
  gate.open();

  ASSERT_TRUE(blocked.wait_for_end());
  EXPECT_EQ(blocked.end().status, DENGINE_ERR_WATCH_OVERFLOW);
  EXPECT_EQ(blocked.end().next_revision, 2u);
  EXPECT_EQ(blocked.events().size(), 500u);
}

TEST(WatchHub, AWatchWhoseNextEventWasEvictedOverflows) {
  Recorder blocked;
  Gate gate;
  Hub hub(HistoryLimits{.max_events = 20});
  blocked.hook = [&](const Event&) { gate.wait(); };
  WatchOptions options = on_key("k");
  options.max_lag = 1000000;
  must_watch(hub, options, blocked);
  publish_puts(hub, 1, 1);
  ASSERT_TRUE(gate.wait_reached());
  for (uint64_t r = 2; r <= 100; ++r) publish_puts(hub, r, r);
  gate.open();

  ASSERT_TRUE(blocked.wait_for_end());
  const WatchEnd end = blocked.end();
  EXPECT_EQ(end.status, DENGINE_ERR_WATCH_OVERFLOW);
  EXPECT_EQ(end.next_revision, 2u);
  EXPECT_EQ(end.message,
            "the events from revision 2 on were evicted before the watch "
            "received them; the oldest available is 81");
  EXPECT_EQ(revisions_of(blocked.events()), std::vector<uint64_t>{1});

  uint64_t oldest = 0;
  EXPECT_EQ(hub.watch(on_key("k", end.next_revision), blocked.on_event(),
                      blocked.on_end(), nullptr, nullptr, &oldest),
            DENGINE_ERR_COMPACTED);
  EXPECT_EQ(oldest, 81u);
}

// Cancel from another thread while the watch's callback runs: it waits for
// that callback, which finishes the revision it is delivering, and returns
// once on_end ran.
TEST(WatchHub, CancelFromAnotherThreadWaitsForTheRunningCallback) {
  Recorder recorder, sentinel;
  Gate gate;
  std::atomic<bool> returned = false;
  bool cancelled = false;
  Hub hub;
  recorder.hook = [&](const Event& event) {
    if (event.key == "a") gate.wait();
  };
  const uint64_t id = must_watch(hub, on_prefix(""), recorder);
  hub.publish({put(1, "a"), put(1, "b"), put(1, "c"), put(2, "d")}, 2);
  ASSERT_TRUE(gate.wait_reached());

  std::thread canceller([&] {
    cancelled = hub.cancel(id);
    returned = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(returned);  // the callback is still running
  gate.open();
  canceller.join();
  EXPECT_TRUE(cancelled);

  // The cancel came while revision 1 was delivered, or, had the canceller
  // been slow to start, after revision 2: never between two events of one.
  const WatchEnd end = recorder.end();
  EXPECT_EQ(end.status, DENGINE_ERR_CANCELLED);
  const std::vector<uint64_t> received = revisions_of(recorder.events());
  if (end.next_revision == 2) {
    EXPECT_EQ(received, (std::vector<uint64_t>{1, 1, 1}));
  } else {
    EXPECT_EQ(end.next_revision, 3u);
    EXPECT_EQ(received, (std::vector<uint64_t>{1, 1, 1, 2}));
  }

  must_watch(hub, on_key("z"), sentinel);
  hub.publish({put(3, "a"), put(3, "z")}, 3);
  ASSERT_TRUE(sentinel.wait_for_events(1));
  EXPECT_EQ(recorder.events().size(), received.size());
  EXPECT_EQ(recorder.ends().size(), 1u);
  EXPECT_EQ(hub.watch_count(), 1u);
}

TEST(WatchHub, CancelOfAnIdleWatchRunsOnEndBeforeItReturns) {
  Recorder recorder, sentinel;
  Hub hub;
  const uint64_t id = must_watch(hub, on_key("k"), recorder);
  publish_puts(hub, 1, 5);
  ASSERT_TRUE(recorder.wait_for_events(5));
  EXPECT_TRUE(hub.cancel(id));
  ASSERT_EQ(recorder.ends().size(), 1u);  // no wait: already run
  EXPECT_EQ(recorder.end().status, DENGINE_ERR_CANCELLED);
  EXPECT_EQ(recorder.end().next_revision, 6u);
  EXPECT_EQ(hub.watch_count(), 0u);

  must_watch(hub, on_key("z"), sentinel);
  hub.publish({put(6, "k"), put(6, "z")}, 6);
  ASSERT_TRUE(sentinel.wait_for_events(1));
  EXPECT_EQ(recorder.events().size(), 5u);
  EXPECT_FALSE(hub.cancel(id));
  EXPECT_EQ(recorder.ends().size(), 1u);
}

TEST(WatchHub, CancelOfAnUnknownIdIsANoOp) {
  Recorder recorder;
  Hub hub;
  EXPECT_FALSE(hub.cancel(0));
  EXPECT_FALSE(hub.cancel(12345));
  const uint64_t id = must_watch(hub, on_key("k"), recorder);
  EXPECT_FALSE(hub.cancel(id + 1));
  EXPECT_EQ(hub.watch_count(), 1u);
  EXPECT_TRUE(recorder.ends().empty());
}

// From its own on_event, in the middle of a revision: no further on_event,
// on_end once the callback returned, and next_revision that revision (a
// watch from it receives again the event delivered before the cancel).
TEST(WatchHub, CancelFromItsOwnCallbackStopsAtOnce) {
  Recorder recorder;
  std::atomic<uint64_t> id = 0;
  std::vector<std::string> order;  // on the delivery thread only
  bool cancelled = false;
  Hub hub;
  recorder.hook = [&](const Event&) {
    cancelled = hub.cancel(id);
    order.push_back("cancel returned");
  };
  Hub::EndFn record_end = recorder.on_end();
  uint64_t watch_id = 0;
  ASSERT_EQ(hub.watch(
                on_prefix(""), recorder.on_event(),
                [&](const WatchEnd& end) {
                  order.push_back("on_end");
                  record_end(end);
                },
                &watch_id, nullptr, nullptr),
            DENGINE_OK);
  id = watch_id;
  hub.publish({put(1, "a"), put(1, "b"), put(1, "c")}, 1);

  ASSERT_TRUE(recorder.wait_for_end());
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(order, (std::vector<std::string>{"cancel returned", "on_end"}));
  EXPECT_EQ(recorder.events().size(), 1u);
  EXPECT_EQ(recorder.end().status, DENGINE_ERR_CANCELLED);
  EXPECT_EQ(recorder.end().next_revision, 1u);
}

TEST(WatchHub, CancelFromItsOwnCallbackAtARevisionsEndResumesAfterIt) {
  Recorder recorder;
  std::atomic<uint64_t> id = 0;
  Hub hub;
  recorder.hook = [&](const Event& event) {
    if (event.key == "b") hub.cancel(id);
  };
  id = must_watch(hub, on_prefix(""), recorder);
  hub.publish({put(1, "a"), put(1, "b"), put(2, "c")}, 2);
  ASSERT_TRUE(recorder.wait_for_end());
  EXPECT_EQ(revisions_of(recorder.events()), (std::vector<uint64_t>{1, 1}));
  EXPECT_EQ(recorder.end().next_revision, 2u);
}

TEST(WatchHub, CancelOfAnotherWatchFromACallbackEndsItAfterTheCallback) {
  Recorder first, second;
  std::mutex order_mutex;
  std::vector<std::string> order;
  std::atomic<uint64_t> second_id = 0;
  Hub hub;
  const auto note = [&](std::string what) {
    std::lock_guard lock(order_mutex);
    order.push_back(std::move(what));
  };
  first.hook = [&](const Event&) {
    note(hub.cancel(second_id) ? "cancelled" : "not cancelled");
    note("first callback returns");
  };
  must_watch(hub, on_key("k"), first);
  Hub::EndFn record_end = second.on_end();
  uint64_t id = 0;
  ASSERT_EQ(hub.watch(
                on_key("k"), second.on_event(),
                [&](const WatchEnd& end) {
                  note("second on_end");
                  record_end(end);
                },
                &id, nullptr, nullptr),
            DENGINE_OK);
  second_id = id;
  publish_puts(hub, 1, 1);

  ASSERT_TRUE(second.wait_for_end());
  std::lock_guard lock(order_mutex);
  EXPECT_EQ(order,
            (std::vector<std::string>{"cancelled", "first callback returns",
                                      "second on_end"}));
  EXPECT_TRUE(second.events().empty());  // its turn came after the cancel
  EXPECT_EQ(second.end().status, DENGINE_ERR_CANCELLED);
  EXPECT_EQ(second.end().next_revision, 1u);
}

TEST(WatchHub, ACallbackThatThrowsEndsOnlyItsWatch) {
  Recorder thrower, other;
  Hub hub;
  thrower.hook = [](const Event& event) {
    if (event.revision == 2) throw std::runtime_error("boom");
  };
  must_watch(hub, on_key("k"), thrower);
  must_watch(hub, on_key("k"), other);
  publish_puts(hub, 1, 3);
  ASSERT_TRUE(thrower.wait_for_end());
  const WatchEnd end = thrower.end();
  EXPECT_EQ(end.status, DENGINE_ERR_CANCELLED);
  EXPECT_EQ(end.message, "the watch's on_event threw: boom");
  EXPECT_EQ(end.next_revision, 2u);
  EXPECT_EQ(revisions_of(thrower.events()), std::vector<uint64_t>{1});

  publish_puts(hub, 4, 4);
  EXPECT_EQ(revisions_of(events_until(other, 4)), range(1, 4));
  EXPECT_EQ(hub.watch_count(), 1u);
}

TEST(WatchHub, StopEndsEveryWatchOnceWithShuttingDown) {
  std::vector<Recorder> recorders(5);
  Recorder late;
  Hub hub;
  for (Recorder& recorder : recorders) must_watch(hub, on_key("k"), recorder);
  publish_puts(hub, 1, 3);
  hub.stop("the test is over");
  for (Recorder& recorder : recorders) {
    const WatchEnd end = recorder.end();
    EXPECT_EQ(end.status, DENGINE_ERR_SHUTTING_DOWN);
    EXPECT_EQ(end.message, "the test is over");
    EXPECT_LE(end.next_revision, 4u);
    // No gap: it received everything below next_revision.
    EXPECT_EQ(revisions_of(recorder.events()), range(1, end.next_revision - 1));
  }
  EXPECT_EQ(hub.watch_count(), 0u);

  std::string error;
  EXPECT_EQ(hub.watch(on_key("k"), late.on_event(), late.on_end(), nullptr,
                      &error, nullptr),
            DENGINE_ERR_SHUTTING_DOWN);
  EXPECT_EQ(error, "the test is over");
  hub.stop("again");
  publish_puts(hub, 4, 4);
  for (Recorder& recorder : recorders) EXPECT_EQ(recorder.ends().size(), 1u);
  EXPECT_TRUE(late.ends().empty());
}

TEST(WatchHub, StopFromACallbackReturnsAtOnceAndEndsEveryWatch) {
  Recorder stopper, other;
  std::atomic<bool> stop_returned = false;
  Hub hub;
  stopper.hook = [&](const Event&) {
    hub.stop();
    stop_returned = true;
  };
  must_watch(hub, on_key("k"), stopper);
  must_watch(hub, on_key("k"), other);
  publish_puts(hub, 1, 1);
  ASSERT_TRUE(stopper.wait_for_end());
  ASSERT_TRUE(other.wait_for_end());
  EXPECT_TRUE(stop_returned);
  EXPECT_EQ(stopper.end().status, DENGINE_ERR_SHUTTING_DOWN);
  EXPECT_EQ(stopper.end().next_revision, 2u);
  EXPECT_EQ(other.end().status, DENGINE_ERR_SHUTTING_DOWN);
  hub.stop();  // joins the thread
  EXPECT_EQ(stopper.ends().size(), 1u);
  EXPECT_EQ(other.ends().size(), 1u);
}

// The callback waits until the test thread is done with the hub: nothing
// may use an object while it is destroyed.
TEST(WatchHub, DestroyedFromItsOwnCallbackItFinishesOnItsOwn) {
  Recorder destroyer, other;
  Gate published;
  auto* hub = new Hub;
  destroyer.hook = [&](const Event&) {
    published.wait();
    delete hub;
  };
  must_watch(*hub, on_key("k"), destroyer);
  must_watch(*hub, on_key("k"), other);
  publish_puts(*hub, 1, 1);
  published.open();
  ASSERT_TRUE(destroyer.wait_for_end());
  ASSERT_TRUE(other.wait_for_end());
  EXPECT_EQ(destroyer.end().status, DENGINE_ERR_SHUTTING_DOWN);
  EXPECT_EQ(other.end().status, DENGINE_ERR_SHUTTING_DOWN);
}

TEST(WatchHub, ResetEndsTheWatchesBehindItAndKeepsTheOthers) {
  Recorder behind, at_index, ahead;
  Recorder from_start;
  Hub hub;
  publish_puts(hub, 1, 10);
  must_watch(hub, on_key("k"), behind);        // needs 11..20
  must_watch(hub, on_key("k", 20), at_index);  // needs 20
  must_watch(hub, on_key("k", 30), ahead);     // needs nothing up to 20
  hub.reset(20);
  EXPECT_EQ(hub.covered_to(), 20u);
  EXPECT_EQ(hub.available_from(), 21u);
  ASSERT_TRUE(at_index.wait_for_end());
  EXPECT_EQ(at_index.end().status, DENGINE_ERR_COMPACTED);
  EXPECT_EQ(at_index.end().next_revision, 20u);

  ASSERT_TRUE(behind.wait_for_end());
  EXPECT_EQ(behind.end().status, DENGINE_ERR_COMPACTED);
  EXPECT_EQ(behind.end().next_revision, 11u);
  EXPECT_EQ(behind.end().message,
            "the history restarted after revision 20; the watch had yet to "
            "receive revision 11");

  publish_puts(hub, 21, 40);
  EXPECT_EQ(revisions_of(events_until(ahead, 11)), range(30, 40));
  EXPECT_TRUE(ahead.ends().empty());

  uint64_t oldest = 0;
  EXPECT_EQ(hub.watch(on_key("k", 20), behind.on_event(), behind.on_end(),
                      nullptr, nullptr, &oldest),
            DENGINE_ERR_COMPACTED);
  EXPECT_EQ(oldest, 21u);
  must_watch(hub, on_key("k", 21), from_start);
  EXPECT_EQ(revisions_of(events_until(from_start, 20)), range(21, 40));
}

// A restart or snapshot at the index a watch has reached: nothing lost.
TEST(WatchHub, ResetAtTheCoveredIndexKeepsCaughtUpWatches) {
  Recorder recorder;
  Hub hub;
  must_watch(hub, on_key("k"), recorder);
  publish_puts(hub, 1, 10);
  ASSERT_TRUE(recorder.wait_for_events(10));
  hub.reset(10);
  publish_puts(hub, 11, 15);
  EXPECT_EQ(revisions_of(events_until(recorder, 15)), range(1, 15));
  EXPECT_TRUE(recorder.ends().empty());
}

// A reset while the watch's callback runs: the revision in delivery
// finishes, then the watch ends where it was.
TEST(WatchHub, ResetDuringADeliveryEndsTheWatchBetweenRevisions) {
  Recorder recorder;
  Gate gate;
  Hub hub;
  recorder.hook = [&](const Event& event) {
    if (event.key == "a") gate.wait();
  };
  must_watch(hub, on_prefix(""), recorder);
  hub.publish({put(1, "a"), put(1, "b"), put(2, "c")}, 2);
  ASSERT_TRUE(gate.wait_reached());
  hub.reset(5);
  gate.open();
  ASSERT_TRUE(recorder.wait_for_end());
  EXPECT_EQ(recorder.end().status, DENGINE_ERR_COMPACTED);
  EXPECT_EQ(recorder.end().next_revision, 2u);
  EXPECT_EQ(revisions_of(recorder.events()), (std::vector<uint64_t>{1, 1}));
}

// A watch replaying a long past gets a batch per round: a live watch's
// event arrives long before the replay is done.
TEST(WatchHub, AWatchReplayingALongPastDoesNotStarveTheOthers) {
  constexpr uint64_t kPast = 20000;
  Recorder replaying, live;
  Gate gate;
  std::atomic<size_t> replayed = 0;
  size_t replayed_when_live = 0;
  Hub hub;
  publish_puts(hub, 1, kPast);
  replaying.hook = [&](const Event& event) {
    ++replayed;
    if (event.revision == 1) gate.wait();
  };
  must_watch(hub, on_key("k", 1), replaying);
  ASSERT_TRUE(gate.wait_reached());
  live.hook = [&](const Event&) { replayed_when_live = replayed; };
  must_watch(hub, on_key("live"), live);
  hub.publish({put(kPast + 1, "live")}, kPast + 1);
  gate.open();

  ASSERT_TRUE(live.wait_for_events(1));
  ASSERT_TRUE(replaying.wait_for_events(kPast));
  EXPECT_LT(replayed_when_live, kPast / 10);
  EXPECT_EQ(revisions_of(replaying.events()), range(1, kPast));
}

// Most watches on keys that never change, a few on a hot prefix (half of
// them replaying from revision 1): each gets exactly its events, and stop
// ends all of them once.
TEST(WatchHub, TenThousandWatchesEachGetExactlyTheirEvents) {
  struct Tally {
    std::atomic<uint64_t> events = 0;
    std::atomic<uint64_t> last_revision = 0;
    std::atomic<int> ends = 0;
    int status = DENGINE_OK;
    uint64_t next_revision = 0;
  };
  constexpr size_t kWatches = 10000;
  constexpr size_t kHot = 100;
  constexpr uint64_t kRevisions = 300;
  std::vector<Tally> tallies(kWatches);
  std::atomic<bool> out_of_order = false;
  Hub hub;
  const auto watch_tally = [&](size_t i, WatchOptions options) {
    Tally& tally = tallies[i];
    const auto on_event = [&](const Event& event) {
      if (event.revision != tally.last_revision + 1) out_of_order = true;
      tally.last_revision = event.revision;
      ++tally.events;
    };
    const auto on_end = [&](const WatchEnd& end) {
      tally.status = end.status;
      tally.next_revision = end.next_revision;
      ++tally.ends;
    };
    ASSERT_EQ(hub.watch(std::move(options), on_event, on_end, nullptr, nullptr,
                        nullptr),
              DENGINE_OK);
  };
  for (size_t i = kHot; i < kWatches; ++i) {
    watch_tally(i, on_key("idle/" + std::to_string(i)));
  }
  for (size_t i = 0; i < kHot / 2; ++i) watch_tally(i, on_prefix("hot/"));
  for (uint64_t r = 1; r <= kRevisions / 2; ++r) {
    hub.publish({put(r, "hot/" + std::to_string(r % 7))}, r);
  }
  for (size_t i = kHot / 2; i < kHot; ++i) watch_tally(i, on_prefix("hot/", 1));
  for (uint64_t r = kRevisions / 2 + 1; r <= kRevisions; ++r) {
    hub.publish({put(r, "hot/" + std::to_string(r % 7))}, r);
  }
  EXPECT_EQ(hub.watch_count(), kWatches);

  for (size_t i = 0; i < kHot; ++i) {
    EXPECT_TRUE(eventually([&] { return tallies[i].events == kRevisions; }))
        << "watch " << i << " got " << tallies[i].events;
  }
  hub.stop();
  EXPECT_EQ(hub.watch_count(), 0u);
  EXPECT_FALSE(out_of_order);
  for (size_t i = 0; i < kWatches; ++i) {
    const Tally& tally = tallies[i];
    ASSERT_EQ(tally.ends, 1) << "watch " << i;
    EXPECT_EQ(tally.status, DENGINE_ERR_SHUTTING_DOWN);
    EXPECT_EQ(tally.events, i < kHot ? kRevisions : 0u) << "watch " << i;
    EXPECT_LE(tally.next_revision, kRevisions + 1);
    if (i < kHot) {
      EXPECT_EQ(tally.next_revision, kRevisions + 1);
    }
  }
}

// on_batch follows each batch of on_event calls, never inside a revision,
// with the revision to resume from: every event below it was delivered.
TEST(WatchHub, ReportsEachBatchWithTheRevisionToResumeFrom) {
  // Declared before the hub: ~Hub ends the watch, which calls into them.
  std::mutex mutex;
  std::vector<std::pair<size_t, uint64_t>> batches;  // events seen, next
  Recorder recorder;
  Hub hub;
  std::vector<Event> events;
  for (uint64_t r = 1; r <= 300; ++r) {
    events.push_back(put(r, "k"));
    events.push_back(put(r, "k", "second"));
    if (r % 3 == 0) events.push_back(put(r, "other"));
  }
  hub.publish(std::move(events), 300);
  WatchOptions options = on_key("k", 1);
  options.on_batch = [&](uint64_t next) {
    const size_t seen = recorder.events().size();
    std::lock_guard lock(mutex);
    batches.emplace_back(seen, next);
  };
  must_watch(hub, std::move(options), recorder);
  ASSERT_EQ(events_until(recorder, 600).size(), 600u);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return !batches.empty() && batches.back().first == 600;
  }));
  std::lock_guard lock(mutex);
  EXPECT_GT(batches.size(), 1u);  // more than one batch of 64
  const std::vector<Event> received = recorder.events();
  for (const auto& [seen, next] : batches) {
    ASSERT_GT(seen, 0u);
    ASSERT_EQ(seen % 2, 0u) << "a batch ended inside a revision";
    EXPECT_EQ(next, received[seen - 1].revision + 1);
  }
  EXPECT_EQ(batches.back().second, 301u);
}

}  // namespace
}  // namespace dengine::watch
