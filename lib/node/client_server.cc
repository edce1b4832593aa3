#include "node/client_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/log.h"
#include "net/address.h"
#include "net/client_codec.h"
#include "net/tls_session.h"
#include "node/client_watches.h"
#include "node/kv.h"

namespace dengine::node {
namespace {

// The least time between two log lines about bad client frames: a client
// that keeps sending them is cut off, reconnects and is cut off again.
constexpr uint64_t kBadFrameLogIntervalMs = 1000;

struct Connection {
  uv_tcp_t tcp{};
  uv_shutdown_t shutdown_req{};
  ClientServer::Impl* server = nullptr;
  uint64_t id = 0;
  std::string peer;  // the client's address, for the log
  net::FrameDecoder decoder;
  size_t in_flight = 0;
  bool reading = true;
  bool received_any = false;
  std::unique_ptr<net::TlsSession> tls;  // null: plaintext
  std::string identity;  // the certificate's common name, once verified
  std::array<char, 64 * 1024> buffer{};

  explicit Connection(uint32_t max_payload) : decoder(max_payload) {}
};

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

std::optional<Session> session_of(
    const std::optional<net::ClientSession>& session) {
  if (!session) return std::nullopt;
  return Session{session->client_id, session->seq, session->acked_seq};
}

ReadConsistency consistency_of(net::ReadConsistency c, const Node& node) {
  switch (c) {
    case net::ReadConsistency::kLinearizable:
      return ReadConsistency::kLinearizable;
    case net::ReadConsistency::kLease:
      return ReadConsistency::kLease;
    case net::ReadConsistency::kEventual:
      return ReadConsistency::kEventual;
    case net::ReadConsistency::kDefault:
      break;
  }
  return node.default_read();
}

// A KV read's answer in the fields of its op.
void fill_kv_answer(net::ClientOp op, sm::KvReadAnswer answer,
                    net::ClientResponse* out) {
  switch (op) {
    case net::ClientOp::kGet:
      if (!answer.values.empty() && answer.values[0].has_value()) {
        out->found = true;
        out->value = std::move(*answer.values[0]);
      }
      return;
    case net::ClientOp::kGetMulti:
      out->values = std::move(answer.values);
      return;
    default:
      out->entries = std::move(answer.entries);
      out->more = answer.more;
      return;
  }
}

}  // namespace

struct ClientServer::Impl {
  Impl(Node* n, ClientServerOptions o)
      : node(n),
        options(std::move(o)),
        watches(
            n,
            [this](uint64_t conn_id, std::string frame) {
              return write_watch_frame(conn_id, std::move(frame));
            },
            [this] { uv_async_send(&wakeup); }) {}

  Node* node;
  ClientServerOptions options;
  uv_loop_t loop{};
  uv_tcp_t listener{};
  uv_async_t wakeup{};
  uv_timer_t progress_timer{};  // ClientWatches::report_progress
  std::thread thread;
  std::atomic<std::thread::id> thread_id{};  // thread's, kept after the join
  uint16_t bound_port = 0;
  bool running = false;
  // Counted by the loop thread, read by stats() on any thread.
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> bytes_sent{0};

  // Loop thread only.
  uint64_t next_connection = 1;
  std::unordered_map<uint64_t, Connection*> connections;
  // Bad frames are logged at most once a kBadFrameLogIntervalMs.
  std::optional<uint64_t> last_bad_frame_log_ms;  // uv_now of the last line
  uint64_t bad_frames_not_logged = 0;

  // Answers completed on other threads, for the loop to write; `closing`
  // tells the loop to close everything.
  std::mutex outbox_mutex;
  std::vector<std::pair<uint64_t, std::string>> outbox;
  bool closing = false;

  // The watches clients opened (loop thread; their frames come through
  // ClientWatches' own outbox, which also wakes the loop).
  ClientWatches watches;

  std::string start();
  void on_connection();
  void on_read(Connection* conn, ssize_t n);
  // The plaintext of what a connection read (decrypted with TLS), or false
  // when the connection was closed for it.
  bool plaintext_of(Connection* conn, std::string_view bytes,
                    std::string* plaintext);
  void start_reading(Connection* conn);
  void close_connection(Connection* conn);
  bool handle(Connection* conn, const std::string& payload);
  void refuse(Connection* conn, uint64_t request_id, const std::string& why);
  // Logs a connection closed for `why` (or, !closed, a request refused),
  // at most one line a kBadFrameLogIntervalMs.
  void log_bad_frame(const Connection& conn, const std::string& why,
                     bool closed = true);

