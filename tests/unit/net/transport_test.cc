#include "net/transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "loopback.h"
#include "net/frame.h"
#include "net/hello.h"
#include "net/message_codec.h"

namespace dengine::net {
namespace {

using std::chrono::milliseconds;
using testing::PortReservation;
using testing::RawClient;

constexpr uint64_t kCluster = 77;
constexpr auto kDeadline = std::chrono::seconds(10);

// What a transport hands to its node, with waits on it.
class Inbox {
 public:
  void deliver(raft::Message message) {
    std::lock_guard lock(mu_);
    messages_.push_back(std::move(message));
    cv_.notify_all();
  }
  void unreachable(raft::NodeId id) {
    std::lock_guard lock(mu_);
    unreachable_.push_back(id);
    cv_.notify_all();
  }
  bool wait_messages(size_t n, std::chrono::nanoseconds timeout = kDeadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
  }
  bool wait_unreachable(raft::NodeId id) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] {
      for (raft::NodeId u : unreachable_) {
        if (u == id) return true;
      }
      return false;
    });
  }
  std::vector<raft::Message> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<raft::Message> messages_;
  std::vector<raft::NodeId> unreachable_;
};

struct Node {
  Inbox inbox;
  std::unique_ptr<Transport> transport;
};

// Node `id` listening on `port`, knowing `peers` (id, port) on loopback.
std::unique_ptr<Node> make_node(
    raft::NodeId id, uint16_t port,
    std::vector<std::pair<raft::NodeId, uint16_t>> peers,
    uint64_t cluster = kCluster) {
  TransportConfig config;
  config.node_id = id;
  config.cluster_id = cluster;
  config.listen_port = port;
  for (const auto& [peer, peer_port] : peers) {
    config.peers.push_back({peer, "127.0.0.1", peer_port});
  }
  config.reconnect_initial = milliseconds(5);
  config.reconnect_max = milliseconds(100);
  auto node = std::make_unique<Node>();
  Inbox* inbox = &node->inbox;
  node->transport = std::make_unique<Transport>(
      config, [inbox](raft::Message m) { inbox->deliver(std::move(m)); },
      [inbox](raft::NodeId peer) { inbox->unreachable(peer); });
  return node;
}

raft::Message message(raft::NodeId from, raft::NodeId to, uint64_t i) {
  raft::Message m;
  m.type = raft::MessageType::kAppend;
  m.from = from;
  m.to = to;
  m.term = 3;
  m.index = i;
  m.commit = i / 2;
  m.entries = {{3, i + 1, raft::EntryType::kNormal,
                "payload " + std::to_string(i) + std::string(i % 300, 'x')}};
  return m;
}

// Sends numbered messages until `to` has received one (a peer being down
// loses messages), then checks that all it got are intact, in order.
void send_until_received(Node& from, raft::NodeId from_id, Node& to,
                         raft::NodeId to_id) {
  const size_t before = to.inbox.messages().size();
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  uint64_t i = 0;
  while (!to.inbox.wait_messages(before + 1, milliseconds(20))) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    from.transport->send(message(from_id, to_id, ++i));
  }
  const std::vector<raft::Message> got = to.inbox.messages();
  uint64_t last = 0;
  for (size_t k = before; k < got.size(); ++k) {
    EXPECT_EQ(got[k], message(from_id, to_id, got[k].index));
    EXPECT_GT(got[k].index, last);
    last = got[k].index;
  }
}

std::string hello_frame(raft::NodeId id, uint64_t cluster) {
  return encode_frame(FrameType::kHello, encode_hello({id, cluster}));
}

std::string message_frame(const raft::Message& m) {
  return encode_frame(FrameType::kRaftMessage, encode_message(m));
}

