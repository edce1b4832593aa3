// A node's client listener facing a client that sends what it should not:
// a frame that fails the frame checks, a frame of another type, a payload
// that does not decode. Each is answered with DENGINE_ERR_INVALID_ARGUMENT
// and the reason, logged with the client's address, and cuts that one
// connection off; the node goes on serving everyone else. A request that
// decodes but breaks the argument rules is only answered: its connection
// stays usable. And the watches it serves: a stream of event batches, each
// with the revision to resume from, ended by the server stopping, by the
// client closing, or by a client too slow to read; refused when malformed
// or when the past it asks for is gone.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../unit/base/log_capture.h"
#include "net/client_codec.h"
#include "net/frame.h"
#include "node/kv.h"
#include "node/node.h"
#include "node_test_support.h"

namespace dengine::node {
namespace {

namespace fs = std::filesystem;

using testing::eventually;

// A client connection made by hand, so that it can send anything.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    // A server that never answers fails the test instead of hanging it.
    const timeval patience{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
    connected_ =
        ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }

  // "127.0.0.1:port" of this end, as the server sees its peer.
  std::string address() const {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  }

  bool send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n =
          ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  bool send_request(const net::ClientRequest& request) {
    return send(net::encode_frame(net::FrameType::kClientRequest,
                                  net::encode_client_request(request)));
  }

  // The next response frame, decoded; nullopt once the server closed the
  // connection (or sent something else).
  std::optional<net::ClientResponse> receive() {
    while (true) {
      if (std::optional<net::Frame> frame = decoder_.pop()) {
        net::ClientResponse response;
        if (frame->type != net::FrameType::kClientResponse ||
            !net::decode_client_response(frame->payload, &response).empty()) {
          ADD_FAILURE() << "the server sent a frame that is no response";
          return std::nullopt;
        }
        return response;
      }
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        ADD_FAILURE() << "no answer and no close from the server";
        return std::nullopt;
      }
      if (n <= 0) {  // closed (or reset after closing)
        closed_ = true;
        return std::nullopt;
      }
      if (!decoder_.feed(std::string_view(buffer, n))) {
        ADD_FAILURE() << "bad frame from the server: " << decoder_.error();
        return std::nullopt;
      }
    }
  }

  // Whether the server closed the connection, reading past any answers.
  bool closed_by_server() {
    while (receive()) {
    }
    return closed_;
  }

 private:
  int fd_;
  bool connected_ = false;
  bool closed_ = false;
  net::FrameDecoder decoder_;
};

net::ClientRequest status_request(uint64_t request_id) {
  net::ClientRequest request;
  request.request_id = request_id;
  request.op = net::ClientOp::kStatus;
  return request;
}

class ClientServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("dengine-client-server-" + std::string(info->name()) + "-" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    NodeOptions options;
    options.id = 1;
    options.data_dir = (dir_ / "node1").string();
    options.listen_address = "127.0.0.1:0";
    options.client_address = "127.0.0.1:0";
    options.initial_voters = {1};
    options.tick_interval = std::chrono::milliseconds(20);
    configure(options);
    std::string error;
    ASSERT_EQ(Node::start(options, &node_, &error), DENGINE_OK) << error;
    ASSERT_TRUE(eventually(
        [&] { return node_->status().role == raft::Role::kLeader; }));
  }
  void TearDown() override {
    node_.reset();
    fs::remove_all(dir_);
  }

  // Changes the node's options before it starts.
  virtual void configure(NodeOptions&) {}

  uint16_t port() const { return node_->client_port(); }

  // Puts `key` = `value`; the revision of the change.
  uint64_t put(const std::string& key, const std::string& value) {
    KvWriteReply w = kv_write(*node_, sm::KvCommand::put(key, value), nullptr,
                              std::chrono::seconds(10));
    EXPECT_EQ(w.reply.status, DENGINE_OK) << w.reply.message;
    return w.reply.index;
  }

  // Sends `bytes` on a connection of its own and expects what the server
  // does with something it cannot trust: one INVALID_ARGUMENT answer whose
  // message starts with `reason`, a log line naming the connection and the
  // reason, and the connection closed.
  void expect_refused(const std::string& bytes, const std::string& reason) {
    base::LogCapture log(DENGINE_LOG_WARN);
    RawClient client(port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send(bytes));
    const std::optional<net::ClientResponse> answer = client.receive();
    ASSERT_TRUE(answer.has_value()) << "closed without an answer";
    EXPECT_EQ(answer->status, DENGINE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(answer->message.rfind(reason, 0), 0u) << answer->message;
    EXPECT_TRUE(client.closed_by_server());
    // The line is written before the answer is sent.
    const std::vector<std::string> lines =
        log.find(DENGINE_LOG_WARN, {"client", client.address(), reason});
    EXPECT_EQ(lines.size(), 1u)
        << "no line names " << client.address() << " and " << reason;
    expect_serving();
  }

  // A new connection is answered.
  void expect_serving() {
    RawClient client(port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send_request(status_request(42)));
    const std::optional<net::ClientResponse> answer = client.receive();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->request_id, 42u);
    EXPECT_EQ(answer->status, DENGINE_OK) << answer->message;
    ASSERT_TRUE(answer->node_status.has_value());
    EXPECT_EQ(answer->node_status->node_id, 1u);
    EXPECT_EQ(answer->node_status->role, raft::Role::kLeader);
  }

  fs::path dir_;
  std::unique_ptr<Node> node_;
};

