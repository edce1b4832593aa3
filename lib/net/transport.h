// The peer transport: TCP between dengine nodes on a libuv loop of its own.
// Each node opens one outgoing connection per peer, lazily on the first send
// and again after a failure with exponential backoff; the first frame on it
// is a hello. Incoming connections must open with a hello naming this
// cluster and a known peer; after it every frame is a raft message or a bulk
// frame from that peer. Anything else closes that one connection and nothing
// more. Raft tolerates lost messages, so a full queue or a lost connection
// drops messages (counted) instead of blocking the sender.
//
// Peers may be added, re-addressed and removed while the transport runs.
//
// With TLS (TransportConfig::tls) every connection is mutual TLS over the
// same loop (net/tls_session.h, memory buffers, no thread of its own): the
// dialer verifies that the acceptor's certificate chains to the CA and names
// the peer it dialed (URI SAN dengine:node:<id>) before it sends its hello;
// the acceptor requires a certificate that chains to the CA and names the
// node the hello claims. A TLS ClientHello on a plaintext transport, and
// plaintext on a TLS one, are refused with a message saying so, on both
// sides.
//
// Writes to a peer that hung up raise SIGPIPE: the process must ignore it
// (node::Node::start does).
//
// Bulk frames (kSnapshotChunk) carry snapshot data for a BulkChannel sharing
// the loop thread. They must never delay raft messages: each peer has a bulk
// queue apart from its raft queue, drained only while the raft queue is
// empty, with at most one bulk frame in the socket write at a time, so a
// heartbeat waits behind at most one bulk frame.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "net/frame.h"
#include "net/tls_context.h"
#include "raft/types.h"

namespace dengine::net {

struct PeerAddress {
  raft::NodeId id = raft::kNoNode;
  std::string host;  // an IP address or a host name
  uint16_t port = 0;
};

struct TransportConfig {
  raft::NodeId node_id = raft::kNoNode;
  uint64_t cluster_id = 0;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: any free port, see Transport::port()
  std::vector<PeerAddress> peers;
  // The largest frame payload sent or accepted.
  uint32_t max_frame_payload = kDefaultMaxFramePayload;
  // Bytes a peer may have queued and unsent, for raft messages and for bulk
  // frames each; a frame beyond it is dropped.
  size_t max_queued_bytes = 8u << 20;
  std::chrono::milliseconds reconnect_initial{50};
  std::chrono::milliseconds reconnect_max{2000};
  // Null: plaintext. Otherwise every connection opened (both ways) takes
  // tls->current() when it opens, so a rotation (TlsCredentials::reload)
  // applies to new connections and open ones keep theirs. Its context must
  // hold a certificate (a node presents one both ways).
  std::shared_ptr<TlsCredentials> tls;
};

// One peer's traffic, both ways, since the transport started.
struct PeerTraffic {
  uint64_t messages_sent = 0;     // raft messages handed to the socket
  uint64_t messages_dropped = 0;  // too big, queue full, or lost
  // Bytes on the wire (with TLS: records, handshakes included).
  uint64_t bytes_sent = 0;      // written, bulk and hello included
  uint64_t bytes_received = 0;  // on connections whose hello named it
};

struct TransportStats {
  uint64_t messages_sent = 0;         // handed to the socket
  uint64_t messages_received = 0;     // delivered to on_message
  uint64_t messages_dropped = 0;      // unknown peer, too big, queue full, lost
  uint64_t bulk_frames_sent = 0;      // handed to the socket
  uint64_t bulk_frames_received = 0;  // delivered to the bulk channel
  uint64_t bulk_frames_dropped = 0;   // refused by send_bulk, or lost
  uint64_t connections_rejected = 0;  // incoming, closed for bad input
  // Bytes on the wire, as in PeerTraffic (with TLS: records, handshakes
  // included, so more than the frames they carry).
  uint64_t bytes_sent = 0;      // every byte written, to any peer
  uint64_t bytes_received = 0;  // every byte read, from anyone
  std::string last_error;       // why the last connection was closed, if any
  // The peers known now, by id (a removed peer's traffic is forgotten).
  std::map<raft::NodeId, PeerTraffic> peers;
};

// A component sharing the transport's loop thread that exchanges bulk frames
// with peers (the snapshot transfer). Every call is on the loop thread.
class BulkChannel {
 public:
  virtual ~BulkChannel() = default;
  // The payload of a bulk frame from `from`, the peer its connection's hello
  // named.
  virtual void on_bulk_frame(raft::NodeId from, std::string payload) = 0;
  // ok: the oldest bulk frame to `to` not yet reported was written to the
  // socket. !ok: the connection to `to` failed, was replaced (new address) or
  // `to` was removed: every bulk frame to `to` not yet reported is dropped,
  // and frames written shortly before may be lost with the connection. Bulk
  // frames accepted afterwards are reported anew.
  virtual void on_bulk_sent(raft::NodeId to, bool ok) = 0;
  // Every tick period given to Transport::set_bulk_channel().
  virtual void on_tick() = 0;
};

class Transport {
 public:
  // Both run on the transport's loop thread; neither may call stop().
  using MessageHandler = std::function<void(raft::Message)>;
  using UnreachableHandler = std::function<void(raft::NodeId)>;

  Transport(TransportConfig config, MessageHandler on_message,
            UnreachableHandler on_unreachable);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Before start() only (ignored after). The channel must outlive the
  // transport's loop thread: destroy it only after stop().
  void set_bulk_channel(BulkChannel* channel,
                        std::chrono::milliseconds tick_period);

  // Resolves the peers, binds and listens, then starts the loop thread.
  // Returns an empty string, or what failed (then nothing runs). Once only.
  std::string start();
  // Closes every connection and joins the loop thread. Idempotent.
  void stop();
  // The bound listen port; valid after a successful start().
  uint16_t port() const;
  raft::NodeId node_id() const;

  // Adds a peer, or gives a known one a new address (its connection is
  // closed and reopened there). Thread-safe; resolves `peer.host` on the
  // calling thread. Returns an empty string, or why the peer was refused.
  std::string add_peer(const PeerAddress& peer);
  // Forgets a peer: closes its connections, both ways; later sends to it and
  // its new connections are refused. Thread-safe. Unknown ids are ignored.
  void remove_peer(raft::NodeId id);

  // Queues `message` for message.to. Thread-safe; never blocks on the
  // network. Dropped (and counted) if it cannot be sent.
  void send(const raft::Message& message);

  // Queues a bulk frame for `to`. Thread-safe. Returns false (counted) if it
  // is refused: transport not running, unknown peer, payload over the frame
  // limit or bulk queue full. Otherwise on_bulk_sent later tells the channel
  // that it was written (one report per frame) or dropped (one failure report
  // covers every frame outstanding), unless the transport stops first.
  bool send_bulk(raft::NodeId to, std::string payload);

  // Runs `task` on the loop thread. Thread-safe. Returns false, and the task
  // never runs, if the transport is not running.
  bool post(std::function<void()> task);
  // Loop thread only: runs `work` on libuv's thread pool, then `done` on the
  // loop thread. `done` runs even if stop() is under way (once `work` ends).
  void run_in_pool(std::function<void()> work, std::function<void()> done);

  TransportStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dengine::net
