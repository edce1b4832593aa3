#include "client/client.h"

#include "client/watch.h"

#include <algorithm>
#include <limits>
#include <thread>

namespace dengine::client {

namespace {

using net::ClientOp;
using net::ClientRequest;
using net::ClientResponse;

// The status a response carries, as the call's result.
Status answer_status(const ClientResponse& response) {
  return Status{response.status, response.message, response.leader_id,
                response.leader_address, false};
}

// Runs `request` and, when it went through, returns the response's own
// status.
Status run(Client* client, ClientRequest request, ClientResponse* response,
           std::chrono::milliseconds deadline = {}) {
  Status status = client->call(std::move(request), response, deadline);
  if (!status.ok()) return status;
  return answer_status(*response);
}

// A write whose result the caller asked for: unknown when the server
// answered a retry after forgetting the first application's result.
Status require_result(const ClientResponse& response) {
  if (response.result_known) return {};
  return Status::error(DENGINE_ERR_TIMEOUT,
                       "the write was applied once, but the server no longer "
                       "knows its result");
}

Status malformed_answer(const std::string& what) {
  return Status::error(DENGINE_ERR_CORRUPTION, "server answer: " + what);
}

}  // namespace

static_assert(static_cast<int>(ReadConsistency::kDefault) ==
                  DENGINE_READ_DEFAULT &&
              static_cast<int>(ReadConsistency::kLinearizable) ==
                  DENGINE_READ_LINEARIZABLE &&
              static_cast<int>(ReadConsistency::kLease) == DENGINE_READ_LEASE &&
              static_cast<int>(ReadConsistency::kEventual) ==
                  DENGINE_READ_EVENTUAL);

bool to_read_consistency(int dengine_read, ReadConsistency* out) {
  if (dengine_read < DENGINE_READ_DEFAULT ||
      dengine_read > DENGINE_READ_EVENTUAL) {
    return false;
  }
  *out = static_cast<ReadConsistency>(dengine_read);
  return true;
}

std::string ClientOptions::validate() const {
  if (endpoints.empty()) return "endpoints: none given";
  for (const std::string& text : endpoints) {
    net::HostPort endpoint;
    std::string error =
        net::parse_address(text, /*allow_any_port=*/false, &endpoint);
    if (!error.empty()) return "endpoints: " + error;
  }
  using std::chrono::milliseconds;
  if (connect_timeout <= milliseconds::zero()) {
    return "connect_timeout: must be positive";
  }
  if (request_timeout <= milliseconds::zero()) {
    return "request_timeout: must be positive";
  }
  if (deadline <= milliseconds::zero()) return "deadline: must be positive";
  if (max_retries < 0) return "max_retries: must not be negative";
  if (backoff_initial < milliseconds::zero()) {
    return "backoff_initial: must not be negative";
  }
  if (backoff_max < backoff_initial) {
    return "backoff_max: must be at least backoff_initial";
  }
  if (max_response_bytes == 0) return "max_response_bytes: must be positive";
  return "";
}

ClientOptions ClientOptions::bounded_by_deadline(
    std::vector<std::string> endpoints, std::chrono::milliseconds deadline) {
  ClientOptions options;
  options.endpoints = std::move(endpoints);
  options.max_retries = std::numeric_limits<int>::max();
  if (deadline > std::chrono::milliseconds::zero()) {
    options.deadline = deadline;
    options.request_timeout = std::min(options.request_timeout, deadline);
  }
  return options;
}

Status Client::create(ClientOptions options, std::unique_ptr<Client>* out) {
  std::string error = options.validate();
  if (!error.empty()) {
    return Status::error(DENGINE_ERR_INVALID_ARGUMENT,
                         "client options: " + error);
  }
  out->reset(new Client(std::move(options)));
  return {};
}

Client::Client(ClientOptions options)
    : options_(std::move(options)),
      rng_(std::random_device()()),
      target_(options_.endpoints.front()) {}

Client::~Client() {
  std::vector<std::shared_ptr<Watch>> running;
  {
    std::lock_guard lock(watches_mu_);
    for (const std::weak_ptr<Watch>& w : watches_) {
      if (std::shared_ptr<Watch> watch = w.lock()) running.push_back(watch);
    }
    watches_.clear();
  }
  for (const std::shared_ptr<Watch>& watch : running) {
    watch->stop(DENGINE_ERR_SHUTTING_DOWN, "the client was closed");
  }
}

Status Client::watch(const WatchSpec& spec,
                     std::function<void(const watch::Event&)> on_event,
                     std::function<void(const watch::WatchEnd&)> on_end,
                     std::shared_ptr<Watch>* out) {
  out->reset();
  std::unique_ptr<Watch> started;
  Status status = Watch::start(options_, spec, std::move(on_event),
                               std::move(on_end), &started);
  if (!status.ok()) return status;
  *out = std::move(started);
  std::lock_guard lock(watches_mu_);
  std::erase_if(watches_,
                [](const std::weak_ptr<Watch>& w) { return w.expired(); });
  watches_.push_back(*out);
  return status;
}

Status Client::start_session() {
  std::lock_guard<std::mutex> lock(mu_);
  if (client_id_ != 0) return {};
  return open_session(Clock::now() + options_.deadline);
}

uint64_t Client::client_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return client_id_;
}

