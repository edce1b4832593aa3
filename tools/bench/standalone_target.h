// A dengined cluster as a benchmark target: one lib/client Client (its own
// connection and session) per benchmark client, each used from its
// client's thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "client/client.h"
#include "closed_loop.h"
#include "net/tls_context.h"

namespace dengine::bench {

class StandaloneTarget : public Target {
 public:
  // Makes `clients` Clients for `endpoints` ("host:port" each) and has each
  // find the leader with one untimed linearizable read; over TLS with
  // `tls` (null: plaintext). Returns nullptr with *error saying why on
  // failure.
  static std::unique_ptr<StandaloneTarget> connect(
      const std::vector<std::string>& endpoints, size_t clients,
      std::chrono::milliseconds timeout,
      std::shared_ptr<const net::TlsContext> tls, std::string* error);

  bool blocking() const override { return true; }
  void run_op(size_t client, const Op& op, OpDone done) override;

 private:
  StandaloneTarget() = default;

  std::vector<std::unique_ptr<client::Client>> clients_;
};

}  // namespace dengine::bench
