// Serving client requests: each decoded request is checked (arguments,
// access), then handed to the node, whose completion is encoded into the
// response frame and queued for the loop (answer()).
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "net/client_codec.h"
#include "node/client_server_impl.h"
#include "node/kv.h"

namespace dengine::node {
namespace {

std::optional<Session> session_of(
    const std::optional<net::ClientSession>& session) {
  if (!session) return std::nullopt;
  return Session{session->client_id, session->seq, session->acked_seq};
}

ReadConsistency consistency_of(net::ReadConsistency c, const Node& node) {
  switch (c) {
    case net::ReadConsistency::kLinearizable:
      return ReadConsistency::kLinearizable;
    case net::ReadConsistency::kLease:
      return ReadConsistency::kLease;
    case net::ReadConsistency::kEventual:
      return ReadConsistency::kEventual;
    case net::ReadConsistency::kDefault:
      break;
  }
  return node.default_read();
}

// A KV read's answer in the fields of its op.
void fill_kv_answer(net::ClientOp op, sm::KvReadAnswer answer,
                    net::ClientResponse* out) {
  switch (op) {
    case net::ClientOp::kGet:
      if (!answer.values.empty() && answer.values[0].has_value()) {
        out->found = true;
        out->value = std::move(*answer.values[0]);
      }
      return;
    case net::ClientOp::kGetMulti:
      out->values = std::move(answer.values);
      return;
    default:
      out->entries = std::move(answer.entries);
      out->more = answer.more;
      return;
  }
}

}  // namespace

// Decodes and checks one request and hands it to dispatch. A payload that
// does not decode is refused (false: the connection is closed); a request
// that decodes but breaks the argument rules is answered, and the
// connection stays usable.
bool ClientServer::Impl::handle(ClientConnection* conn,
                                const std::string& payload) {
  net::ClientRequest request;
  if (std::string error = net::decode_client_request(payload, &request);
      !error.empty()) {
    refuse(conn, request.request_id, "bad request: " + error);
    return false;
  }
  if (std::string error = net::validate_client_request(request);
      !error.empty()) {
    net::ClientResponse response;
    response.request_id = request.request_id;
    response.status = DENGINE_ERR_INVALID_ARGUMENT;
    response.message = "bad request: " + error;
    write(conn, net::encode_frame(net::FrameType::kClientResponse,
                                  net::encode_client_response(response)));
    return true;
  }
  if (std::string why = options.access.refusal(request.op, conn->identity);
      !why.empty()) {
    log_bad_frame(*conn, why, /*closed=*/false);
    net::ClientResponse response;
    response.request_id = request.request_id;
    response.status = DENGINE_ERR_PERMISSION_DENIED;
    response.message = why;
    write(conn, net::encode_frame(net::FrameType::kClientResponse,
                                  net::encode_client_response(response)));
    return true;
  }
  if (request.op == net::ClientOp::kWatch) {  // a stream: not in flight
    watches.open(conn->id, request);
    return true;
  }
  ++conn->in_flight;
  dispatch(conn->id, std::move(request));
  return true;
}

void ClientServer::Impl::fill_from(const Reply& reply,
                                   net::ClientResponse* out) const {
  out->status = reply.status;
  out->message = reply.message;
  out->result = reply.result;
  out->index = reply.index;
  out->duplicate = reply.duplicate;
  out->result_known = reply.result_known;
  if (reply.status == DENGINE_ERR_NOT_LEADER && reply.leader_id != 0) {
    out->leader_id = reply.leader_id;
    auto it = options.client_addresses.find(reply.leader_id);
    if (it != options.client_addresses.end()) out->leader_address = it->second;
  }
}

void ClientServer::Impl::dispatch(uint64_t conn_id,
                                  net::ClientRequest request) {
  using net::ClientOp;
  const Call call{conn_id, request.request_id, request.op,
                  request.timeout_ms == 0
                      ? options.default_timeout
                      : std::chrono::milliseconds(request.timeout_ms)};
  switch (request.op) {
    case ClientOp::kPropose:
      return serve_propose(call, std::move(request));
    case ClientOp::kRead:
      return serve_read(call, std::move(request));
    case ClientOp::kPut:
      return serve_kv_write(call, request.session,
                            sm::KvCommand::put(request.key, request.value));
    case ClientOp::kPutWithTtl:
      return serve_kv_write(call, request.session,
                            sm::KvCommand::put_with_ttl(
                                request.key, request.value, request.ttl_ms));
    case ClientOp::kDelete:
      return serve_kv_write(call, request.session,
                            sm::KvCommand::erase(request.key));
    case ClientOp::kCompareAndSwap:
      return serve_kv_write(
          call, request.session,
          request.expected
              ? sm::KvCommand::compare_and_swap(request.key, *request.expected,
                                                request.value)
              : sm::KvCommand::create_if_absent(request.key, request.value));
    case ClientOp::kGet:
      return serve_kv_read(call, request.consistency,
                           sm::KvRead::get(request.key));
    case ClientOp::kGetMulti:
      return serve_kv_read(call, request.consistency,
                           sm::KvRead::get_multi(request.keys));
    case ClientOp::kScanPrefix:
      return serve_kv_read(
          call, request.consistency,
          sm::KvRead::scan_prefix(request.prefix, request.limit));
    case ClientOp::kStatus:
    case ClientOp::kMembers:
      return serve_status(call);
    case ClientOp::kAddLearner:
      return node->add_learner_async(request.node_id,
                                     std::move(request.address), call.timeout,
                                     plain_reply(call));
    case ClientOp::kPromote:
      return node->promote_async(request.node_id, call.timeout,
                                 plain_reply(call));
    case ClientOp::kRemoveNode:
      return node->remove_node_async(request.node_id, call.timeout,
                                     plain_reply(call));
    case ClientOp::kTransferLeader:
      return node->transfer_leadership_async(request.node_id, call.timeout,
                                             plain_reply(call));
    case ClientOp::kSnapshot:
      return node->snapshot_async(call.timeout, plain_reply(call));
    case ClientOp::kOpenSession:
      return node->open_session_async(call.timeout, plain_reply(call));
    case ClientOp::kMetrics:
      return serve_metrics(call);
    case ClientOp::kWatch:  // handle() gives it to the watches
      break;
  }
  serve_unknown(call);
}

void ClientServer::Impl::serve_propose(const Call& call,
                                       net::ClientRequest request) {
  const std::optional<Session> session = session_of(request.session);
  if (request.kv) {
    kv_propose_encoded_async(*node, std::move(request.data),
                             session ? &*session : nullptr, call.timeout,
                             plain_reply(call));
    return;
  }
  node->propose_async(std::move(request.data), session ? &*session : nullptr,
                      call.timeout, plain_reply(call));
}

void ClientServer::Impl::serve_read(const Call& call,
                                    net::ClientRequest request) {
  const ReadConsistency consistency =
      consistency_of(request.consistency, *node);
  if (request.kv) {
    kv_read_encoded_async(*node, std::move(request.data), consistency,
                          call.timeout, plain_reply(call));
    return;
  }
  node->read_async(std::move(request.data), consistency, call.timeout,
                   plain_reply(call));
}

void ClientServer::Impl::serve_kv_write(
    const Call& call, const std::optional<net::ClientSession>& session,
    sm::KvCommand command) {
  const std::optional<Session> node_session = session_of(session);
  kv_write_async(*node, std::move(command),
                 node_session ? &*node_session : nullptr, call.timeout,
                 [this, call](KvWriteReply r) {
                   net::ClientResponse response = response_to(call);
                   fill_from(r.reply, &response);
                   if (r.reply.status == DENGINE_OK) {
                     response.result = static_cast<int32_t>(r.result.code);
                     response.found = r.result.found;
                     response.value = std::move(r.result.value);
                   }
                   answer(call.conn_id, std::move(response));
                 });
}

void ClientServer::Impl::serve_kv_read(const Call& call,
                                       net::ReadConsistency consistency,
                                       const sm::KvRead& read) {
  kv_read_async(*node, read, consistency_of(consistency, *node), call.timeout,
                [this, call](KvReadReply r) {
                  net::ClientResponse response = response_to(call);
                  fill_from(r.reply, &response);
                  if (r.reply.status == DENGINE_OK) {
                    fill_kv_answer(call.op, std::move(r.answer), &response);
                  }
                  answer(call.conn_id, std::move(response));
                });
}

void ClientServer::Impl::serve_status(const Call& call) {
  const NodeStatus s = node->status();
  net::ClientResponse response = response_to(call);
  net::NodeStatus& out = response.node_status.emplace();
  out.node_id = s.id;
  out.role = s.role;
  out.term = s.term;
  out.leader_id = s.leader_id;
  auto it = options.client_addresses.find(s.leader_id);
  if (it != options.client_addresses.end()) out.leader_address = it->second;
  out.commit_index = s.commit_index;
  out.applied_index = s.applied_index;
  out.last_log_index = s.last_log_index;
  out.snapshot_index = s.snapshot_index;
  for (const Member& m : s.members) {
    out.members.push_back({m.id, m.address, m.voter});
  }
  answer(call.conn_id, std::move(response));
}

void ClientServer::Impl::serve_metrics(const Call& call) {
  net::ClientResponse response = response_to(call);
  response.data = format_prometheus(node->metrics());
  answer(call.conn_id, std::move(response));
}

void ClientServer::Impl::serve_unknown(const Call& call) {
  net::ClientResponse response = response_to(call);
  response.status = DENGINE_ERR_INVALID_ARGUMENT;
  response.message = "unknown op";
  answer(call.conn_id, std::move(response));
}

Node::Callback ClientServer::Impl::plain_reply(const Call& call) {
  return [this, call](Reply reply) {
    net::ClientResponse response = response_to(call);
    fill_from(reply, &response);
    response.data = std::move(reply.data);
    answer(call.conn_id, std::move(response));
  };
}

net::ClientResponse ClientServer::Impl::response_to(const Call& call) const {
  net::ClientResponse response;
  response.request_id = call.request_id;
  return response;
}

}  // namespace dengine::node
