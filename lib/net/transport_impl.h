// The inside of the peer transport (net/transport.h), shared by its three
// files: transport.cc (start, stop, the thread-safe entry points and the
// loop's wake-up), transport_outbound.cc (each peer's outgoing connection:
// connect, TLS handshake, hello, writes, backoff) and transport_inbound.cc
// (accepted connections: TLS, the hello, frames in, refusals).
//
// What travels between threads: send() and send_bulk() queue frames on a
// PeerLink under `mu` and wake the loop (uv_async); the loop takes them in
// flush(). add_peer(), remove_peer() and post() leave their work under `mu`
// the same way. The TLS credentials (config.tls) guard themselves: a
// rotation may swap them on any thread, and the loop takes current() once
// per new connection. Everything else, each connection's TlsSession
// included, is the loop thread's.
#pragma once

#include <netdb.h>
#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "net/frame.h"
#include "net/tls_session.h"
#include "net/transport.h"

namespace dengine::net {

// The least time between two log lines about refused inbound connections.
inline constexpr uint64_t kRejectLogIntervalMs = 1000;

inline std::string uv_error(const std::string& what, int status) {
  return what + ": " + uv_strerror(status);
}

inline std::string peer_name(raft::NodeId id) {
  return "peer " + std::to_string(id);
}

struct OutboundConn;

// One peer's outgoing side. A link is freed only by the loop thread (or
// after it ended), so the loop keeps pointers to links without the lock.
struct PeerLink {
  // kHandshaking: TCP is up and TLS is being negotiated; frames wait in the
  // queues until the peer's certificate is checked and the hello is sent.
  enum class State { kIdle, kConnecting, kHandshaking, kConnected, kBackoff };

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
  // A peer sends nothing on our outgoing connection but TLS records (the
  // handshake, session tickets, alerts); reading also detects the close.
  std::array<char, 16 * 1024> read_buffer{};
  std::unique_ptr<TlsSession> tls;  // null: plaintext
};

struct InboundConn {
  InboundConn(Transport::Impl* owner, uint32_t max_payload)
      : impl(owner), decoder(max_payload) {}

  uv_tcp_t tcp{};
  uv_shutdown_t shutdown_req{};
  Transport::Impl* impl;
  FrameDecoder decoder;
  raft::NodeId peer = raft::kNoNode;  // set by the hello
  uint64_t bytes_read = 0;
  std::unique_ptr<TlsSession> tls;  // null: plaintext
  std::array<char, 64 * 1024> read_buffer{};
};

// Bytes written on an accepted connection: only TLS sends there (its
// handshake and alerts).
struct InboundWrite {
  uv_write_t req{};
  std::string bytes;
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
  void outbound_read(PeerLink* link, ssize_t nread);
  std::string outbound_tls_read(PeerLink* link, std::string_view bytes);
  std::string check_acceptor(PeerLink* link) const;
  void send_hello(PeerLink* link);
  // Encrypts (with TLS) and writes frames; write_wire writes bytes as they
  // are. False when the connection was lost.
  bool write(PeerLink* link, std::string bytes, uint64_t messages, bool bulk);
  bool write_wire(PeerLink* link, std::string bytes, uint64_t messages,
                  bool bulk);
  bool flush_tls(PeerLink* link);
  // Counts frames that never reached the socket as dropped.
  void unwritten(PeerLink* link, uint64_t messages, bool bulk);
  void written(WriteReq* req, int status);
  void flush(PeerLink* link);
  void close_connection(PeerLink* link);
  void lose_connection(PeerLink* link, const std::string& error);
  void backoff_done(PeerLink* link);
  void accept(int status);
  void inbound_read(InboundConn* conn, ssize_t nread);
  std::string inbound_plaintext(InboundConn* conn, std::string_view bytes,
                                std::string* plaintext);
  void write_inbound(InboundConn* conn);
  std::string check_dialer(const InboundConn& conn, raft::NodeId claimed) const;
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

// Closes an outgoing connection; its callbacks still to come find no link.
inline void close_outbound(OutboundConn* conn) {
  conn->link = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp),
           [](uv_handle_t* h) { delete static_cast<OutboundConn*>(h->data); });
}

}  // namespace dengine::net
