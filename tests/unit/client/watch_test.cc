// The client's watch against a scripted server, one response at a time, as
// a protocol trace: the start, batches delivered in order, a lost
// connection or a stopping server resumed from the last index on the next
// server, responses of other requests ignored, the ends that end it, the
// refusals start() returns, and cancel (from another thread, while waiting
// out a backoff, from inside on_event, by destruction there) and a throwing
// on_event, each with on_end exactly once.
#include "client/watch.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fake_server.h"
#include "net/client_codec.h"
#include "net/frame.h"

namespace dengine::client {
namespace {

using namespace std::chrono_literals;
using net::ClientRequest;
using net::ClientResponse;
using watch::Event;
using watch::WatchEnd;

// One accepted connection, driven by the test: it reads requests and
// writes responses when told to.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) {}
  ~Peer() { close(fd_); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  ClientRequest request() {
    for (;;) {
      if (std::optional<net::Frame> frame = decoder_.pop()) {
        ClientRequest q;
        EXPECT_EQ(frame->type, net::FrameType::kClientRequest);
        EXPECT_EQ(net::decode_client_request(frame->payload, &q), "");
        return q;
      }
      pollfd p{fd_, POLLIN, 0};
      char buffer[4096];
      ssize_t n = -1;
      if (poll(&p, 1, 10000) == 1) n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) throw std::runtime_error("peer: no request");
      decoder_.feed(std::string_view(buffer, static_cast<size_t>(n)));
    }
  }

  void send(const ClientResponse& response) {
    const std::string bytes = net::encode_frame(
        net::FrameType::kClientResponse, net::encode_client_response(response));
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

 private:
  int fd_;
  net::FrameDecoder decoder_;
};

// A listening socket on 127.0.0.1 whose connections the test accepts.
class ScriptedServer {
 public:
  ScriptedServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("scripted server: cannot listen");
    }
    address_ = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  }
  ~ScriptedServer() { close(fd_); }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  const std::string& address() const { return address_; }

  std::unique_ptr<Peer> accept() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) {
      throw std::runtime_error("scripted server: no connection");
    }
    return std::make_unique<Peer>(::accept(fd_, nullptr, nullptr));
  }

 private:
  int fd_ = -1;
  std::string address_;
};

ClientResponse start_of(const ClientRequest& q, uint64_t index) {
  ClientResponse r;
  r.request_id = q.request_id;
  r.more = true;
  r.index = index;
  return r;
}

ClientResponse batch_of(const ClientRequest& q, std::vector<Event> events,
                        uint64_t index) {
  ClientResponse r = start_of(q, index);
  r.events = std::move(events);
  return r;
}

ClientResponse end_of(const ClientRequest& q, int status, uint64_t index,
                      std::string message) {
  ClientResponse r;
  r.request_id = q.request_id;
  r.status = status;
  r.index = index;
  r.message = std::move(message);
  return r;
}

Event put(uint64_t revision, std::string key) {
  Event e;
  e.revision = revision;
  e.key = std::move(key);
  e.value = "v" + std::to_string(revision);
  return e;
}

// What a watch delivered, and a place for callbacks to reach it.
struct Recorder {
  std::mutex mu;
  std::condition_variable changed;
  std::vector<Event> events;
  std::vector<WatchEnd> ends;
  std::unique_ptr<Watch> watch;  // for callbacks that cancel or destroy it

  Watch::EventFn on_event() {
    return [this](const Event& e) {
      std::lock_guard<std::mutex> lock(mu);
      events.push_back(e);
      changed.notify_all();
    };
  }
  Watch::EndFn on_end() {
    return [this](const WatchEnd& end) {
      std::lock_guard<std::mutex> lock(mu);
      ends.push_back(end);
      changed.notify_all();
    };
  }
  bool wait_events(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return changed.wait_for(lock, 10s, [&] { return events.size() >= n; });
  }
  bool wait_end() {
    std::unique_lock<std::mutex> lock(mu);
    return changed.wait_for(lock, 10s, [&] { return !ends.empty(); });
  }
  std::vector<uint64_t> revisions() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<uint64_t> out;
    for (const Event& e : events) out.push_back(e.revision);
    return out;
  }
};

ClientOptions fast_options(std::vector<std::string> endpoints) {
  ClientOptions options;
  options.endpoints = std::move(endpoints);
  options.backoff_initial = 1ms;
  options.backoff_max = 5ms;
  options.deadline = 5s;
  return options;
}

WatchSpec prefix_spec(std::string prefix, uint64_t start_revision = 0) {
  WatchSpec spec;
  spec.key = std::move(prefix);
  spec.is_prefix = true;
  spec.start_revision = start_revision;
  return spec;
}

