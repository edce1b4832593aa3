// dengine_client_*, the blocking forms: forwards to dengine::client::Client
// (lib/client/). The async forms are in client_async.cc.
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "capi/client_handle.h"
#include "capi/errors.h"
#include "capi/handles.h"
#include "capi/memory.h"
#include "net/address.h"

using dengine::capi::bytes_of;
using dengine::capi::fail;
using dengine::capi::guarded;
using dengine::capi::client_api::reply_status;
using dengine::capi::client_api::status_of;
using dengine::capi::client_api::usable;
using dengine::client::Client;
using dengine::client::Status;

namespace dengine::capi::client_api {

int status_of(const Status& status, const char* function) {
  return fail_request(status.code, function, status.message, status.leader_id,
                      status.leader_address);
}

int reply_status(const Status& status, const char* function,
                 dengine_reply* reply) {
  const int rc = status_of(status, function);
  if (rc == DENGINE_OK || reply == nullptr) return rc;
  reply->message = malloc_string(status.message);
  reply->leader_id = status.leader_id;
  if (!status.leader_address.empty()) {
    reply->leader_address = malloc_string(status.leader_address);
  }
  return rc;
}

node::Reply reply_of(const Status& status) {
  node::Reply reply;
  reply.status = status.code;
  reply.message = status.message;
  reply.leader_id = status.leader_id;
  reply.leader_address = status.leader_address;
  return reply;
}

std::string write_error(const void* data, size_t len,
                        const dengine_write_options* options,
                        WriteOptions* out) {
  if (data == nullptr && len > 0) return "data is NULL but len is not 0";
  std::string error = read_write_options(options, out);
  if (error.empty() && out->has_session) {
    error =
        "options->session must be NULL (a client writes in its own "
        "session)";
  }
  return error;
}

std::string read_error(const void* query, size_t len,
                       const dengine_read_options* options, ReadOptions* out,
                       net::ReadConsistency* consistency) {
  if (query == nullptr && len > 0) return "query is NULL but len is not 0";
  std::string error = read_read_options(options, out);
  if (error.empty() &&
      !client::to_read_consistency(out->consistency, consistency)) {
    error = "options->consistency must be a DENGINE_READ_*";
  }
  return error;
}

bool usable(const dengine_client* client, const char* function) {
  if (client != nullptr && client->client != nullptr) return true;
  fail(DENGINE_ERR_INVALID_ARGUMENT,
       std::string(function) + ": client is NULL");
  return false;
}

node::NodeStatus status_view(const net::NodeStatus& s) {
  node::NodeStatus view;
  view.id = s.node_id;
  view.role = s.role;
  view.term = s.term;
  view.leader_id = s.leader_id;
  view.leader_address = s.leader_address;
  view.commit_index = s.commit_index;
  view.applied_index = s.applied_index;
  view.last_log_index = s.last_log_index;
  view.snapshot_index = s.snapshot_index;
  for (const auto& m : s.members) {
    view.members.push_back({m.id, m.address, m.voter});
  }
  return view;
}

}  // namespace dengine::capi::client_api

namespace {

bool has_key(const void* key, size_t key_len, const char* function) {
  if (key != nullptr && key_len > 0) return true;
  fail(DENGINE_ERR_INVALID_ARGUMENT, std::string(function) + ": empty key");
  return false;
}

bool to_consistency(int value, dengine::net::ReadConsistency* out) {
  return dengine::client::to_read_consistency(value, out);
}

int bad_consistency(const char* function) {
  return fail(DENGINE_ERR_INVALID_ARGUMENT,
              std::string(function) + ": consistency must be a DENGINE_READ_*");
}

}  // namespace

