// Serves clients of a standalone node over TCP: each frame is a client
// request (lib/net/client_codec.h, docs/client-protocol.md) answered with a
// response frame carrying its request id. Requests are pipelined: a client
// may send many before the first answer, and answers come as each request
// completes. A frame that fails the frame checks, a frame of another type
// or a payload that does not decode gets an error response saying why, is
// logged with the client's address (at most one line a second), and closes
// that one connection; nothing else is affected. A request that decodes but
// breaks the argument rules is only answered.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "net/frame.h"
#include "net/tls_context.h"
#include "node/client_access.h"
#include "node/node.h"

namespace dengine::node {

struct ClientServerOptions {
  std::string listen_address = "127.0.0.1:0";  // "host:port"; port 0: any
  // The client address of each node, so that a NOT_LEADER answer can say
  // where the leader serves clients (it is left empty when unknown).
  std::map<raft::NodeId, std::string> client_addresses;
  // For requests that carry no timeout of their own.
  std::chrono::milliseconds default_timeout = kDefaultRequestTimeout;
  uint32_t max_frame_payload = net::kDefaultMaxFramePayload;
  // Requests one connection may have in flight; beyond it the server stops
  // reading from that connection until some complete.
  size_t max_in_flight_per_connection = 4096;
  // Null: plaintext. Otherwise each accepted connection takes
  // tls->current() (a rotation applies to new connections).
  std::shared_ptr<net::TlsCredentials> tls;
  // With tls: whether clients must present a certificate, and which
  // identities (certificate common names) may run admin operations.
  ClientAccess access;
};

// What the server has seen since it started.
struct ClientServerStats {
  uint64_t connections_open = 0;      // now
  uint64_t connections_accepted = 0;  // in all
  // Bytes on the wire (with TLS: records, handshakes included).
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;  // answers and watch frames handed to the socket
};

class ClientServer {
 public:
  // `node` is borrowed and must outlive the server.
  ClientServer(Node* node, ClientServerOptions options);
  ~ClientServer();  // stop()
  ClientServer(const ClientServer&) = delete;
  ClientServer& operator=(const ClientServer&) = delete;

  // Binds, listens and starts the server's loop thread. Returns an empty
  // string, or what failed.
  std::string start();
  // Closes every connection and joins the loop thread; requests still in
  // the node complete unanswered. Idempotent.
  void stop();
  uint16_t port() const;
  // Thread-safe.
  ClientServerStats stats() const;
  // Whether the caller is the server's loop thread.
  bool on_this_thread() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dengine::node
