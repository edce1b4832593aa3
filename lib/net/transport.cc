#include "net/transport.h"

#include <netdb.h>
#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <utility>

#include "net/hello.h"
#include "net/message_codec.h"

namespace dengine::net {

namespace {

std::string uv_error(const std::string& what, int status) {
  return what + ": " + uv_strerror(status);
}

std::string peer_name(raft::NodeId id) { return "peer " + std::to_string(id); }

// Blocking, once per address at start(): peers are configured by name or IP.
std::string resolve(const std::string& host, uint16_t port,
                    sockaddr_storage* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc =
      getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) return "cannot resolve " + host + ": " + gai_strerror(rc);
  std::memcpy(out, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  return "";
}

}  // namespace

struct OutboundConn;

// One peer's outgoing side. `pending` and `pending_bytes` are shared with
// send() under Impl::mu; everything else belongs to the loop thread.
struct PeerLink {
  enum class State { kIdle, kConnecting, kConnected, kBackoff };

  Transport::Impl* impl = nullptr;
  PeerAddress address;
  sockaddr_storage addr{};
  std::deque<std::string> pending;  // encoded frames, oldest first
  size_t pending_bytes = 0;
  State state = State::kIdle;
  OutboundConn* conn =
      nullptr;  // set from connect until the connection is lost
  uv_timer_t backoff_timer{};
  std::chrono::milliseconds backoff{};
};

struct OutboundConn {
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  PeerLink* link = nullptr;
  // A peer never sends on our outgoing connection; reading detects the close.
  std::array<char, 256> read_buffer{};
};

struct InboundConn {
  InboundConn(Transport::Impl* owner, uint32_t max_payload)
      : impl(owner), decoder(max_payload) {}

  uv_tcp_t tcp{};
  Transport::Impl* impl;
  FrameDecoder decoder;
  raft::NodeId peer = raft::kNoNode;  // set by the hello
  std::array<char, 64 * 1024> read_buffer{};
};

struct WriteReq {
  uv_write_t req{};
  PeerLink* link = nullptr;
  std::string bytes;
  uint64_t messages = 0;  // raft messages in `bytes`
};

struct Transport::Impl {
  enum class Phase { kNew, kRunning, kStopped };

  Impl(TransportConfig cfg, MessageHandler message_handler,
       UnreachableHandler unreachable_handler)
      : config(std::move(cfg)),
        on_message(std::move(message_handler)),
        on_unreachable(std::move(unreachable_handler)) {
    for (const PeerAddress& peer : config.peers) {
      auto link = std::make_unique<PeerLink>();
      link->impl = this;
      link->address = peer;
      link->backoff = config.reconnect_initial;
      links.push_back(std::move(link));
    }
  }

  std::string start();
  void stop();
  void send(const raft::Message& message);

  PeerLink* find_link(raft::NodeId id) const {
    for (const auto& link : links) {
      if (link->address.id == id) return link.get();
    }
    return nullptr;
  }
  void count_drops(uint64_t n) {
    std::lock_guard lock(mu);
    stats.messages_dropped += n;
  }

  // Loop thread only, from here on.
  void on_wake();
  void shutdown();
  void drive(PeerLink* link);
  void connect(PeerLink* link);
  void connected(PeerLink* link, int status);
  bool write(PeerLink* link, std::string bytes, uint64_t messages);
  void written(WriteReq* req, int status);
  void flush(PeerLink* link);
  void lose_connection(PeerLink* link, const std::string& error);
  void backoff_done(PeerLink* link);
  void accept(int status);
  void inbound_read(InboundConn* conn, ssize_t nread);
  std::string accept_frame(InboundConn* conn, Frame frame);
  void reject(InboundConn* conn, const std::string& error);
  void close_inbound(InboundConn* conn);

  const TransportConfig config;
  const MessageHandler on_message;
  const UnreachableHandler on_unreachable;
  std::vector<std::unique_ptr<PeerLink>> links;  // fixed at construction

  uv_loop_t loop{};
  uv_async_t wake{};
  uv_tcp_t server{};
  std::thread thread;
  uint16_t bound_port = 0;
  std::unordered_set<InboundConn*> inbound;  // open, not closing

  mutable std::mutex mu;  // guards the fields below and every link's queue
  Phase phase = Phase::kNew;
  bool stop_requested = false;
  TransportStats stats;
};

namespace {

void close_outbound(OutboundConn* conn) {
  uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp),
           [](uv_handle_t* h) { delete static_cast<OutboundConn*>(h->data); });
}

}  // namespace