Status Client::call(ClientRequest request, ClientResponse* response,
                    std::chrono::milliseconds deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  request.session.reset();
  std::string error = net::validate_client_request(request);
  if (!error.empty()) {
    return Status::error(DENGINE_ERR_INVALID_ARGUMENT, error);
  }
  const Clock::time_point ends =
      Clock::now() + (deadline > std::chrono::milliseconds::zero()
                          ? deadline
                          : options_.deadline);
  if (net::is_session_write(request.op)) {
    return call_write(&request, ends, response);
  }
  return call_with_retries(&request, ends, response, nullptr);
}

Status Client::call_write(ClientRequest* request, Clock::time_point deadline,
                          ClientResponse* response) {
  for (bool reopened = false;; reopened = true) {
    if (client_id_ == 0) {
      Status status = open_session(deadline);
      if (!status.ok()) return status;
    }
    // A new seq; every earlier one is settled, as calls run one at a time.
    request->session = net::ClientSession{client_id_, last_seq_ + 1, last_seq_};
    bool applied_before = false;
    Status status =
        call_with_retries(request, deadline, response, &applied_before);
    // Answered or given up on: never sent again, so acknowledged next time.
    last_seq_ = request->session->seq;
    if (!status.ok() || response->status != DENGINE_ERR_SESSION_EXPIRED) {
      return status;
    }
    client_id_ = 0;
    if (applied_before) {
      response->message +=
          "; the write's outcome is unknown: an earlier "
          "attempt of it may have been applied";
      return status;
    }
    // No attempt can have reached the log unrefused: the write is known not
    // to have applied and is retried in a new session, once, so that a
    // server that keeps refusing cannot make the call spin.
    if (reopened) {
      response->message += "; the write was not applied";
      return status;
    }
  }
}

Status Client::open_session(Clock::time_point deadline) {
  ClientRequest request;
  request.op = ClientOp::kOpenSession;
  ClientResponse response;
  Status status = call_with_retries(&request, deadline, &response, nullptr);
  if (status.ok()) status = answer_status(response);
  if (!status.ok()) {
    status.message =
        "opening a session (nothing was written): " + status.message;
    return status;
  }
  if (response.index == 0) {
    return malformed_answer("open-session without a client id");
  }
  client_id_ = response.index;
  last_seq_ = 0;
  return {};
}