TEST(Transport, ExchangesManyMessagesInOrderAndIntact) {
  PortReservation pa, pb;
  auto a = make_node(1, pa.port(), {{2, pb.port()}});
  auto b = make_node(2, pb.port(), {{1, pa.port()}});
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  EXPECT_EQ(a->transport->port(), pa.port());
  constexpr uint64_t kCount = 3000;
  for (uint64_t i = 1; i <= kCount; ++i) {
    a->transport->send(message(1, 2, i));
    b->transport->send(message(2, 1, i));
  }
  ASSERT_TRUE(b->inbox.wait_messages(kCount));
  ASSERT_TRUE(a->inbox.wait_messages(kCount));
  const std::vector<raft::Message> at_b = b->inbox.messages();
  const std::vector<raft::Message> at_a = a->inbox.messages();
  for (uint64_t i = 1; i <= kCount; ++i) {
    ASSERT_EQ(at_b[i - 1], message(1, 2, i));
    ASSERT_EQ(at_a[i - 1], message(2, 1, i));
  }
  EXPECT_EQ(a->transport->stats().messages_dropped, 0u);
  EXPECT_EQ(b->transport->stats().messages_received, kCount);
}

TEST(Transport, ListensOnAFreePortWhenGivenZero) {
  auto a = make_node(1, 0, {});
  ASSERT_EQ(a->transport->start(), "");
  EXPECT_NE(a->transport->port(), 0);
  RawClient client(a->transport->port());
  EXPECT_TRUE(client.connected());
}

TEST(Transport, ReachesAPeerThatStartsLater) {
  PortReservation pa, pb;
  auto a = make_node(1, pa.port(), {{2, pb.port()}});
  ASSERT_EQ(a->transport->start(), "");
  a->transport->send(message(1, 2, 1));
  ASSERT_TRUE(a->inbox.wait_unreachable(2));  // refused: nobody listens yet
  EXPECT_GE(a->transport->stats().messages_dropped, 1u);

  auto b = make_node(2, pb.port(), {{1, pa.port()}});
  ASSERT_EQ(b->transport->start(), "");
  send_until_received(*a, 1, *b, 2);
}

TEST(Transport, ReachesARestartedPeer) {
  PortReservation pa, pb;
  auto a = make_node(1, pa.port(), {{2, pb.port()}});
  auto b = make_node(2, pb.port(), {{1, pa.port()}});
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  send_until_received(*a, 1, *b, 2);
  send_until_received(*b, 2, *a, 1);

  b->transport->stop();
  ASSERT_TRUE(a->inbox.wait_unreachable(2));
  b = make_node(2, pb.port(), {{1, pa.port()}});
  ASSERT_EQ(b->transport->start(), "");
  send_until_received(*a, 1, *b, 2);
  send_until_received(*b, 2, *a, 1);
}

TEST(Transport, BadInputClosesOnlyThatConnection) {
  PortReservation pa, pb;
  auto a = make_node(1, pa.port(), {{2, pb.port()}});
  auto b = make_node(2, pb.port(), {{1, pa.port()}});
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  send_until_received(*a, 1, *b, 2);

  const std::vector<std::string> bad_streams = {
      std::string(64, '\xAB'),                          // not a frame
      message_frame(message(1, 2, 1)),                  // no hello first
      hello_frame(9, kCluster),                         // unknown node
      hello_frame(1, kCluster + 1),                     // another cluster
      hello_frame(1, kCluster) + std::string(40, 'z'),  // junk after hello
      hello_frame(1, kCluster) + message_frame(message(3, 2, 1)),  // bad from
      hello_frame(1, kCluster) + message_frame(message(1, 5, 1)),  // bad to
      hello_frame(1, kCluster) + encode_frame(FrameType::kRaftMessage, "??"),
  };
  for (const std::string& bytes : bad_streams) {
    RawClient client(b->transport->port());
    ASSERT_TRUE(client.connected());
    client.write_all(bytes);
    EXPECT_TRUE(client.closed_by_peer());
  }
  const TransportStats stats = b->transport->stats();
  EXPECT_EQ(stats.connections_rejected, bad_streams.size());
  EXPECT_FALSE(stats.last_error.empty());

  // A good stream on a raw connection still gets through, and so does the
  // real peer.
  RawClient good(b->transport->port());
  const size_t before = b->inbox.messages().size();
  good.write_all(hello_frame(1, kCluster) + message_frame(message(1, 2, 500)));
  ASSERT_TRUE(b->inbox.wait_messages(before + 1));
  EXPECT_EQ(b->inbox.messages().back(), message(1, 2, 500));
  send_until_received(*a, 1, *b, 2);
}

