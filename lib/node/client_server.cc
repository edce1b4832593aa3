// The client listener's loop thread: binding, starting and stopping it, and
// the outbox through which the node's threads hand it answers
// (client_server_impl.h says what crosses threads).
#include "node/client_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "net/address.h"
#include "node/client_server_impl.h"

namespace dengine::node {

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
    ClientConnection* conn = it->second;
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
  std::vector<ClientConnection*> open;
  for (auto& [id, conn] : connections) open.push_back(conn);
  watches.close();  // their end frames go out before the connections close
  for (ClientConnection* conn : open) close_connection(conn);
  uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&wakeup), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&progress_timer), nullptr);
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