extern "C" {

int dengine_client_open(const char* endpoints, uint32_t timeout_ms,
                        dengine_client** out) {
  return guarded("dengine_client_open", [&]() -> int {
    if (endpoints == nullptr || out == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_client_open: endpoints and out must not be NULL");
    }
    *out = nullptr;
    const dengine::client::ClientOptions options =
        dengine::client::ClientOptions::bounded_by_deadline(
            dengine::net::split_address_list(endpoints),
            std::chrono::milliseconds(timeout_ms));
    auto handle = std::make_unique<dengine_client>();
    if (Status s = Client::create(options, &handle->client); !s.ok()) {
      return status_of(s, "dengine_client_open");
    }
    *out = handle.release();
    return DENGINE_OK;
  });
}

void dengine_client_close(dengine_client* client) {
  guarded("dengine_client_close", [&] {
    if (client == nullptr) return;
    {
      // Pending async calls end first: queued ones with SHUTTING_DOWN.
      std::lock_guard lock(client->calls_mutex);
      if (client->calls) client->calls->stop();
    }
    delete client;
  });
}

int dengine_client_put(dengine_client* client, const void* key, size_t key_len,
                       const void* value, size_t value_len) {
  return guarded("dengine_client_put", [&]() -> int {
    if (!usable(client, "dengine_client_put") ||
        !has_key(key, key_len, "dengine_client_put")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    return status_of(
        client->client->put(bytes_of(key, key_len), bytes_of(value, value_len)),
        "dengine_client_put");
  });
}

int dengine_client_put_ttl(dengine_client* client, const void* key,
                           size_t key_len, const void* value, size_t value_len,
                           uint64_t ttl_ms) {
  return guarded("dengine_client_put_ttl", [&]() -> int {
    if (!usable(client, "dengine_client_put_ttl") ||
        !has_key(key, key_len, "dengine_client_put_ttl")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    return status_of(client->client->put_with_ttl(
                         bytes_of(key, key_len), bytes_of(value, value_len),
                         std::chrono::milliseconds(ttl_ms)),
                     "dengine_client_put_ttl");
  });
}

int dengine_client_delete(dengine_client* client, const void* key,
                          size_t key_len, int* existed) {
  return guarded("dengine_client_delete", [&]() -> int {
    if (!usable(client, "dengine_client_delete") ||
        !has_key(key, key_len, "dengine_client_delete")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    bool found = false;
    const int rc =
        status_of(client->client->erase(bytes_of(key, key_len), &found),
                  "dengine_client_delete");
    if (existed != nullptr) *existed = found ? 1 : 0;
    return rc;
  });
}

int dengine_client_cas(dengine_client* client, const void* key, size_t key_len,
                       const void* expected, size_t expected_len,
                       const void* value, size_t value_len, int* swapped) {
  return guarded("dengine_client_cas", [&]() -> int {
    if (!usable(client, "dengine_client_cas") ||
        !has_key(key, key_len, "dengine_client_cas")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    const std::string want = bytes_of(expected, expected_len);
    std::optional<std::string_view> expect;
    if (expected != nullptr) expect = want;
    bool did = false;
    const int rc = status_of(
        client->client->compare_and_swap(bytes_of(key, key_len), expect,
                                         bytes_of(value, value_len), &did),
        "dengine_client_cas");
    if (swapped != nullptr) *swapped = did ? 1 : 0;
    return rc;
  });
}

int dengine_client_get(dengine_client* client, const void* key, size_t key_len,
                       int consistency, uint8_t** value, size_t* value_len) {
  return guarded("dengine_client_get", [&]() -> int {
    if (!usable(client, "dengine_client_get") ||
        !has_key(key, key_len, "dengine_client_get")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (value == nullptr || value_len == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_client_get: value and value_len must not be NULL");
    }
    *value = nullptr;
    *value_len = 0;
    dengine::net::ReadConsistency c;
    if (!to_consistency(consistency, &c))
      return bad_consistency("dengine_client_get");
    std::optional<std::string> found;
    if (int rc =
            status_of(client->client->get(bytes_of(key, key_len), &found, c),
                      "dengine_client_get");
        rc != DENGINE_OK) {
      return rc;
    }
    if (!found)
      return fail(DENGINE_ERR_NOT_FOUND, "dengine_client_get: no such key");
    *value = dengine::capi::malloc_value(*found);
    *value_len = found->size();
    return DENGINE_OK;
  });
}

int dengine_client_get_multi(dengine_client* client, const void* const* keys,
                             const size_t* key_lens, size_t count,
                             int consistency, dengine_kv_items* out) {
  return guarded("dengine_client_get_multi", [&]() -> int {
    if (!usable(client, "dengine_client_get_multi")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (out == nullptr || keys == nullptr || key_lens == nullptr ||
        count == 0) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_client_get_multi: needs keys, key_lens, count >= 1 "
                  "and out");
    }
    *out = dengine_kv_items{};
    dengine::net::ReadConsistency c;
    if (!to_consistency(consistency, &c)) {
      return bad_consistency("dengine_client_get_multi");
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < count; ++i) {
      if (!has_key(keys[i], key_lens[i], "dengine_client_get_multi")) {
        return DENGINE_ERR_INVALID_ARGUMENT;
      }
      names.push_back(bytes_of(keys[i], key_lens[i]));
    }
    std::vector<std::optional<std::string>> values;
    if (int rc = status_of(client->client->get_multi(names, &values, c),
                           "dengine_client_get_multi");
        rc != DENGINE_OK) {
      return rc;
    }
    dengine::capi::fill_items(&names, values, {}, false, out);
    return DENGINE_OK;
  });
}

int dengine_client_scan_prefix(dengine_client* client, const void* prefix,
                               size_t prefix_len, uint32_t limit,
                               int consistency, dengine_kv_items* out) {
  return guarded("dengine_client_scan_prefix", [&]() -> int {
    if (!usable(client, "dengine_client_scan_prefix")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (out == nullptr || limit == 0 || (prefix == nullptr && prefix_len > 0)) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_client_scan_prefix: needs out and limit >= 1");
    }
    *out = dengine_kv_items{};
    dengine::net::ReadConsistency c;
    if (!to_consistency(consistency, &c)) {
      return bad_consistency("dengine_client_scan_prefix");
    }
    dengine::client::ScanResult result;
    if (int rc = status_of(client->client->scan_prefix(
                               bytes_of(prefix, prefix_len), limit, &result, c),
                           "dengine_client_scan_prefix");
        rc != DENGINE_OK) {
      return rc;
    }
    dengine::capi::fill_items(nullptr, {}, result.entries, result.more, out);
    return DENGINE_OK;
  });
}

int dengine_client_propose(dengine_client* client, const void* data, size_t len,
                           dengine_reply* reply) {
  return guarded("dengine_client_propose", [&]() -> int {
    if (reply != nullptr) *reply = dengine_reply{};
    if (!usable(client, "dengine_client_propose")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (data == nullptr && len > 0) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_client_propose: data is NULL but len is not 0");
    }
    dengine::client::ProposeResult result;
    const int rc =
        status_of(client->client->propose(bytes_of(data, len), &result),
                  "dengine_client_propose");
    if (rc == DENGINE_OK && reply != nullptr) {
      reply->result = result.result;
      reply->index = result.index;
      reply->data = dengine::capi::malloc_bytes(result.data);
      reply->len = result.data.size();
    }
    return rc;
  });
}

int dengine_client_read(dengine_client* client, const void* query, size_t len,
                        int consistency, dengine_reply* reply) {
  return guarded("dengine_client_read", [&]() -> int {
    if (reply != nullptr) *reply = dengine_reply{};
    if (!usable(client, "dengine_client_read")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (query == nullptr && len > 0) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_client_read: query is NULL but len is not 0");
    }
    dengine::net::ReadConsistency c;
    if (!to_consistency(consistency, &c))
      return bad_consistency("dengine_client_read");
    std::string answer;
    const int rc =
        status_of(client->client->read(bytes_of(query, len), &answer, c),
                  "dengine_client_read");
    if (rc == DENGINE_OK && reply != nullptr) {
      reply->data = dengine::capi::malloc_bytes(answer);
      reply->len = answer.size();
    }
    return rc;
  });
}

int dengine_client_propose_opts(dengine_client* client, const void* data,
                                size_t len,
                                const dengine_write_options* options,
                                dengine_reply* reply) {
  constexpr const char* kFunction = "dengine_client_propose_opts";
  return guarded(kFunction, [&]() -> int {
    if (reply != nullptr) *reply = dengine_reply{};
    if (!usable(client, kFunction)) return DENGINE_ERR_INVALID_ARGUMENT;
    dengine::capi::WriteOptions o;
    std::string error =
        dengine::capi::client_api::write_error(data, len, options, &o);
    if (!error.empty()) {
      return reply_status(Status::error(DENGINE_ERR_INVALID_ARGUMENT, error),
                          kFunction, reply);
    }
    dengine::client::ProposeResult result;
    const int rc =
        reply_status(client->client->propose(bytes_of(data, len), &result,
                                             {o.timeout, o.kv}),
                     kFunction, reply);
    if (rc == DENGINE_OK && reply != nullptr) {
      reply->result = result.result;
      reply->index = result.index;
      reply->data = dengine::capi::malloc_bytes(result.data);
      reply->len = result.data.size();
    }
    return rc;
  });
}

int dengine_client_read_opts(dengine_client* client, const void* query,
                             size_t len, const dengine_read_options* options,
                             dengine_reply* reply) {
  constexpr const char* kFunction = "dengine_client_read_opts";
  return guarded(kFunction, [&]() -> int {
    if (reply != nullptr) *reply = dengine_reply{};
    if (!usable(client, kFunction)) return DENGINE_ERR_INVALID_ARGUMENT;
    dengine::capi::ReadOptions o;
    dengine::net::ReadConsistency c{};
    std::string error =
        dengine::capi::client_api::read_error(query, len, options, &o, &c);
    if (!error.empty()) {
      return reply_status(Status::error(DENGINE_ERR_INVALID_ARGUMENT, error),
                          kFunction, reply);
    }
    dengine::client::ReadResult answer;
    const int rc =
        reply_status(client->client->read(bytes_of(query, len), &answer, c,
                                          {o.timeout, o.kv}),
                     kFunction, reply);
    if (rc == DENGINE_OK && reply != nullptr) {
      reply->data = dengine::capi::malloc_bytes(answer.data);
      reply->len = answer.data.size();
      reply->index = answer.revision;
    }
    return rc;
  });
}

int dengine_client_status(dengine_client* client, dengine_status* out) {
  return guarded("dengine_client_status", [&]() -> int {
    if (!usable(client, "dengine_client_status")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (out == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_client_status: out is NULL");
    }
    *out = dengine_status{};
    dengine::net::NodeStatus s;
    if (int rc = status_of(client->client->status(&s), "dengine_client_status");
        rc != DENGINE_OK) {
      return rc;
    }
    dengine::capi::fill_status(dengine::capi::client_api::status_view(s), out);
    return DENGINE_OK;
  });
}

int dengine_client_metrics(dengine_client* client, char** text) {
  return guarded("dengine_client_metrics", [&]() -> int {
    if (!usable(client, "dengine_client_metrics")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (text == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_client_metrics: text is NULL");
    }
    *text = nullptr;
    std::string answer;
    if (int rc = status_of(client->client->metrics(&answer),
                           "dengine_client_metrics");
        rc != DENGINE_OK) {
      return rc;
    }
    *text = dengine::capi::malloc_string(answer);
    return DENGINE_OK;
  });
}

int dengine_client_add_learner(dengine_client* client, uint64_t id,
                               const char* address) {
  return guarded("dengine_client_add_learner", [&]() -> int {
    if (!usable(client, "dengine_client_add_learner")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (address == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_client_add_learner: address is NULL");
    }
    return status_of(client->client->add_learner(id, address),
                     "dengine_client_add_learner");
  });
}

int dengine_client_promote(dengine_client* client, uint64_t id) {
  return guarded("dengine_client_promote", [&]() -> int {
    if (!usable(client, "dengine_client_promote")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    return status_of(client->client->promote(id), "dengine_client_promote");
  });
}

int dengine_client_remove(dengine_client* client, uint64_t id) {
  return guarded("dengine_client_remove", [&]() -> int {
    if (!usable(client, "dengine_client_remove")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    return status_of(client->client->remove_node(id), "dengine_client_remove");
  });
}

int dengine_client_transfer_leadership(dengine_client* client, uint64_t to) {
  return guarded("dengine_client_transfer_leadership", [&]() -> int {
    if (!usable(client, "dengine_client_transfer_leadership")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    return status_of(client->client->transfer_leader(to),
                     "dengine_client_transfer_leadership");
  });
}

int dengine_client_snapshot(dengine_client* client, uint64_t* index) {
  return guarded("dengine_client_snapshot", [&]() -> int {
    if (!usable(client, "dengine_client_snapshot")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    uint64_t at = 0;
    const int rc =
        status_of(client->client->snapshot(&at), "dengine_client_snapshot");
    if (index != nullptr) *index = at;
    return rc;
  });
}

}  // extern "C"