TEST(Transport, RejectsAPeerOfAnotherCluster) {
  PortReservation pa, pb;
  auto a = make_node(1, pa.port(), {{2, pb.port()}}, kCluster);
  auto b = make_node(2, pb.port(), {{1, pa.port()}}, kCluster + 1);
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  a->transport->send(message(1, 2, 1));
  // b closes the connection, a sees its peer unreachable.
  ASSERT_TRUE(a->inbox.wait_unreachable(2));
  EXPECT_GE(b->transport->stats().connections_rejected, 1u);
  EXPECT_NE(b->transport->stats().last_error.find("cluster"),
            std::string::npos);
  EXPECT_TRUE(b->inbox.messages().empty());
}

TEST(Transport, StopIsIdempotentWithConnectionsOpen) {
  PortReservation pa, pb;
  auto a = make_node(1, pa.port(), {{2, pb.port()}});
  auto b = make_node(2, pb.port(), {{1, pa.port()}});
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  send_until_received(*a, 1, *b, 2);
  send_until_received(*b, 2, *a, 1);
  RawClient idle(pa.port());
  ASSERT_TRUE(idle.connected());

  a->transport->stop();
  a->transport->stop();
  EXPECT_TRUE(idle.closed_by_peer());
  ASSERT_TRUE(b->inbox.wait_unreachable(1));

  const uint64_t dropped = a->transport->stats().messages_dropped;
  a->transport->send(message(1, 2, 1));
  EXPECT_EQ(a->transport->stats().messages_dropped, dropped + 1);
  // b's destructor stops it with its connections open.
}

TEST(Transport, StartReportsErrorsAndRunsOnce) {
  auto never = make_node(1, 0, {});
  never->transport->stop();  // never started: nothing to do

  auto a = make_node(1, 0, {});
  ASSERT_EQ(a->transport->start(), "");
  EXPECT_NE(a->transport->start(), "");

  auto clash = make_node(2, a->transport->port(), {});
  EXPECT_NE(clash->transport->start(), "");  // a listens there

  auto self = make_node(1, 0, {{1, 1234}});
  EXPECT_NE(self->transport->start(), "");
  TransportConfig config;
  config.node_id = 1;
  config.peers = {{2, "no-such-host.invalid", 1}};
  Transport bad_host(config, nullptr, nullptr);
  EXPECT_NE(bad_host.start(), "");
}

TEST(Transport, DropsMessagesItCannotSend) {
  TransportConfig config;
  config.node_id = 1;
  config.peers = {{2, "127.0.0.1", 1}};
  config.max_frame_payload = 64;
  Transport t(config, nullptr, nullptr);
  t.send(message(1, 2, 1));  // not started
  ASSERT_EQ(t.start(), "");
  t.send(message(1, 3, 1));    // unknown peer
  t.send(message(1, 2, 400));  // larger than the frame limit
  EXPECT_EQ(t.stats().messages_dropped, 3u);
}

TEST(Transport, AcceptsAPeerAddedAtRuntime) {
  PortReservation pa, pb;
  auto a = make_node(1, pa.port(), {});
  auto b = make_node(2, pb.port(), {{1, pa.port()}});
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  b->transport->send(message(2, 1, 1));
  ASSERT_TRUE(b->inbox.wait_unreachable(1));  // a refuses an unknown node
  EXPECT_GE(a->transport->stats().connections_rejected, 1u);

  ASSERT_EQ(a->transport->add_peer({2, "127.0.0.1", pb.port()}), "");
  send_until_received(*b, 2, *a, 1);
  send_until_received(*a, 1, *b, 2);
}

TEST(Transport, AddPeerGivesAKnownPeerANewAddress) {
  PortReservation pa, pb, nowhere;
  auto a = make_node(1, pa.port(), {{2, nowhere.port()}});
  auto b = make_node(2, pb.port(), {{1, pa.port()}});
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  a->transport->send(message(1, 2, 1));
  ASSERT_TRUE(a->inbox.wait_unreachable(2));

  ASSERT_EQ(a->transport->add_peer({2, "127.0.0.1", pb.port()}), "");
  send_until_received(*a, 1, *b, 2);
}

