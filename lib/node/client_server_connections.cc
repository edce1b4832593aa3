// Accepted client connections on the server's loop: reads through TLS (if
// on) into the frame decoder, writes through TLS to the socket, and the
// refusals of what cannot be trusted, logged at most once a second.
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/log.h"
#include "net/client_codec.h"
#include "net/frame.h"
#include "net/tls_session.h"
#include "net/uv_close.h"
#include "node/client_server_impl.h"

namespace dengine::node {
namespace {

struct WriteRequest {
  uv_write_t req{};
  std::string bytes;
};

// "host:port" ("[v6]:port") of the client at the other end of `tcp`.
std::string peer_address(const uv_tcp_t* tcp) {
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return "an unknown address";
  }
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    uv_ip6_name(v6, host, sizeof host);
    return "[" + std::string(host) +
           "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
  uv_ip4_name(v4, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(v4->sin_port));
}

}  // namespace

void ClientServer::Impl::on_connection() {
  auto* conn = new ClientConnection(options.max_frame_payload);
  conn->server = this;
  conn->id = next_connection++;
  conn->tcp.data = conn;
  uv_tcp_init(&loop, &conn->tcp);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&listener),
                reinterpret_cast<uv_stream_t*>(&conn->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp), [](uv_handle_t* h) {
      delete static_cast<ClientConnection*>(h->data);
    });
    return;
  }
  uv_tcp_nodelay(&conn->tcp, 1);
  conn->peer = peer_address(&conn->tcp);
  if (options.tls != nullptr) {
    conn->tls = std::make_unique<net::TlsSession>(
        options.tls->current(),
        net::TlsSession::server(options.access.require_client_cert
                                    ? net::TlsSession::PeerCert::kRequired
                                    : net::TlsSession::PeerCert::kOptional));
    conn->tls->start();
  }
  connections[conn->id] = conn;
  connections_open.fetch_add(1, std::memory_order_relaxed);
  connections_accepted.fetch_add(1, std::memory_order_relaxed);
  start_reading(conn);
}

void ClientServer::Impl::start_reading(ClientConnection* conn) {
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&conn->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = static_cast<ClientConnection*>(h->data);
        *buf = uv_buf_init(c->buffer.data(), c->buffer.size());
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
        auto* c = static_cast<ClientConnection*>(s->data);
        c->server->on_read(c, n);
      });
}

void ClientServer::Impl::on_read(ClientConnection* conn, ssize_t n) {
  if (n < 0) {
    close_connection(conn);
    return;
  }
  bytes_received.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  std::string plaintext;
  if (!plaintext_of(conn, std::string_view(conn->buffer.data(), n),
                    &plaintext)) {
    return;
  }
  conn->decoder.feed(plaintext);
  while (std::optional<net::Frame> frame = conn->decoder.pop()) {
    if (frame->type != net::FrameType::kClientRequest) {
      refuse(conn, 0,
             std::string("expected a client request frame, got ") +
                 net::to_string(frame->type));
      return;
    }
    if (!handle(conn, frame->payload)) return;
  }
  if (conn->decoder.failed()) {
    refuse(conn, 0, "bad frame: " + conn->decoder.error());
    return;
  }
  if (conn->in_flight >= options.max_in_flight_per_connection) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&conn->tcp));
    conn->reading = false;
  }
}

bool ClientServer::Impl::plaintext_of(ClientConnection* conn,
                                      std::string_view bytes,
                                      std::string* plaintext) {
  const bool first = !conn->received_any;
  conn->received_any = true;
  if (conn->tls == nullptr) {
    if (first && net::looks_like_tls(bytes)) {
      log_bad_frame(*conn,
                    "a TLS client connected to a plaintext listener (this "
                    "server has no [tls] configured)");
      close_connection(conn);
      return false;
    }
    *plaintext = bytes;
    return true;
  }
  net::TlsSession& tls = *conn->tls;
  const bool ok = tls.receive(bytes);
  // Handshake replies, or the alert that tells the client why.
  write_wire(conn, tls.take_ciphertext());
  if (!connections.contains(conn->id)) return false;
  if (!ok) {
    log_bad_frame(*conn, "TLS: " + tls.error());
    close_connection(conn);
    return false;
  }
  if (tls.handshake_done() && conn->identity.empty()) {
    conn->identity = tls.peer_identity().common_name;
  }
  *plaintext = tls.take_plaintext();
  return true;
}