Status Client::call_with_retries(ClientRequest* request,
                                 Clock::time_point deadline,
                                 ClientResponse* response,
                                 bool* applied_before) {
  Status last;
  int attempts = 0;
  int backoffs = 0;
  bool pause = false;             // back off before the next attempt
  bool redirected = false;        // the last attempt was sent to a leader hint
  bool may_have_applied = false;  // an attempt so far
  size_t tls_failures = 0;        // attempts in a row whose TLS failed
  while (attempts <= options_.max_retries) {
    if (pause) back_off(backoffs++, deadline);
    if (attempts > 0 && Clock::now() >= deadline) break;
    ++attempts;
    bool reused = false;
    bool sent = false;
    last = attempt(request, deadline, response, &reused, &sent);
    if (!last.ok()) {
      may_have_applied = may_have_applied || sent;
      // A refused certificate is refused again: once every endpoint in a
      // row has failed TLS, give up with the reason instead of retrying
      // until the deadline.
      tls_failures = last.tls_failed ? tls_failures + 1 : 0;
      if (tls_failures >= options_.endpoints.size()) break;
      if (reused && last.code == DENGINE_ERR_IO) {
        // The server closed a connection left idle since an earlier call
        // (e.g. it restarted): reconnect to the same server at once.
        connection_.reset();
        pause = false;
      } else {
        move_to_next_endpoint();
        pause = true;
      }
      redirected = false;
      continue;
    }
    last = answer_status(*response);
    if (applied_before != nullptr) *applied_before = may_have_applied;
    // A node answers NOT_LEADER only for a write it never proposed, or whose
    // entry another leader's replaced.
    may_have_applied =
        may_have_applied || response->status != DENGINE_ERR_NOT_LEADER;
    net::HostPort hint;
    switch (response->status) {
      case DENGINE_ERR_NOT_LEADER:
        if (!response->leader_address.empty() &&
            response->leader_address != target_ &&
            net::parse_address(response->leader_address,
                               /*allow_any_port=*/false, &hint)
                .empty()) {
          // Follow a hint at once, but not around a loop of stale hints.
          connection_.reset();
          target_ = response->leader_address;
          pause = redirected;
          redirected = true;
          continue;
        }
        break;
      case DENGINE_ERR_TIMEOUT:
      case DENGINE_ERR_SHUTTING_DOWN:
        break;
      default:
        return {};
    }
    move_to_next_endpoint();
    pause = true;
    redirected = false;
  }
  last.message = "gave up after " + std::to_string(attempts) +
                 (attempts == 1 ? " attempt: " : " attempts: ") + last.message;
  return last;
}

Status Client::attempt(ClientRequest* request, Clock::time_point deadline,
                       ClientResponse* response, bool* reused, bool* sent) {
  *reused = connection_ != nullptr;
  *sent = false;
  if (!connection_) {
    net::HostPort endpoint;
    std::string error =
        net::parse_address(target_, /*allow_any_port=*/false, &endpoint);
    if (!error.empty()) {
      return Status::error(DENGINE_ERR_INVALID_ARGUMENT, error);
    }
    const TlsTarget tls{options_.tls, options_.tls_server_name};
    Status status = Connection::open(
        endpoint, std::min(deadline, Clock::now() + options_.connect_timeout),
        options_.max_response_bytes, &connection_, /*wake_fd=*/-1, &tls);
    if (!status.ok()) return status;
  }
  const Clock::time_point now = Clock::now();
  const Clock::time_point answer_deadline =
      std::min(deadline, now + options_.request_timeout);
  const auto limit_ms =
      std::chrono::ceil<std::chrono::milliseconds>(answer_deadline - now)
          .count();
  request->request_id = next_request_id_++;
  request->timeout_ms = static_cast<uint32_t>(
      std::clamp<int64_t>(limit_ms, 1, std::numeric_limits<uint32_t>::max()));
  *sent = true;
  Status status =
      connection_->send(net::encode_frame(net::FrameType::kClientRequest,
                                          net::encode_client_request(*request)),
                        answer_deadline);
  if (!status.ok()) return status;
  net::Frame frame;
  status = connection_->receive(&frame, answer_deadline);
  if (!status.ok()) return status;
  if (frame.type != net::FrameType::kClientResponse) {
    return Status::error(DENGINE_ERR_CORRUPTION,
                         target_ + " sent a " + net::to_string(frame.type) +
                             " frame instead of a client response");
  }
  std::string error = net::decode_client_response(frame.payload, response);
  if (!error.empty()) {
    return Status::error(DENGINE_ERR_CORRUPTION,
                         "from " + target_ + ": " + error);
  }
  if (response->request_id != request->request_id) {
    return Status::error(
        DENGINE_ERR_CORRUPTION,
        target_ + " answered request " + std::to_string(response->request_id) +
            " instead of " + std::to_string(request->request_id));
  }
  return {};
}

