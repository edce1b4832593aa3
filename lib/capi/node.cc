// dengine_node_*: forwards to dengine::node::Node and converts its replies.
#include <cstdlib>
#include <cstring>
#include <string>

#include "capi/errors.h"
#include "capi/handles.h"
#include "capi/memory.h"
#include "capi/options.h"
#include "net/address.h"
#include "node/blocking.h"
#include "node/kv.h"

using dengine::capi::fail;
using dengine::capi::guarded;
using dengine::node::Node;
using dengine::node::Reply;

namespace dengine::capi {

int status_of(const Reply& reply, const char* function) {
  return fail_request(reply.status, function, reply.message, reply.leader_id,
                      reply.leader_address);
}

void fill_owned(const Reply& reply, dengine_reply* out) {
  if (out == nullptr) return;
  *out = dengine_reply{};
  out->result = reply.result;
  out->len = reply.data.size();
  out->index = reply.index;
  out->duplicate = reply.duplicate ? 1 : 0;
  out->leader_id = reply.leader_id;
  try {
    out->data = malloc_bytes(reply.data);
    if (!reply.leader_address.empty()) {
      out->leader_address = malloc_string(reply.leader_address);
    }
    if (!reply.message.empty()) out->message = malloc_string(reply.message);
  } catch (...) {
    dengine_reply_free(out);
    throw;
  }
}

void complete(const Reply& reply, dengine_done_fn done, void* ctx) {
  dengine_reply borrowed{};
  borrowed.result = reply.result;
  borrowed.data =
      reinterpret_cast<uint8_t*>(const_cast<char*>(reply.data.data()));
  borrowed.len = reply.data.size();
  borrowed.index = reply.index;
  borrowed.duplicate = reply.duplicate ? 1 : 0;
  borrowed.leader_id = reply.leader_id;
  borrowed.leader_address =
      reply.leader_address.empty()
          ? nullptr
          : const_cast<char*>(reply.leader_address.c_str());
  borrowed.message = reply.message.empty()
                         ? nullptr
                         : const_cast<char*>(reply.message.c_str());
  done(ctx, reply.status, &borrowed);
}

Node::Callback callback_for(dengine_done_fn done, void* ctx) {
  return [done, ctx](Reply reply) {
    guarded("dengine completion callback", [&] { complete(reply, done, ctx); });
  };
}

bool to_consistency(int value, const dengine_node* node,
                    node::ReadConsistency* out) {
  return node->node->read_consistency_of(value, out);
}

std::chrono::milliseconds to_timeout(uint32_t timeout_ms) {
  return std::chrono::milliseconds(timeout_ms);
}

// Every address a node holds passed net::parse_address, which refuses what
// the fixed fields below cannot hold whole.
static_assert(sizeof(dengine_member::address) > net::kMaxAddressBytes);
static_assert(sizeof(dengine_status::leader_address) > net::kMaxAddressBytes);

void fill_status(const node::NodeStatus& s, dengine_status* out) {
  *out = dengine_status{};
  out->id = s.id;
  out->role = static_cast<int>(s.role);
  out->term = s.term;
  out->leader_id = s.leader_id;
  std::snprintf(out->leader_address, sizeof out->leader_address, "%s",
                s.leader_address.c_str());
  out->commit_index = s.commit_index;
  out->applied_index = s.applied_index;
  out->last_log_index = s.last_log_index;
  out->snapshot_index = s.snapshot_index;
  out->fatal_status = s.fatal_status;
  if (s.members.empty()) return;
  out->members = static_cast<dengine_member*>(
      std::calloc(s.members.size(), sizeof(dengine_member)));
  if (out->members == nullptr) throw std::bad_alloc();
  out->member_count = s.members.size();
  for (size_t i = 0; i < s.members.size(); ++i) {
    out->members[i].id = s.members[i].id;
    out->members[i].voter = s.members[i].voter ? 1 : 0;
    std::snprintf(out->members[i].address, sizeof out->members[i].address, "%s",
                  s.members[i].address.c_str());
  }
}

bool valid(const dengine_node* node, const char* function) {
  if (node != nullptr && node->node != nullptr) return true;
  fail(DENGINE_ERR_INVALID_ARGUMENT, std::string(function) + ": node is NULL");
  return false;
}

}  // namespace dengine::capi

