#include "node/client_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/address.h"
#include "net/client_codec.h"
#include "node/kv.h"

namespace dengine::node {
namespace {

struct Connection {
  uv_tcp_t tcp{};
  ClientServer::Impl* server = nullptr;
  uint64_t id = 0;
  net::FrameDecoder decoder;
  size_t in_flight = 0;
  bool reading = true;
  std::array<char, 64 * 1024> buffer{};

  explicit Connection(uint32_t max_payload) : decoder(max_payload) {}
};

struct WriteRequest {
  uv_write_t req{};
  std::string bytes;
};

const char* role_name(raft::Role role) {
  switch (role) {
    case raft::Role::kFollower:
      return "follower";
    case raft::Role::kPreCandidate:
      return "pre-candidate";
    case raft::Role::kCandidate:
      return "candidate";
    case raft::Role::kLeader:
      return "leader";
  }
  return "unknown";
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

}  // namespace

struct ClientServer::Impl {
  Impl(Node* n, ClientServerOptions o) : node(n), options(std::move(o)) {}

  Node* node;
  ClientServerOptions options;
  uv_loop_t loop{};
  uv_tcp_t listener{};
  uv_async_t wakeup{};
  std::thread thread;
  std::atomic<std::thread::id> thread_id{};  // thread's, kept after the join
  uint16_t bound_port = 0;
  bool running = false;

  // Loop thread only.
  uint64_t next_connection = 1;
  std::unordered_map<uint64_t, Connection*> connections;

  // Answers completed on other threads, for the loop to write; `closing`
  // tells the loop to close everything.
  std::mutex outbox_mutex;
  std::vector<std::pair<uint64_t, std::string>> outbox;
  bool closing = false;

  std::string start();
  void on_connection();
  void on_read(Connection* conn, ssize_t n);
  void start_reading(Connection* conn);
  void close_connection(Connection* conn);
  void handle(Connection* conn, const std::string& payload);
  void dispatch(uint64_t conn_id, net::ClientRequest request);
  void answer(uint64_t conn_id, net::ClientResponse response);
  void flush_outbox();
  void close_all();
  void write(Connection* conn, std::string bytes);
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
  connections[conn->id] = conn;
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
  conn->decoder.feed(std::string_view(conn->buffer.data(), n));
  while (std::optional<net::Frame> frame = conn->decoder.pop()) {
    if (frame->type != net::FrameType::kClientRequest) {
      net::ClientResponse response;
      response.status = DENGINE_ERR_INVALID_ARGUMENT;
      response.message = std::string("expected a client request frame, got ") +
                         net::to_string(frame->type);
      write(conn, net::encode_frame(net::FrameType::kClientResponse,
                                    net::encode_client_response(response)));
      close_connection(conn);
      return;
    }
    handle(conn, frame->payload);
  }
  if (conn->decoder.failed()) {
    net::ClientResponse response;
    response.status = DENGINE_ERR_INVALID_ARGUMENT;
    response.message = "bad frame: " + conn->decoder.error();
    write(conn, net::encode_frame(net::FrameType::kClientResponse,
                                  net::encode_client_response(response)));
    close_connection(conn);
    return;
  }
  if (conn->in_flight >= options.max_in_flight_per_connection) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&conn->tcp));
    conn->reading = false;
  }
}

void ClientServer::Impl::close_connection(Connection* conn) {
  if (connections.erase(conn->id) == 0) return;  // already closing
  uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp),
           [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
}

