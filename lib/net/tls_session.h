// One TLS connection's protocol state (issue 14), over memory buffers: no
// socket, no I/O, no threads, no timers. Whoever owns the socket (the libuv
// peer transport, the libuv client listener, the blocking client
// connection) moves the bytes:
//
//   bytes read from the socket  -> receive()
//   take_ciphertext()           -> bytes to write to the socket
//   send(plaintext)             -> encrypts (queued until the handshake ends)
//   take_plaintext()            -> the bytes the peer sent, decrypted
//
// After every receive(), send() and close(), the caller flushes
// take_ciphertext() to the socket, even after a failure: OpenSSL queues a
// TLS alert there so the other side learns why, instead of hanging or seeing
// a bare reset.
//
// Both sides verify the other's certificate against the context's CA. A
// client also checks that the server's certificate names the host it dialed,
// if told the host; a server decides whether a client must present a
// certificate at all (mutual TLS) or may connect without one.
//
// A session is used by one thread at a time; its context is shared.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/tls_context.h"

namespace dengine::net {

// What the other side's certificate says, once it has been verified.
struct TlsPeerIdentity {
  bool presented = false;         // false: no certificate (a client, kOptional)
  std::string common_name;        // subject CN, "" if none
  std::vector<std::string> uris;  // URI subject alternative names
  std::vector<std::string> dns_names;     // DNS subject alternative names
  std::vector<std::string> ip_addresses;  // "127.0.0.1", "::1"

  // The node id named by the URI "dengine:node:<decimal id>" (a node
  // certificate). Empty if there is none, if one is not a decimal id from 1
  // to 2^64-1, or if two name different ids.
  std::optional<uint64_t> node_id() const;
};

class TlsSession {
 public:
  enum class Side { kClient, kServer };
  // Server side: must the client present a certificate (mutual TLS, as
  // between nodes), or may it connect without one (clients authenticated
  // some other way)? A certificate presented is verified either way.
  enum class PeerCert { kRequired, kOptional };

  struct Options {
    Side side = Side::kClient;
    PeerCert peer_cert = PeerCert::kRequired;  // server side only
    // Client side: if not empty, the server's certificate must name this
    // host: an IP address SAN if it is an IP literal ("127.0.0.1", "::1",
    // "[::1]"), else a DNS SAN, which is also sent as SNI.
    std::string verify_host;
  };
  static Options client(std::string verify_host = "") {
    return {Side::kClient, PeerCert::kRequired, std::move(verify_host)};
  }
  static Options server(PeerCert peer_cert = PeerCert::kRequired) {
    return {Side::kServer, peer_cert, ""};
  }

  // `context` must not be null. A server session whose context has no
  // certificate fails at once (failed(), with the reason in error()).
  TlsSession(std::shared_ptr<const TlsContext> context, Options options);
  ~TlsSession();
  // Movable (a moved-from session may only be destroyed or assigned to).
  TlsSession(TlsSession&&) noexcept;
  TlsSession& operator=(TlsSession&&) noexcept;

  // Begins the handshake; call once, before anything else. A client queues
  // its ClientHello in the ciphertext; a server waits for the client's.
  void start();

  // Consumes bytes read from the socket: advances the handshake, decrypts
  // every complete record into the plaintext, and may queue ciphertext
  // (handshake replies, alerts). Returns false on a fatal error, now or
  // before: then the session is dead and error() says why in plain words,
  // e.g. "the peer is not speaking TLS ...", "the peer's certificate has
  // expired", "the peer presented no certificate, and one is required".
  bool receive(std::string_view bytes);

  // Encrypts `plaintext` into the ciphertext; before the handshake ends it is
  // held and sent as soon as it does. Any size. Returns false, and sends
  // nothing, if the session has failed or close() was called.
  bool send(std::string_view plaintext);

  // Everything queued for the socket since the last call (may be empty).
  std::string take_ciphertext();
  // Everything decrypted since the last call (may be empty).
  std::string take_plaintext();

  bool handshake_done() const;
  bool failed() const;
  // Why the session failed; empty while it has not.
  const std::string& error() const;
  // The other side's certificate; filled in when handshake_done() turns
  // true. A TLS 1.3 client sees the handshake done before the server has
  // checked the client's certificate: a refusal arrives as an alert with
  // the next receive().
  const TlsPeerIdentity& peer_identity() const;
  // The other side sent close_notify: it will send nothing more.
  bool peer_closed() const;

  // Queues a close_notify (if the handshake is done and nothing failed);
  // plaintext still waiting for the handshake is dropped, and afterwards
  // send() refuses. The caller flushes take_ciphertext() and closes the
  // socket; waiting for the peer's close_notify is optional.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether the first bytes of a connection look like a TLS ClientHello
// record: 0x16 (handshake), 0x03 and a version byte up to 0x04, then, from
// the sixth byte, 0x01 (ClientHello). Checks only the bytes given; empty is
// false. A plaintext listener uses it to report "a TLS client connected to a
// plaintext listener" instead of a framing error.
bool looks_like_tls(std::string_view first_bytes);

// Whether the first bytes a plaintext side received look like a TLS record
// from a server: an alert (0x15) or handshake (0x16) record, 0x03 and a
// version byte up to 0x04. A plaintext client uses it to report "the server
// speaks TLS" instead of a framing error. False for fewer than 3 bytes.
bool looks_like_tls_record(std::string_view first_bytes);

}  // namespace dengine::net