std::string Transport::Impl::start() {
  {
    std::lock_guard lock(mu);
    if (phase != Phase::kNew) return "transport: start() called twice";
    phase = Phase::kStopped;  // until everything below succeeds
  }
  if (config.node_id == raft::kNoNode) return "transport: node id 0";
  if (config.reconnect_initial.count() <= 0 ||
      config.reconnect_max < config.reconnect_initial) {
    return "transport: bad reconnect backoff";
  }
  sockaddr_storage listen_addr{};
  std::string error =
      resolve(config.listen_host, config.listen_port, &listen_addr);
  if (!error.empty()) return "transport: listen address: " + error;
  for (const auto& link : links) {
    const raft::NodeId id = link->address.id;
    if (id == raft::kNoNode || id == config.node_id ||
        find_link(id) != link.get()) {
      return "transport: bad or duplicate peer id " + std::to_string(id);
    }
    error = resolve(link->address.host, link->address.port, &link->addr);
    if (!error.empty()) return "transport: " + peer_name(id) + ": " + error;
  }

  int rc = uv_loop_init(&loop);
  if (rc != 0) return uv_error("transport: loop", rc);
  loop.data = this;
  uv_async_init(&loop, &wake, [](uv_async_t* h) {
    static_cast<Impl*>(h->loop->data)->on_wake();
  });
  uv_tcp_init(&loop, &server);
  for (const auto& link : links) {
    uv_timer_init(&loop, &link->backoff_timer);
    link->backoff_timer.data = link.get();
  }
  rc = uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&listen_addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server), 128,
                   [](uv_stream_t* h, int status) {
                     static_cast<Impl*>(h->loop->data)->accept(status);
                   });
  }
  if (rc == 0) {
    sockaddr_storage bound{};
    int len = sizeof(bound);
    rc = uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&bound), &len);
    if (rc == 0) {
      bound_port =
          ntohs(bound.ss_family == AF_INET6
                    ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                    : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }
  }
  if (rc != 0) {
    shutdown();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return uv_error("transport: listen on " + config.listen_host + ":" +
                        std::to_string(config.listen_port),
                    rc);
  }
  {
    std::lock_guard lock(mu);
    phase = Phase::kRunning;
  }
  thread = std::thread([this] { uv_run(&loop, UV_RUN_DEFAULT); });
  return "";
}

void Transport::Impl::stop() {
  {
    std::lock_guard lock(mu);
    if (phase != Phase::kRunning) {
      phase = Phase::kStopped;
      return;
    }
    phase = Phase::kStopped;
    stop_requested = true;
    uv_async_send(&wake);
  }
  thread.join();
  // Every handle was closed by shutdown(), so the loop closes cleanly.
  uv_loop_close(&loop);
  for (const auto& link : links) {
    count_drops(link->pending.size());
    link->pending.clear();
  }
}

void Transport::Impl::send(const raft::Message& message) {
  PeerLink* link = find_link(message.to);
  std::string payload = encode_message(message);
  if (link == nullptr || payload.size() > config.max_frame_payload) {
    count_drops(1);
    return;
  }
  std::string frame = encode_frame(FrameType::kRaftMessage, payload);
  std::lock_guard lock(mu);
  // send() after stop() must not touch the closed async handle.
  if (phase != Phase::kRunning ||
      link->pending_bytes + frame.size() > config.max_queued_bytes) {
    ++stats.messages_dropped;
    return;
  }
  link->pending_bytes += frame.size();
  link->pending.push_back(std::move(frame));
  uv_async_send(&wake);
}

void Transport::Impl::on_wake() {
  bool stopping;
  std::vector<PeerLink*> ready;
  {
    std::lock_guard lock(mu);
    stopping = stop_requested;
    for (const auto& link : links) {
      if (!link->pending.empty()) ready.push_back(link.get());
    }
  }
  if (stopping) {
    shutdown();
    return;
  }
  for (PeerLink* link : ready) drive(link);
}

void Transport::Impl::shutdown() {
  uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&server), nullptr);
  for (const auto& link : links) {
    uv_close(reinterpret_cast<uv_handle_t*>(&link->backoff_timer), nullptr);
    if (link->conn != nullptr) {
      close_outbound(link->conn);
      link->conn = nullptr;
    }
    link->state = PeerLink::State::kIdle;
  }
  while (!inbound.empty()) close_inbound(*inbound.begin());
}

void Transport::Impl::drive(PeerLink* link) {
  if (link->state == PeerLink::State::kIdle) {
    connect(link);
  } else if (link->state == PeerLink::State::kConnected) {
    flush(link);
  }
}

