#include "dengined/metrics_server.h"

#include <uv.h>

#include <array>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "base/log.h"
#include "net/address.h"

namespace dengine::server {
namespace {

constexpr size_t kMaxRequestBytes = 8 * 1024;
// A connection that has not sent a whole request by then is closed.
constexpr uint64_t kRequestTimeoutMs = 10'000;

struct Connection {
  uv_tcp_t tcp{};
  MetricsServer::Impl* server = nullptr;
  uint64_t id = 0;
  uint64_t opened_ms = 0;
  bool answered = false;  // the response is in the socket; close when written
  std::string request;
  std::array<char, 4096> buffer{};
};

struct WriteRequest {
  uv_write_t req{};
  std::string bytes;
  Connection* conn = nullptr;
};

std::string http_response(int code, std::string_view reason,
                          std::string_view content_type,
                          const std::string& body) {
  std::string out = "HTTP/1.1 " + std::to_string(code) + " " +
                    std::string(reason) +
                    "\r\nContent-Type: " + std::string(content_type) +
                    "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

std::string plain(int code, std::string_view reason, const std::string& body) {
  return http_response(code, reason, "text/plain; charset=utf-8", body);
}

}  // namespace

Health health_of(const node::NodeStatus& s) {
  Health h;
  if (s.fatal_status != DENGINE_OK) {
    h.text = "failing: the node stopped serving: " + s.fatal_message;
    return h;
  }
  if (s.leader_id == raft::kNoNode) {
    h.text = "no leader known (term " + std::to_string(s.term) + ")";
    return h;
  }
  const uint64_t behind =
      s.commit_index > s.applied_index ? s.commit_index - s.applied_index : 0;
  const std::string where = "leader " + std::to_string(s.leader_id) +
                            ", term " + std::to_string(s.term) + ", applied " +
                            std::to_string(s.applied_index) + " of " +
                            std::to_string(s.commit_index) + " committed";
  if (behind > kHealthyApplyLag) {
    h.text = "catching up: " + where;
    return h;
  }
  h.ok = true;
  h.text = "ok: " + where;
  return h;
}

struct MetricsServer::Impl {
  Impl(node::Node* n, std::string address)
      : node(n), listen_address(std::move(address)) {}

  node::Node* const node;
  const std::string listen_address;
  uv_loop_t loop{};
  uv_tcp_t listener{};
  uv_async_t wakeup{};  // stop()
  uv_timer_t sweeper{};
  std::thread thread;
  uint16_t bound_port = 0;
  bool running = false;

  // Loop thread only.
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, Connection*> connections;

