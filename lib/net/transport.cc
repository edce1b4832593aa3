#include "net/transport.h"

#include <netdb.h>
#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>

#include "base/log.h"
#include "net/hello.h"
#include "net/message_codec.h"

namespace dengine::net {

namespace {

// The least time between two log lines about refused inbound connections.
constexpr uint64_t kRejectLogIntervalMs = 1000;

std::string uv_error(const std::string& what, int status) {
  return what + ": " + uv_strerror(status);
}

std::string peer_name(raft::NodeId id) { return "peer " + std::to_string(id); }

// Blocking: at start() for the configured peers, in add_peer() for the rest.
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

// One peer's outgoing side. A link is freed only by the loop thread (or
// after it ended), so the loop keeps pointers to links without the lock.
struct PeerLink {
  enum class State { kIdle, kConnecting, kConnected, kBackoff };

  PeerLink(Transport::Impl* owner, const PeerAddress& peer)
      : impl(owner), id(peer.id), address(peer) {}

  Transport::Impl* const impl;
  const raft::NodeId id;

  // Guarded by Impl::mu.
  PeerAddress address;
  sockaddr_storage addr{};
  bool resolved = false;            // addr holds `address`
  bool address_changed = false;     // the loop is to reconnect there
  std::deque<std::string> pending;  // raft-message frames, oldest first
  size_t pending_bytes = 0;
  std::deque<std::string> bulk_pending;  // bulk frames, oldest first
  size_t bulk_pending_bytes = 0;
  PeerTraffic traffic;

  // Loop thread only.
  bool timer_ready = false;  // backoff_timer is initialized, to be closed
  State state = State::kIdle;
  OutboundConn* conn = nullptr;  // from connect until the connection closes
  bool bulk_in_write = false;    // a bulk frame is in the socket write
  uv_timer_t backoff_timer{};
  std::chrono::milliseconds backoff{};
};

struct OutboundConn {
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  // Null once the connection is closed: its callbacks still to come (a
  // cancelled connect or write) then have nothing to do.
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
  OutboundConn* conn = nullptr;
  raft::NodeId peer = raft::kNoNode;
  std::string bytes;
  uint64_t messages = 0;  // raft messages in `bytes`
  bool bulk = false;      // `bytes` is one bulk frame
};

struct PoolWork {
  uv_work_t req{};
  std::function<void()> work;
  std::function<void()> done;
};

struct Transport::Impl {
  enum class Phase { kNew, kRunning, kStopped };

  Impl(TransportConfig cfg, MessageHandler message_handler,
       UnreachableHandler unreachable_handler)
      : config(std::move(cfg)),
        on_message(std::move(message_handler)),
        on_unreachable(std::move(unreachable_handler)) {
    // Duplicates are kept out here and reported by start().
    for (const PeerAddress& peer : config.peers) {
      if (!links.contains(peer.id)) links.emplace(peer.id, new_link(peer));
    }
  }

  std::unique_ptr<PeerLink> new_link(const PeerAddress& peer) {
    auto link = std::make_unique<PeerLink>(this, peer);
    link->backoff = config.reconnect_initial;
    return link;
  }

  std::string start();
  void stop();
  void send(const raft::Message& message);
  bool send_bulk(raft::NodeId to, std::string payload);
  std::string add_peer(const PeerAddress& peer);
  void remove_peer(raft::NodeId id);
  bool post(std::function<void()> task);
  void run_in_pool(std::function<void()> work, std::function<void()> done);

  // Under mu.
  PeerLink* find_link(raft::NodeId id) const {
    const auto it = links.find(id);
    return it == links.end() ? nullptr : it->second.get();
  }
  // Under mu: raft messages for `link` (nullptr: no such peer) handed to
  // the socket or dropped.
  void tally(PeerLink* link, uint64_t sent, uint64_t dropped) {
    stats.messages_sent += sent;
    stats.messages_dropped += dropped;
    if (link == nullptr) return;
    link->traffic.messages_sent += sent;
    link->traffic.messages_dropped += dropped;
  }

  // Loop thread only, from here on.
  void on_wake();
  void shutdown();
  void release(std::unique_ptr<PeerLink> link);
  void readdress(PeerLink* link);
  void drive(PeerLink* link);
  void connect(PeerLink* link);
  void connected(PeerLink* link, int status);
  bool write(PeerLink* link, std::string bytes, uint64_t messages, bool bulk);
  void written(WriteReq* req, int status);
  void flush(PeerLink* link);
  void close_connection(PeerLink* link);
  void lose_connection(PeerLink* link, const std::string& error);
  void backoff_done(PeerLink* link);
  void accept(int status);
  void inbound_read(InboundConn* conn, ssize_t nread);
  std::string accept_frame(InboundConn* conn, Frame frame);
  void reject(InboundConn* conn, const std::string& error);
  void log_rejection(const std::string& error);
  void close_inbound(InboundConn* conn);
  void bulk_failed(raft::NodeId id) {
    if (channel != nullptr) channel->on_bulk_sent(id, false);
  }

