// The dengine_client handle and the checks and conversions its calls share:
// the blocking forms in client.cc, the async forms in client_async.cc.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "capi/options.h"
#include "client/call_queue.h"
#include "client/client.h"
#include "dengine.h"
#include "node/node.h"

struct dengine_client {
  std::unique_ptr<dengine::client::Client> client;
  // The thread of the _async calls, started by the first of them.
  std::mutex calls_mutex;
  std::unique_ptr<dengine::client::CallQueue> calls;
};

namespace dengine::capi::client_api {

// Records a failed call as the thread's last error, leader hint included;
// returns the status's code.
int status_of(const client::Status& status, const char* function);
// As status_of, and fills a caller-owned reply (NULL allowed) with what a
// failed call knows: its message and the leader it was told of.
int reply_status(const client::Status& status, const char* function,
                 dengine_reply* reply);
// A client call's outcome as the node layer's reply, for capi::complete().
node::Reply reply_of(const client::Status& status);

// What is wrong with a client write's arguments, or "".
std::string write_error(const void* data, size_t len,
                        const dengine_write_options* options,
                        WriteOptions* out);
// What is wrong with a client read's arguments, or "".
std::string read_error(const void* query, size_t len,
                       const dengine_read_options* options, ReadOptions* out,
                       net::ReadConsistency* consistency);

// False (error recorded) for a NULL or closed client.
bool usable(const dengine_client* client, const char* function);

// The answering server's status in the node layer's terms, for
// capi::fill_status.
node::NodeStatus status_view(const net::NodeStatus& status);

}  // namespace dengine::capi::client_api
