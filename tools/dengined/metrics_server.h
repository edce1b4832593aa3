// dengined's HTTP endpoint for operators, on [node] metrics_address:
//   GET /metrics  the node's metrics in the Prometheus text format
//   GET /healthz  200 "ok ..." when the node knows a leader and has applied
//                 what it knows committed (within kHealthyApplyLag entries),
//                 503 with the reason otherwise
// Anything else gets 404 (another path) or 405 (another method); a request
// that is not HTTP, or larger than 8 KiB, gets 400. Each connection serves
// one request and closes. The server runs a libuv loop on a thread of its
// own, so a slow scraper never holds up the node.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "node/node.h"

namespace dengine::server {

// A node is healthy while it knows a leader and its applied index is at
// most this far behind the commit index it knows.
inline constexpr uint64_t kHealthyApplyLag = 1000;

struct Health {
  bool ok = false;
  std::string text;  // one line: "ok: leader 2, ..." or what is wrong
};

// What /healthz answers for `status`.
Health health_of(const node::NodeStatus& status);

class MetricsServer {
 public:
  // `node` is borrowed and must outlive the server.
  MetricsServer(node::Node* node, std::string listen_address);
  ~MetricsServer();  // stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds, listens and starts the thread. Returns "" or what failed.
  std::string start();
  // Closes the listener and every connection and joins the thread.
  // Idempotent.
  void stop();
  uint16_t port() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dengine::server
