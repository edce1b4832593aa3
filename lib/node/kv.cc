#include "node/kv.h"

#include "node/blocking.h"

namespace dengine::node {
namespace {

Reply unsupported() {
  Reply reply;
  reply.status = DENGINE_ERR_UNSUPPORTED;
  reply.message =
      "this node runs an application state machine, not the "
      "built-in KV machine";
  return reply;
}

}  // namespace

void kv_write_async(Node& node, sm::KvCommand command, const Session* session,
                    std::chrono::milliseconds timeout, KvWriteCallback done) {
  if (!node.has_kv_machine()) {
    done({unsupported(), {}});
    return;
  }
  node.propose_async(
      sm::encode_command(command), session, timeout,
      [done = std::move(done)](Reply reply) {
        KvWriteReply out{std::move(reply), {}};
        if (out.reply.status == DENGINE_OK && out.reply.result_known) {
          storage::Status s = sm::decode_result(out.reply.data, &out.result);
          if (!s) {
            out.reply.status = DENGINE_ERR_CORRUPTION;
            out.reply.message = "bad KV result: " + s.to_string();
          }
        }
        done(std::move(out));
      });
}

KvWriteReply kv_write(Node& node, sm::KvCommand command, const Session* session,
                      std::chrono::milliseconds timeout) {
  return wait_for<KvWriteReply>([&](KvWriteCallback done) {
    kv_write_async(node, std::move(command), session, timeout, std::move(done));
  });
}

void kv_read_async(Node& node, const sm::KvRead& read,
                   ReadConsistency consistency,
                   std::chrono::milliseconds timeout, KvReadCallback done) {
  if (!node.has_kv_machine()) {
    done({unsupported(), {}});
    return;
  }
  node.read_async(sm::encode_read(read), consistency, timeout,
                  [type = read.type, done = std::move(done)](Reply reply) {
                    KvReadReply out{std::move(reply), {}};
                    if (out.reply.status == DENGINE_OK) {
                      storage::Status s = sm::decode_read_answer(
                          type, out.reply.data, &out.answer);
                      if (!s) {
                        out.reply.status = DENGINE_ERR_CORRUPTION;
                        out.reply.message = "bad KV answer: " + s.to_string();
                      }
                    }
                    done(std::move(out));
                  });
}

void kv_propose_encoded_async(Node& node, std::string command,
                              const Session* session,
                              std::chrono::milliseconds timeout,
                              Node::Callback done) {
  if (!node.has_kv_machine()) {
    done(unsupported());
    return;
  }
  node.propose_async(std::move(command), session, timeout, std::move(done));
}

void kv_read_encoded_async(Node& node, std::string query,
                           ReadConsistency consistency,
                           std::chrono::milliseconds timeout,
                           Node::Callback done) {
  if (!node.has_kv_machine()) {
    done(unsupported());
    return;
  }
  node.read_async(std::move(query), consistency, timeout, std::move(done));
}

KvReadReply kv_read(Node& node, const sm::KvRead& read,
                    ReadConsistency consistency,
                    std::chrono::milliseconds timeout) {
  return wait_for<KvReadReply>([&](KvReadCallback done) {
    kv_read_async(node, read, consistency, timeout, std::move(done));
  });
}

}  // namespace dengine::node
