// Valid client requests, one per op with every field of the op set, and
// client responses covering every field: the round-trip cases of the codec
// tests and the seeds of the fuzz corpus.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "net/client_codec.h"

namespace dengine::net::testing {

inline constexpr uint8_t kClientOpCount =
    static_cast<uint8_t>(ClientOp::kMetrics);

// A request for `op` that passes validate_client_request.
inline ClientRequest full_request(ClientOp op) {
  ClientRequest q;
  q.request_id =
      std::numeric_limits<uint64_t>::max() - static_cast<uint8_t>(op);
  q.op = op;
  q.timeout_ms = 1500;
  if (is_session_write(op)) q.session = ClientSession{0xC11E47, 12, 11};
  if (is_consistent_read(op)) q.consistency = ReadConsistency::kLease;
  switch (op) {
    case ClientOp::kPropose:
      q.data = std::string("incr\0counter", 12);
      break;
    case ClientOp::kRead:
      q.data = "query";
      break;
    case ClientOp::kPut:
      q.key = "k";
      q.value = std::string(300, 'v');
      break;
    case ClientOp::kPutWithTtl:
      q.key = "session/1";
      q.value = "alive";
      q.ttl_ms = 30000;
      break;
    case ClientOp::kDelete:
    case ClientOp::kGet:
      q.key = "k";
      break;
    case ClientOp::kCompareAndSwap:
      q.key = "k";
      q.expected = "old";
      q.value = "new";
      break;
    case ClientOp::kGetMulti:
      q.keys = {"a", "b", std::string("c\0", 2)};
      break;
    case ClientOp::kScanPrefix:
      q.prefix = "user/";
      q.limit = 100;
      break;
    case ClientOp::kAddLearner:
      q.node_id = 4;
      q.address = "10.0.0.4:7001";
      break;
    case ClientOp::kPromote:
    case ClientOp::kRemoveNode:
    case ClientOp::kTransferLeader:
      q.node_id = 4;
      break;
    case ClientOp::kWatch:
      q.stream = watch::Stream::kKv;
      q.is_prefix = true;
      q.key = "config/";
      q.start_revision = 41;
      q.max_lag = 500;
      break;
    case ClientOp::kStatus:
    case ClientOp::kMembers:
    case ClientOp::kSnapshot:
    case ClientOp::kOpenSession:
    case ClientOp::kMetrics:
      break;
  }
  return q;
}

inline std::vector<ClientRequest> all_client_requests() {
  std::vector<ClientRequest> out;
  for (uint8_t op = 1; op <= kClientOpCount; ++op) {
    out.push_back(full_request(static_cast<ClientOp>(op)));
  }
  // The variants: compare-and-swap on absence, an empty propose, no session.
  ClientRequest cas = full_request(ClientOp::kCompareAndSwap);
  cas.expected.reset();
  out.push_back(cas);
  ClientRequest propose = full_request(ClientOp::kPropose);
  propose.data.clear();
  propose.session.reset();
  out.push_back(propose);
  // KV-flagged: a built-in machine's encoded command and query.
  ClientRequest kv_write = full_request(ClientOp::kPropose);
  kv_write.kv = true;
  out.push_back(kv_write);
  ClientRequest kv_read = full_request(ClientOp::kRead);
  kv_read.kv = true;
  out.push_back(kv_read);
  // Watches of a topic and of the cluster, from now on.
  ClientRequest topic = full_request(ClientOp::kWatch);
  topic.stream = watch::Stream::kTopic;
  topic.is_prefix = false;
  topic.key = "jobs";
  topic.start_revision = 0;
  topic.max_lag = 0;
  out.push_back(topic);
  ClientRequest cluster = full_request(ClientOp::kWatch);
  cluster.stream = watch::Stream::kCluster;
  cluster.is_prefix = false;
  cluster.key.clear();
  out.push_back(cluster);
  return out;
}

inline NodeStatus full_node_status() {
  NodeStatus s;
  s.node_id = 2;
  s.role = raft::Role::kLeader;
  s.term = 9;
  s.leader_id = 2;
  s.leader_address = "127.0.0.1:9002";
  s.commit_index = 120;
  s.applied_index = 119;
  s.last_log_index = 121;
  s.snapshot_index = 100;
  s.members = {{1, "127.0.0.1:7001", true},
               {2, "127.0.0.1:7002", true},
               {4, "[::1]:7004", false}};
  return s;
}

inline std::vector<ClientResponse> all_client_responses() {
  std::vector<ClientResponse> out;
  ClientResponse not_leader;
  not_leader.request_id = 7;
  not_leader.status = -2;  // DENGINE_ERR_NOT_LEADER
  not_leader.message = "node 1 is a follower";
  not_leader.leader_id = 2;
  not_leader.leader_address = "127.0.0.1:9002";
  out.push_back(not_leader);

  ClientResponse write;
  write.request_id = 8;
  write.result = 1;
  write.index = 4242;
  write.found = true;
  write.value = "current";
  write.data = std::string("\0\1", 2);
  out.push_back(write);

  ClientResponse duplicate;
  duplicate.request_id = 9;
  duplicate.index = 17;
  duplicate.duplicate = true;
  duplicate.result_known = false;
  out.push_back(duplicate);

  ClientResponse opened;  // open-session: the index is the new client id
  opened.request_id = 12;
  opened.index = 0x1000000001ull;
  out.push_back(opened);

  ClientResponse get_multi;
  get_multi.request_id = 10;
  get_multi.values = {"one", std::nullopt, ""};
  out.push_back(get_multi);

  ClientResponse scan;
  scan.request_id = 11;
  scan.entries = {{"user/1", "ada"}, {"user/2", ""}};
  scan.more = true;
  out.push_back(scan);

  ClientResponse status;
  status.request_id = std::numeric_limits<uint64_t>::max();
  status.node_status = full_node_status();
  out.push_back(status);

  // A watch's event batch: one event of every kind.
  ClientResponse events;
  events.request_id = 13;
  events.more = true;
  auto event = [](uint64_t revision, watch::EventType type) {
    watch::Event e;
    e.revision = revision;
    e.type = type;
    return e;
  };
  using watch::EventType;
  events.events.push_back(event(40, EventType::kPut));
  events.events.back().key = "config/a";
  events.events.back().value = "1";
  events.events.back().prev_value = "0";
  events.events.push_back(event(40, EventType::kPut));
  events.events.back().key = "config/b";
  events.events.push_back(event(41, EventType::kDelete));
  events.events.back().key = "config/a";
  events.events.back().prev_value = "1";
  events.events.push_back(event(42, EventType::kExpire));
  events.events.back().key = "config/c";
  events.events.back().prev_value = "";
  events.events.push_back(event(43, EventType::kUser));
  events.events.back().key = "jobs";
  events.events.back().value = std::string("\0job", 4);
  events.events.push_back(event(44, EventType::kMemberAdded));
  events.events.back().node_id = 4;
  events.events.back().address = "127.0.0.1:7004";
  events.events.push_back(event(45, EventType::kMemberPromoted));
  events.events.back().node_id = 4;
  events.events.push_back(event(46, EventType::kMemberRemoved));
  events.events.back().node_id = 3;
  events.events.push_back(event(47, EventType::kLeader));
  events.events.back().node_id = 2;
  events.events.back().term = 6;
  out.push_back(events);

  ClientResponse watch_end;  // the last response of a watch
  watch_end.request_id = 13;
  watch_end.status = -14;  // DENGINE_ERR_WATCH_OVERFLOW
  watch_end.message = "the watch fell behind";
  watch_end.index = 48;
  out.push_back(watch_end);

  out.push_back(ClientResponse{});
  return out;
}

}  // namespace dengine::net::testing