TEST(Transport, AddPeerRefusesBadPeers) {
  auto a = make_node(1, 0, {});
  EXPECT_NE(a->transport->add_peer({0, "127.0.0.1", 1}), "");
  EXPECT_NE(a->transport->add_peer({1, "127.0.0.1", 1}), "");  // itself
  EXPECT_NE(a->transport->add_peer({2, "no-such-host.invalid", 1}), "");
  // Added before start(): used once started.
  EXPECT_EQ(a->transport->add_peer({2, "127.0.0.1", 1}), "");
  ASSERT_EQ(a->transport->start(), "");
  a->transport->send(message(1, 2, 1));
  EXPECT_TRUE(a->inbox.wait_unreachable(2));  // port 1: refused
}

TEST(Transport, RemovePeerClosesItsConnectionsAndRefusesIt) {
  PortReservation pa, pb;
  auto a = make_node(1, pa.port(), {{2, pb.port()}});
  auto b = make_node(2, pb.port(), {{1, pa.port()}});
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  send_until_received(*a, 1, *b, 2);
  send_until_received(*b, 2, *a, 1);

  a->transport->remove_peer(2);
  a->transport->remove_peer(9);  // unknown: nothing happens
  // a closed b's connection to it.
  ASSERT_TRUE(b->inbox.wait_unreachable(1));
  const uint64_t dropped = a->transport->stats().messages_dropped;
  a->transport->send(message(1, 2, 1));
  EXPECT_EQ(a->transport->stats().messages_dropped, dropped + 1);

  // b's new connections are refused at the hello.
  const size_t received = a->inbox.messages().size();
  const uint64_t rejected = a->transport->stats().connections_rejected;
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (a->transport->stats().connections_rejected == rejected) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    b->transport->send(message(2, 1, 1));
    b->inbox.wait_messages(1000000, milliseconds(20));
  }
  EXPECT_EQ(a->inbox.messages().size(), received);

  // Added back, it is a peer again.
  ASSERT_EQ(a->transport->add_peer({2, "127.0.0.1", pb.port()}), "");
  send_until_received(*b, 2, *a, 1);
}

// What a transport hands to its bulk channel, in order with the raft
// messages. Optionally holds the loop thread inside the first bulk frame, as
// a receiver too busy to read would.
class BulkRecorder : public BulkChannel {
 public:
  struct Event {
    bool bulk;  // a bulk frame, or a raft message
    raft::NodeId from;
    std::string payload;
  };
  struct Record {
    std::vector<Event> events;
    std::vector<raft::NodeId> written;
    std::vector<raft::NodeId> failed;
    int ticks = 0;
  };

  explicit BulkRecorder(bool hold_first = false) : holding_(hold_first) {}

  void on_bulk_frame(raft::NodeId from, std::string payload) override {
    std::unique_lock lock(mu_);
    record_.events.push_back({true, from, std::move(payload)});
    cv_.notify_all();
    cv_.wait(lock, [&] { return !holding_; });
  }
  void on_bulk_sent(raft::NodeId to, bool ok) override {
    std::lock_guard lock(mu_);
    (ok ? record_.written : record_.failed).push_back(to);
    cv_.notify_all();
  }
  void on_tick() override {
    std::lock_guard lock(mu_);
    ++record_.ticks;
    cv_.notify_all();
  }
  void raft_message() {
    std::lock_guard lock(mu_);
    record_.events.push_back({false, raft::kNoNode, ""});
    cv_.notify_all();
  }
  void release() {
    std::lock_guard lock(mu_);
    holding_ = false;
    cv_.notify_all();
  }

  // Waits until pred(record) holds; returns whether it did.
  template <typename Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return pred(record_); });
  }
  Record record() {
    std::lock_guard lock(mu_);
    return record_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool holding_;
  Record record_;
};

// Lets a held loop thread go on at the end of a test, before the transport
// is stopped, even if the test failed early.
struct ReleaseAtExit {
  BulkRecorder* recorder;
  ~ReleaseAtExit() { recorder->release(); }
};