void Client::move_to_next_endpoint() {
  connection_.reset();
  endpoint_index_ = (endpoint_index_ + 1) % options_.endpoints.size();
  target_ = options_.endpoints[endpoint_index_];
}

void Client::back_off(int backoffs, Clock::time_point deadline) {
  const auto initial = options_.backoff_initial;
  auto delay = options_.backoff_max;
  if (backoffs < 20 && initial * (int64_t{1} << backoffs) < delay) {
    delay = initial * (int64_t{1} << backoffs);
  }
  // Jitter in [delay/2, delay], so that clients that failed together do not
  // all come back together.
  const auto jittered =
      std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(
          delay.count() / 2, delay.count())(rng_));
  const auto left = deadline - Clock::now();
  if (left > Clock::duration::zero()) {
    std::this_thread::sleep_for(std::min<Clock::duration>(jittered, left));
  }
}

Status Client::put(std::string_view key, std::string_view value) {
  ClientRequest q;
  q.op = ClientOp::kPut;
  q.key = key;
  q.value = value;
  ClientResponse r;
  return run(this, std::move(q), &r);
}

Status Client::put_with_ttl(std::string_view key, std::string_view value,
                            std::chrono::milliseconds ttl) {
  ClientRequest q;
  q.op = ClientOp::kPutWithTtl;
  q.key = key;
  q.value = value;
  q.ttl_ms = ttl.count() > 0 ? static_cast<uint64_t>(ttl.count()) : 0;
  ClientResponse r;
  return run(this, std::move(q), &r);
}

Status Client::erase(std::string_view key, bool* existed) {
  ClientRequest q;
  q.op = ClientOp::kDelete;
  q.key = key;
  ClientResponse r;
  Status status = run(this, std::move(q), &r);
  if (!status.ok() || existed == nullptr) return status;
  status = require_result(r);
  if (status.ok()) *existed = r.found;
  return status;
}

Status Client::compare_and_swap(std::string_view key,
                                std::optional<std::string_view> expected,
                                std::string_view value, bool* swapped,
                                std::optional<std::string>* current) {
  ClientRequest q;
  q.op = ClientOp::kCompareAndSwap;
  q.key = key;
  if (expected) q.expected.emplace(*expected);
  q.value = value;
  ClientResponse r;
  Status status = run(this, std::move(q), &r);
  if (status.ok()) status = require_result(r);
  if (!status.ok()) return status;
  // The machine's result: 0 swapped, else the current value did not match.
  if (swapped != nullptr) *swapped = r.result == 0;
  if (current != nullptr) {
    *current =
        r.found ? std::optional<std::string>(std::move(r.value)) : std::nullopt;
  }
  return status;
}

Status Client::get(std::string_view key, std::optional<std::string>* value,
                   ReadConsistency consistency, uint64_t* revision) {
  ClientRequest q;
  q.op = ClientOp::kGet;
  q.key = key;
  q.consistency = consistency;
  ClientResponse r;
  Status status = run(this, std::move(q), &r);
  if (!status.ok()) return status;
  *value =
      r.found ? std::optional<std::string>(std::move(r.value)) : std::nullopt;
  if (revision != nullptr) *revision = r.index;
  return status;
}

Status Client::get_multi(const std::vector<std::string>& keys,
                         std::vector<std::optional<std::string>>* values,
                         ReadConsistency consistency) {
  ClientRequest q;
  q.op = ClientOp::kGetMulti;
  q.keys = keys;
  q.consistency = consistency;
  ClientResponse r;
  Status status = run(this, std::move(q), &r);
  if (!status.ok()) return status;
  if (r.values.size() != keys.size()) {
    return malformed_answer(std::to_string(r.values.size()) + " values for " +
                            std::to_string(keys.size()) + " keys");
  }
  *values = std::move(r.values);
  return status;
}