  // A request being served: where its answer goes, and how long it may take.
  struct Call {
    uint64_t conn_id = 0;
    uint64_t request_id = 0;
    net::ClientOp op = net::ClientOp::kStatus;
    std::chrono::milliseconds timeout{};
  };
  void dispatch(uint64_t conn_id, net::ClientRequest request);
  // One handler per kind of request; dispatch picks it.
  void serve_propose(const Call& call, net::ClientRequest request);
  void serve_read(const Call& call, net::ClientRequest request);
  void serve_kv_write(const Call& call,
                      const std::optional<net::ClientSession>& session,
                      sm::KvCommand command);
  void serve_kv_read(const Call& call, net::ReadConsistency consistency,
                     const sm::KvRead& read);
  void serve_status(const Call& call);
  void serve_metrics(const Call& call);
  void serve_unknown(const Call& call);
  // The completion of a node call answered with the Reply alone.
  Node::Callback plain_reply(const Call& call);
  net::ClientResponse response_to(const Call& call) const;

  void answer(uint64_t conn_id, net::ClientResponse response);
  void flush_outbox();
  void close_all();
  // Encrypts (with TLS) and writes; write_wire writes bytes as they are.
  // Both close the connection when the write fails.
  void write(Connection* conn, std::string bytes);
  void write_wire(Connection* conn, std::string bytes);
  std::optional<size_t> write_watch_frame(uint64_t conn_id, std::string frame);
  void fill_from(const Reply& reply, net::ClientResponse* out) const;
};

std::string ClientServer::Impl::start() {
  net::HostPort hp;
  if (std::string e = net::parse_address(options.listen_address, true, &hp);
      !e.empty()) {
    return e;
  }
  sockaddr_storage addr{};
  if (uv_ip4_addr(hp.host.c_str(), hp.port,
                  reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(hp.host.c_str(), hp.port,
                  reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    return "client listen address " + options.listen_address +
           " is not a numeric IP address";
  }
  uv_loop_init(&loop);
  loop.data = this;
  uv_tcp_init(&loop, &listener);
  int rc = uv_tcp_bind(&listener, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener), 128,
                   [](uv_stream_t* s, int status) {
                     if (status == 0) {
                       static_cast<Impl*>(s->loop->data)->on_connection();
                     }
                   });
  }
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return "cannot listen for clients on " + options.listen_address + ": " +
           uv_strerror(rc);
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr*>(&bound), &len);
  bound_port = ntohs(bound.ss_family == AF_INET6
                         ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                         : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  uv_async_init(&loop, &wakeup, [](uv_async_t* h) {
    static_cast<Impl*>(h->loop->data)->flush_outbox();
  });
  uv_timer_init(&loop, &progress_timer);
  uv_timer_start(
      &progress_timer,
      [](uv_timer_t* t) {
        static_cast<Impl*>(t->loop->data)->watches.report_progress();
      },
      ClientWatches::kProgressIntervalMs, ClientWatches::kProgressIntervalMs);
  thread = std::thread([this] {
    thread_id = std::this_thread::get_id();
    uv_run(&loop, UV_RUN_DEFAULT);
  });
  running = true;
  return "";
}

void ClientServer::Impl::on_connection() {
  auto* conn = new Connection(options.max_frame_payload);
  conn->server = this;
  conn->id = next_connection++;
  conn->tcp.data = conn;
  uv_tcp_init(&loop, &conn->tcp);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&listener),
                reinterpret_cast<uv_stream_t*>(&conn->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
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

void ClientServer::Impl::start_reading(Connection* conn) {
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&conn->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(h->data);
        *buf = uv_buf_init(c->buffer.data(), c->buffer.size());
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
        auto* c = static_cast<Connection*>(s->data);
        c->server->on_read(c, n);
      });
}

