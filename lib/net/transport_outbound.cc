// Each peer's outgoing connection, on the loop thread: connect, the TLS
// handshake if configured (the acceptor's certificate must name the peer
// dialed), the hello, writes and flushes (encrypted with TLS), the loss of a
// connection and the backoff before the next attempt (see transport_impl.h).
#include <algorithm>
#include <string>
#include <utility>

#include "net/hello.h"
#include "net/transport_impl.h"

namespace dengine::net {

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
  link->backoff = config.reconnect_initial;
  const int rc = uv_read_start(
      reinterpret_cast<uv_stream_t*>(&link->conn->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = static_cast<OutboundConn*>(h->data);
        *buf = uv_buf_init(c->read_buffer.data(), c->read_buffer.size());
      },
      [](uv_stream_t* h, ssize_t nread, const uv_buf_t*) {
        auto* c = static_cast<OutboundConn*>(h->data);
        if (c->link != nullptr) c->link->impl->outbound_read(c->link, nread);
      });
  if (rc != 0) {
    lose_connection(link, uv_error("read from " + who, rc));
    return;
  }
  if (config.tls == nullptr) {
    send_hello(link);
    return;
  }
  // The hello waits for the handshake, which the peer's reply drives on.
  link->state = PeerLink::State::kHandshaking;
  link->conn->tls =
      std::make_unique<TlsSession>(config.tls->current(), TlsSession::client());
  link->conn->tls->start();
  flush_tls(link);
}

void Transport::Impl::send_hello(PeerLink* link) {
  link->state = PeerLink::State::kConnected;
  const Hello hello{config.node_id, config.cluster_id};
  if (write(link, encode_frame(FrameType::kHello, encode_hello(hello)), 0,
            /*bulk=*/false)) {
    flush(link);
  }
}

void Transport::Impl::outbound_read(PeerLink* link, ssize_t nread) {
  if (nread == 0) return;
  const std::string who = peer_name(link->id);
  const bool handshaking = link->state == PeerLink::State::kHandshaking;
  if (nread < 0) {
    lose_connection(link,
                    nread != UV_EOF ? uv_error(who, static_cast<int>(nread))
                    : handshaking
                        ? who +
                              " closed the connection during the TLS handshake "
                              "(does it run without [tls]?)"
                        : who + " closed the connection");
    return;
  }
  const std::string_view bytes(link->conn->read_buffer.data(),
                               static_cast<size_t>(nread));
  std::string error;
  if (link->conn->tls != nullptr) {
    error = outbound_tls_read(link, bytes);
  } else if (looks_like_tls_record(bytes)) {
    error = who + " speaks TLS; configure [tls] on this node too";
  } else {
    error = who + " sent on our outgoing connection";
  }
  if (!error.empty()) lose_connection(link, error);
}

std::string Transport::Impl::outbound_tls_read(PeerLink* link,
                                               std::string_view bytes) {
  const std::string who = peer_name(link->id);
  TlsSession& tls = *link->conn->tls;
  const bool ok = tls.receive(bytes);
  // Handshake replies, or the alert that says why it failed.
  if (!flush_tls(link)) return "";
  if (!ok) return "TLS with " + who + ": " + tls.error();
  if (!tls.take_plaintext().empty()) {
    return who + " sent on our outgoing connection";
  }
  if (tls.peer_closed()) return who + " closed the connection";
  if (link->state == PeerLink::State::kHandshaking && tls.handshake_done()) {
    if (std::string e = check_acceptor(link); !e.empty()) return e;
    send_hello(link);
  }
  return "";
}

std::string Transport::Impl::check_acceptor(PeerLink* link) const {
  const std::optional<uint64_t> id = link->conn->tls->peer_identity().node_id();
  const std::string who = peer_name(link->id);
  if (!id) {
    return who +
           "'s certificate names no dengine node id (a URI subject "
           "alternative name dengine:node:<id>)";
  }
  if (*id != link->id) {
    return who + " presented the certificate of node " + std::to_string(*id);
  }
  return "";
}

bool Transport::Impl::flush_tls(PeerLink* link) {
  std::string bytes = link->conn->tls->take_ciphertext();
  if (bytes.empty()) return true;
  return write_wire(link, std::move(bytes), 0, /*bulk=*/false);
}

bool Transport::Impl::write(PeerLink* link, std::string bytes,
                            uint64_t messages, bool bulk) {
  if (TlsSession* tls = link->conn->tls.get()) {
    if (!tls->send(bytes)) {
      unwritten(link, messages, bulk);
      lose_connection(link, "TLS with " + peer_name(link->id) + ": " +
                                (tls->failed() ? tls->error() : "closed"));
      return false;
    }
    bytes = tls->take_ciphertext();
  }
  return write_wire(link, std::move(bytes), messages, bulk);
}

void Transport::Impl::unwritten(PeerLink* link, uint64_t messages, bool bulk) {
  std::lock_guard lock(mu);
  if (bulk) {
    ++stats.bulk_frames_dropped;
  } else {
    tally(find_link(link->id), 0, messages);
  }
}

bool Transport::Impl::write_wire(PeerLink* link, std::string bytes,
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
    unwritten(link, messages, bulk);
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

}  // namespace dengine::net
