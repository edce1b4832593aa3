// Who may run what through the client listener (docs/client-protocol.md,
// "TLS"). With client certificates required, a client's identity is the
// common name of its verified certificate; the admin operations need an
// identity the node's tls_admin_identities names, and everything else any
// valid certificate (which the TLS handshake already demands). Without
// required client certificates nothing is checked here: whoever reaches
// the listener may run every operation, as without TLS.
#pragma once

#include <string>
#include <vector>

#include "net/client_codec.h"

namespace dengine::node {

struct ClientAccess {
  bool require_client_cert = false;
  std::vector<std::string> admin_identities;

  // The admin operations: add learner, promote, remove node, transfer
  // leadership, snapshot.
  static bool is_admin_op(net::ClientOp op);

  // "" when a client with `identity` may run `op`; else why not, for a
  // DENGINE_ERR_PERMISSION_DENIED answer.
  std::string refusal(net::ClientOp op, const std::string& identity) const;
};

}  // namespace dengine::node