  std::string start();
  void on_connection();
  void on_read(Connection* conn, ssize_t n);
  void answer(Connection* conn);
  void respond(Connection* conn, std::string bytes);
  void close(Connection* conn);
  void sweep();
  void shutdown();
};

std::string MetricsServer::Impl::start() {
  net::HostPort hp;
  if (std::string e = net::parse_address(listen_address, false, &hp);
      !e.empty()) {
    return "metrics address " + listen_address + ": " + e;
  }
  sockaddr_storage addr{};
  if (uv_ip4_addr(hp.host.c_str(), hp.port,
                  reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(hp.host.c_str(), hp.port,
                  reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    return "metrics address " + listen_address + " is not a numeric IP address";
  }
  uv_loop_init(&loop);
  loop.data = this;
  uv_tcp_init(&loop, &listener);
  int rc = uv_tcp_bind(&listener, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener), 64,
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
    return "cannot serve metrics on " + listen_address + ": " + uv_strerror(rc);
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr*>(&bound), &len);
  bound_port = ntohs(bound.ss_family == AF_INET6
                         ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                         : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  uv_async_init(&loop, &wakeup, [](uv_async_t* h) {
    static_cast<Impl*>(h->loop->data)->shutdown();
  });
  uv_timer_init(&loop, &sweeper);
  uv_timer_start(
      &sweeper,
      [](uv_timer_t* t) { static_cast<Impl*>(t->loop->data)->sweep(); }, 1000,
      1000);
  thread = std::thread([this] { uv_run(&loop, UV_RUN_DEFAULT); });
  running = true;
  return "";
}

void MetricsServer::Impl::on_connection() {
  auto* conn = new Connection;
  conn->server = this;
  conn->id = next_id++;
  conn->opened_ms = uv_now(&loop);
  conn->tcp.data = conn;
  uv_tcp_init(&loop, &conn->tcp);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&listener),
                reinterpret_cast<uv_stream_t*>(&conn->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return;
  }
  connections[conn->id] = conn;
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

void MetricsServer::Impl::on_read(Connection* conn, ssize_t n) {
  if (n < 0) {
    close(conn);
    return;
  }
  if (conn->answered) return;
  conn->request.append(conn->buffer.data(), static_cast<size_t>(n));
  if (conn->request.find("\r\n\r\n") != std::string::npos ||
      conn->request.find("\n\n") != std::string::npos) {
    answer(conn);
  } else if (conn->request.size() > kMaxRequestBytes) {
    respond(conn, plain(400, "Bad Request", "request too large\n"));
  }
}

void MetricsServer::Impl::answer(Connection* conn) {
  const std::string_view request(conn->request);
  const size_t line_end = request.find_first_of("\r\n");
  const std::string_view line = request.substr(0, line_end);
  // "METHOD SP target SP HTTP/x.y"
  const size_t first = line.find(' ');
  const size_t second =
      first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos ||
      line.substr(second + 1).substr(0, 5) != "HTTP/") {
    respond(conn, plain(400, "Bad Request", "not an HTTP request\n"));
    return;
  }
  const std::string_view method = line.substr(0, first);
  std::string_view target = line.substr(first + 1, second - first - 1);
  target = target.substr(0, target.find('?'));
  if (target != "/metrics" && target != "/healthz") {
    respond(conn,
            plain(404, "Not Found", "not found: try /metrics or /healthz\n"));
    return;
  }
  if (method != "GET" && method != "HEAD") {
    respond(conn, plain(405, "Method Not Allowed", "only GET and HEAD\n"));
    return;
  }
  std::string response;
  if (target == "/metrics") {
    response = http_response(200, "OK", "text/plain; version=0.0.4",
                             node::format_prometheus(node->metrics()));
  } else {
    const Health h = health_of(node->status());
    response = h.ok ? plain(200, "OK", h.text + "\n")
                    : plain(503, "Service Unavailable", h.text + "\n");
  }
  if (method == "HEAD") response.resize(response.find("\r\n\r\n") + 4);
  respond(conn, std::move(response));
}

void MetricsServer::Impl::respond(Connection* conn, std::string bytes) {
  conn->answered = true;
  auto* request = new WriteRequest;
  request->bytes = std::move(bytes);
  request->conn = conn;
  request->req.data = request;
  uv_buf_t buf = uv_buf_init(request->bytes.data(), request->bytes.size());
  const int rc =
      uv_write(&request->req, reinterpret_cast<uv_stream_t*>(&conn->tcp), &buf,
               1, [](uv_write_t* req, int) {
                 auto* w = static_cast<WriteRequest*>(req->data);
                 Connection* c = w->conn;
                 delete w;
                 c->server->close(c);
               });
  if (rc != 0) {
    delete request;
    close(conn);
  }
}

void MetricsServer::Impl::close(Connection* conn) {
  if (connections.erase(conn->id) == 0) return;  // already closing
  uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp),
           [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
}

void MetricsServer::Impl::sweep() {
  const uint64_t now = uv_now(&loop);
  std::vector<Connection*> stale;
  for (const auto& [id, conn] : connections) {
    if (!conn->answered && now - conn->opened_ms >= kRequestTimeoutMs) {
      stale.push_back(conn);
    }
  }
  for (Connection* conn : stale) close(conn);
}

void MetricsServer::Impl::shutdown() {
  std::vector<Connection*> open;
  for (const auto& [id, conn] : connections) open.push_back(conn);
  for (Connection* conn : open) close(conn);
  uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&wakeup), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sweeper), nullptr);
}

MetricsServer::MetricsServer(node::Node* node, std::string listen_address)
    : impl_(std::make_unique<Impl>(node, std::move(listen_address))) {}

MetricsServer::~MetricsServer() { stop(); }

std::string MetricsServer::start() { return impl_->start(); }

void MetricsServer::stop() {
  if (!impl_->running) return;
  impl_->running = false;
  uv_async_send(&impl_->wakeup);
  impl_->thread.join();
  uv_loop_close(&impl_->loop);
}

uint16_t MetricsServer::port() const { return impl_->bound_port; }

}  // namespace dengine::server
