#include "net/transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "net/frame.h"
#include "net/hello.h"
#include "net/message_codec.h"

namespace dengine::net {
namespace {

using std::chrono::milliseconds;

constexpr uint64_t kCluster = 77;
constexpr auto kDeadline = std::chrono::seconds(10);

// Holds a loopback port for the whole test: bound with SO_REUSEADDR but never
// listening, so a transport may listen on it (again and again) while the
// kernel hands it to no one else. Connecting while no transport listens is
// refused, as for a peer that is down.
class PortReservation {
 public:
  PortReservation() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    const int on = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~PortReservation() { close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

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

// A plain TCP client, for bytes no transport would send.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    connected_ =
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval timeout{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~RawClient() { close(fd_); }
  bool connected() const { return connected_; }
  void write_all(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n =
          ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;  // the other side may close before all is sent
      done += static_cast<size_t>(n);
    }
  }
  // True once the other side has closed; false if it stays open 10 s.
  bool closed_by_peer() {
    char buf[256];
    for (;;) {
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) return true;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

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

}  // namespace
}  // namespace dengine::net
