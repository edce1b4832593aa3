// The peer transport's lifetime and thread-safe entry points: start (resolve,
// bind, listen, the loop thread), stop, send, send_bulk, add_peer,
// remove_peer, post, stats, and the loop's wake-up that takes their work
// (see transport_impl.h).
#include "net/transport.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "net/message_codec.h"
#include "net/transport_impl.h"

namespace dengine::net {

namespace {

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
  if (config.tls != nullptr && !config.tls->current()->has_certificate()) {
    return "transport: tls has no cert_file (a node presents a certificate "
           "on both sides of its peer connections)";
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
