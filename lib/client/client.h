// The client of a standalone dengine cluster (`dengined`): one connection at
// a time, to the leader when it can find it, speaking the protocol of
// docs/client-protocol.md.
//
// Leader discovery and retries: a call tries the current server; a
// NOT_LEADER answer naming the leader sends it there at once; a connection
// failure, a timeout, or a NOT_LEADER / TIMEOUT / SHUTTING_DOWN answer
// without a usable hint moves to the next endpoint after a backoff. A call
// gives up after max_retries further attempts or once its deadline passes,
// returning the last error.
//
// Exactly-once writes: every write (put, put_with_ttl, erase,
// compare_and_swap, propose) carries a session (client_id, seq, acked_seq)
// with a new seq, and every retry of it carries the same seq, so the server
// applies it once however many attempts reach it. The client opens its
// session (an open-session call, whose answer is the client id) before its
// first write. When the cluster no longer holds the session (it expired: the
// cluster keeps the most recently active clients), the write is refused
// with DENGINE_ERR_SESSION_EXPIRED, unapplied, and the client opens a new
// session for the next write; the refused write is retried in it at once if
// no earlier attempt of it can have applied (each one failed before it was
// sent or was answered NOT_LEADER), and otherwise fails with
// DENGINE_ERR_SESSION_EXPIRED, its outcome unknown. A write that ends with
// DENGINE_ERR_TIMEOUT, DENGINE_ERR_IO or DENGINE_ERR_SESSION_EXPIRED may or
// may not have been applied.
//
// Thread-safe: calls from several threads run one at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/connection.h"
#include "client/status.h"
#include "net/address.h"
#include "net/client_codec.h"
#include "net/tls_context.h"

namespace dengine::watch {
struct Event;
struct WatchEnd;
}  // namespace dengine::watch

namespace dengine::client {

using net::ReadConsistency;
class Watch;
struct WatchSpec;

// The protocol's consistency for a DENGINE_READ_* value (the same
// numbers); false for any other value.
bool to_read_consistency(int dengine_read, ReadConsistency* out);

struct ClientOptions {
  // Servers to try, "host:port" each; at least one.
  std::vector<std::string> endpoints;
  std::chrono::milliseconds connect_timeout{1000};
  // One attempt's wait for its answer; also the server's time limit for it.
  std::chrono::milliseconds request_timeout{5000};
  // A whole call, every attempt and backoff included.
  std::chrono::milliseconds deadline{30000};
  // Attempts after the first before a call gives up.
  int max_retries = 10;
  // Backoff between attempts: doubling from initial up to max, jittered.
  std::chrono::milliseconds backoff_initial{20};
  std::chrono::milliseconds backoff_max{1000};
  // The largest response frame accepted.
  uint32_t max_response_bytes = net::kDefaultMaxFramePayload;
  // Null: plaintext. Otherwise every connection speaks TLS with this
  // context: the server's certificate must chain to its CA and name
  // tls_server_name (empty: the host of the endpoint dialed), and the
  // context's certificate, if any, is presented (its common name is the
  // client's identity, docs/client-protocol.md "TLS"). A handshake that
  // fails is a DENGINE_ERR_IO attempt with the reason; the call moves to
  // the next endpoint as after any I/O error, and gives up with that reason
  // once every endpoint in a row has failed TLS (retrying cannot fix a
  // certificate). DENGINE_ERR_PERMISSION_DENIED (an admin operation from a
  // client whose identity is not an admin) is final, never retried.
  std::shared_ptr<const net::TlsContext> tls;
  std::string tls_server_name;

  // Empty when usable, else what is wrong, naming the field.
  std::string validate() const;

  // Options whose calls are bounded by their deadline alone, however many
  // attempts a leader's election takes (the C API's client): `deadline` per
  // call (zero: the default above), no attempt waiting longer than it.
  static ClientOptions bounded_by_deadline(std::vector<std::string> endpoints,
                                           std::chrono::milliseconds deadline);
};

// What one propose or read asks beyond its bytes.
struct CallOptions {
  // Above zero: bounds this call, retries included, instead of
  // ClientOptions::deadline.
  std::chrono::milliseconds deadline{0};
  // The bytes are a built-in KV machine's command or query
  // (sm/kv_command.h); a cluster running another machine refuses them.
  bool kv = false;
};

struct ProposeResult {
  int32_t result = 0;  // the machine's status for the entry
  std::string data;    // the machine's result bytes
  uint64_t index = 0;  // the entry's log index
  // false: a retry was answered after the server forgot the first result
  // (the command was applied once; result and data are unknown).
  bool result_known = true;
};

struct ScanResult {
  std::vector<std::pair<std::string, std::string>> entries;  // in key order
  bool more = false;  // more keys matched beyond the limit
  // The revision the answer reflects: a watch from revision + 1 sees every
  // change after it. 0 when the machine does not know (not a built-in one).
  uint64_t revision = 0;
};

struct ReadResult {
  std::string data;       // the machine's answer
  uint64_t revision = 0;  // as ScanResult::revision
};

class Client {
 public:
  // Checks the options; connects lazily, on the first call.
  static Status create(ClientOptions options, std::unique_ptr<Client>* out);
  // Ends the watches it started that are still running (see watch()).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Key-value operations of the built-in machines. Keys are not empty.
  Status put(std::string_view key, std::string_view value);
  Status put_with_ttl(std::string_view key, std::string_view value,
                      std::chrono::milliseconds ttl);
  // *existed (if not null): whether the key existed.
  Status erase(std::string_view key, bool* existed = nullptr);
  // Sets `key` to `value` if it holds `expected` (nullopt: if it is absent).
  // *swapped (if not null): whether it did; *current (if not null): the key's
  // value after the command (nullopt: absent).
  Status compare_and_swap(std::string_view key,
                          std::optional<std::string_view> expected,
                          std::string_view value, bool* swapped,
                          std::optional<std::string>* current = nullptr);
  // *value: nullopt when the key is absent.
  // *revision (if not null): the revision the answer reflects.
  Status get(std::string_view key, std::optional<std::string>* value,
             ReadConsistency consistency = ReadConsistency::kDefault,
             uint64_t* revision = nullptr);
  // One value per key, in order, from one consistent view.
  Status get_multi(const std::vector<std::string>& keys,
                   std::vector<std::optional<std::string>>* values,
                   ReadConsistency consistency = ReadConsistency::kDefault);
  // At most `limit` (>= 1) keys starting with `prefix`, in key order.
  Status scan_prefix(std::string_view prefix, uint32_t limit, ScanResult* out,
                     ReadConsistency consistency = ReadConsistency::kDefault);