  const TransportConfig config;
  const MessageHandler on_message;
  const UnreachableHandler on_unreachable;
  BulkChannel* channel = nullptr;  // set before start()
  std::chrono::milliseconds tick_period{};

  uv_loop_t loop{};
  uv_async_t wake{};
  uv_tcp_t server{};
  uv_timer_t tick_timer{};  // initialized only with a channel
  std::thread thread;
  uint16_t bound_port = 0;
  std::unordered_set<InboundConn*> inbound;  // open, not closing
  // Refusals are logged at most once a kRejectLogIntervalMs: a peer that
  // keeps sending bad frames is refused, reconnects and is refused again.
  std::optional<uint64_t> last_rejection_log_ms;  // uv_now of the last line
  uint64_t rejections_not_logged = 0;

  mutable std::mutex mu;  // guards the fields below and links' shared fields
  Phase phase = Phase::kNew;
  bool stop_requested = false;
  std::map<raft::NodeId, std::unique_ptr<PeerLink>> links;
  std::vector<std::unique_ptr<PeerLink>> removed;  // for the loop to free
  std::vector<std::function<void()>> tasks;        // posted, not yet run
  TransportStats stats;
};

namespace {

void close_outbound(OutboundConn* conn) {
  conn->link = nullptr;
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
  std::unordered_set<raft::NodeId> ids;
  for (const PeerAddress& peer : config.peers) {
    if (peer.id == raft::kNoNode || peer.id == config.node_id ||
        !ids.insert(peer.id).second) {
      return "transport: bad or duplicate peer id " + std::to_string(peer.id);
    }
  }
  // The configured peers, unless add_peer() gave them an address since.
  std::vector<PeerAddress> unresolved;
  {
    std::lock_guard lock(mu);
    for (const auto& [id, link] : links) {
      if (!link->resolved) unresolved.push_back(link->address);
    }
  }
  for (const PeerAddress& peer : unresolved) {
    sockaddr_storage addr{};
    error = resolve(peer.host, peer.port, &addr);
    if (!error.empty())
      return "transport: " + peer_name(peer.id) + ": " + error;
    std::lock_guard lock(mu);
    PeerLink* link = find_link(peer.id);
    if (link != nullptr && !link->resolved) {
      link->addr = addr;
      link->resolved = true;
    }
  }

  int rc = uv_loop_init(&loop);
  if (rc != 0) return uv_error("transport: loop", rc);
  loop.data = this;
  uv_async_init(&loop, &wake, [](uv_async_t* h) {
    static_cast<Impl*>(h->loop->data)->on_wake();
  });
  uv_tcp_init(&loop, &server);
  if (channel != nullptr) uv_timer_init(&loop, &tick_timer);
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
  if (channel != nullptr) {
    const auto period = static_cast<uint64_t>(tick_period.count());
    uv_timer_start(
        &tick_timer,
        [](uv_timer_t* t) {
          static_cast<Impl*>(t->loop->data)->channel->on_tick();
        },
        period, period);
  }
  {
    std::lock_guard lock(mu);
    phase = Phase::kRunning;
    // The first wake sets up the links, including any added meanwhile.
    uv_async_send(&wake);
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
  std::vector<std::function<void()>> never_run;
  std::lock_guard lock(mu);
  for (const auto& [id, link] : links) {
    tally(link.get(), 0, link->pending.size());
    stats.bulk_frames_dropped += link->bulk_pending.size();
    link->pending.clear();
    link->bulk_pending.clear();
  }
  never_run.swap(tasks);
}

void Transport::Impl::send(const raft::Message& message) {
  std::string payload = encode_message(message);
  std::string frame;
  if (payload.size() <= config.max_frame_payload) {
    frame = encode_frame(FrameType::kRaftMessage, payload);
  }
  std::lock_guard lock(mu);
  PeerLink* link = find_link(message.to);
  // send() after stop() must not touch the closed async handle.
  if (frame.empty() || link == nullptr || phase != Phase::kRunning ||
      link->pending_bytes + frame.size() > config.max_queued_bytes) {
    tally(link, 0, 1);
    return;
  }
  link->pending_bytes += frame.size();
  link->pending.push_back(std::move(frame));
  uv_async_send(&wake);
}

bool Transport::Impl::send_bulk(raft::NodeId to, std::string payload) {
  std::string frame;
  if (payload.size() <= config.max_frame_payload) {
    frame = encode_frame(FrameType::kSnapshotChunk, payload);
  }
  std::lock_guard lock(mu);
  PeerLink* link = find_link(to);
  if (frame.empty() || link == nullptr || phase != Phase::kRunning ||
      link->bulk_pending_bytes + frame.size() > config.max_queued_bytes) {
    ++stats.bulk_frames_dropped;
    return false;
  }
  link->bulk_pending_bytes += frame.size();
  link->bulk_pending.push_back(std::move(frame));
  uv_async_send(&wake);
  return true;
}

std::string Transport::Impl::add_peer(const PeerAddress& peer) {
  if (peer.id == raft::kNoNode || peer.id == config.node_id) {
    return "transport: bad peer id " + std::to_string(peer.id);
  }
  sockaddr_storage addr{};
  const std::string error = resolve(peer.host, peer.port, &addr);
  if (!error.empty()) return "transport: " + peer_name(peer.id) + ": " + error;
  std::lock_guard lock(mu);
  auto [it, added] = links.try_emplace(peer.id);
  if (added) {
    it->second = new_link(peer);
  } else {
    it->second->address = peer;
    it->second->address_changed = true;
  }
  it->second->addr = addr;
  it->second->resolved = true;
  if (phase == Phase::kRunning) uv_async_send(&wake);
  return "";
}

void Transport::Impl::remove_peer(raft::NodeId id) {
  std::lock_guard lock(mu);
  const auto it = links.find(id);
  if (it == links.end()) return;
  // Before start() no loop resource exists yet; after it, only the loop
  // thread may free a link.
  if (phase != Phase::kNew) removed.push_back(std::move(it->second));
  links.erase(it);
  if (phase == Phase::kRunning) uv_async_send(&wake);
}

bool Transport::Impl::post(std::function<void()> task) {
  std::lock_guard lock(mu);
  if (phase != Phase::kRunning) return false;
  tasks.push_back(std::move(task));
  uv_async_send(&wake);
  return true;
}

void Transport::Impl::run_in_pool(std::function<void()> work,
                                  std::function<void()> done) {
  auto* job = new PoolWork;
  job->req.data = job;
  job->work = std::move(work);
  job->done = std::move(done);
  // Fails only without a work callback. The loop runs until every queued
  // job is done, even while stopping.
  uv_queue_work(
      &loop, &job->req,
      [](uv_work_t* r) { static_cast<PoolWork*>(r->data)->work(); },
      [](uv_work_t* r, int) {
        std::unique_ptr<PoolWork> owned(static_cast<PoolWork*>(r->data));
        owned->done();
      });
}

void Transport::Impl::on_wake() {
  struct Ready {
    PeerLink* link;
    bool readdressed;
    bool waiting;  // something is queued for it
  };
  std::vector<Ready> ready;
  std::vector<std::unique_ptr<PeerLink>> gone;
  std::vector<std::function<void()>> run;
  bool stopping;
  {
    std::lock_guard lock(mu);
    stopping = stop_requested;
    if (!stopping) {
      gone.swap(removed);
      run.swap(tasks);
      for (const auto& [id, link] : links) {
        ready.push_back(
            {link.get(), std::exchange(link->address_changed, false),
             !link->pending.empty() || !link->bulk_pending.empty()});
      }
    }
  }
  if (stopping) {
    shutdown();
    return;
  }
  for (auto& link : gone) release(std::move(link));
  for (const Ready& r : ready) {
    if (!r.link->timer_ready) {
      uv_timer_init(&loop, &r.link->backoff_timer);
      r.link->backoff_timer.data = r.link;
      r.link->timer_ready = true;
    }
    if (r.readdressed) readdress(r.link);
    if (r.waiting) drive(r.link);
  }
  for (auto& task : run) task();
}

void Transport::Impl::shutdown() {
  uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&server), nullptr);
  if (channel != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_timer), nullptr);
  }
  std::vector<PeerLink*> active;
  std::vector<std::unique_ptr<PeerLink>> gone;
  {
    std::lock_guard lock(mu);
    gone.swap(removed);
    for (const auto& [id, link] : links) active.push_back(link.get());
  }
  for (auto& link : gone) release(std::move(link));
  // These links stay allocated until the transport is destroyed.
  for (PeerLink* link : active) {
    close_connection(link);
    if (link->timer_ready) {
      uv_close(reinterpret_cast<uv_handle_t*>(&link->backoff_timer), nullptr);
    }
  }
  while (!inbound.empty()) close_inbound(*inbound.begin());
}

