#include "client/connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

namespace dengine::client {

namespace {

Status io_error(const std::string& what, int err) {
  return Status::error(DENGINE_ERR_IO, what + ": " + std::strerror(err));
}

// Milliseconds left until `deadline` for poll(), rounded up so that a wait
// never ends just before it; 0 once it has passed, -1 (forever) for
// Clock::time_point::max().
int poll_timeout(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return -1;
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
}

enum class Ready { kReady, kTimedOut, kWoken, kFailed };

// Waits until `fd` is ready for `events`, `wake_fd` (-1: none) is readable,
// or `deadline` passes; on kFailed, errno says why. A readable wake fd wins
// over a ready socket, so a wake-up is seen even under a steady stream.
Ready poll_ready(int fd, short events, int wake_fd,
                 Clock::time_point deadline) {
  pollfd p[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
  const nfds_t count = wake_fd >= 0 ? 2 : 1;
  for (;;) {
    const int ready = poll(p, count, poll_timeout(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return Ready::kFailed;
    if (ready == 0) {
      // poll() counts whole milliseconds, at most INT32_MAX of them.
      if (Clock::now() >= deadline) return Ready::kTimedOut;
      continue;
    }
    if (count == 2 && p[1].revents != 0) return Ready::kWoken;
    return Ready::kReady;
  }
}

// Connects a non-blocking socket to `addr` before `deadline`; returns the
// socket, or -1 with *status set.
int connect_one(const addrinfo& addr, Clock::time_point deadline, int wake_fd,
                const std::string& name, Status* status) {
  const int fd =
      socket(addr.ai_family, addr.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
             addr.ai_protocol);
  if (fd < 0) {
    *status = io_error("socket for " + name, errno);
    return -1;
  }
  int err = 0;
  if (connect(fd, addr.ai_addr, addr.ai_addrlen) != 0) err = errno;
  if (err == EINPROGRESS) {
    socklen_t len = sizeof(err);
    switch (poll_ready(fd, POLLOUT, wake_fd, deadline)) {
      case Ready::kReady:
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        break;
      case Ready::kTimedOut:
        err = ETIMEDOUT;
        break;
      case Ready::kWoken:
        close(fd);
        *status = Status::error(DENGINE_ERR_CANCELLED,
                                "connect to " + name + " interrupted");
        return -1;
      case Ready::kFailed:
        err = errno;
        break;
    }
  }
  if (err != 0) {
    close(fd);
    *status = err == ETIMEDOUT
                  ? Status::error(DENGINE_ERR_TIMEOUT,
                                  "connect to " + name + " timed out")
                  : io_error("connect to " + name, err);
    return -1;
  }
  // Requests are small and each waits for its answer: send them at once.
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace

Status Connection::open(const net::HostPort& endpoint,
                        Clock::time_point deadline, uint32_t max_frame_payload,
                        std::unique_ptr<Connection>* out, int wake_fd,
                        const TlsTarget* tls) {
  const std::string name = endpoint.host + ":" + std::to_string(endpoint.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc =
      getaddrinfo(endpoint.host.c_str(), std::to_string(endpoint.port).c_str(),
                  &hints, &found);
  if (rc != 0) {
    return Status::error(DENGINE_ERR_IO, "cannot resolve " + endpoint.host +
                                             ": " + gai_strerror(rc));
  }
  Status status;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = connect_one(*a, deadline, wake_fd, name, &status);
    if (status.code == DENGINE_ERR_CANCELLED) break;
  }
  freeaddrinfo(found);
  if (fd < 0) return status;
  std::unique_ptr<Connection> connection(
      new Connection(fd, name, max_frame_payload, wake_fd));
  if (tls != nullptr && tls->context != nullptr) {
    status = connection->handshake(*tls, endpoint.host, deadline);
    if (!status.ok()) return status;
  }
  *out = std::move(connection);
  return {};
}

Status Connection::handshake(const TlsTarget& tls, const std::string& host,
                             Clock::time_point deadline) {
  tls_ = std::make_unique<net::TlsSession>(
      tls.context, net::TlsSession::client(
                       tls.server_name.empty() ? host : tls.server_name));
  tls_->start();
  while (!tls_->handshake_done()) {
    if (Status s = send_raw(tls_->take_ciphertext(), deadline); !s.ok()) {
      return s;
    }
    if (Status s = read_some(deadline, "TLS handshake"); !s.ok()) return s;
  }
  return send_raw(tls_->take_ciphertext(), deadline);
}

Connection::Connection(int fd, std::string name, uint32_t max_frame_payload,
                       int wake_fd)
    : fd_(fd),
      wake_fd_(wake_fd),
      name_(std::move(name)),
      decoder_(max_frame_payload) {}

Connection::~Connection() { close(fd_); }

Status Connection::wait(short events, Clock::time_point deadline,
                        const char* what) {
  switch (poll_ready(fd_, events, wake_fd_, deadline)) {
    case Ready::kReady:
      return {};
    case Ready::kTimedOut:
      return Status::error(DENGINE_ERR_TIMEOUT, std::string("no ") + what +
                                                    " from " + name_ +
                                                    " before the deadline");
    case Ready::kWoken:
      return Status::error(DENGINE_ERR_CANCELLED, std::string("waiting for ") +
                                                      what + " from " + name_ +
                                                      ": interrupted");
    case Ready::kFailed:
      break;
  }
  const int err = errno;
  return io_error(std::string("poll on ") + name_, err);
}

Status Connection::send(std::string_view bytes, Clock::time_point deadline) {
  if (tls_ == nullptr) return send_raw(bytes, deadline);
  if (!tls_->send(bytes)) {
    return Status::tls_error("TLS with " + name_ + ": " +
                             (tls_->failed() ? tls_->error() : "closed"));
  }
  return send_raw(tls_->take_ciphertext(), deadline);
}

Status Connection::send_raw(std::string_view bytes,
                            Clock::time_point deadline) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      Status status = wait(POLLOUT, deadline, "room to send");
      if (!status.ok()) return status;
    } else if (errno != EINTR) {
      return io_error("send to " + name_, errno);
    }
  }
  return {};
}

Status Connection::receive(net::Frame* out, Clock::time_point deadline) {
  for (;;) {
    if (std::optional<net::Frame> frame = decoder_.pop()) {
      *out = std::move(*frame);
      return {};
    }
    if (decoder_.failed()) {
      return Status::error(DENGINE_ERR_CORRUPTION,
                           "from " + name_ + ": " + decoder_.error());
    }
    if (Status s = read_some(deadline, "response"); !s.ok()) return s;
  }
}

Status Connection::read_some(Clock::time_point deadline, const char* what) {
  char buffer[64 * 1024];
  for (;;) {
    Status status = wait(POLLIN, deadline, what);
    if (!status.ok()) return status;
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n == 0) {
      if (tls_ != nullptr && !tls_->handshake_done()) {
        return Status::tls_error(name_ +
                                 " closed the connection during the TLS "
                                 "handshake: is it serving plaintext?");
      }
      return Status::error(DENGINE_ERR_IO, name_ + " closed the connection");
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return io_error("receive from " + name_, errno);
    }
    const std::string_view bytes(buffer, static_cast<size_t>(n));
    const bool first = !received_any_;
    received_any_ = true;
    if (tls_ == nullptr) {
      if (first && net::looks_like_tls_record(bytes)) {
        return Status::tls_error(name_ +
                                 " speaks TLS: open the client with TLS "
                                 "options (a CA file)");
      }
      decoder_.feed(bytes);
      return {};
    }
    const bool ok = tls_->receive(bytes);
    // Handshake replies, or the alert telling the server why this failed.
    const std::string reply = tls_->take_ciphertext();
    if (!reply.empty()) {
      if (Status s = send_raw(reply, deadline); !s.ok() && ok) return s;
    }
    if (!ok) {
      return Status::tls_error("TLS with " + name_ + ": " + tls_->error());
    }
    decoder_.feed(tls_->take_plaintext());
    if (tls_->peer_closed()) {
      return Status::error(DENGINE_ERR_IO, name_ + " closed the connection");
    }
    return {};
  }
}

}  // namespace dengine::client
