#include "node/client_access.h"

#include <algorithm>

namespace dengine::node {

bool ClientAccess::is_admin_op(net::ClientOp op) {
  switch (op) {
    case net::ClientOp::kAddLearner:
    case net::ClientOp::kPromote:
    case net::ClientOp::kRemoveNode:
    case net::ClientOp::kTransferLeader:
    case net::ClientOp::kSnapshot:
      return true;
    default:
      return false;
  }
}

std::string ClientAccess::refusal(net::ClientOp op,
                                  const std::string& identity) const {
  if (!require_client_cert || !is_admin_op(op)) return "";
  if (std::find(admin_identities.begin(), admin_identities.end(), identity) !=
      admin_identities.end()) {
    return "";
  }
  return "client \"" + identity + "\" may not " + net::to_string(op) +
         ": its certificate's common name is not one of the node's "
         "tls_admin_identities";
}

}  // namespace dengine::node