void Transport::Impl::release(std::unique_ptr<PeerLink> owned) {
  PeerLink* link = owned.release();
  close_connection(link);
  bool forgotten;
  {
    std::lock_guard lock(mu);
    tally(link, 0, link->pending.size());
    forgotten = find_link(link->id) == nullptr;  // not added back since
  }
  if (forgotten) {
    std::vector<InboundConn*> from_peer;
    for (InboundConn* conn : inbound) {
      if (conn->peer == link->id) from_peer.push_back(conn);
    }
    for (InboundConn* conn : from_peer) close_inbound(conn);
  }
  bulk_failed(link->id);
  if (!link->timer_ready) {
    delete link;
    return;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&link->backoff_timer),
           [](uv_handle_t* h) { delete static_cast<PeerLink*>(h->data); });
}

void Transport::Impl::readdress(PeerLink* link) {
  link->backoff = config.reconnect_initial;
  if (link->state == PeerLink::State::kBackoff) {
    uv_timer_stop(&link->backoff_timer);
    link->state = PeerLink::State::kIdle;
  }
  if (link->conn != nullptr) {
    close_connection(link);
    bulk_failed(link->id);
  }
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
  sockaddr_storage addr;
  {
    std::lock_guard lock(mu);
    addr = link->addr;
  }
  const int rc = uv_tcp_connect(
      &conn->connect_req, &conn->tcp, reinterpret_cast<const sockaddr*>(&addr),
      [](uv_connect_t* req, int status) {
        auto* c = static_cast<OutboundConn*>(req->data);
        // Closed before it connected (the connect reports ECANCELED).
        if (c->link == nullptr) return;
        c->link->impl->connected(c->link, status);
      });
  if (rc != 0) lose_connection(link, uv_error("connect", rc));
}