// Starts a watch on another thread while `server` answers its first
// request with the start at `index`; returns the peer and the request.
std::unique_ptr<Peer> start_watch(ScriptedServer& server, Recorder& r,
                                  ClientOptions options, WatchSpec spec,
                                  uint64_t index, ClientRequest* request) {
  auto started = std::async(std::launch::async, [&] {
    return Watch::start(std::move(options), std::move(spec), r.on_event(),
                        r.on_end(), &r.watch);
  });
  std::unique_ptr<Peer> peer = server.accept();
  *request = peer->request();
  peer->send(start_of(*request, index));
  Status status = started.get();
  EXPECT_TRUE(status.ok()) << status.message;
  return peer;
}

TEST(ClientWatch, ResumesFromTheLastIndexOnEveryNewConnection) {
  ScriptedServer server;
  Recorder r;
  ClientRequest q;
  std::unique_ptr<Peer> peer =
      start_watch(server, r, fast_options({server.address()}),
                  prefix_spec("a/"), /*index=*/10, &q);
  EXPECT_EQ(q.op, net::ClientOp::kWatch);
  EXPECT_EQ(q.stream, watch::Stream::kKv);
  EXPECT_EQ(q.key, "a/");
  EXPECT_TRUE(q.is_prefix);
  EXPECT_EQ(q.start_revision, 0u);  // from now: the server says 10
  EXPECT_EQ(r.watch->next_revision(), 10u);

  peer->send(batch_of(q, {put(10, "a/1"), put(12, "a/2")}, 13));
  // Another request's responses on the connection are not the watch's.
  ClientRequest other = q;
  other.request_id = q.request_id + 100;
  peer->send(batch_of(other, {put(14, "a/x")}, 15));
  peer->send(batch_of(q, {put(13, "a/3")}, 14));
  ASSERT_TRUE(r.wait_events(3));
  EXPECT_EQ(r.revisions(), (std::vector<uint64_t>{10, 12, 13}));

  // The connection is lost: the watch asks the next server from 14.
  peer.reset();
  peer = server.accept();
  q = peer->request();
  EXPECT_EQ(q.start_revision, 14u);
  EXPECT_EQ(q.key, "a/");
  peer->send(start_of(q, 14));
  peer->send(batch_of(q, {put(15, "a/4"), put(15, "a/5")}, 17));

  // A stopping server: resume from its end's index.
  peer->send(end_of(q, DENGINE_ERR_SHUTTING_DOWN, 20, "stopping"));
  peer = server.accept();
  q = peer->request();
  EXPECT_EQ(q.start_revision, 20u);
  peer->send(start_of(q, 20));
  peer->send(batch_of(q, {put(21, "a/6")}, 22));
  ASSERT_TRUE(r.wait_events(6));
  EXPECT_EQ(r.revisions(), (std::vector<uint64_t>{10, 12, 13, 15, 15, 21}));

  // An end of another kind ends the watch, with the server's index.
  peer->send(end_of(q, DENGINE_ERR_WATCH_OVERFLOW, 22, "fell behind"));
  ASSERT_TRUE(r.wait_end());
  EXPECT_EQ(r.watch->next_revision(), 22u);
  r.watch.reset();  // joins; no second on_end
  ASSERT_EQ(r.ends.size(), 1u);
  EXPECT_EQ(r.ends[0].status, DENGINE_ERR_WATCH_OVERFLOW);
  EXPECT_EQ(r.ends[0].message, "fell behind");
  EXPECT_EQ(r.ends[0].next_revision, 22u);
}

TEST(ClientWatch, StartReturnsTheServersRefusal) {
  ScriptedServer server;
  for (int status : {DENGINE_ERR_INVALID_ARGUMENT, DENGINE_ERR_COMPACTED}) {
    Recorder r;
    auto started = std::async(std::launch::async, [&] {
      return Watch::start(fast_options({server.address()}), prefix_spec("", 3),
                          r.on_event(), r.on_end(), &r.watch);
    });
    std::unique_ptr<Peer> peer = server.accept();
    ClientRequest q = peer->request();
    EXPECT_EQ(q.start_revision, 3u);
    peer->send(end_of(q, status, 7, "refused"));
    Status s = started.get();
    EXPECT_EQ(s.code, status);
    EXPECT_NE(s.message.find("refused"), std::string::npos) << s.message;
    if (status == DENGINE_ERR_COMPACTED) {
      EXPECT_NE(s.message.find("oldest revision"), std::string::npos);
      EXPECT_NE(s.message.find(" 7"), std::string::npos) << s.message;
    }
    EXPECT_EQ(r.watch, nullptr);
    EXPECT_TRUE(r.events.empty());
    EXPECT_TRUE(r.ends.empty());
  }
}

