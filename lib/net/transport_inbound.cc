// Accepted peer connections, on the loop thread: TLS if configured (the
// dialer's certificate must name the node its hello claims), the hello that
// names the peer, then its raft messages and bulk frames; anything else
// closes that one connection (see transport_impl.h).
#include <string>
#include <utility>

#include "base/log.h"
#include "net/hello.h"
#include "net/message_codec.h"
#include "net/transport_impl.h"
#include "net/uv_close.h"

namespace dengine::net {

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
  if (config.tls != nullptr) {
    conn->tls = std::make_unique<TlsSession>(
        config.tls->current(),
        TlsSession::server(TlsSession::PeerCert::kRequired));
    conn->tls->start();
  }
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
  const std::string_view bytes(conn->read_buffer.data(),
                               static_cast<size_t>(nread));
  std::string plaintext;
  if (std::string error = inbound_plaintext(conn, bytes, &plaintext);
      !error.empty()) {
    reject(conn, error);
    return;
  }
  conn->decoder.feed(plaintext);
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

std::string Transport::Impl::inbound_plaintext(InboundConn* conn,
                                               std::string_view bytes,
                                               std::string* plaintext) {
  const bool first = conn->bytes_read == 0;
  conn->bytes_read += bytes.size();
  if (conn->tls == nullptr) {
    if (first && looks_like_tls(bytes)) {
      return "a TLS client connected to a plaintext listener (this node has "
             "no [tls] configured)";
    }
    *plaintext = bytes;
    return "";
  }
  const bool ok = conn->tls->receive(bytes);
  // Handshake replies, or the alert that tells the dialer why.
  write_inbound(conn);
  if (!ok) return "TLS: " + conn->tls->error();
  *plaintext = conn->tls->take_plaintext();
  return "";
}

void Transport::Impl::write_inbound(InboundConn* conn) {
  auto* write = new InboundWrite;
  write->bytes = conn->tls->take_ciphertext();
  if (write->bytes.empty()) {
    delete write;
    return;
  }
  write->req.data = write;
  const uv_buf_t buf = uv_buf_init(write->bytes.data(), write->bytes.size());
  const int rc = uv_write(
      &write->req, reinterpret_cast<uv_stream_t*>(&conn->tcp), &buf, 1,
      [](uv_write_t* r, int) { delete static_cast<InboundWrite*>(r->data); });
  if (rc != 0) delete write;
}

std::string Transport::Impl::check_dialer(const InboundConn& conn,
                                          raft::NodeId claimed) const {
  if (conn.tls == nullptr) return "";
  const std::optional<uint64_t> id = conn.tls->peer_identity().node_id();
  const std::string who = "node " + std::to_string(claimed);
  if (!id) {
    return who +
           "'s certificate names no dengine node id (a URI subject "
           "alternative name dengine:node:<id>)";
  }
  if (*id != claimed) {
    return who + " presented the certificate of node " + std::to_string(*id);
  }
  return "";
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
    if (std::string e = check_dialer(*conn, hello.node_id); !e.empty()) {
      return e;
    }
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
  // With TLS, what was written (the alert that says why) goes out first.
  close_after_writes(conn, conn->tls != nullptr);
}

}  // namespace dengine::net