void ClientServer::Impl::close_connection(ClientConnection* conn) {
  if (connections.erase(conn->id) == 0) return;  // already closing
  connections_open.fetch_sub(1, std::memory_order_relaxed);
  watches.close_connection(conn->id);
  // With TLS, what was written (an alert that says why) goes out first.
  net::close_after_writes(conn, conn->tls != nullptr);
}

// Answers what the client sent with DENGINE_ERR_INVALID_ARGUMENT and `why`,
// logs it and closes the connection: after a bad frame or payload the
// stream cannot be trusted.
void ClientServer::Impl::refuse(ClientConnection* conn, uint64_t request_id,
                                const std::string& why) {
  log_bad_frame(*conn, why);
  net::ClientResponse response;
  response.request_id = request_id;
  response.status = DENGINE_ERR_INVALID_ARGUMENT;
  response.message = why;
  write(conn, net::encode_frame(net::FrameType::kClientResponse,
                                net::encode_client_response(response)));
  close_connection(conn);
}

void ClientServer::Impl::log_bad_frame(const ClientConnection& conn,
                                       const std::string& why, bool closed) {
  const uint64_t now_ms = uv_now(&loop);
  if (last_bad_frame_log_ms &&
      now_ms - *last_bad_frame_log_ms < kBadFrameLogIntervalMs) {
    ++bad_frames_not_logged;
    return;
  }
  std::string line =
      std::string("client server: ") +
      (closed ? "closed the connection from " : "refused a request from ") +
      conn.peer + ": " + why;
  if (bad_frames_not_logged > 0) {
    line += " (and " + std::to_string(bad_frames_not_logged) +
            " more refusals since the last such line)";
  }
  base::log_line(DENGINE_LOG_WARN, line);
  last_bad_frame_log_ms = now_ms;
  bad_frames_not_logged = 0;
}

void ClientServer::Impl::write(ClientConnection* conn, std::string bytes) {
  if (conn->tls != nullptr) {
    if (!conn->tls->send(bytes)) {
      close_connection(conn);
      return;
    }
    bytes = conn->tls->take_ciphertext();
  }
  write_wire(conn, std::move(bytes));
}

void ClientServer::Impl::write_wire(ClientConnection* conn, std::string bytes) {
  if (bytes.empty()) return;
  auto* request = new WriteRequest;
  request->bytes = std::move(bytes);
  uv_buf_t buf = uv_buf_init(request->bytes.data(), request->bytes.size());
  const int rc =
      uv_write(&request->req, reinterpret_cast<uv_stream_t*>(&conn->tcp), &buf,
               1, [](uv_write_t* req, int) {
                 delete reinterpret_cast<WriteRequest*>(req);
               });
  if (rc != 0) {
    delete request;
    close_connection(conn);
    return;
  }
  bytes_sent.fetch_add(buf.len, std::memory_order_relaxed);
}

std::optional<size_t> ClientServer::Impl::write_watch_frame(uint64_t conn_id,
                                                            std::string frame) {
  auto it = connections.find(conn_id);
  if (it == connections.end()) return std::nullopt;
  ClientConnection* conn = it->second;
  write(conn, std::move(frame));
  if (!connections.contains(conn_id)) return std::nullopt;  // write failed
  return uv_stream_get_write_queue_size(
      reinterpret_cast<uv_stream_t*>(&conn->tcp));
}

}  // namespace dengine::node