TEST(ClientWatch, StartChecksItsArgumentsBeforeConnecting) {
  Recorder r;
  WatchSpec no_key;
  Status s = Watch::start(fast_options({"127.0.0.1:1"}), no_key, r.on_event(),
                          r.on_end(), &r.watch);
  EXPECT_EQ(s.code, DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("empty key"), std::string::npos) << s.message;
  WatchSpec cluster;
  cluster.stream = watch::Stream::kCluster;
  cluster.is_prefix = true;
  EXPECT_EQ(Watch::start(fast_options({"127.0.0.1:1"}), cluster, r.on_event(),
                         r.on_end(), &r.watch)
                .code,
            DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Watch::start(fast_options({}), prefix_spec(""), r.on_event(),
                         r.on_end(), &r.watch)
                .code,
            DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Watch::start(fast_options({"127.0.0.1:1"}), prefix_spec(""),
                         nullptr, r.on_end(), &r.watch)
                .code,
            DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(r.watch, nullptr);
}

TEST(ClientWatch, StartTriesTheNextServerAndGivesUpAtTheDeadline) {
  ScriptedServer stopping, serving;
  testing::RefusingPort refusing;
  Recorder r;
  auto started = std::async(std::launch::async, [&] {
    return Watch::start(fast_options({refusing.address(), stopping.address(),
                                      serving.address()}),
                        prefix_spec("k"), r.on_event(), r.on_end(), &r.watch);
  });
  {
    std::unique_ptr<Peer> peer = stopping.accept();
    ClientRequest q = peer->request();
    peer->send(end_of(q, DENGINE_ERR_SHUTTING_DOWN, 0, "stopping"));
  }
  std::unique_ptr<Peer> peer = serving.accept();
  ClientRequest q = peer->request();
  peer->send(start_of(q, 5));
  ASSERT_TRUE(started.get().ok());
  r.watch.reset();
  ASSERT_EQ(r.ends.size(), 1u);
  EXPECT_EQ(r.ends[0].status, DENGINE_ERR_CANCELLED);
  EXPECT_EQ(r.ends[0].next_revision, 5u);

  ClientOptions options = fast_options({refusing.address()});
  options.deadline = 200ms;
  options.max_retries = 1000000;
  Recorder never;
  const auto began = Clock::now();
  Status s = Watch::start(options, prefix_spec("k"), never.on_event(),
                          never.on_end(), &never.watch);
  EXPECT_EQ(s.code, DENGINE_ERR_IO) << s.message;
  EXPECT_NE(s.message.find("gave up after"), std::string::npos) << s.message;
  EXPECT_LT(Clock::now() - began, 2s);
  EXPECT_TRUE(never.ends.empty());
}

TEST(ClientWatch, ACompactedResumeEndsTheWatchWhereItWas) {
  ScriptedServer server;
  Recorder r;
  ClientRequest q;
  std::unique_ptr<Peer> peer = start_watch(
      server, r, fast_options({server.address()}), prefix_spec("", 5), 5, &q);
  peer->send(batch_of(q, {put(5, "k")}, 6));
  ASSERT_TRUE(r.wait_events(1));
  peer.reset();
  peer = server.accept();
  q = peer->request();
  EXPECT_EQ(q.start_revision, 6u);
  peer->send(end_of(q, DENGINE_ERR_COMPACTED, 9, "compacted"));
  ASSERT_TRUE(r.wait_end());
  EXPECT_EQ(r.ends[0].status, DENGINE_ERR_COMPACTED);
  EXPECT_EQ(r.ends[0].next_revision, 6u);  // the first one it missed
  EXPECT_NE(r.ends[0].message.find("keeps is 9"), std::string::npos)
      << r.ends[0].message;
  r.watch.reset();
  EXPECT_EQ(r.ends.size(), 1u);
}

TEST(ClientWatch, CancelFromAnotherThreadWakesTheWatchThread) {
  ScriptedServer server;
  Recorder r;
  ClientRequest q;
  std::unique_ptr<Peer> peer = start_watch(
      server, r, fast_options({server.address()}), prefix_spec(""), 8, &q);
  peer->send(batch_of(q, {put(8, "k")}, 9));
  ASSERT_TRUE(r.wait_events(1));
  // Waiting for events, with no deadline: cancel() wakes it.
  r.watch->cancel();
  ASSERT_EQ(r.ends.size(), 1u);
  EXPECT_EQ(r.ends[0].status, DENGINE_ERR_CANCELLED);
  EXPECT_EQ(r.ends[0].next_revision, 9u);
  r.watch->cancel();  // again: nothing
  r.watch.reset();
  EXPECT_EQ(r.ends.size(), 1u);
  EXPECT_EQ(r.events.size(), 1u);
}

TEST(ClientWatch, CancelInterruptsABackoff) {
  ScriptedServer server;
  Recorder r;
  ClientOptions options = fast_options({server.address()});
  options.backoff_initial = 60s;
  options.backoff_max = 60s;
  ClientRequest q;
  std::unique_ptr<Peer> peer =
      start_watch(server, r, options, prefix_spec(""), 4, &q);
  peer.reset();  // the watch now waits 30 to 60 s before reconnecting
  std::this_thread::sleep_for(50ms);
  const auto began = Clock::now();
  r.watch.reset();
  EXPECT_LT(Clock::now() - began, 5s);
  ASSERT_EQ(r.ends.size(), 1u);
  EXPECT_EQ(r.ends[0].status, DENGINE_ERR_CANCELLED);
  EXPECT_EQ(r.ends[0].next_revision, 4u);
}

TEST(ClientWatch, CancelFromInsideOnEventStopsAtThatEvent) {
  ScriptedServer server;
  Recorder r;
  std::atomic<bool> ended_inside{false};
  auto started = std::async(std::launch::async, [&] {
    return Watch::start(
        fast_options({server.address()}), prefix_spec(""),
        [&](const Event& e) {
          r.on_event()(e);
          r.watch->cancel();  // returns at once; on_end comes after
          std::lock_guard<std::mutex> lock(r.mu);
          ended_inside = !r.ends.empty();
        },
        r.on_end(), &r.watch);
  });
  std::unique_ptr<Peer> peer = server.accept();
  ClientRequest q = peer->request();
  peer->send(start_of(q, 3));
  ASSERT_TRUE(started.get().ok());
  peer->send(batch_of(q, {put(3, "a"), put(4, "b"), put(4, "c")}, 5));
  ASSERT_TRUE(r.wait_end());
  EXPECT_FALSE(ended_inside);
  EXPECT_EQ(r.revisions(), (std::vector<uint64_t>{3}));
  EXPECT_EQ(r.ends[0].status, DENGINE_ERR_CANCELLED);
  EXPECT_EQ(r.ends[0].next_revision, 4u);
  r.watch.reset();
  EXPECT_EQ(r.ends.size(), 1u);
}

TEST(ClientWatch, DestroyedFromInsideItsCallbackItFinishesAlone) {
  ScriptedServer server;
  Recorder r;
  ClientRequest q;
  auto started = std::async(std::launch::async, [&] {
    return Watch::start(
        fast_options({server.address()}), prefix_spec(""),
        [&](const Event& e) {
          r.on_event()(e);
          r.watch.reset();  // detaches the thread, which runs on_end
        },
        r.on_end(), &r.watch);
  });
  std::unique_ptr<Peer> peer = server.accept();
  q = peer->request();
  peer->send(start_of(q, 1));
  ASSERT_TRUE(started.get().ok());
  peer->send(batch_of(q, {put(1, "a"), put(2, "b")}, 3));
  ASSERT_TRUE(r.wait_end());
  std::lock_guard<std::mutex> lock(r.mu);
  EXPECT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.ends.size(), 1u);
  EXPECT_EQ(r.ends[0].status, DENGINE_ERR_CANCELLED);
  EXPECT_EQ(r.ends[0].next_revision, 2u);
}

TEST(ClientWatch, AThrowingOnEventEndsTheWatchAtItsEvent) {
  ScriptedServer server;
  Recorder r;
  auto started = std::async(std::launch::async, [&] {
    return Watch::start(
        fast_options({server.address()}), prefix_spec(""),
        [](const Event& e) {
          if (e.revision == 6) throw std::runtime_error("boom");
        },
        r.on_end(), &r.watch);
  });
  std::unique_ptr<Peer> peer = server.accept();
  ClientRequest q = peer->request();
  peer->send(start_of(q, 5));
  ASSERT_TRUE(started.get().ok());
  peer->send(batch_of(q, {put(5, "a"), put(6, "b"), put(7, "c")}, 8));
  ASSERT_TRUE(r.wait_end());
  EXPECT_EQ(r.ends[0].status, DENGINE_ERR_CANCELLED);
  EXPECT_NE(r.ends[0].message.find("boom"), std::string::npos);
  EXPECT_EQ(r.ends[0].next_revision, 6u);
  r.watch.reset();
  EXPECT_EQ(r.ends.size(), 1u);
}

}  // namespace
}  // namespace dengine::client
