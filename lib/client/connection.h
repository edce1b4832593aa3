// One TCP connection to a server, used blockingly: every call takes a
// deadline (Clock::time_point::max(): none) and waits with poll() no longer
// than that. Failures come back as a Status: DENGINE_ERR_TIMEOUT when the
// deadline passed, DENGINE_ERR_IO when the socket failed or the server
// closed it, DENGINE_ERR_CORRUPTION when the bytes it sent are not frames,
// DENGINE_ERR_CANCELLED when the connection's wake fd became readable.
//
// With TLS (a TlsTarget) the connection does the handshake in open(), within
// the deadline, and then encrypts and decrypts every byte; a handshake or
// record failure is DENGINE_ERR_IO with the reason ("the peer's certificate
// has expired"), marked Status::tls_failed. A plaintext connection that
// receives a TLS record reports that the server speaks TLS, and a TLS one
// whose server closes during the handshake that it may be serving
// plaintext; both are marked tls_failed too. With TLS 1.3 a server that
// refuses this client's certificate says so after the client's handshake
// has ended: the refusal comes from the first receive().
//
// The wake fd (optional, owned by the caller, e.g. an eventfd) lets another
// thread interrupt a connection's waits: every wait polls it with the
// socket and ends as soon as it is readable. The connection never reads it,
// so once readable it interrupts every later wait too (a frame already
// received is still returned).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "client/status.h"
#include "net/address.h"
#include "net/frame.h"
#include "net/tls_session.h"

namespace dengine::client {

using Clock = std::chrono::steady_clock;

// How to speak TLS to a server: the context (CA, and this client's
// certificate if any) and the name the server's certificate must carry
// (empty: the endpoint's host).
struct TlsTarget {
  std::shared_ptr<const net::TlsContext> context;
  std::string server_name;
};

class Connection {
 public:
  // Resolves `endpoint` (name resolution itself is not bounded by the
  // deadline, nor interrupted by the wake fd) and connects to the first of
  // its addresses that accepts. `wake_fd` (-1: none) must stay open as long
  // as the connection. `tls` null: plaintext.
  static Status open(const net::HostPort& endpoint, Clock::time_point deadline,
                     uint32_t max_frame_payload,
                     std::unique_ptr<Connection>* out, int wake_fd = -1,
                     const TlsTarget* tls = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends all of `bytes`.
  Status send(std::string_view bytes, Clock::time_point deadline);
  // Waits for the next complete frame.
  Status receive(net::Frame* out, Clock::time_point deadline);

 private:
  Connection(int fd, std::string name, uint32_t max_frame_payload, int wake_fd);
  // Waits until the socket is ready for `events` (POLLIN / POLLOUT).
  Status wait(short events, Clock::time_point deadline, const char* what);
  // Writes all of `bytes` to the socket as they are.
  Status send_raw(std::string_view bytes, Clock::time_point deadline);
  // Reads what the socket has (waiting for it) into the decoder, through TLS
  // if on; `what` names what is awaited in messages.
  Status read_some(Clock::time_point deadline, const char* what);
  Status handshake(const TlsTarget& tls, const std::string& host,
                   Clock::time_point deadline);

  int fd_;
  int wake_fd_;       // -1: none
  std::string name_;  // "host:port", for messages
  net::FrameDecoder decoder_;
  std::unique_ptr<net::TlsSession> tls_;  // null: plaintext
  bool received_any_ = false;
};

}  // namespace dengine::client