Status Client::scan_prefix(std::string_view prefix, uint32_t limit,
                           ScanResult* out, ReadConsistency consistency) {
  ClientRequest q;
  q.op = ClientOp::kScanPrefix;
  q.prefix = prefix;
  q.limit = limit;
  q.consistency = consistency;
  ClientResponse r;
  Status status = run(this, std::move(q), &r);
  if (!status.ok()) return status;
  if (r.entries.size() > limit) {
    return malformed_answer(std::to_string(r.entries.size()) +
                            " entries for a limit of " + std::to_string(limit));
  }
  out->entries = std::move(r.entries);
  out->more = r.more;
  out->revision = r.index;
  return status;
}

Status Client::propose(std::string_view command, ProposeResult* out,
                       const CallOptions& call) {
  ClientRequest q;
  q.op = ClientOp::kPropose;
  q.data = command;
  q.kv = call.kv;
  ClientResponse r;
  Status status = run(this, std::move(q), &r, call.deadline);
  if (!status.ok() || out == nullptr) return status;
  out->result = r.result;
  out->data = std::move(r.data);
  out->index = r.index;
  out->result_known = r.result_known;
  return status;
}

Status Client::read(std::string_view query, std::string* answer,
                    ReadConsistency consistency, const CallOptions& call) {
  ReadResult result;
  Status status = read(query, &result, consistency, call);
  if (status.ok()) *answer = std::move(result.data);
  return status;
}

Status Client::read(std::string_view query, ReadResult* out,
                    ReadConsistency consistency, const CallOptions& call) {
  ClientRequest q;
  q.op = ClientOp::kRead;
  q.data = query;
  q.consistency = consistency;
  q.kv = call.kv;
  ClientResponse r;
  Status status = run(this, std::move(q), &r, call.deadline);
  if (status.ok()) {
    out->data = std::move(r.data);
    out->revision = r.index;
  }
  return status;
}

Status Client::status(net::NodeStatus* out) {
  ClientRequest q;
  q.op = ClientOp::kStatus;
  ClientResponse r;
  Status status = run(this, std::move(q), &r);
  if (!status.ok()) return status;
  if (!r.node_status) return malformed_answer("status without a node status");
  *out = std::move(*r.node_status);
  return status;
}

Status Client::metrics(std::string* text) {
  ClientRequest q;
  q.op = ClientOp::kMetrics;
  ClientResponse r;
  Status status = run(this, std::move(q), &r);
  if (status.ok()) *text = std::move(r.data);
  return status;
}

Status Client::members(std::vector<net::Member>* out) {
  ClientRequest q;
  q.op = ClientOp::kMembers;
  ClientResponse r;
  Status status = run(this, std::move(q), &r);
  if (!status.ok()) return status;
  if (!r.node_status) return malformed_answer("members without a node status");
  *out = std::move(r.node_status->members);
  return status;
}

Status Client::add_learner(uint64_t node_id, std::string_view address) {
  ClientRequest q;
  q.op = ClientOp::kAddLearner;
  q.node_id = node_id;
  q.address = address;
  ClientResponse r;
  return run(this, std::move(q), &r);
}

Status Client::promote(uint64_t node_id) {
  ClientRequest q;
  q.op = ClientOp::kPromote;
  q.node_id = node_id;
  ClientResponse r;
  return run(this, std::move(q), &r);
}

Status Client::remove_node(uint64_t node_id) {
  ClientRequest q;
  q.op = ClientOp::kRemoveNode;
  q.node_id = node_id;
  ClientResponse r;
  return run(this, std::move(q), &r);
}

Status Client::transfer_leader(uint64_t node_id) {
  ClientRequest q;
  q.op = ClientOp::kTransferLeader;
  q.node_id = node_id;
  ClientResponse r;
  return run(this, std::move(q), &r);
}

Status Client::snapshot(uint64_t* index) {
  ClientRequest q;
  q.op = ClientOp::kSnapshot;
  ClientResponse r;
  Status status = run(this, std::move(q), &r);
  if (status.ok() && index != nullptr) *index = r.index;
  return status;
}

}  // namespace dengine::client
