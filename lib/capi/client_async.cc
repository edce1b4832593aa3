// dengine_client_*_async: each call is queued as a task on the client's
// CallQueue (lib/client/call_queue.h), whose thread runs the blocking
// Client call and reports its outcome to the caller's `done`.
#include <functional>
#include <mutex>
#include <string>
#include <utility>

#include "capi/client_handle.h"
#include "capi/errors.h"
#include "capi/handles.h"
#include "capi/memory.h"

using dengine::capi::bytes_of;
using dengine::capi::fail;
using dengine::capi::guarded;
using dengine::capi::client_api::reply_of;
using dengine::capi::client_api::usable;
using dengine::client::Client;
using dengine::client::Status;

namespace {

constexpr const char* kClosing = "the client is closing";

// Queues `task` on the client's call thread, starting it on first use.
// Refused (DENGINE_ERR_SHUTTING_DOWN, task not called) when closing.
int post(dengine_client* client, dengine::client::CallQueue::Task task) {
  std::lock_guard lock(client->calls_mutex);
  if (!client->calls) {
    client->calls = std::make_unique<dengine::client::CallQueue>();
  }
  if (!client->calls->post(std::move(task))) {
    return fail(DENGINE_ERR_SHUTTING_DOWN, kClosing);
  }
  return DENGINE_OK;
}

// Queues `call` (which returns the reply); its reply goes to `done`.
int post_async(dengine_client* client, dengine_done_fn done, void* ctx,
               std::function<dengine::node::Reply()> call) {
  return post(client, [done, ctx, call = std::move(call)](bool run) {
    dengine::node::Reply reply;
    if (run) {
      reply = call();
    } else {
      reply.status = DENGINE_ERR_SHUTTING_DOWN;
      reply.message = kClosing;
    }
    guarded("dengine client completion",
            [&] { dengine::capi::complete(reply, done, ctx); });
  });
}

// An argument error of an _async call, reported through `done`.
int refuse_async(dengine_done_fn done, void* ctx, const std::string& message) {
  dengine::capi::complete(
      reply_of(Status::error(DENGINE_ERR_INVALID_ARGUMENT, message)), done,
      ctx);
  return DENGINE_OK;
}

bool async_usable(const dengine_client* client, bool has_done,
                  const char* function) {
  if (!usable(client, function)) return false;
  if (has_done) return true;
  fail(DENGINE_ERR_INVALID_ARGUMENT, std::string(function) + ": done is NULL");
  return false;
}

// The shape of the membership calls: checks, then queues `call`, whose
// status is the reply.
template <typename Call>
int post_admin(dengine_client* client, dengine_done_fn done, void* ctx,
               const char* function, Call call) {
  return guarded(function, [&]() -> int {
    if (!async_usable(client, done != nullptr, function)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    return post_async(client, done, ctx,
                      [c = client->client.get(), call = std::move(call)] {
                        return reply_of(call(c));
                      });
  });
}

}  // namespace

extern "C" {

int dengine_client_propose_opts_async(dengine_client* client, const void* data,
                                      size_t len,
                                      const dengine_write_options* options,
                                      dengine_done_fn done, void* ctx) {
  constexpr const char* kFunction = "dengine_client_propose_opts_async";
  return guarded(kFunction, [&]() -> int {
    if (!async_usable(client, done != nullptr, kFunction)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    dengine::capi::WriteOptions o;
    std::string error =
        dengine::capi::client_api::write_error(data, len, options, &o);
    if (!error.empty()) return refuse_async(done, ctx, error);
    return post_async(client, done, ctx,
                      [c = client->client.get(), command = bytes_of(data, len),
                       call = dengine::client::CallOptions{o.timeout, o.kv}] {
                        dengine::client::ProposeResult result;
                        dengine::node::Reply reply =
                            reply_of(c->propose(command, &result, call));
                        reply.result = result.result;
                        reply.data = std::move(result.data);
                        reply.index = result.index;
                        return reply;
                      });
  });
}

int dengine_client_read_opts_async(dengine_client* client, const void* query,
                                   size_t len,
                                   const dengine_read_options* options,
                                   dengine_done_fn done, void* ctx) {
  constexpr const char* kFunction = "dengine_client_read_opts_async";
  return guarded(kFunction, [&]() -> int {
    if (!async_usable(client, done != nullptr, kFunction)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    dengine::capi::ReadOptions o;
    dengine::net::ReadConsistency consistency{};
    std::string error = dengine::capi::client_api::read_error(
        query, len, options, &o, &consistency);
    if (!error.empty()) return refuse_async(done, ctx, error);
    return post_async(
        client, done, ctx,
        [c = client->client.get(), q = bytes_of(query, len), consistency,
         call = dengine::client::CallOptions{o.timeout, o.kv}] {
          dengine::client::ReadResult answer;
          dengine::node::Reply reply =
              reply_of(c->read(q, &answer, consistency, call));
          reply.data = std::move(answer.data);
          reply.index = answer.revision;
          return reply;
        });
  });
}

int dengine_client_status_async(dengine_client* client,
                                dengine_status_done_fn done, void* ctx) {
  constexpr const char* kFunction = "dengine_client_status_async";
  return guarded(kFunction, [&]() -> int {
    if (!async_usable(client, done != nullptr, kFunction)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    return post(client, [c = client->client.get(), done, ctx](bool run) {
      guarded("dengine client status completion", [&] {
        if (!run) {
          done(ctx, DENGINE_ERR_SHUTTING_DOWN, nullptr, kClosing);
          return;
        }
        dengine::net::NodeStatus s;
        const Status status = c->status(&s);
        if (!status.ok()) {
          done(ctx, status.code, nullptr, status.message.c_str());
          return;
        }
        dengine_status view{};
        dengine::capi::fill_status(dengine::capi::client_api::status_view(s),
                                   &view);
        done(ctx, DENGINE_OK, &view, nullptr);
        dengine_status_free(&view);
      });
    });
  });
}

int dengine_client_add_learner_async(dengine_client* client, uint64_t id,
                                     const char* address, dengine_done_fn done,
                                     void* ctx) {
  constexpr const char* kFunction = "dengine_client_add_learner_async";
  if (address == nullptr && usable(client, kFunction) && done != nullptr) {
    return refuse_async(done, ctx, "address is NULL");
  }
  return post_admin(client, done, ctx, kFunction,
                    [id, to = std::string(address ? address : "")](Client* c) {
                      return c->add_learner(id, to);
                    });
}

int dengine_client_promote_async(dengine_client* client, uint64_t id,
                                 dengine_done_fn done, void* ctx) {
  return post_admin(client, done, ctx, "dengine_client_promote_async",
                    [id](Client* c) { return c->promote(id); });
}

int dengine_client_remove_async(dengine_client* client, uint64_t id,
                                dengine_done_fn done, void* ctx) {
  return post_admin(client, done, ctx, "dengine_client_remove_async",
                    [id](Client* c) { return c->remove_node(id); });
}

int dengine_client_transfer_leadership_async(dengine_client* client,
                                             uint64_t to, dengine_done_fn done,
                                             void* ctx) {
  return post_admin(client, done, ctx,
                    "dengine_client_transfer_leadership_async",
                    [to](Client* c) { return c->transfer_leader(to); });
}

int dengine_client_snapshot_async(dengine_client* client, dengine_done_fn done,
                                  void* ctx) {
  constexpr const char* kFunction = "dengine_client_snapshot_async";
  return guarded(kFunction, [&]() -> int {
    if (!async_usable(client, done != nullptr, kFunction)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    return post_async(client, done, ctx, [c = client->client.get()] {
      uint64_t index = 0;
      dengine::node::Reply reply = reply_of(c->snapshot(&index));
      reply.index = index;
      return reply;
    });
  });
}

}  // extern "C"
