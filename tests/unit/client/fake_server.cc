#include "fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <stdexcept>

#include "net/frame.h"

namespace dengine::client::testing {

namespace {

// A listening (or, with listen_too false, just bound) socket on a free
// port of 127.0.0.1; *port is the port.
int bind_loopback(bool listen_too, uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      (listen_too && listen(fd, 16) != 0) ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("fake server: cannot bind 127.0.0.1");
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

void send_all(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;  // the client went away; it will retry
    sent += static_cast<size_t>(n);
  }
}

}  // namespace

FakeServer::FakeServer(Handler handler) : handler_(std::move(handler)) {
  uint16_t port = 0;
  listen_fd_ = bind_loopback(true, &port);
  address_ = "127.0.0.1:" + std::to_string(port);
  if (pipe(stop_fds_) != 0) throw std::runtime_error("fake server: pipe");
  thread_ = std::thread([this] { serve(); });
}

FakeServer::~FakeServer() {
  // Wakes serve(); a one-byte write to an empty pipe cannot fail.
  (void)!write(stop_fds_[1], "x", 1);
  thread_.join();
  close(stop_fds_[0]);
  close(stop_fds_[1]);
  close(listen_fd_);
}

std::vector<net::ClientRequest> FakeServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

bool FakeServer::wait_for_requests(size_t n,
                                   std::chrono::seconds patience) const {
  std::unique_lock<std::mutex> lock(mu_);
  return request_arrived_.wait_for(lock, patience,
                                   [&] { return requests_.size() >= n; });
}

void FakeServer::serve() {
  // Each connection's undecoded bytes, by socket.
  std::map<int, std::string> connections;
  for (;;) {
    std::vector<pollfd> fds = {{stop_fds_[0], POLLIN, 0},
                               {listen_fd_, POLLIN, 0}};
    for (const auto& [fd, buffered] : connections) {
      fds.push_back({fd, POLLIN, 0});
    }
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents != 0) break;
    if (fds[1].revents != 0) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        connections[fd];
        ++accepted_;
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const int fd = fds[i].fd;
      if (!on_readable(fd, &connections[fd])) {
        close(fd);
        connections.erase(fd);
      }
    }
  }
  for (const auto& [fd, buffered] : connections) close(fd);
}

bool FakeServer::on_readable(int fd, std::string* buffered) {
  char buffer[4096];
  const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
  if (n <= 0) return false;
  buffered->append(buffer, static_cast<size_t>(n));
  // Decodes whole frames from the front of *buffered; a fresh decoder each
  // time keeps the partial frame at the back in *buffered.
  net::FrameDecoder decoder;
  decoder.feed(*buffered);
  size_t consumed = 0;
  while (std::optional<net::Frame> frame = decoder.pop()) {
    consumed += net::kFrameHeaderSize + frame->payload.size();
    net::ClientRequest request;
    if (frame->type != net::FrameType::kClientRequest ||
        !net::decode_client_request(frame->payload, &request).empty()) {
      return false;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(request);
    }
    request_arrived_.notify_all();
    Reply reply = handler_(request);
    if (reply.kind == Reply::Kind::kDrop) return false;
    if (reply.kind == Reply::Kind::kIgnore) continue;
    reply.response.request_id = request.request_id;
    send_all(fd,
             net::encode_frame(net::FrameType::kClientResponse,
                               net::encode_client_response(reply.response)));
    if (reply.kind == Reply::Kind::kAnswerAndClose) return false;
  }
  buffered->erase(0, consumed);
  return !decoder.failed();
}

RefusingPort::RefusingPort() {
  uint16_t port = 0;
  fd_ = bind_loopback(false, &port);
  address_ = "127.0.0.1:" + std::to_string(port);
}

RefusingPort::~RefusingPort() { close(fd_); }

}  // namespace dengine::client::testing
