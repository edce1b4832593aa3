// The built-in KV machine's operations over a Node: commands encoded and
// proposed (Node::propose_async stamps them with the leader's clock, the TTL
// timestamp every replica uses), queries encoded and read, answers decoded. On
// a node running an application machine they fail with DENGINE_ERR_UNSUPPORTED.
#pragma once

#include <chrono>
#include <functional>

#include "node/node.h"
#include "sm/kv_command.h"

namespace dengine::node {

struct KvWriteReply {
  Reply reply;          // reply.status: did the command apply
  sm::KvResult result;  // when it did: the command's outcome (e.g. CAS failed)
};

struct KvReadReply {
  Reply reply;
  sm::KvReadAnswer answer;
};

using KvWriteCallback = std::function<void(KvWriteReply)>;
using KvReadCallback = std::function<void(KvReadReply)>;

// Completes as Node::propose_async.
void kv_write_async(Node& node, sm::KvCommand command, const Session* session,
                    std::chrono::milliseconds timeout, KvWriteCallback done);
KvWriteReply kv_write(Node& node, sm::KvCommand command, const Session* session,
                      std::chrono::milliseconds timeout);

void kv_read_async(Node& node, const sm::KvRead& read,
                   ReadConsistency consistency,
                   std::chrono::milliseconds timeout, KvReadCallback done);
KvReadReply kv_read(Node& node, const sm::KvRead& read,
                    ReadConsistency consistency,
                    std::chrono::milliseconds timeout);

// Encoded bytes for the built-in machine (dengine_kv_encode_*, a client's
// request flagged KV): proposed or read as they are, or refused with
// DENGINE_ERR_UNSUPPORTED on a node running an application machine, which
// must never see them.
void kv_propose_encoded_async(Node& node, std::string command,
                              const Session* session,
                              std::chrono::milliseconds timeout,
                              Node::Callback done);
void kv_read_encoded_async(Node& node, std::string query,
                           ReadConsistency consistency,
                           std::chrono::milliseconds timeout,
                           Node::Callback done);

}  // namespace dengine::node