void Transport::Impl::connected(PeerLink* link, int status) {
  const std::string who = peer_name(link->id);
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
        const std::string who = peer_name(c->link->id);
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
  if (write(link, encode_frame(FrameType::kHello, encode_hello(hello)), 0,
            /*bulk=*/false)) {
    flush(link);
  }
}

bool Transport::Impl::write(PeerLink* link, std::string bytes,
                            uint64_t messages, bool bulk) {
  auto* req = new WriteReq;
  req->conn = link->conn;
  req->peer = link->id;
  req->bytes = std::move(bytes);
  req->messages = messages;
  req->bulk = bulk;
  req->req.data = req;
  const uv_buf_t buf = uv_buf_init(req->bytes.data(), req->bytes.size());
  const int rc =
      uv_write(&req->req, reinterpret_cast<uv_stream_t*>(&link->conn->tcp),
               &buf, 1, [](uv_write_t* r, int status) {
                 static_cast<Impl*>(r->handle->loop->data)
                     ->written(static_cast<WriteReq*>(r->data), status);
               });
  if (rc != 0) {
    {
      std::lock_guard lock(mu);
      if (bulk) {
        ++stats.bulk_frames_dropped;
      } else {
        tally(find_link(link->id), 0, messages);
      }
    }
    delete req;
    lose_connection(link, uv_error("write to " + peer_name(link->id), rc));
    return false;
  }
  return true;
}

void Transport::Impl::written(WriteReq* req, int status) {
  std::unique_ptr<WriteReq> owned(req);
  {
    std::lock_guard lock(mu);
    PeerLink* peer = find_link(req->peer);
    if (req->bulk) {
      ++(status == 0 ? stats.bulk_frames_sent : stats.bulk_frames_dropped);
    } else if (status == 0) {
      tally(peer, req->messages, 0);
    } else {
      tally(peer, 0, req->messages);
    }
    if (status == 0) {
      stats.bytes_sent += req->bytes.size();
      if (peer != nullptr) peer->traffic.bytes_sent += req->bytes.size();
    }
  }
  // The requests of a closed connection end with ECANCELED (or complete);
  // the loss of the connection was already handled and reported.
  PeerLink* link = req->conn->link;
  if (link == nullptr) return;
  if (req->bulk) link->bulk_in_write = false;
  if (status != 0) {
    lose_connection(link, uv_error("write to " + peer_name(link->id), status));
    return;
  }
  if (req->bulk && channel != nullptr) channel->on_bulk_sent(link->id, true);
  flush(link);
}

