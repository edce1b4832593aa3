// A stand-in for a dengined node in client tests: a thread serving one
// listening socket on 127.0.0.1 with the client protocol, replying to each
// request as a handler says. It records every request it decodes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/client_codec.h"

namespace dengine::client::testing {

// What the server does with one request.
struct Reply {
  enum class Kind {
    kAnswer,          // send `response` (its request_id is filled in)
    kAnswerAndClose,  // send it, then close the connection
    kDrop,            // close the connection without answering
    kIgnore,          // never answer; keep the connection open
  };
  Kind kind = Kind::kAnswer;
  net::ClientResponse response;

  static Reply answer(net::ClientResponse response) {
    return {Kind::kAnswer, std::move(response)};
  }
  static Reply error(int status, std::string message = "") {
    net::ClientResponse response;
    response.status = status;
    response.message = std::move(message);
    return answer(std::move(response));
  }
};

class FakeServer {
 public:
  // Called on the server's thread, one request at a time.
  using Handler = std::function<Reply(const net::ClientRequest&)>;

  explicit FakeServer(Handler handler);
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  // "127.0.0.1:<port>"
  const std::string& address() const { return address_; }
  // Every request decoded so far, in arrival order.
  std::vector<net::ClientRequest> requests() const;
  // Waits until at least n requests have arrived; false if they did not
  // within `patience`.
  bool wait_for_requests(
      size_t n, std::chrono::seconds patience = std::chrono::seconds(10)) const;
  int connections_accepted() const { return accepted_.load(); }

 private:
  void serve();
  // Handles the bytes of one connection; false when it is to be closed.
  bool on_readable(int fd, std::string* buffered);

  Handler handler_;
  int listen_fd_ = -1;
  int stop_fds_[2] = {-1, -1};  // a pipe: writing to [1] stops serve()
  std::string address_;
  std::atomic<int> accepted_{0};
  mutable std::mutex mu_;
  mutable std::condition_variable request_arrived_;
  std::vector<net::ClientRequest> requests_;
  std::thread thread_;
};

// A port of 127.0.0.1 bound but not listening, for as long as it lives:
// connecting to address() is refused.
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  const std::string& address() const { return address_; }

 private:
  int fd_ = -1;
  std::string address_;
};

}  // namespace dengine::client::testing