TEST_F(ClientServerTest, AFrameFailingItsChecksIsAnsweredLoggedAndCutOff) {
  expect_refused(std::string(net::kFrameHeaderSize, 'x'), "bad frame: ");
}

TEST_F(ClientServerTest, AFrameOfAnotherTypeIsAnsweredLoggedAndCutOff) {
  expect_refused(net::encode_frame(net::FrameType::kHello, "hello"),
                 "expected a client request frame, got ");
}

TEST_F(ClientServerTest, APayloadThatDoesNotDecodeIsAnsweredLoggedAndCutOff) {
  std::string payload =
      net::encode_client_request(status_request(7)) + "trailing";
  expect_refused(net::encode_frame(net::FrameType::kClientRequest, payload),
                 "bad request: ");
}

TEST_F(ClientServerTest, ABadFrameCutsOffOnlyItsOwnConnection) {
  RawClient bystander(port());
  ASSERT_TRUE(bystander.connected());
  ASSERT_TRUE(bystander.send_request(status_request(1)));
  ASSERT_TRUE(bystander.receive().has_value());

  expect_refused(std::string(net::kFrameHeaderSize, 'x'), "bad frame: ");

  ASSERT_TRUE(bystander.send_request(status_request(2)));
  const std::optional<net::ClientResponse> answer = bystander.receive();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->request_id, 2u);
  EXPECT_EQ(answer->status, DENGINE_OK);
}

TEST_F(ClientServerTest, ARequestBreakingTheArgumentRulesKeepsItsConnection) {
  base::LogCapture log(DENGINE_LOG_WARN);
  RawClient client(port());
  ASSERT_TRUE(client.connected());
  net::ClientRequest put;
  put.request_id = 5;
  put.op = net::ClientOp::kPut;  // with an empty key
  ASSERT_TRUE(client.send_request(put));
  std::optional<net::ClientResponse> answer = client.receive();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->request_id, 5u);
  EXPECT_EQ(answer->status, DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(answer->message.rfind("bad request: ", 0), 0u) << answer->message;

  ASSERT_TRUE(client.send_request(status_request(6)));
  answer = client.receive();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->request_id, 6u);
  EXPECT_EQ(answer->status, DENGINE_OK);
  EXPECT_TRUE(log.find(DENGINE_LOG_WARN, {"client", client.address()}).empty());
}

net::ClientRequest watch_request(uint64_t request_id, std::string key,
                                 bool prefix, uint64_t start_revision = 0) {
  net::ClientRequest request;
  request.request_id = request_id;
  request.op = net::ClientOp::kWatch;
  request.stream = watch::Stream::kKv;
  request.key = std::move(key);
  request.is_prefix = prefix;
  request.start_revision = start_revision;
  return request;
}

// Reads a watch's event batches until `count` events came; checks that
// each batch's index is past its events and that revisions only grow.
std::vector<watch::Event> read_events(RawClient& client, uint64_t request_id,
                                      size_t count, uint64_t* index) {
  std::vector<watch::Event> events;
  while (events.size() < count) {
    std::optional<net::ClientResponse> batch = client.receive();
    if (!batch) {
      ADD_FAILURE() << "the stream ended after " << events.size();
      break;
    }
    EXPECT_EQ(batch->request_id, request_id);
    EXPECT_EQ(batch->status, DENGINE_OK) << batch->message;
    EXPECT_TRUE(batch->more);
    EXPECT_FALSE(batch->events.empty());
    for (const watch::Event& e : batch->events) {
      EXPECT_LT(e.revision, batch->index);
      if (!events.empty()) {
        EXPECT_GE(e.revision, events.back().revision);
      }
      events.push_back(e);
    }
    *index = batch->index;
  }
  return events;
}

