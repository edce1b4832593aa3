// The peer transport: TCP between dengine nodes on a libuv loop of its own.
// Each node opens one outgoing connection per peer, lazily on the first send
// and again after a failure with exponential backoff; the first frame on it
// is a hello. Incoming connections must open with a hello naming this
// cluster and a known peer; after it every frame is a raft message from
// that peer. Anything else closes that one connection and nothing more.
// Raft tolerates lost messages, so a full queue or a lost connection drops
// messages (counted) instead of blocking the sender.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/frame.h"
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
  // Bytes a peer may have queued and unsent; a message beyond it is dropped.
  size_t max_queued_bytes = 8u << 20;
  std::chrono::milliseconds reconnect_initial{50};
  std::chrono::milliseconds reconnect_max{2000};
};

struct TransportStats {
  uint64_t messages_sent = 0;         // handed to the socket
  uint64_t messages_received = 0;     // delivered to on_message
  uint64_t messages_dropped = 0;      // unknown peer, too big, queue full, lost
  uint64_t connections_rejected = 0;  // incoming, closed for bad input
  std::string last_error;  // why the last connection was closed, if any
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

  // Resolves the peers, binds and listens, then starts the loop thread.
  // Returns an empty string, or what failed (then nothing runs). Once only.
  std::string start();
  // Closes every connection and joins the loop thread. Idempotent.
  void stop();
  // The bound listen port; valid after a successful start().
  uint16_t port() const;

  // Queues `message` for message.to. Thread-safe; never blocks on the
  // network. Dropped (and counted) if it cannot be sent.
  void send(const raft::Message& message);

  TransportStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dengine::net