std::unique_ptr<Transport> bulk_node(raft::NodeId id, uint16_t port,
                                     raft::NodeId peer, uint16_t peer_port,
                                     BulkRecorder* recorder) {
  TransportConfig config;
  config.node_id = id;
  config.cluster_id = kCluster;
  config.listen_port = port;
  config.peers = {{peer, "127.0.0.1", peer_port}};
  config.reconnect_initial = milliseconds(5);
  config.reconnect_max = milliseconds(100);
  config.max_queued_bytes = 80u << 20;
  auto transport = std::make_unique<Transport>(
      config, [recorder](raft::Message) { recorder->raft_message(); }, nullptr);
  transport->set_bulk_channel(recorder, milliseconds(10));
  return transport;
}

TEST(Transport, DeliversBulkFramesAndReportsTheirWrites) {
  PortReservation pa, pb;
  BulkRecorder at_a, at_b;
  auto a = bulk_node(1, pa.port(), 2, pb.port(), &at_a);
  auto b = bulk_node(2, pb.port(), 1, pa.port(), &at_b);
  EXPECT_FALSE(a->send_bulk(2, "before start"));
  ASSERT_EQ(a->start(), "");
  ASSERT_EQ(b->start(), "");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(a->send_bulk(2, "chunk " + std::to_string(i)));
  }
  ASSERT_TRUE(at_b.wait([](auto& r) { return r.events.size() == 3; }));
  const BulkRecorder::Record got = at_b.record();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(got.events[i].bulk);
    EXPECT_EQ(got.events[i].from, 1u);
    EXPECT_EQ(got.events[i].payload, "chunk " + std::to_string(i));
  }
  ASSERT_TRUE(at_a.wait([](auto& r) { return r.written.size() == 3; }));
  EXPECT_EQ(at_a.record().written, (std::vector<raft::NodeId>{2, 2, 2}));
  EXPECT_TRUE(at_a.wait([](auto& r) { return r.ticks >= 2; }));

  EXPECT_FALSE(a->send_bulk(3, "unknown peer"));
  EXPECT_FALSE(a->send_bulk(2, std::string(kDefaultMaxFramePayload + 1, 'x')));
  const TransportStats stats = a->stats();
  EXPECT_EQ(stats.bulk_frames_sent, 3u);
  EXPECT_EQ(stats.bulk_frames_dropped, 3u);
  EXPECT_EQ(b->stats().bulk_frames_received, 3u);

  // A peer going away is reported as a failure.
  b->stop();
  ASSERT_TRUE(at_a.wait([](auto& r) { return !r.failed.empty(); }));
  EXPECT_EQ(at_a.record().failed.front(), 2u);
}

TEST(Transport, RaftMessagesOvertakeQueuedBulkFrames) {
  PortReservation pa, pb;
  BulkRecorder at_a;
  BulkRecorder at_b(/*hold_first=*/true);
  auto a = bulk_node(1, pa.port(), 2, pb.port(), &at_a);
  auto b = bulk_node(2, pb.port(), 1, pa.port(), &at_b);
  ReleaseAtExit release_b{&at_b};
  ASSERT_EQ(a->start(), "");
  ASSERT_EQ(b->start(), "");
  // More than the socket buffers of both ends hold (tens of MiB at most).
  constexpr size_t kFrames = 64;
  for (size_t i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(a->send_bulk(2, std::string(1u << 20, static_cast<char>(i))));
  }
  // b's loop is held inside the first frame and reads nothing more, so the
  // rest of the bulk frames back up in a's socket and queue.
  ASSERT_TRUE(at_b.wait([](auto& r) { return r.events.size() == 1; }));
  a->send(message(1, 2, 1));
  at_b.release();

  ASSERT_TRUE(
      at_b.wait([&](auto& r) { return r.events.size() == kFrames + 1; }));
  const BulkRecorder::Record got = at_b.record();
  size_t bulk_before_raft = 0;
  while (got.events[bulk_before_raft].bulk) ++bulk_before_raft;
  EXPECT_LT(bulk_before_raft, kFrames)
      << "the raft message waited for every bulk frame queued before it";
  size_t bulk = 0;
  for (const BulkRecorder::Event& event : got.events) {
    if (!event.bulk) continue;
    ASSERT_EQ(event.payload, std::string(1u << 20, static_cast<char>(bulk)));
    ++bulk;
  }
  ASSERT_TRUE(at_a.wait([&](auto& r) { return r.written.size() == kFrames; }));
}

}  // namespace
}  // namespace dengine::net