TEST_F(ClientServerTest, AWatchStreamsItsEventsAndEndsWhenTheServerStops) {
  RawClient client(port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send_request(watch_request(9, "w/", true)));
  std::optional<net::ClientResponse> start = client.receive();
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->status, DENGINE_OK) << start->message;
  EXPECT_TRUE(start->more);
  EXPECT_TRUE(start->events.empty());
  // From now: past what the node had applied (its leader's first entry may
  // be applied since).
  EXPECT_GE(start->index, 1u);
  EXPECT_LE(start->index, node_->status().applied_index + 1);

  const uint64_t a = put("w/a", "1");
  put("other", "x");  // not watched
  const uint64_t b = put("w/b", "2");
  EXPECT_GE(a, start->index);
  // Other requests share the connection meanwhile.
  ASSERT_TRUE(client.send_request(status_request(10)));

  uint64_t index = 0;
  std::vector<watch::Event> events;
  bool status_answered = false;
  while (events.size() < 2 || !status_answered) {
    std::optional<net::ClientResponse> r = client.receive();
    ASSERT_TRUE(r.has_value());
    if (r->request_id == 10) {
      EXPECT_TRUE(r->node_status.has_value());
      status_answered = true;
      continue;
    }
    ASSERT_EQ(r->request_id, 9u);
    for (const watch::Event& e : r->events) events.push_back(e);
    index = r->index;
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].revision, a);
  EXPECT_EQ(events[0].type, watch::EventType::kPut);
  EXPECT_EQ(events[0].key, "w/a");
  EXPECT_EQ(events[0].value, "1");
  EXPECT_FALSE(events[0].prev_value.has_value());
  EXPECT_EQ(events[1].revision, b);
  EXPECT_EQ(events[1].key, "w/b");
  EXPECT_EQ(index, b + 1);

  node_.reset();
  std::optional<net::ClientResponse> end = client.receive();
  ASSERT_TRUE(end.has_value()) << "closed without the end";
  EXPECT_EQ(end->request_id, 9u);
  EXPECT_FALSE(end->more);
  EXPECT_EQ(end->status, DENGINE_ERR_SHUTTING_DOWN) << end->message;
  EXPECT_GE(end->index, index);
}

TEST_F(ClientServerTest, AnIdleWatchIsToldHowFarItGot) {
  RawClient client(port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send_request(watch_request(4, "idle", false)));
  std::optional<net::ClientResponse> start = client.receive();
  ASSERT_TRUE(start.has_value());
  ASSERT_EQ(start->status, DENGINE_OK) << start->message;
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) last = put("busy/" + std::to_string(i), "v");
  ASSERT_GT(last, start->index);
  // A progress report: no events, the revision to resume from, past every
  // write the watch does not match (a reconnection resumes there, not at
  // a revision the history may have dropped).
  uint64_t index = start->index;
  while (index <= last) {
    std::optional<net::ClientResponse> r = client.receive();
    ASSERT_TRUE(r.has_value()) << "no progress past " << index;
    ASSERT_EQ(r->request_id, 4u);
    ASSERT_EQ(r->status, DENGINE_OK) << r->message;
    ASSERT_TRUE(r->more);
    EXPECT_TRUE(r->events.empty());
    EXPECT_GT(r->index, index);
    index = r->index;
  }
  EXPECT_EQ(index, last + 1);
}

TEST_F(ClientServerTest, AWatchFromAPastRevisionReplaysItFirst) {
  const uint64_t first = put("k", "1");
  put("k", "2");
  RawClient client(port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send_request(watch_request(3, "k", false, first)));
  std::optional<net::ClientResponse> start = client.receive();
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->status, DENGINE_OK) << start->message;
  EXPECT_EQ(start->index, first);
  const uint64_t third = put("k", "3");
  uint64_t index = 0;
  std::vector<watch::Event> events = read_events(client, 3, 3, &index);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].revision, first);
  EXPECT_EQ(events[1].value, "2");
  EXPECT_EQ(events[1].prev_value, "1");
  EXPECT_EQ(events[2].revision, third);
  EXPECT_EQ(index, third + 1);
}

