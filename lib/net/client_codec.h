// The payloads of client-request and client-response frames: what a client
// of a standalone node (`dengined`) asks and what it gets back. Both start
// with a version byte; docs/client-protocol.md gives the exact layout. Like
// every decoder in this layer, these are bounds-checked and canonical: a
// payload that decodes re-encodes to the same bytes.
//
// This layer knows no state machine: KV answers travel in fields of their
// own (found, value, values, entries), which the server fills from the
// built-in machine's answers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "raft/types.h"
#include "watch/event.h"

namespace dengine::net {

inline constexpr uint8_t kClientProtocolVersion = 1;

enum class ClientOp : uint8_t {
  kPropose = 1,  // raw command bytes for the application's machine
  kRead = 2,     // raw query bytes for the application's machine
  kPut = 3,
  kPutWithTtl = 4,
  kDelete = 5,
  kCompareAndSwap = 6,
  kGet = 7,
  kGetMulti = 8,
  kScanPrefix = 9,
  kStatus = 10,
  kMembers = 11,
  kAddLearner = 12,
  kPromote = 13,
  kRemoveNode = 14,
  kTransferLeader = 15,
  kSnapshot = 16,
  kOpenSession = 17,  // registers a session; the response's index is its id
  // A stream of events (see docs/client-protocol.md, "Watch"): answered
  // with a start response, then event batches, then an end response.
  kWatch = 18,
  // This node's metrics: the response's data is their Prometheus text.
  kMetrics = 19,
};

const char* to_string(ClientOp op);
// Writes through the log that a session makes exactly-once: propose, put,
// put-with-TTL, delete, compare-and-swap.
bool is_session_write(ClientOp op);
// Ops served at a read consistency: read, get, get-multi, scan-prefix.
bool is_consistent_read(ClientOp op);

enum class ReadConsistency : uint8_t {
  kDefault = 0,  // the server's configured default
  kLinearizable = 1,
  kLease = 2,
  kEventual = 3,
};

const char* to_string(ReadConsistency consistency);

// A client's place in its sequence of writes. A retried write carries the
// same seq, so the server applies it once and answers the retry with the
// first result.
struct ClientSession {
  uint64_t client_id = 0;  // never 0; the index an open-session answered
  uint64_t seq = 0;        // >= 1, one per new write
  uint64_t acked_seq = 0;  // < seq: every seq <= this is settled at the client

  bool operator==(const ClientSession&) const = default;
};

// One request. Only the fields of its op are encoded; the others must stay
// at their defaults (a decoded request has them so).
struct ClientRequest {
  uint64_t request_id = 0;  // chosen by the client, echoed in the response
  ClientOp op = ClientOp::kStatus;
  std::optional<ClientSession> session;  // session writes only
  ReadConsistency consistency = ReadConsistency::kDefault;  // reads only
  uint32_t timeout_ms = 0;  // how long the server may take; 0: its default

  std::string data;  // propose: the command; read: the query
  // propose, read: `data` is a built-in KV machine's encoded command or
  // query, refused by a node running another machine.
  bool kv = false;
  std::string key;      // put, put-with-TTL, delete, compare-and-swap, get
  std::string value;    // put, put-with-TTL; compare-and-swap: the new value
  uint64_t ttl_ms = 0;  // put-with-TTL
  // compare-and-swap: the value the key must hold; nullopt: must be absent.
  std::optional<std::string> expected;
  std::vector<std::string> keys;  // get-multi
  std::string prefix;             // scan-prefix
  uint32_t limit = 0;             // scan-prefix
  // add-learner, promote, remove-node; transfer-leader (0: any voter).
  uint64_t node_id = 0;
  std::string address;  // add-learner: the new member's peer "host:port"
  // watch: which events (`key` is the key, prefix or topic; empty for
  // kCluster), from which revision (0: from now), and how far behind the
  // newest the watch may fall (0: the server's default, 10,000 events).
  watch::Stream stream = watch::Stream::kKv;
  bool is_prefix = false;
  uint64_t start_revision = 0;
  uint64_t max_lag = 0;

  bool operator==(const ClientRequest&) const = default;
};

struct Member {
  uint64_t id = 0;
  std::string address;  // "host:port" of its peer listener
  bool voter = true;    // false: a learner

  bool operator==(const Member&) const = default;
};

// The answer to kStatus and kMembers, as the answering node sees it.
struct NodeStatus {
  uint64_t node_id = 0;
  raft::Role role = raft::Role::kFollower;  // its value is DENGINE_ROLE_*
  uint64_t term = 0;
  uint64_t leader_id = 0;  // 0: none known
  std::string leader_address;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t last_log_index = 0;
  uint64_t snapshot_index = 0;
  std::vector<Member> members;  // voters, then learners, by id

  bool operator==(const NodeStatus&) const = default;
};

// One response; which fields are set depends on the request's op (see
// docs/client-protocol.md).
struct ClientResponse {
  uint64_t request_id = 0;
  int32_t status = 0;   // DENGINE_OK (0) or a DENGINE_ERR_* code (< 0)
  std::string message;  // why, when status is not DENGINE_OK
  // On DENGINE_ERR_NOT_LEADER: the leader, when known, and the "host:port"
  // its clients reach it at.
  uint64_t leader_id = 0;
  std::string leader_address;

  // Writes: the machine's result status and the entry's index (snapshot:
  // the snapshot's last included index; open-session: the new client id).
  int32_t result = 0;
  uint64_t index = 0;
  // A session write answered from the first application of its seq; with
  // result_known false the first result was not remembered and result,
  // data, found and value carry nothing.
  bool duplicate = false;
  bool result_known = true;

  std::string data;  // propose: the result bytes; read: the answer
  // get: whether the key exists, and its value; put, put-with-TTL and
  // delete: whether the key existed; compare-and-swap: whether the key
  // exists after the command, and its value then.
  bool found = false;
  std::string value;
  std::vector<std::optional<std::string>> values;  // get-multi, by key
  // scan-prefix: key-value pairs in key order, and whether more matched.
  std::vector<std::pair<std::string, std::string>> entries;
  bool more = false;
  std::optional<NodeStatus> node_status;  // status, members
  // watch: a batch of events, in revision order.
  std::vector<watch::Event> events;

  bool operator==(const ClientResponse&) const = default;
};

std::string encode_client_request(const ClientRequest& request);
// Returns an empty string and sets *out, or says what is wrong with
// `payload`. Checks the wire format only (see validate_client_request).
std::string decode_client_request(std::string_view payload, ClientRequest* out);

// The rules on a request's arguments, kept apart from the wire format so
// that the client refuses a bad call before sending it and the server can
// answer one with DENGINE_ERR_INVALID_ARGUMENT and the request's id.
// Returns an empty string, or what is wrong.
std::string validate_client_request(const ClientRequest& request);

std::string encode_client_response(const ClientResponse& response);
std::string decode_client_response(std::string_view payload,
                                   ClientResponse* out);

}  // namespace dengine::net