void ClientServer::Impl::on_read(Connection* conn, ssize_t n) {
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

bool ClientServer::Impl::plaintext_of(Connection* conn, std::string_view bytes,
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

void ClientServer::Impl::close_connection(Connection* conn) {
  if (connections.erase(conn->id) == 0) return;  // already closing
  connections_open.fetch_sub(1, std::memory_order_relaxed);
  watches.close_connection(conn->id);
  auto* stream = reinterpret_cast<uv_stream_t*>(&conn->tcp);
  // With TLS, what was written (an alert that says why) goes out first: a
  // shutdown waits for the writes, then the connection closes.
  if (conn->tls != nullptr && uv_is_writable(stream) &&
      uv_stream_get_write_queue_size(stream) > 0) {
    uv_read_stop(stream);
    conn->shutdown_req.data = conn;
    if (uv_shutdown(&conn->shutdown_req, stream, [](uv_shutdown_t* req, int) {
          auto* c = static_cast<Connection*>(req->data);
          uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
            delete static_cast<Connection*>(h->data);
          });
        }) == 0) {
      return;
    }
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp),
           [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
}

// Decodes and checks one request and hands it to dispatch. A payload that
// does not decode is refused (false: the connection is closed); a request
// that decodes but breaks the argument rules is answered, and the
// connection stays usable.
bool ClientServer::Impl::handle(Connection* conn, const std::string& payload) {
  net::ClientRequest request;
  if (std::string error = net::decode_client_request(payload, &request);
      !error.empty()) {
    refuse(conn, request.request_id, "bad request: " + error);
    return false;
  }
  if (std::string error = net::validate_client_request(request);
      !error.empty()) {
    net::ClientResponse response;
    response.request_id = request.request_id;
    response.status = DENGINE_ERR_INVALID_ARGUMENT;
    response.message = "bad request: " + error;
    write(conn, net::encode_frame(net::FrameType::kClientResponse,
                                  net::encode_client_response(response)));
    return true;
  }
  if (std::string why = options.access.refusal(request.op, conn->identity);
      !why.empty()) {
    log_bad_frame(*conn, why, /*closed=*/false);
    net::ClientResponse response;
    response.request_id = request.request_id;
    response.status = DENGINE_ERR_PERMISSION_DENIED;
    response.message = why;
    write(conn, net::encode_frame(net::FrameType::kClientResponse,
                                  net::encode_client_response(response)));
    return true;
  }
  if (request.op == net::ClientOp::kWatch) {  // a stream: not in flight
    watches.open(conn->id, request);
    return true;
  }
  ++conn->in_flight;
  dispatch(conn->id, std::move(request));
  return true;
}

// Answers what the client sent with DENGINE_ERR_INVALID_ARGUMENT and `why`,
// logs it and closes the connection: after a bad frame or payload the
// stream cannot be trusted.
void ClientServer::Impl::refuse(Connection* conn, uint64_t request_id,
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

void ClientServer::Impl::log_bad_frame(const Connection& conn,
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

void ClientServer::Impl::fill_from(const Reply& reply,
                                   net::ClientResponse* out) const {
  out->status = reply.status;
  out->message = reply.message;
  out->result = reply.result;
  out->index = reply.index;
  out->duplicate = reply.duplicate;
  out->result_known = reply.result_known;
  if (reply.status == DENGINE_ERR_NOT_LEADER && reply.leader_id != 0) {
    out->leader_id = reply.leader_id;
    auto it = options.client_addresses.find(reply.leader_id);
    if (it != options.client_addresses.end()) out->leader_address = it->second;
  }
}

void ClientServer::Impl::dispatch(uint64_t conn_id,
                                  net::ClientRequest request) {
  using net::ClientOp;
  const Call call{conn_id, request.request_id, request.op,
                  request.timeout_ms == 0
                      ? options.default_timeout
                      : std::chrono::milliseconds(request.timeout_ms)};
  switch (request.op) {
    case ClientOp::kPropose:
      return serve_propose(call, std::move(request));
    case ClientOp::kRead:
      return serve_read(call, std::move(request));
    case ClientOp::kPut:
      return serve_kv_write(call, request.session,
                            sm::KvCommand::put(request.key, request.value));
    case ClientOp::kPutWithTtl:
      return serve_kv_write(call, request.session,
                            sm::KvCommand::put_with_ttl(
                                request.key, request.value, request.ttl_ms));
    case ClientOp::kDelete:
      return serve_kv_write(call, request.session,
                            sm::KvCommand::erase(request.key));
    case ClientOp::kCompareAndSwap:
      return serve_kv_write(
          call, request.session,
          request.expected
              ? sm::KvCommand::compare_and_swap(request.key, *request.expected,
                                                request.value)
              : sm::KvCommand::create_if_absent(request.key, request.value));
    case ClientOp::kGet:
      return serve_kv_read(call, request.consistency,
                           sm::KvRead::get(request.key));
    case ClientOp::kGetMulti:
      return serve_kv_read(call, request.consistency,
                           sm::KvRead::get_multi(request.keys));
    case ClientOp::kScanPrefix:
      return serve_kv_read(
          call, request.consistency,
          sm::KvRead::scan_prefix(request.prefix, request.limit));
    case ClientOp::kStatus:
    case ClientOp::kMembers:
      return serve_status(call);
    case ClientOp::kAddLearner:
      return node->add_learner_async(request.node_id,
                                     std::move(request.address), call.timeout,
                                     plain_reply(call));
    case ClientOp::kPromote:
      return node->promote_async(request.node_id, call.timeout,
                                 plain_reply(call));
    case ClientOp::kRemoveNode:
      return node->remove_node_async(request.node_id, call.timeout,
                                     plain_reply(call));
    case ClientOp::kTransferLeader:
      return node->transfer_leadership_async(request.node_id, call.timeout,
                                             plain_reply(call));
    case ClientOp::kSnapshot:
      return node->snapshot_async(call.timeout, plain_reply(call));
    case ClientOp::kOpenSession:
      return node->open_session_async(call.timeout, plain_reply(call));
    case ClientOp::kMetrics:
      return serve_metrics(call);
    case ClientOp::kWatch:  // handle() gives it to the watches
      break;
  }
  serve_unknown(call);
}

void ClientServer::Impl::serve_propose(const Call& call,
                                       net::ClientRequest request) {
  const std::optional<Session> session = session_of(request.session);
  if (request.kv) {
    kv_propose_encoded_async(*node, std::move(request.data),
                             session ? &*session : nullptr, call.timeout,
                             plain_reply(call));
    return;
  }
  node->propose_async(std::move(request.data), session ? &*session : nullptr,
                      call.timeout, plain_reply(call));
}

void ClientServer::Impl::serve_read(const Call& call,
                                    net::ClientRequest request) {
  const ReadConsistency consistency =
      consistency_of(request.consistency, *node);
  if (request.kv) {
    kv_read_encoded_async(*node, std::move(request.data), consistency,
                          call.timeout, plain_reply(call));
    return;
  }
  node->read_async(std::move(request.data), consistency, call.timeout,
                   plain_reply(call));
}

void ClientServer::Impl::serve_kv_write(
    const Call& call, const std::optional<net::ClientSession>& session,
    sm::KvCommand command) {
  const std::optional<Session> node_session = session_of(session);
  kv_write_async(*node, std::move(command),
                 node_session ? &*node_session : nullptr, call.timeout,
                 [this, call](KvWriteReply r) {
                   net::ClientResponse response = response_to(call);
                   fill_from(r.reply, &response);
                   if (r.reply.status == DENGINE_OK) {
                     response.result = static_cast<int32_t>(r.result.code);
                     response.found = r.result.found;
                     response.value = std::move(r.result.value);
                   }
                   answer(call.conn_id, std::move(response));
                 });
}

void ClientServer::Impl::serve_kv_read(const Call& call,
                                       net::ReadConsistency consistency,
                                       const sm::KvRead& read) {
  kv_read_async(*node, read, consistency_of(consistency, *node), call.timeout,
                [this, call](KvReadReply r) {
                  net::ClientResponse response = response_to(call);
                  fill_from(r.reply, &response);
                  if (r.reply.status == DENGINE_OK) {
                    fill_kv_answer(call.op, std::move(r.answer), &response);
                  }
                  answer(call.conn_id, std::move(response));
                });
}

void ClientServer::Impl::serve_status(const Call& call) {
  const NodeStatus s = node->status();
  net::ClientResponse response = response_to(call);
  net::NodeStatus& out = response.node_status.emplace();
  out.node_id = s.id;
  out.role = s.role;
  out.term = s.term;
  out.leader_id = s.leader_id;
  auto it = options.client_addresses.find(s.leader_id);
  if (it != options.client_addresses.end()) out.leader_address = it->second;
  out.commit_index = s.commit_index;
  out.applied_index = s.applied_index;
  out.last_log_index = s.last_log_index;
  out.snapshot_index = s.snapshot_index;
  for (const Member& m : s.members) {
    out.members.push_back({m.id, m.address, m.voter});
  }
  answer(call.conn_id, std::move(response));
}

void ClientServer::Impl::serve_metrics(const Call& call) {
  net::ClientResponse response = response_to(call);
  response.data = format_prometheus(node->metrics());
  answer(call.conn_id, std::move(response));
}

void ClientServer::Impl::serve_unknown(const Call& call) {
  net::ClientResponse response = response_to(call);
  response.status = DENGINE_ERR_INVALID_ARGUMENT;
  response.message = "unknown op";
  answer(call.conn_id, std::move(response));
}

Node::Callback ClientServer::Impl::plain_reply(const Call& call) {
  return [this, call](Reply reply) {
    net::ClientResponse response = response_to(call);
    fill_from(reply, &response);
    response.data = std::move(reply.data);
    answer(call.conn_id, std::move(response));
  };
}

net::ClientResponse ClientServer::Impl::response_to(const Call& call) const {
  net::ClientResponse response;
  response.request_id = call.request_id;
  return response;
}

void ClientServer::Impl::answer(uint64_t conn_id,
                                net::ClientResponse response) {
  std::string frame = net::encode_frame(net::FrameType::kClientResponse,
                                        net::encode_client_response(response));
  std::lock_guard lock(outbox_mutex);
  if (closing) return;
  outbox.emplace_back(conn_id, std::move(frame));
  uv_async_send(&wakeup);
}

void ClientServer::Impl::flush_outbox() {
  std::vector<std::pair<uint64_t, std::string>> ready;
  {
    std::lock_guard lock(outbox_mutex);
    if (closing) {
      close_all();
      return;
    }
    ready.swap(outbox);
  }
  watches.flush();
  for (auto& [conn_id, frame] : ready) {
    auto it = connections.find(conn_id);
    if (it == connections.end()) continue;  // the client went away
    Connection* conn = it->second;
    --conn->in_flight;
    write(conn, std::move(frame));
    if (!conn->reading &&
        conn->in_flight < options.max_in_flight_per_connection / 2) {
      conn->reading = true;
      start_reading(conn);
    }
  }
}

void ClientServer::Impl::close_all() {
  std::vector<Connection*> open;
  for (auto& [id, conn] : connections) open.push_back(conn);
  watches.close();  // their end frames go out before the connections close
  for (Connection* conn : open) close_connection(conn);
  uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&wakeup), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&progress_timer), nullptr);
}