void Transport::Impl::flush(PeerLink* link) {
  if (link->state != PeerLink::State::kConnected) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&link->conn->tcp);
  // Back-pressure: a slow peer's bytes wait (bounded) in the queues; the
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
  if (messages > 0 &&
      !write(link, std::move(bytes), messages, /*bulk=*/false)) {
    return;
  }
  // Bulk frames go only behind every raft message queued so far, and one at
  // a time, so a raft message queued later waits for at most one of them.
  if (link->bulk_in_write) return;
  std::string frame;
  {
    std::lock_guard lock(mu);
    if (link->bulk_pending.empty()) return;
    frame = std::move(link->bulk_pending.front());
    link->bulk_pending.pop_front();
    link->bulk_pending_bytes -= frame.size();
  }
  link->bulk_in_write = true;
  write(link, std::move(frame), 0, /*bulk=*/true);
}

void Transport::Impl::close_connection(PeerLink* link) {
  if (link->conn != nullptr) {
    close_outbound(link->conn);
    link->conn = nullptr;
  }
  link->state = PeerLink::State::kIdle;
  link->bulk_in_write = false;
  std::lock_guard lock(mu);
  stats.bulk_frames_dropped += link->bulk_pending.size();
  link->bulk_pending.clear();
  link->bulk_pending_bytes = 0;
}

void Transport::Impl::lose_connection(PeerLink* link,
                                      const std::string& error) {
  close_connection(link);
  {
    std::lock_guard lock(mu);
    tally(link, 0, link->pending.size());
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
  if (on_unreachable) on_unreachable(link->id);
  bulk_failed(link->id);
}

void Transport::Impl::backoff_done(PeerLink* link) {
  link->state = PeerLink::State::kIdle;
  bool waiting;
  {
    std::lock_guard lock(mu);
    waiting = !link->pending.empty() || !link->bulk_pending.empty();
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
  {
    std::lock_guard lock(mu);
    stats.bytes_received += static_cast<uint64_t>(nread);
    if (PeerLink* link = find_link(conn->peer)) {
      link->traffic.bytes_received += static_cast<uint64_t>(nread);
    }
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
    bool known;
    {
      std::lock_guard lock(mu);
      known = find_link(hello.node_id) != nullptr;
    }
    if (!known)
      return "hello from unknown node " + std::to_string(hello.node_id);
    conn->peer = hello.node_id;
    return "";
  }
  const std::string who = peer_name(conn->peer);
  if (frame.type == FrameType::kSnapshotChunk && channel != nullptr) {
    {
      std::lock_guard lock(mu);
      ++stats.bulk_frames_received;
    }
    channel->on_bulk_frame(conn->peer, std::move(frame.payload));
    return "";
  }
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
  log_rejection(error);
  close_inbound(conn);
}

void Transport::Impl::log_rejection(const std::string& error) {
  const uint64_t now_ms = uv_now(&loop);
  if (last_rejection_log_ms &&
      now_ms - *last_rejection_log_ms < kRejectLogIntervalMs) {
    ++rejections_not_logged;
    return;
  }
  std::string line = "transport: refused an inbound connection: " + error;
  if (rejections_not_logged > 0) {
    line += " (and " + std::to_string(rejections_not_logged) +
            " more refusals since the last such line)";
  }
  base::log_line(DENGINE_LOG_WARN, line);
  last_rejection_log_ms = now_ms;
  rejections_not_logged = 0;
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

void Transport::set_bulk_channel(BulkChannel* channel,
                                 std::chrono::milliseconds tick_period) {
  std::lock_guard lock(impl_->mu);
  if (impl_->phase != Impl::Phase::kNew) return;
  impl_->channel = channel;
  impl_->tick_period = std::max(tick_period, std::chrono::milliseconds(1));
}

std::string Transport::start() { return impl_->start(); }

void Transport::stop() { impl_->stop(); }

uint16_t Transport::port() const { return impl_->bound_port; }

raft::NodeId Transport::node_id() const { return impl_->config.node_id; }

std::string Transport::add_peer(const PeerAddress& peer) {
  return impl_->add_peer(peer);
}

void Transport::remove_peer(raft::NodeId id) { impl_->remove_peer(id); }

void Transport::send(const raft::Message& message) { impl_->send(message); }

bool Transport::send_bulk(raft::NodeId to, std::string payload) {
  return impl_->send_bulk(to, std::move(payload));
}

bool Transport::post(std::function<void()> task) {
  return impl_->post(std::move(task));
}

void Transport::run_in_pool(std::function<void()> work,
                            std::function<void()> done) {
  impl_->run_in_pool(std::move(work), std::move(done));
}

TransportStats Transport::stats() const {
  std::lock_guard lock(impl_->mu);
  TransportStats stats = impl_->stats;
  for (const auto& [id, link] : impl_->links) stats.peers[id] = link->traffic;
  return stats;
}

}  // namespace dengine::net
