// How a client call ended: DENGINE_OK or a DENGINE_ERR_* code of
// include/dengine.h, with a message saying why.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "dengine.h"

namespace dengine::client {

struct [[nodiscard]] Status {
  int code = DENGINE_OK;
  std::string message;
  // On DENGINE_ERR_NOT_LEADER: the leader the last node named, if any, and
  // the "host:port" its clients reach it at.
  uint64_t leader_id = 0;
  std::string leader_address;
  // On DENGINE_ERR_IO: TLS failed (a certificate refused by either side, a
  // TLS/plaintext mismatch), not the network: the same server with the
  // same credentials fails the same way again.
  bool tls_failed = false;

  static Status error(int code, std::string message) {
    return Status{code, std::move(message), 0, "", false};
  }
  static Status tls_error(std::string message) {
    return Status{DENGINE_ERR_IO, std::move(message), 0, "", true};
  }
  bool ok() const { return code == DENGINE_OK; }
};

}  // namespace dengine::client