namespace {

using dengine::capi::bytes_of;
using dengine::capi::callback_for;
using dengine::capi::to_timeout;
using dengine::capi::valid;

// Runs an async node call to completion for a blocking C function.
int run_blocking(const char* function, dengine_reply* out,
                 const std::function<void(Node::Callback)>& start) {
  const Reply reply = dengine::node::wait_for<Reply>(start);
  dengine::capi::fill_owned(reply, out);
  return dengine::capi::status_of(reply, function);
}

// The common checks of an async call, then `start`.
int run_async(const char* function, const dengine_node* node,
              dengine_done_fn done,
              const std::function<void(Node::Callback)>& start, void* ctx) {
  if (!valid(node, function)) return DENGINE_ERR_INVALID_ARGUMENT;
  if (done == nullptr) {
    return fail(DENGINE_ERR_INVALID_ARGUMENT,
                std::string(function) + ": done is NULL");
  }
  start(callback_for(done, ctx));
  return DENGINE_OK;
}

dengine::node::Session to_session(const dengine_session* session) {
  return {session->client_id, session->seq, session->acked_seq};
}

// A request of an _opts function refused before it reached the node: the
// blocking form returns the error, its message also in the reply.
int refuse(const char* function, dengine_reply* reply,
           const std::string& message) {
  if (reply != nullptr) {
    *reply = dengine_reply{};
    reply->message = dengine::capi::malloc_string(message);
  }
  return fail(DENGINE_ERR_INVALID_ARGUMENT,
              std::string(function) + ": " + message);
}

// The same for an _async _opts form: `done` gets it, before this returns.
void refuse_async(dengine_done_fn done, void* ctx, const std::string& message) {
  Reply reply;
  reply.status = DENGINE_ERR_INVALID_ARGUMENT;
  reply.message = message;
  dengine::capi::complete(reply, done, ctx);
}

// The checks of an _opts request: what is wrong with it, or "".
std::string check_write(const void* data, size_t len,
                        const dengine_write_options* options,
                        dengine::capi::WriteOptions* out) {
  if (data == nullptr && len > 0) return "data is NULL but len is not 0";
  return dengine::capi::read_write_options(options, out);
}

std::string check_read(const dengine_node* node, const void* query, size_t len,
                       const dengine_read_options* options,
                       dengine::capi::ReadOptions* out,
                       dengine::node::ReadConsistency* consistency) {
  if (query == nullptr && len > 0) return "query is NULL but len is not 0";
  std::string error = dengine::capi::read_read_options(options, out);
  if (!error.empty()) return error;
  if (!dengine::capi::to_consistency(out->consistency, node, consistency)) {
    return "options->consistency must be a DENGINE_READ_*";
  }
  return "";
}

// Starts a checked _opts request: KV-flagged bytes through node/kv.h, which
// keeps them from an application machine.
void propose(Node& node, const dengine::capi::WriteOptions& o, std::string data,
             Node::Callback done) {
  const dengine::node::Session* session = o.has_session ? &o.session : nullptr;
  if (o.kv) {
    dengine::node::kv_propose_encoded_async(node, std::move(data), session,
                                            o.timeout, std::move(done));
  } else {
    node.propose_async(std::move(data), session, o.timeout, std::move(done));
  }
}

void read(Node& node, const dengine::capi::ReadOptions& o,
          dengine::node::ReadConsistency c, std::string query,
          Node::Callback done) {
  if (o.kv) {
    dengine::node::kv_read_encoded_async(node, std::move(query), c, o.timeout,
                                         std::move(done));
  } else {
    node.read_async(std::move(query), c, o.timeout, std::move(done));
  }
}

bool null_data(const void* data, size_t len, const char* function) {
  if (data != nullptr || len == 0) return false;
  fail(DENGINE_ERR_INVALID_ARGUMENT,
       std::string(function) + ": data is NULL but len is not 0");
  return true;
}

}  // namespace