void Transport::Impl::connect(PeerLink* link) {
  auto* conn = new OutboundConn;
  conn->link = link;
  uv_tcp_init(&loop, &conn->tcp);
  conn->tcp.data = conn;
  conn->connect_req.data = conn;
  uv_tcp_nodelay(&conn->tcp, 1);
  link->conn = conn;
  link->state = PeerLink::State::kConnecting;
  const int rc =
      uv_tcp_connect(&conn->connect_req, &conn->tcp,
                     reinterpret_cast<const sockaddr*>(&link->addr),
                     [](uv_connect_t* req, int status) {
                       auto* c = static_cast<OutboundConn*>(req->data);
                       // A connection closed before it connected reports
                       // ECANCELED.
                       if (status == UV_ECANCELED || c->link->conn != c) return;
                       c->link->impl->connected(c->link, status);
                     });
  if (rc != 0) lose_connection(link, uv_error("connect", rc));
}

void Transport::Impl::connected(PeerLink* link, int status) {
  const std::string who = peer_name(link->address.id);
  if (status != 0) {
    lose_connection(link, uv_error("connect to " + who, status));
    return;
  }
  link->state = PeerLink::State::kConnected;
  link->backoff = config.reconnect_initial;
  const int rc = uv_read_start(
      reinterpret_cast<uv_stream_t*>(&link->conn->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = static_cast<OutboundConn*>(h->data);
        *buf = uv_buf_init(c->read_buffer.data(), c->read_buffer.size());
      },
      [](uv_stream_t* h, ssize_t nread, const uv_buf_t*) {
        auto* c = static_cast<OutboundConn*>(h->data);
        if (nread == 0) return;
        const std::string who = peer_name(c->link->address.id);
        c->link->impl->lose_connection(
            c->link, nread > 0 ? who + " sent on our outgoing connection"
                     : nread == UV_EOF
                         ? who + " closed the connection"
                         : uv_error(who, static_cast<int>(nread)));
      });
  if (rc != 0) {
    lose_connection(link, uv_error("read from " + who, rc));
    return;
  }
  const Hello hello{config.node_id, config.cluster_id};
  if (write(link, encode_frame(FrameType::kHello, encode_hello(hello)), 0)) {
    flush(link);
  }
}

bool Transport::Impl::write(PeerLink* link, std::string bytes,
                            uint64_t messages) {
  auto* req = new WriteReq;
  req->link = link;
  req->bytes = std::move(bytes);
  req->messages = messages;
  req->req.data = req;
  const uv_buf_t buf = uv_buf_init(req->bytes.data(), req->bytes.size());
  const int rc =
      uv_write(&req->req, reinterpret_cast<uv_stream_t*>(&link->conn->tcp),
               &buf, 1, [](uv_write_t* r, int status) {
                 auto* w = static_cast<WriteReq*>(r->data);
                 w->link->impl->written(w, status);
               });
  if (rc != 0) {
    count_drops(messages);
    delete req;
    lose_connection(link,
                    uv_error("write to " + peer_name(link->address.id), rc));
    return false;
  }
  return true;
}

void Transport::Impl::written(WriteReq* req, int status) {
  std::unique_ptr<WriteReq> owned(req);
  PeerLink* link = req->link;
  {
    std::lock_guard lock(mu);
    (status == 0 ? stats.messages_sent : stats.messages_dropped) +=
        req->messages;
  }
  // Requests of a connection already lost end with ECANCELED: nothing to do.
  const bool current =
      link->conn != nullptr &&
      req->req.handle == reinterpret_cast<uv_stream_t*>(&link->conn->tcp);
  if (!current) return;
  if (status != 0) {
    lose_connection(
        link, uv_error("write to " + peer_name(link->address.id), status));
    return;
  }
  flush(link);
}

void Transport::Impl::flush(PeerLink* link) {
  if (link->state != PeerLink::State::kConnected) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&link->conn->tcp);
  // Back-pressure: a slow peer's bytes wait (bounded) in `pending`; the
  // write callback flushes again.
  if (uv_stream_get_write_queue_size(stream) >= config.max_queued_bytes) {
    return;
  }
  std::string bytes;
  uint64_t messages = 0;
  {
    std::lock_guard lock(mu);
    bytes.reserve(link->pending_bytes);
    for (const std::string& frame : link->pending) bytes += frame;
    messages = link->pending.size();
    link->pending.clear();
    link->pending_bytes = 0;
  }
  if (messages > 0) write(link, std::move(bytes), messages);
}

void Transport::Impl::lose_connection(PeerLink* link,
                                      const std::string& error) {
  if (link->conn != nullptr) {
    close_outbound(link->conn);
    link->conn = nullptr;
  }
  {
    std::lock_guard lock(mu);
    stats.messages_dropped += link->pending.size();
    stats.last_error = error;
    link->pending.clear();
    link->pending_bytes = 0;
  }
  link->state = PeerLink::State::kBackoff;
  uv_timer_start(
      &link->backoff_timer,
      [](uv_timer_t* t) {
        auto* l = static_cast<PeerLink*>(t->data);
        l->impl->backoff_done(l);
      },
      static_cast<uint64_t>(link->backoff.count()), 0);
  link->backoff = std::min(link->backoff * 2, config.reconnect_max);
  if (on_unreachable) on_unreachable(link->address.id);
}

