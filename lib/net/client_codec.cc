#include "net/client_codec.h"

#include "base/byte_codec.h"
#include "dengine.h"

namespace dengine::net {

namespace {

using base::ByteReader;
using base::ByteWriter;

constexpr uint8_t kLastOp = static_cast<uint8_t>(ClientOp::kMetrics);
constexpr uint8_t kLastStream = static_cast<uint8_t>(watch::Stream::kCluster);
constexpr uint8_t kLastEventType =
    static_cast<uint8_t>(watch::EventType::kLeader);
constexpr uint8_t kLastConsistency =
    static_cast<uint8_t>(ReadConsistency::kEventual);
constexpr uint8_t kLastRole = static_cast<uint8_t>(raft::Role::kLeader);
// The status answer carries the role as its DENGINE_ROLE_* value.
static_assert(static_cast<int>(raft::Role::kFollower) == DENGINE_ROLE_FOLLOWER);
static_assert(static_cast<int>(raft::Role::kPreCandidate) ==
              DENGINE_ROLE_PRE_CANDIDATE);
static_assert(static_cast<int>(raft::Role::kCandidate) ==
              DENGINE_ROLE_CANDIDATE);
static_assert(static_cast<int>(raft::Role::kLeader) == DENGINE_ROLE_LEADER);

constexpr uint8_t kRequestHasSession = 1;
// propose / read: the bytes are a built-in KV machine's command or query.
constexpr uint8_t kRequestKv = 2;

constexpr uint8_t kResponseFound = 1;
constexpr uint8_t kResponseMore = 2;
constexpr uint8_t kResponseDuplicate = 4;
constexpr uint8_t kResponseResultUnknown = 8;
constexpr uint8_t kResponseHasNodeStatus = 16;
constexpr uint8_t kResponseHasEvents = 32;
constexpr uint8_t kKnownResponseFlags =
    kResponseFound | kResponseMore | kResponseDuplicate |
    kResponseResultUnknown | kResponseHasNodeStatus | kResponseHasEvents;

// watch: the key is a prefix.
constexpr uint8_t kWatchPrefix = 1;

// The fewest bytes one element of a list takes, to bound a count by the
// bytes that remain before allocating: a key (length), an optional value
// (presence byte), a key-value pair (two lengths), a member (id, address
// length, voter byte).
constexpr size_t kMinKeySize = 4;
constexpr size_t kMinOptionalValueSize = 1;
constexpr size_t kMinEntrySize = 4 + 4;
constexpr size_t kMinMemberSize = 8 + 4 + 1;
// An event: revision, type, key, value, has-previous, node id, term,
// address.
constexpr size_t kMinEventSize = 8 + 1 + 4 + 4 + 1 + 8 + 8 + 4;

bool read_string(ByteReader* r, std::string* out) {
  std::string_view v;
  if (!r->bytes(&v)) return false;
  out->assign(v);
  return true;
}

// A byte that must be 0 or 1.
bool read_bool(ByteReader* r, bool* out) {
  uint8_t v = 0;
  if (!r->u8(&v) || v > 1) return false;
  *out = v == 1;
  return true;
}

// A u32 count of elements of at least `min_size` bytes each, no more than
// the remaining bytes can hold.
std::string read_count(ByteReader* r, size_t min_size, const char* what,
                       uint32_t* count) {
  if (!r->u32(count)) return std::string(what) + " count truncated";
  if (*count > r->remaining() / min_size) {
    return std::string(what) + " count " + std::to_string(*count) +
           " exceeds the remaining bytes";
  }
  return "";
}

void encode_request_body(ByteWriter* w, const ClientRequest& q) {
  switch (q.op) {
    case ClientOp::kPropose:
    case ClientOp::kRead:
      w->bytes(q.data);
      break;
    case ClientOp::kPut:
      w->bytes(q.key);
      w->bytes(q.value);
      break;
    case ClientOp::kPutWithTtl:
      w->bytes(q.key);
      w->bytes(q.value);
      w->u64(q.ttl_ms);
      break;
    case ClientOp::kDelete:
    case ClientOp::kGet:
      w->bytes(q.key);
      break;
    case ClientOp::kCompareAndSwap:
      w->bytes(q.key);
      w->u8(q.expected ? 1 : 0);
      if (q.expected) w->bytes(*q.expected);
      w->bytes(q.value);
      break;
    case ClientOp::kGetMulti:
      w->u32(static_cast<uint32_t>(q.keys.size()));
      for (const std::string& key : q.keys) w->bytes(key);
      break;
    case ClientOp::kScanPrefix:
      w->bytes(q.prefix);
      w->u32(q.limit);
      break;
    case ClientOp::kAddLearner:
      w->u64(q.node_id);
      w->bytes(q.address);
      break;
    case ClientOp::kPromote:
    case ClientOp::kRemoveNode:
    case ClientOp::kTransferLeader:
      w->u64(q.node_id);
      break;
    case ClientOp::kWatch:
      w->u8(static_cast<uint8_t>(q.stream));
      w->u8(q.is_prefix ? kWatchPrefix : 0);
      w->bytes(q.key);
      w->u64(q.start_revision);
      w->u64(q.max_lag);
      break;
    case ClientOp::kStatus:
    case ClientOp::kMembers:
    case ClientOp::kSnapshot:
    case ClientOp::kOpenSession:
    case ClientOp::kMetrics:
      break;
  }
}

std::string decode_watch_fields(ByteReader* r, ClientRequest* q) {
  uint8_t stream = 0;
  uint8_t flags = 0;
  if (!r->u8(&stream) || !r->u8(&flags) || !read_string(r, &q->key) ||
      !r->u64(&q->start_revision) || !r->u64(&q->max_lag)) {
    return "watch fields malformed";
  }
  if (stream == 0 || stream > kLastStream) {
    return "unknown watch stream " + std::to_string(stream);
  }
  if ((flags & ~kWatchPrefix) != 0) {
    return "unknown watch flags " + std::to_string(flags);
  }
  q->stream = static_cast<watch::Stream>(stream);
  q->is_prefix = (flags & kWatchPrefix) != 0;
  return "";
}

std::string decode_request_body(ByteReader* r, ClientRequest* q) {
  bool ok = true;
  switch (q->op) {
    case ClientOp::kPropose:
    case ClientOp::kRead:
      ok = read_string(r, &q->data);
      break;
    case ClientOp::kPut:
      ok = read_string(r, &q->key) && read_string(r, &q->value);
      break;
    case ClientOp::kPutWithTtl:
      ok = read_string(r, &q->key) && read_string(r, &q->value) &&
           r->u64(&q->ttl_ms);
      break;
    case ClientOp::kDelete:
    case ClientOp::kGet:
      ok = read_string(r, &q->key);
      break;
    case ClientOp::kCompareAndSwap: {
      bool has_expected = false;
      ok = read_string(r, &q->key) && read_bool(r, &has_expected) &&
           (!has_expected || read_string(r, &q->expected.emplace())) &&
           read_string(r, &q->value);
      break;
    }
    case ClientOp::kGetMulti: {
      uint32_t count = 0;
      std::string error = read_count(r, kMinKeySize, "key", &count);
      if (!error.empty()) return error;
      q->keys.resize(count);
      for (std::string& key : q->keys) ok = ok && read_string(r, &key);
      break;
    }
    case ClientOp::kScanPrefix:
      ok = read_string(r, &q->prefix) && r->u32(&q->limit);
      break;
    case ClientOp::kAddLearner:
      ok = r->u64(&q->node_id) && read_string(r, &q->address);
      break;
    case ClientOp::kPromote:
    case ClientOp::kRemoveNode:
    case ClientOp::kTransferLeader:
      ok = r->u64(&q->node_id);
      break;
    case ClientOp::kWatch:
      return decode_watch_fields(r, q);
    case ClientOp::kStatus:
    case ClientOp::kMembers:
    case ClientOp::kSnapshot:
    case ClientOp::kOpenSession:
    case ClientOp::kMetrics:
      break;
  }
  if (!ok) return std::string(to_string(q->op)) + " fields malformed";
  return "";
}

std::string decode_request_fields(ByteReader* r, ClientRequest* q) {
  uint8_t version = 0;
  if (!r->u8(&version)) return "empty";
  if (version != kClientProtocolVersion) {
    return "unsupported protocol version " + std::to_string(version) +
           " (this side speaks " + std::to_string(kClientProtocolVersion) + ")";
  }
  uint8_t op = 0;
  uint8_t flags = 0;
  uint8_t consistency = 0;
  if (!r->u64(&q->request_id) || !r->u8(&op) || !r->u8(&flags) ||
      !r->u8(&consistency) || !r->u32(&q->timeout_ms)) {
    return "header truncated";
  }
  if (op == 0 || op > kLastOp) return "unknown op " + std::to_string(op);
  if ((flags & ~(kRequestHasSession | kRequestKv)) != 0) {
    return "unknown flags " + std::to_string(flags);
  }
  q->kv = (flags & kRequestKv) != 0;
  if (q->kv && op != static_cast<uint8_t>(ClientOp::kPropose) &&
      op != static_cast<uint8_t>(ClientOp::kRead)) {
    return "the KV flag on an op other than propose or read";
  }
  if (consistency > kLastConsistency) {
    return "unknown read consistency " + std::to_string(consistency);
  }
  q->op = static_cast<ClientOp>(op);
  q->consistency = static_cast<ReadConsistency>(consistency);
  if ((flags & kRequestHasSession) != 0) {
    ClientSession& s = q->session.emplace();
    if (!r->u64(&s.client_id) || !r->u64(&s.seq) || !r->u64(&s.acked_seq)) {
      return "session truncated";
    }
  }
  std::string error = decode_request_body(r, q);
  if (error.empty() && !r->at_end()) {
    error = std::to_string(r->remaining()) + " trailing bytes";
  }
  return error;
}

void encode_node_status(ByteWriter* w, const NodeStatus& s) {
  w->u64(s.node_id);
  w->u8(static_cast<uint8_t>(s.role));
  w->u64(s.term);
  w->u64(s.leader_id);
  w->bytes(s.leader_address);
  w->u64(s.commit_index);
  w->u64(s.applied_index);
  w->u64(s.last_log_index);
  w->u64(s.snapshot_index);
  w->u32(static_cast<uint32_t>(s.members.size()));
  for (const Member& m : s.members) {
    w->u64(m.id);
    w->bytes(m.address);
    w->u8(m.voter ? 1 : 0);
  }
}

std::string decode_node_status(ByteReader* r, NodeStatus* s) {
  uint8_t role = 0;
  if (!r->u64(&s->node_id) || !r->u8(&role) || !r->u64(&s->term) ||
      !r->u64(&s->leader_id) || !read_string(r, &s->leader_address) ||
      !r->u64(&s->commit_index) || !r->u64(&s->applied_index) ||
      !r->u64(&s->last_log_index) || !r->u64(&s->snapshot_index)) {
    return "node status truncated";
  }
  if (role > kLastRole) return "unknown role " + std::to_string(role);
  s->role = static_cast<raft::Role>(role);
  uint32_t count = 0;
  std::string error = read_count(r, kMinMemberSize, "member", &count);
  if (!error.empty()) return error;
  s->members.resize(count);
  for (Member& m : s->members) {
    if (!r->u64(&m.id) || !read_string(r, &m.address) ||
        !read_bool(r, &m.voter)) {
      return "member malformed";
    }
  }
  return "";
}

void encode_event(ByteWriter* w, const watch::Event& e) {
  w->u64(e.revision);
  w->u8(static_cast<uint8_t>(e.type));
  w->bytes(e.key);
  w->bytes(e.value);
  w->u8(e.prev_value ? 1 : 0);
  if (e.prev_value) w->bytes(*e.prev_value);
  w->u64(e.node_id);
  w->u64(e.term);
  w->bytes(e.address);
}

std::string decode_events(ByteReader* r, std::vector<watch::Event>* out) {
  uint32_t count = 0;
  std::string error = read_count(r, kMinEventSize, "event", &count);
  if (!error.empty()) return error;
  if (count == 0) return "the events flag with no events";
  out->resize(count);
  for (watch::Event& e : *out) {
    uint8_t type = 0;
    bool has_prev = false;
    if (!r->u64(&e.revision) || !r->u8(&type) || !read_string(r, &e.key) ||
        !read_string(r, &e.value) || !read_bool(r, &has_prev) ||
        (has_prev && !read_string(r, &e.prev_value.emplace())) ||
        !r->u64(&e.node_id) || !r->u64(&e.term) ||
        !read_string(r, &e.address)) {
      return "event malformed";
    }
    if (type == 0 || type > kLastEventType) {
      return "unknown event type " + std::to_string(type);
    }
    e.type = static_cast<watch::EventType>(type);
  }
  return "";
}

std::string decode_response_lists(ByteReader* r, ClientResponse* p) {
  uint32_t count = 0;
  std::string error = read_count(r, kMinOptionalValueSize, "value", &count);
  if (!error.empty()) return error;
  p->values.resize(count);
  for (std::optional<std::string>& value : p->values) {
    bool present = false;
    if (!read_bool(r, &present) ||
        (present && !read_string(r, &value.emplace()))) {
      return "value malformed";
    }
  }
  error = read_count(r, kMinEntrySize, "entry", &count);
  if (!error.empty()) return error;
  p->entries.resize(count);
  for (auto& [key, value] : p->entries) {
    if (!read_string(r, &key) || !read_string(r, &value)) {
      return "entry truncated";
    }
  }
  return "";
}

std::string decode_response_fields(ByteReader* r, ClientResponse* p) {
  uint8_t version = 0;
  if (!r->u8(&version)) return "empty";
  if (version != kClientProtocolVersion) {
    return "unsupported protocol version " + std::to_string(version) +
           " (this side speaks " + std::to_string(kClientProtocolVersion) + ")";
  }
  uint32_t status = 0;
  uint8_t flags = 0;
  uint32_t result = 0;
  if (!r->u64(&p->request_id) || !r->u32(&status) || !r->u8(&flags) ||
      !read_string(r, &p->message) || !r->u64(&p->leader_id) ||
      !read_string(r, &p->leader_address) || !r->u32(&result) ||
      !r->u64(&p->index) || !read_string(r, &p->data) ||
      !read_string(r, &p->value)) {
    return "fields truncated";
  }
  p->status = static_cast<int32_t>(status);
  p->result = static_cast<int32_t>(result);
  if (p->status > 0) return "positive status " + std::to_string(p->status);
  if ((flags & ~kKnownResponseFlags) != 0) {
    return "unknown flags " + std::to_string(flags);
  }
  p->found = (flags & kResponseFound) != 0;
  p->more = (flags & kResponseMore) != 0;
  p->duplicate = (flags & kResponseDuplicate) != 0;
  p->result_known = (flags & kResponseResultUnknown) == 0;
  std::string error = decode_response_lists(r, p);
  if (error.empty() && (flags & kResponseHasNodeStatus) != 0) {
    error = decode_node_status(r, &p->node_status.emplace());
  }
  if (error.empty() && (flags & kResponseHasEvents) != 0) {
    error = decode_events(r, &p->events);
  }
  if (error.empty() && !r->at_end()) {
    error = std::to_string(r->remaining()) + " trailing bytes";
  }
  return error;
}

}  // namespace

const char* to_string(ClientOp op) {
  switch (op) {
    case ClientOp::kPropose:
      return "propose";
    case ClientOp::kRead:
      return "read";
    case ClientOp::kPut:
      return "put";
    case ClientOp::kPutWithTtl:
      return "put-with-ttl";
    case ClientOp::kDelete:
      return "delete";
    case ClientOp::kCompareAndSwap:
      return "compare-and-swap";
    case ClientOp::kGet:
      return "get";
    case ClientOp::kGetMulti:
      return "get-multi";
    case ClientOp::kScanPrefix:
      return "scan-prefix";
    case ClientOp::kStatus:
      return "status";
    case ClientOp::kMembers:
      return "members";
    case ClientOp::kAddLearner:
      return "add-learner";
    case ClientOp::kPromote:
      return "promote";
    case ClientOp::kRemoveNode:
      return "remove-node";
    case ClientOp::kTransferLeader:
      return "transfer-leader";
    case ClientOp::kSnapshot:
      return "snapshot";
    case ClientOp::kOpenSession:
      return "open-session";
    case ClientOp::kWatch:
      return "watch";
    case ClientOp::kMetrics:
      return "metrics";
  }
  return "unknown";
}

bool is_session_write(ClientOp op) {
  switch (op) {
    case ClientOp::kPropose:
    case ClientOp::kPut:
    case ClientOp::kPutWithTtl:
    case ClientOp::kDelete:
    case ClientOp::kCompareAndSwap:
      return true;
    default:
      return false;
  }
}

bool is_consistent_read(ClientOp op) {
  switch (op) {
    case ClientOp::kRead:
    case ClientOp::kGet:
    case ClientOp::kGetMulti:
    case ClientOp::kScanPrefix:
      return true;
    default:
      return false;
  }
}

const char* to_string(ReadConsistency consistency) {
  switch (consistency) {
    case ReadConsistency::kDefault:
      return "default";
    case ReadConsistency::kLinearizable:
      return "linearizable";
    case ReadConsistency::kLease:
      return "lease";
    case ReadConsistency::kEventual:
      return "eventual";
  }
  return "unknown";
}

std::string encode_client_request(const ClientRequest& request) {
  std::string out;
  ByteWriter w(&out);
  w.u8(kClientProtocolVersion);
  w.u64(request.request_id);
  w.u8(static_cast<uint8_t>(request.op));
  w.u8((request.session ? kRequestHasSession : 0) |
       (request.kv ? kRequestKv : 0));
  w.u8(static_cast<uint8_t>(request.consistency));
  w.u32(request.timeout_ms);
  if (request.session) {
    w.u64(request.session->client_id);
    w.u64(request.session->seq);
    w.u64(request.session->acked_seq);
  }
  encode_request_body(&w, request);
  return out;
}

std::string decode_client_request(std::string_view payload,
                                  ClientRequest* out) {
  ByteReader r(payload);
  ClientRequest request;
  const std::string error = decode_request_fields(&r, &request);
  if (!error.empty()) return "client request: " + error;
  *out = std::move(request);
  return "";
}

std::string validate_client_request(const ClientRequest& q) {
  const std::string op = to_string(q.op);
  if (q.session) {
    const ClientSession& s = *q.session;
    if (!is_session_write(q.op)) return op + ": a session on a non-write";
    if (s.client_id == 0) return op + ": session client id 0";
    if (s.seq == 0) return op + ": session seq 0";
    if (s.acked_seq >= s.seq) {
      return op + ": session acked seq " + std::to_string(s.acked_seq) +
             " not below seq " + std::to_string(s.seq);
    }
  }
  if (q.consistency != ReadConsistency::kDefault && !is_consistent_read(q.op)) {
    return op + ": a read consistency on a non-read";
  }
  switch (q.op) {
    case ClientOp::kPut:
    case ClientOp::kDelete:
    case ClientOp::kCompareAndSwap:
    case ClientOp::kGet:
      if (q.key.empty()) return op + ": empty key";
      break;
    case ClientOp::kPutWithTtl:
      if (q.key.empty()) return op + ": empty key";
      if (q.ttl_ms == 0) return op + ": ttl 0";
      break;
    case ClientOp::kGetMulti:
      if (q.keys.empty()) return op + ": no keys";
      for (const std::string& key : q.keys) {
        if (key.empty()) return op + ": empty key";
      }
      break;
    case ClientOp::kScanPrefix:
      if (q.limit == 0) return op + ": limit 0";
      break;
    case ClientOp::kWatch:
      if (q.stream == watch::Stream::kCluster) {
        if (!q.key.empty() || q.is_prefix) {
          return op + ": a key or prefix on the cluster stream";
        }
      } else if (q.key.empty() && !q.is_prefix) {
        return op + ": empty key (an empty prefix watches every key)";
      }
      break;
    case ClientOp::kAddLearner:
      if (q.address.empty()) return op + ": empty address";
      [[fallthrough]];
    case ClientOp::kPromote:
    case ClientOp::kRemoveNode:
      if (q.node_id == 0) return op + ": node id 0";
      break;
    case ClientOp::kPropose:
    case ClientOp::kRead:
    case ClientOp::kStatus:
    case ClientOp::kMembers:
    case ClientOp::kTransferLeader:
    case ClientOp::kSnapshot:
    case ClientOp::kOpenSession:
    case ClientOp::kMetrics:
      break;
  }
  return "";
}

std::string encode_client_response(const ClientResponse& response) {
  std::string out;
  ByteWriter w(&out);
  w.u8(kClientProtocolVersion);
  w.u64(response.request_id);
  w.u32(static_cast<uint32_t>(response.status));
  w.u8((response.found ? kResponseFound : 0) |
       (response.more ? kResponseMore : 0) |
       (response.duplicate ? kResponseDuplicate : 0) |
       (response.result_known ? 0 : kResponseResultUnknown) |
       (response.node_status ? kResponseHasNodeStatus : 0) |
       (response.events.empty() ? 0 : kResponseHasEvents));
  w.bytes(response.message);
  w.u64(response.leader_id);
  w.bytes(response.leader_address);
  w.u32(static_cast<uint32_t>(response.result));
  w.u64(response.index);
  w.bytes(response.data);
  w.bytes(response.value);
  w.u32(static_cast<uint32_t>(response.values.size()));
  for (const std::optional<std::string>& value : response.values) {
    w.u8(value ? 1 : 0);
    if (value) w.bytes(*value);
  }
  w.u32(static_cast<uint32_t>(response.entries.size()));
  for (const auto& [key, value] : response.entries) {
    w.bytes(key);
    w.bytes(value);
  }
  if (response.node_status) encode_node_status(&w, *response.node_status);
  if (!response.events.empty()) {
    w.u32(static_cast<uint32_t>(response.events.size()));
    for (const watch::Event& e : response.events) encode_event(&w, e);
  }
  return out;
}

std::string decode_client_response(std::string_view payload,
                                   ClientResponse* out) {
  ByteReader r(payload);
  ClientResponse response;
  const std::string error = decode_response_fields(&r, &response);
  if (!error.empty()) return "client response: " + error;
  *out = std::move(response);
  return "";
}

}  // namespace dengine::net