TEST_F(ClientServerTest, AMalformedWatchIsRefusedAndTheConnectionStays) {
  RawClient client(port());
  ASSERT_TRUE(client.connected());
  net::ClientRequest cluster = watch_request(4, "x", false);
  cluster.stream = watch::Stream::kCluster;  // with a key
  ASSERT_TRUE(client.send_request(cluster));
  std::optional<net::ClientResponse> end = client.receive();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->request_id, 4u);
  EXPECT_FALSE(end->more);
  EXPECT_EQ(end->status, DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(end->message.find("cluster stream"), std::string::npos)
      << end->message;

  ASSERT_TRUE(client.send_request(watch_request(5, "", false)));
  end = client.receive();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->status, DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(end->message.find("empty key"), std::string::npos) << end->message;

  ASSERT_TRUE(client.send_request(status_request(6)));
  std::optional<net::ClientResponse> answer = client.receive();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->request_id, 6u);
  EXPECT_EQ(answer->status, DENGINE_OK);
  EXPECT_EQ(node_->watches()->watch_count(), 0u);
}

TEST_F(ClientServerTest, ClosingTheConnectionEndsItsWatches) {
  {
    RawClient client(port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send_request(watch_request(1, "a", false)));
    ASSERT_TRUE(client.send_request(watch_request(2, "b", true)));
    ASSERT_TRUE(client.receive().has_value());
    ASSERT_TRUE(client.receive().has_value());
    EXPECT_EQ(node_->watches()->watch_count(), 2u);
  }
  EXPECT_TRUE(eventually([&] { return node_->watches()->watch_count() == 0; }));
  put("a", "still serving");
  expect_serving();
}

// A small history, so that the past runs out.
class ClientServerSmallHistoryTest : public ClientServerTest {
 protected:
  void configure(NodeOptions& options) override {
    options.watch_history.max_events = 2;
  }
};

TEST_F(ClientServerSmallHistoryTest, AWatchFromTooFarBackIsCompacted) {
  const uint64_t first = put("k", "1");
  put("k", "2");
  put("k", "3");
  RawClient client(port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send_request(watch_request(8, "k", false, first)));
  std::optional<net::ClientResponse> end = client.receive();
  ASSERT_TRUE(end.has_value());
  EXPECT_FALSE(end->more);
  EXPECT_EQ(end->status, DENGINE_ERR_COMPACTED) << end->message;
  EXPECT_EQ(end->index, node_->watches()->available_from());
  EXPECT_GT(end->index, first);

  // From the oldest kept revision it starts.
  ASSERT_TRUE(client.send_request(watch_request(9, "k", false, end->index)));
  std::optional<net::ClientResponse> start = client.receive();
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->status, DENGINE_OK) << start->message;
}

TEST_F(ClientServerTest, AClientThatDoesNotReadIsEndedAsOverflowed) {
  RawClient client(port());
  ASSERT_TRUE(client.connected());
  net::ClientRequest request = watch_request(2, "big", false);
  request.max_lag = 1000000;  // only the unsent bytes can end it
  ASSERT_TRUE(client.send_request(request));
  // 24 MiB of events, none read: more than the 8 MiB the server queues
  // beyond what the sockets hold.
  const std::string value(64 << 10, 'v');
  uint64_t last = 0;
  for (int i = 0; i < 384; ++i) last = put("big", value);

  std::optional<net::ClientResponse> start = client.receive();
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->status, DENGINE_OK);
  uint64_t expected = start->index;  // the next revision due
  std::optional<net::ClientResponse> r;
  while ((r = client.receive()) && r->more) {
    for (const watch::Event& e : r->events) {
      EXPECT_GE(e.revision, expected);
      expected = e.revision + 1;
    }
    expected = r->index;
  }
  ASSERT_TRUE(r.has_value()) << "closed without the end";
  EXPECT_EQ(r->status, DENGINE_ERR_WATCH_OVERFLOW) << r->message;
  EXPECT_NE(r->message.find("too slowly"), std::string::npos) << r->message;
  EXPECT_EQ(r->index, expected);  // where the client resumes: no gap
  EXPECT_LE(r->index, last);      // it did not get everything
  EXPECT_EQ(node_->watches()->watch_count(), 0u);
  // The connection stays.
  ASSERT_TRUE(client.send_request(status_request(3)));
  std::optional<net::ClientResponse> answer = client.receive();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->request_id, 3u);
}

}  // namespace
}  // namespace dengine::node