void Transport::Impl::backoff_done(PeerLink* link) {
  link->state = PeerLink::State::kIdle;
  bool waiting;
  {
    std::lock_guard lock(mu);
    waiting = !link->pending.empty();
  }
  // Reconnect lazily: only when there is something to send.
  if (waiting) connect(link);
}

void Transport::Impl::accept(int status) {
  if (status != 0) {
    std::lock_guard lock(mu);
    stats.last_error = uv_error("accept", status);
    return;
  }
  auto* conn = new InboundConn(this, config.max_frame_payload);
  uv_tcp_init(&loop, &conn->tcp);
  conn->tcp.data = conn;
  auto* stream = reinterpret_cast<uv_stream_t*>(&conn->tcp);
  inbound.insert(conn);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&server), stream) != 0) {
    close_inbound(conn);
    return;
  }
  uv_tcp_nodelay(&conn->tcp, 1);
  const int rc = uv_read_start(
      stream,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = static_cast<InboundConn*>(h->data);
        *buf = uv_buf_init(c->read_buffer.data(), c->read_buffer.size());
      },
      [](uv_stream_t* h, ssize_t nread, const uv_buf_t*) {
        auto* c = static_cast<InboundConn*>(h->data);
        c->impl->inbound_read(c, nread);
      });
  if (rc != 0) close_inbound(conn);
}

void Transport::Impl::inbound_read(InboundConn* conn, ssize_t nread) {
  if (nread == 0) return;
  if (nread < 0) {  // the peer closed or the connection broke: not its fault
    close_inbound(conn);
    return;
  }
  conn->decoder.feed(
      std::string_view(conn->read_buffer.data(), static_cast<size_t>(nread)));
  // Frames complete before a stream error still count.
  while (std::optional<Frame> frame = conn->decoder.pop()) {
    const std::string error = accept_frame(conn, std::move(*frame));
    if (!error.empty()) {
      reject(conn, error);
      return;
    }
  }
  if (conn->decoder.failed()) reject(conn, conn->decoder.error());
}

std::string Transport::Impl::accept_frame(InboundConn* conn, Frame frame) {
  if (conn->peer == raft::kNoNode) {
    if (frame.type != FrameType::kHello) {
      return std::string("expected a hello, got a ") + to_string(frame.type) +
             " frame";
    }
    Hello hello;
    std::string error = decode_hello(frame.payload, &hello);
    if (!error.empty()) return error;
    if (hello.cluster_id != config.cluster_id) {
      return "hello from cluster " + std::to_string(hello.cluster_id) +
             ", expected " + std::to_string(config.cluster_id);
    }
    if (find_link(hello.node_id) == nullptr) {
      return "hello from unknown node " + std::to_string(hello.node_id);
    }
    conn->peer = hello.node_id;
    return "";
  }
  const std::string who = peer_name(conn->peer);
  if (frame.type != FrameType::kRaftMessage) {
    return who + ": unexpected " + to_string(frame.type) + " frame";
  }
  raft::Message message;
  std::string error = decode_message(frame.payload, &message);
  if (!error.empty()) return who + ": " + error;
  if (message.from != conn->peer || message.to != config.node_id) {
    return who + ": message from " + std::to_string(message.from) + " to " +
           std::to_string(message.to);
  }
  {
    std::lock_guard lock(mu);
    ++stats.messages_received;
  }
  if (on_message) on_message(std::move(message));
  return "";
}

void Transport::Impl::reject(InboundConn* conn, const std::string& error) {
  {
    std::lock_guard lock(mu);
    ++stats.connections_rejected;
    stats.last_error = error;
  }
  close_inbound(conn);
}

void Transport::Impl::close_inbound(InboundConn* conn) {
  inbound.erase(conn);
  uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp),
           [](uv_handle_t* h) { delete static_cast<InboundConn*>(h->data); });
}

Transport::Transport(TransportConfig config, MessageHandler on_message,
                     UnreachableHandler on_unreachable)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(on_message),
                                   std::move(on_unreachable))) {}

Transport::~Transport() { stop(); }

std::string Transport::start() { return impl_->start(); }

void Transport::stop() { impl_->stop(); }

uint16_t Transport::port() const { return impl_->bound_port; }

void Transport::send(const raft::Message& message) { impl_->send(message); }

TransportStats Transport::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

}  // namespace dengine::net