void ClientServer::Impl::handle(Connection* conn, const std::string& payload) {
  net::ClientRequest request;
  std::string error = net::decode_client_request(payload, &request);
  if (error.empty()) error = net::validate_client_request(request);
  if (!error.empty()) {
    net::ClientResponse response;
    response.request_id = request.request_id;
    response.status = DENGINE_ERR_INVALID_ARGUMENT;
    response.message = "bad request: " + error;
    write(conn, net::encode_frame(net::FrameType::kClientResponse,
                                  net::encode_client_response(response)));
    return;
  }
  ++conn->in_flight;
  dispatch(conn->id, std::move(request));
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
  const uint64_t request_id = request.request_id;
  const std::chrono::milliseconds timeout =
      request.timeout_ms == 0 ? options.default_timeout
                              : std::chrono::milliseconds(request.timeout_ms);
  const auto base = [request_id] {
    net::ClientResponse response;
    response.request_id = request_id;
    return response;
  };
  // Completion of a plain node call: status, leader hint, result, index.
  const auto plain = [this, conn_id, base](Reply reply) {
    net::ClientResponse response = base();
    fill_from(reply, &response);
    response.data = std::move(reply.data);
    answer(conn_id, std::move(response));
  };
  std::optional<Session> session;
  if (request.session) {
    session = Session{request.session->client_id, request.session->seq,
                      request.session->acked_seq};
  }
  const Session* session_ptr = session ? &*session : nullptr;
  const auto kv_write_done = [this, conn_id, base](KvWriteReply r) {
    net::ClientResponse response = base();
    fill_from(r.reply, &response);
    if (r.reply.status == DENGINE_OK) {
      response.result = static_cast<int32_t>(r.result.code);
      response.found = r.result.found;
      response.value = std::move(r.result.value);
    }
    answer(conn_id, std::move(response));
  };
  const auto kv_read_done = [this, conn_id, base,
                             op = request.op](KvReadReply r) {
    net::ClientResponse response = base();
    fill_from(r.reply, &response);
    if (r.reply.status == DENGINE_OK) {
      if (op == ClientOp::kGet) {
        if (!r.answer.values.empty() && r.answer.values[0].has_value()) {
          response.found = true;
          response.value = std::move(*r.answer.values[0]);
        }
      } else if (op == ClientOp::kGetMulti) {
        response.values = std::move(r.answer.values);
      } else {
        response.entries = std::move(r.answer.entries);
        response.more = r.answer.more;
      }
    }
    answer(conn_id, std::move(response));
  };
  const ReadConsistency consistency =
      consistency_of(request.consistency, *node);

  switch (request.op) {
    case ClientOp::kPropose:
      node->propose_async(std::move(request.data), session_ptr, timeout, plain);
      return;
    case ClientOp::kRead:
      node->read_async(std::move(request.data), consistency, timeout, plain);
      return;
    case ClientOp::kPut:
      kv_write_async(*node, sm::KvCommand::put(request.key, request.value, 0),
                     session_ptr, timeout, kv_write_done);
      return;
    case ClientOp::kPutWithTtl:
      kv_write_async(*node,
                     sm::KvCommand::put_with_ttl(request.key, request.value,
                                                 request.ttl_ms, 0),
                     session_ptr, timeout, kv_write_done);
      return;
    case ClientOp::kDelete:
      kv_write_async(*node, sm::KvCommand::erase(request.key, 0), session_ptr,
                     timeout, kv_write_done);
      return;
    case ClientOp::kCompareAndSwap:
      kv_write_async(
          *node,
          request.expected
              ? sm::KvCommand::compare_and_swap(request.key, *request.expected,
                                                request.value, 0)
              : sm::KvCommand::create_if_absent(request.key, request.value, 0),
          session_ptr, timeout, kv_write_done);
      return;
    case ClientOp::kGet:
      kv_read_async(*node, sm::KvRead::get(request.key), consistency, timeout,
                    kv_read_done);
      return;
    case ClientOp::kGetMulti:
      kv_read_async(*node, sm::KvRead::get_multi(request.keys), consistency,
                    timeout, kv_read_done);
      return;
    case ClientOp::kScanPrefix:
      kv_read_async(*node,
                    sm::KvRead::scan_prefix(request.prefix, request.limit),
                    consistency, timeout, kv_read_done);
      return;
    case ClientOp::kStatus:
    case ClientOp::kMembers: {
      const NodeStatus s = node->status();
      net::ClientResponse response = base();
      net::NodeStatus& out = response.node_status.emplace();
      out.node_id = s.id;
      out.role = role_name(s.role);
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
      answer(conn_id, std::move(response));
      return;
    }
    case ClientOp::kAddLearner:
      node->add_learner_async(request.node_id, request.address, timeout, plain);
      return;
    case ClientOp::kPromote:
      node->promote_async(request.node_id, timeout, plain);
      return;
    case ClientOp::kRemoveNode:
      node->remove_node_async(request.node_id, timeout, plain);
      return;
    case ClientOp::kTransferLeader:
      node->transfer_leadership_async(request.node_id, timeout, plain);
      return;
    case ClientOp::kSnapshot:
      node->snapshot_async(timeout, plain);
      return;
    case ClientOp::kOpenSession:
      node->open_session_async(timeout, plain);
      return;
  }
  net::ClientResponse response = base();
  response.status = DENGINE_ERR_INVALID_ARGUMENT;
  response.message = "unknown op";
  answer(conn_id, std::move(response));
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
  for (Connection* conn : open) close_connection(conn);
  uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&wakeup), nullptr);
}

void ClientServer::Impl::write(Connection* conn, std::string bytes) {
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
  }
}

ClientServer::ClientServer(Node* node, ClientServerOptions options)
    : impl_(std::make_unique<Impl>(node, std::move(options))) {}

ClientServer::~ClientServer() { stop(); }

std::string ClientServer::start() { return impl_->start(); }

uint16_t ClientServer::port() const { return impl_->bound_port; }

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