  // An application machine's command and query, as opaque bytes, or with
  // call.kv a built-in KV machine's encoded ones.
  Status propose(std::string_view command, ProposeResult* out = nullptr,
                 const CallOptions& call = {});
  Status read(std::string_view query, std::string* answer,
              ReadConsistency consistency = ReadConsistency::kDefault,
              const CallOptions& call = {});
  Status read(std::string_view query, ReadResult* out,
              ReadConsistency consistency = ReadConsistency::kDefault,
              const CallOptions& call = {});

  // The answering node's view (the leader's, once the client found it).
  Status status(net::NodeStatus* out);
  // The answering node's metrics in the Prometheus text format.
  Status metrics(std::string* text);
  Status members(std::vector<net::Member>* out);
  // Membership changes, one at a time (DENGINE_ERR_BUSY while another is
  // pending); each returns once the change is committed.
  Status add_learner(uint64_t node_id, std::string_view address);
  Status promote(uint64_t node_id);
  Status remove_node(uint64_t node_id);
  // Hands leadership to `node_id` (0: the most caught-up voter).
  Status transfer_leader(uint64_t node_id = 0);
  // Takes a snapshot now; *index (if not null): its last included index.
  Status snapshot(uint64_t* index = nullptr);

  // Sends any request with the retry policy above, filling in its id, time
  // limit and (for a write) session, which it opens first if needed. OK
  // when a response came back: its own status is then in response->status.
  // Every method above is a call. `deadline` as for propose.
  Status call(net::ClientRequest request, net::ClientResponse* response,
              std::chrono::milliseconds deadline = {});

  // Opens the session now unless one is open (a write opens it itself when
  // needed), e.g. so that the first write's latency is its own.
  Status start_session();
  // The id of the session the next write uses; 0 until one was opened, and
  // again after the cluster let it expire.
  uint64_t client_id() const;
  // The options it was created with (e.g. for a Watch of the same servers).
  const ClientOptions& options() const { return options_; }

  // Watch::start with options(), for a watch that this client ends when it
  // is destroyed: ~Client stops each of its watches still running with
  // DENGINE_ERR_SHUTTING_DOWN ("the client was closed") and waits for its
  // on_end, unless ~Client runs inside a callback of that watch (then
  // on_end follows once the callback returns). The watch runs on its own
  // thread and connection, not this client's: it does not wait for calls.
  Status watch(const WatchSpec& spec,
               std::function<void(const watch::Event&)> on_event,
               std::function<void(const watch::WatchEnd&)> on_end,
               std::shared_ptr<Watch>* out);

 private:
  explicit Client(ClientOptions options);

  // Runs `request` until an answer that ends the call, or until the
  // attempts or the deadline run out. *applied_before (if not null): an
  // attempt before the one answered may have been applied (it was sent,
  // and not answered NOT_LEADER). Called with mu_ held, as are the next.
  Status call_with_retries(net::ClientRequest* request,
                           Clock::time_point deadline,
                           net::ClientResponse* response, bool* applied_before);
  // Runs a session write, opening a session first when none is open and
  // again when the cluster answers that it expired (see above).
  Status call_write(net::ClientRequest* request, Clock::time_point deadline,
                    net::ClientResponse* response);
  // Opens a new session: client_id_ is its id, and last_seq_ 0.
  Status open_session(Clock::time_point deadline);
  // One attempt at target_: connect if needed, send, wait for the answer.
  // *reused: the attempt ran on a connection an earlier call opened.
  // *sent: the request went out, at least in part.
  Status attempt(net::ClientRequest* request, Clock::time_point deadline,
                 net::ClientResponse* response, bool* reused, bool* sent);
  // Drops the connection and makes the next endpoint the target.
  void move_to_next_endpoint();
  // Sleeps for the next backoff delay, never past `deadline`.
  void back_off(int failures, Clock::time_point deadline);

  const ClientOptions options_;

  mutable std::mutex mu_;
  std::mt19937_64 rng_;                     // backoff jitter
  size_t endpoint_index_ = 0;               // into options_.endpoints
  std::string target_;                      // where the next attempt goes
  std::unique_ptr<Connection> connection_;  // to target_, when open
  uint64_t next_request_id_ = 1;
  // The session: its id (0: none open) and the seq of its last write; every
  // seq up to it is settled (answered or given up on), as calls run one at
  // a time.
  uint64_t client_id_ = 0;
  uint64_t last_seq_ = 0;

  // The watches watch() started, for ~Client to end; apart from mu_, as a
  // watch never waits for a call.
  std::mutex watches_mu_;
  std::vector<std::weak_ptr<Watch>> watches_;
};

}  // namespace dengine::client
