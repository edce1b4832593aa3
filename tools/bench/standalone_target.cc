#include "standalone_target.h"

#include <optional>
#include <utility>

namespace dengine::bench {
namespace {

net::ReadConsistency to_net(ReadConsistency consistency) {
  switch (consistency) {
    case ReadConsistency::kLinearizable:
      return net::ReadConsistency::kLinearizable;
    case ReadConsistency::kLease:
      return net::ReadConsistency::kLease;
    case ReadConsistency::kEventual:
      return net::ReadConsistency::kEventual;
  }
  return net::ReadConsistency::kDefault;
}

}  // namespace

std::unique_ptr<StandaloneTarget> StandaloneTarget::connect(
    const std::vector<std::string>& endpoints, size_t clients,
    std::chrono::milliseconds timeout,
    std::shared_ptr<const net::TlsContext> tls, std::string* error) {
  std::unique_ptr<StandaloneTarget> target(new StandaloneTarget());
  client::ClientOptions options;
  options.tls = std::move(tls);
  options.endpoints = endpoints;
  options.request_timeout = timeout;
  options.deadline = 3 * timeout;
  for (size_t i = 0; i < clients; ++i) {
    std::unique_ptr<client::Client> client;
    client::Status status = client::Client::create(options, &client);
    std::optional<std::string> value;
    if (status.ok()) {
      status = client->get("dengine-bench", &value,
                           net::ReadConsistency::kLinearizable);
    }
    // Opened before measuring, so no write's latency includes it.
    if (status.ok()) status = client->start_session();
    if (!status.ok()) {
      *error =
          std::string(dengine_strerror(status.code)) + ": " + status.message;
      return nullptr;
    }
    target->clients_.push_back(std::move(client));
  }
  return target;
}

void StandaloneTarget::run_op(size_t client, const Op& op, OpDone done) {
  client::Client& c = *clients_.at(client);
  client::Status status;
  if (op.kind == Op::Kind::kPut) {
    status = c.put(op.key, op.value);
  } else {
    std::optional<std::string> value;
    status = c.get(op.key, &value, to_net(op.consistency));
  }
  done(OpOutcome{status.code, std::move(status.message)});
}

}  // namespace dengine::bench
