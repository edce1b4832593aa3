// Serves clients of a standalone node over TCP: each frame is a client
// request (lib/net/client_codec.h, docs/client-protocol.md) answered with a
// response frame carrying its request id. Requests are pipelined: a client
// may send many before the first answer, and answers come as each request
// completes. A frame that fails the frame checks, a frame of another type
// or a payload that does not decode gets an error response saying why, is
// logged with the client's address (at most one line a second), and closes
// that one connection; nothing else is affected. A request that decodes but
// breaks the argument rules is only answered.
//
// With TLS (ClientServerOptions::tls) every connection speaks TLS from its
// first byte, over the same loop thread; see docs/client-protocol.md, "TLS".
// With client certificates required, a client's identity is its verified
// certificate's common name, and the admin operations (ClientAccess:
// add-learner, promote, remove-node, transfer-leader, snapshot) are answered
// DENGINE_ERR_PERMISSION_DENIED unless the identity is one of
// admin_identities; the connection stays open and the refusal is logged like
// a bad frame. Without required client certificates nothing is checked:
// whoever reaches the port may run every operation, as without TLS.
// Mismatches are refused at once: a TLS ClientHello on a plaintext listener
// is logged and closed; plaintext on a TLS listener gets a TLS alert record,
// which a plaintext client recognizes, and is closed.
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
  // Null: plaintext, at no extra cost. Otherwise each accepted connection
  // starts a server TlsSession with tls->current() (a rotation applies to
  // new connections; open ones keep their context).
  std::shared_ptr<net::TlsCredentials> tls;
  // With tls: access.require_client_cert makes the session demand a client
  // certificate (PeerCert::kRequired; else kOptional, and nothing is
  // checked per operation), and access.admin_identities lists the
  // certificate common names allowed the admin operations.
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