extern "C" {

int dengine_node_start(const dengine_config* config, dengine_node** out) {
  return guarded("dengine_node_start", [&]() -> int {
    if (config == nullptr || out == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_node_start: config and out must not be NULL");
    }
    *out = nullptr;
    auto handle = std::make_unique<dengine_node>();
    std::string error;
    const int rc = Node::start(config->options, &handle->node, &error);
    if (rc != DENGINE_OK) return fail(rc, "dengine_node_start: " + error);
    *out = handle.release();
    return DENGINE_OK;
  });
}

int dengine_node_stop(dengine_node* node) {
  return guarded("dengine_node_stop", [&]() -> int {
    if (!valid(node, "dengine_node_stop")) return DENGINE_ERR_INVALID_ARGUMENT;
    std::string error;
    const int rc = node->node->stop(&error);
    if (rc != DENGINE_OK) return fail(rc, "dengine_node_stop: " + error);
    return DENGINE_OK;
  });
}

void dengine_node_close(dengine_node* node) {
  guarded("dengine_node_close", [&] { delete node; });
}

void dengine_reply_free(dengine_reply* reply) {
  if (reply == nullptr) return;
  std::free(reply->data);
  std::free(reply->leader_address);
  std::free(reply->message);
  *reply = dengine_reply{};
}

int dengine_node_propose(dengine_node* node, const void* data, size_t len,
                         const dengine_session* session, uint32_t timeout_ms,
                         dengine_reply* reply) {
  return guarded("dengine_node_propose", [&]() -> int {
    if (reply != nullptr) *reply = dengine_reply{};
    if (!valid(node, "dengine_node_propose"))
      return DENGINE_ERR_INVALID_ARGUMENT;
    if (null_data(data, len, "dengine_node_propose")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    dengine::node::Session s;
    if (session != nullptr) s = to_session(session);
    return run_blocking(
        "dengine_node_propose", reply, [&](Node::Callback done) {
          node->node->propose_async(bytes_of(data, len),
                                    session == nullptr ? nullptr : &s,
                                    to_timeout(timeout_ms), std::move(done));
        });
  });
}

int dengine_node_propose_async(dengine_node* node, const void* data, size_t len,
                               const dengine_session* session,
                               uint32_t timeout_ms, dengine_done_fn done,
                               void* ctx) {
  return guarded("dengine_node_propose_async", [&]() -> int {
    if (null_data(data, len, "dengine_node_propose_async")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    dengine::node::Session s;
    if (session != nullptr) s = to_session(session);
    return run_async(
        "dengine_node_propose_async", node, done,
        [&](Node::Callback cb) {
          node->node->propose_async(bytes_of(data, len),
                                    session == nullptr ? nullptr : &s,
                                    to_timeout(timeout_ms), std::move(cb));
        },
        ctx);
  });
}

int dengine_node_open_session_async(dengine_node* node, uint32_t timeout_ms,
                                    dengine_done_fn done, void* ctx) {
  return guarded("dengine_node_open_session_async", [&]() -> int {
    return run_async(
        "dengine_node_open_session", node, done,
        [&](Node::Callback cb) {
          node->node->open_session_async(to_timeout(timeout_ms), std::move(cb));
        },
        ctx);
  });
}

int dengine_node_read(dengine_node* node, const void* query, size_t len,
                      int consistency, uint32_t timeout_ms,
                      dengine_reply* reply) {
  return guarded("dengine_node_read", [&]() -> int {
    if (reply != nullptr) *reply = dengine_reply{};
    if (!valid(node, "dengine_node_read")) return DENGINE_ERR_INVALID_ARGUMENT;
    if (null_data(query, len, "dengine_node_read")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    dengine::node::ReadConsistency c;
    if (!dengine::capi::to_consistency(consistency, node, &c)) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_node_read: consistency must be a DENGINE_READ_*");
    }
    return run_blocking("dengine_node_read", reply, [&](Node::Callback done) {
      node->node->read_async(bytes_of(query, len), c, to_timeout(timeout_ms),
                             std::move(done));
    });
  });
}

int dengine_node_read_async(dengine_node* node, const void* query, size_t len,
                            int consistency, uint32_t timeout_ms,
                            dengine_done_fn done, void* ctx) {
  return guarded("dengine_node_read_async", [&]() -> int {
    if (!valid(node, "dengine_node_read_async")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (null_data(query, len, "dengine_node_read_async")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    dengine::node::ReadConsistency c;
    if (!dengine::capi::to_consistency(consistency, node, &c)) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_node_read_async: consistency must be a "
                  "DENGINE_READ_*");
    }
    return run_async(
        "dengine_node_read_async", node, done,
        [&](Node::Callback cb) {
          node->node->read_async(bytes_of(query, len), c,
                                 to_timeout(timeout_ms), std::move(cb));
        },
        ctx);
  });
}

int dengine_node_propose_opts(dengine_node* node, const void* data, size_t len,
                              const dengine_write_options* options,
                              dengine_reply* reply) {
  constexpr const char* kFunction = "dengine_node_propose_opts";
  return guarded(kFunction, [&]() -> int {
    if (reply != nullptr) *reply = dengine_reply{};
    if (!valid(node, kFunction)) return DENGINE_ERR_INVALID_ARGUMENT;
    dengine::capi::WriteOptions o;
    if (std::string e = check_write(data, len, options, &o); !e.empty()) {
      return refuse(kFunction, reply, e);
    }
    return run_blocking(kFunction, reply, [&](Node::Callback done) {
      propose(*node->node, o, bytes_of(data, len), std::move(done));
    });
  });
}

int dengine_node_propose_opts_async(dengine_node* node, const void* data,
                                    size_t len,
                                    const dengine_write_options* options,
                                    dengine_done_fn done, void* ctx) {
  constexpr const char* kFunction = "dengine_node_propose_opts_async";
  return guarded(kFunction, [&]() -> int {
    return run_async(
        kFunction, node, done,
        [&](Node::Callback cb) {
          dengine::capi::WriteOptions o;
          if (std::string e = check_write(data, len, options, &o); !e.empty()) {
            refuse_async(done, ctx, e);
            return;
          }
          propose(*node->node, o, bytes_of(data, len), std::move(cb));
        },
        ctx);
  });
}

int dengine_node_read_opts(dengine_node* node, const void* query, size_t len,
                           const dengine_read_options* options,
                           dengine_reply* reply) {
  constexpr const char* kFunction = "dengine_node_read_opts";
  return guarded(kFunction, [&]() -> int {
    if (reply != nullptr) *reply = dengine_reply{};
    if (!valid(node, kFunction)) return DENGINE_ERR_INVALID_ARGUMENT;
    dengine::capi::ReadOptions o;
    dengine::node::ReadConsistency c;
    if (std::string e = check_read(node, query, len, options, &o, &c);
        !e.empty()) {
      return refuse(kFunction, reply, e);
    }
    return run_blocking(kFunction, reply, [&](Node::Callback done) {
      read(*node->node, o, c, bytes_of(query, len), std::move(done));
    });
  });
}

int dengine_node_read_opts_async(dengine_node* node, const void* query,
                                 size_t len,
                                 const dengine_read_options* options,
                                 dengine_done_fn done, void* ctx) {
  constexpr const char* kFunction = "dengine_node_read_opts_async";
  return guarded(kFunction, [&]() -> int {
    return run_async(
        kFunction, node, done,
        [&](Node::Callback cb) {
          dengine::capi::ReadOptions o;
          dengine::node::ReadConsistency c;
          if (std::string e = check_read(node, query, len, options, &o, &c);
              !e.empty()) {
            refuse_async(done, ctx, e);
            return;
          }
          read(*node->node, o, c, bytes_of(query, len), std::move(cb));
        },
        ctx);
  });
}

// Membership, transfer and snapshot: each blocking form runs its async one.

int dengine_node_add_learner_async(dengine_node* node, uint64_t id,
                                   const char* address, uint32_t timeout_ms,
                                   dengine_done_fn done, void* ctx) {
  return guarded("dengine_node_add_learner_async", [&]() -> int {
    if (address == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_node_add_learner: address is NULL");
    }
    return run_async(
        "dengine_node_add_learner", node, done,
        [&](Node::Callback cb) {
          node->node->add_learner_async(id, address, to_timeout(timeout_ms),
                                        std::move(cb));
        },
        ctx);
  });
}

int dengine_node_promote_async(dengine_node* node, uint64_t id,
                               uint32_t timeout_ms, dengine_done_fn done,
                               void* ctx) {
  return guarded("dengine_node_promote_async", [&]() -> int {
    return run_async(
        "dengine_node_promote", node, done,
        [&](Node::Callback cb) {
          node->node->promote_async(id, to_timeout(timeout_ms), std::move(cb));
        },
        ctx);
  });
}

int dengine_node_remove_async(dengine_node* node, uint64_t id,
                              uint32_t timeout_ms, dengine_done_fn done,
                              void* ctx) {
  return guarded("dengine_node_remove_async", [&]() -> int {
    return run_async(
        "dengine_node_remove", node, done,
        [&](Node::Callback cb) {
          node->node->remove_node_async(id, to_timeout(timeout_ms),
                                        std::move(cb));
        },
        ctx);
  });
}

int dengine_node_transfer_leadership_async(dengine_node* node, uint64_t to,
                                           uint32_t timeout_ms,
                                           dengine_done_fn done, void* ctx) {
  return guarded("dengine_node_transfer_leadership_async", [&]() -> int {
    return run_async(
        "dengine_node_transfer_leadership", node, done,
        [&](Node::Callback cb) {
          node->node->transfer_leadership_async(to, to_timeout(timeout_ms),
                                                std::move(cb));
        },
        ctx);
  });
}

int dengine_node_snapshot_async(dengine_node* node, uint32_t timeout_ms,
                                dengine_done_fn done, void* ctx) {
  return guarded("dengine_node_snapshot_async", [&]() -> int {
    return run_async(
        "dengine_node_snapshot", node, done,
        [&](Node::Callback cb) {
          node->node->snapshot_async(to_timeout(timeout_ms), std::move(cb));
        },
        ctx);
  });
}

}  // extern "C"

namespace {

// The blocking form of an _async function taking (node, ..., done, ctx).
struct Waiter {
  std::promise<std::pair<int, Reply>> promise;
  static void done(void* ctx, int status, const dengine_reply* reply) {
    Reply copy;
    copy.status = status;
    copy.index = reply->index;
    copy.leader_id = reply->leader_id;
    if (reply->leader_address != nullptr)
      copy.leader_address = reply->leader_address;
    if (reply->message != nullptr) copy.message = reply->message;
    static_cast<Waiter*>(ctx)->promise.set_value({status, std::move(copy)});
  }
};

template <typename Start>
int block_on(const char* function, Start start, uint64_t* index = nullptr) {
  Waiter waiter;
  auto future = waiter.promise.get_future();
  const int rc = start(&Waiter::done, &waiter);
  if (rc != DENGINE_OK) return rc;  // done was not called
  auto [status, reply] = future.get();
  if (index != nullptr && status == DENGINE_OK) *index = reply.index;
  return dengine::capi::status_of(reply, function);
}

}  // namespace

extern "C" {

int dengine_node_add_learner(dengine_node* node, uint64_t id,
                             const char* address, uint32_t timeout_ms) {
  return block_on("dengine_node_add_learner", [&](dengine_done_fn d, void* c) {
    return dengine_node_add_learner_async(node, id, address, timeout_ms, d, c);
  });
}

int dengine_node_promote(dengine_node* node, uint64_t id, uint32_t timeout_ms) {
  return block_on("dengine_node_promote", [&](dengine_done_fn d, void* c) {
    return dengine_node_promote_async(node, id, timeout_ms, d, c);
  });
}

int dengine_node_remove(dengine_node* node, uint64_t id, uint32_t timeout_ms) {
  return block_on("dengine_node_remove", [&](dengine_done_fn d, void* c) {
    return dengine_node_remove_async(node, id, timeout_ms, d, c);
  });
}

int dengine_node_transfer_leadership(dengine_node* node, uint64_t to,
                                     uint32_t timeout_ms) {
  return block_on("dengine_node_transfer_leadership", [&](dengine_done_fn d,
                                                          void* c) {
    return dengine_node_transfer_leadership_async(node, to, timeout_ms, d, c);
  });
}

int dengine_node_snapshot(dengine_node* node, uint32_t timeout_ms,
                          uint64_t* index) {
  return block_on(
      "dengine_node_snapshot",
      [&](dengine_done_fn d, void* c) {
        return dengine_node_snapshot_async(node, timeout_ms, d, c);
      },
      index);
}

int dengine_node_open_session(dengine_node* node, uint32_t timeout_ms,
                              uint64_t* client_id) {
  if (client_id == nullptr) {
    return fail(DENGINE_ERR_INVALID_ARGUMENT,
                "dengine_node_open_session: client_id is NULL");
  }
  return block_on(
      "dengine_node_open_session",
      [&](dengine_done_fn d, void* c) {
        return dengine_node_open_session_async(node, timeout_ms, d, c);
      },
      client_id);
}

int dengine_node_status(dengine_node* node, dengine_status* out) {
  return guarded("dengine_node_status", [&]() -> int {
    if (!valid(node, "dengine_node_status"))
      return DENGINE_ERR_INVALID_ARGUMENT;
    if (out == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_node_status: out is NULL");
    }
    dengine::capi::fill_status(node->node->status(), out);
    return DENGINE_OK;
  });
}

void dengine_status_free(dengine_status* status) {
  if (status == nullptr) return;
  std::free(status->members);
  status->members = nullptr;
  status->member_count = 0;
}

int dengine_node_set_leader_callback(dengine_node* node, dengine_leader_fn fn,
                                     void* ctx) {
  return guarded("dengine_node_set_leader_callback", [&]() -> int {
    if (!valid(node, "dengine_node_set_leader_callback")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (fn == nullptr) {
      node->node->set_leader_change_callback(nullptr);
      return DENGINE_OK;
    }
    node->node->set_leader_change_callback(
        [fn, ctx](uint64_t leader, uint64_t term) {
          guarded("dengine leader callback", [&] { fn(ctx, leader, term); });
        });
    return DENGINE_OK;
  });
}

}  // extern "C"