void ClientServer::Impl::write(Connection* conn, std::string bytes) {
  if (conn->tls != nullptr) {
    if (!conn->tls->send(bytes)) {
      close_connection(conn);
      return;
    }
    bytes = conn->tls->take_ciphertext();
  }
  write_wire(conn, std::move(bytes));
}

void ClientServer::Impl::write_wire(Connection* conn, std::string bytes) {
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
  Connection* conn = it->second;
  write(conn, std::move(frame));
  if (!connections.contains(conn_id)) return std::nullopt;  // write failed
  return uv_stream_get_write_queue_size(
      reinterpret_cast<uv_stream_t*>(&conn->tcp));
}

ClientServer::ClientServer(Node* node, ClientServerOptions options)
    : impl_(std::make_unique<Impl>(node, std::move(options))) {}

ClientServer::~ClientServer() { stop(); }

std::string ClientServer::start() { return impl_->start(); }

uint16_t ClientServer::port() const { return impl_->bound_port; }

ClientServerStats ClientServer::stats() const {
  ClientServerStats stats;
  stats.connections_open = impl_->connections_open.load();
  stats.connections_accepted = impl_->connections_accepted.load();
  stats.bytes_received = impl_->bytes_received.load();
  stats.bytes_sent = impl_->bytes_sent.load();
  return stats;
}

bool ClientServer::on_this_thread() const {
  return std::this_thread::get_id() == impl_->thread_id;
}

void ClientServer::stop() {
  Impl& impl = *impl_;
  if (!impl.running) return;
  impl.running = false;
  {
    // The loop sees `closing` in flush_outbox and closes everything.
    std::lock_guard lock(impl.outbox_mutex);
    impl.closing = true;
    uv_async_send(&impl.wakeup);
  }
  impl.thread.join();
  uv_loop_close(&impl.loop);
}

}  // namespace dengine::node
