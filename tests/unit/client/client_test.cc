// The client against fake servers: every operation's request and answer,
// leader discovery through redirects and endpoint failover, retries that
// keep a write's seq (so the server applies it once), the session opened
// before the first write and again when it expired, and giving up.
#include "client/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "fake_server.h"

namespace dengine::client {
namespace {

using namespace std::chrono_literals;
using net::ClientOp;
using net::ClientRequest;
using net::ClientResponse;
using testing::FakeServer;
using testing::RefusingPort;
using testing::Reply;

// A one-node KV store behind a FakeServer that opens sessions and applies
// each session write once, as dengined does, answering a retry with the
// first result and refusing a session it does not hold.
class FakeKv {
 public:
  Reply handle(const ClientRequest& q) {
    std::lock_guard<std::mutex> lock(mu_);
    if (q.op == ClientOp::kOpenSession) {
      ClientResponse opened;
      opened.index = ++last_index_;
      sessions_.insert(opened.index);
      return Reply::answer(opened);
    }
    if (q.session) {
      if (sessions_.count(q.session->client_id) == 0) {
        return Reply::error(
            DENGINE_ERR_SESSION_EXPIRED,
            "session " + std::to_string(q.session->client_id) + " unknown");
      }
      const auto key = std::make_pair(q.session->client_id, q.session->seq);
      if (auto it = applied_.find(key); it != applied_.end()) {
        ClientResponse first = it->second;
        first.duplicate = true;
        return Reply::answer(first);
      }
      ClientResponse response = apply(q);
      applied_[key] = response;
      ++writes_applied_;
      if (drop_next_write_reply_) {
        drop_next_write_reply_ = false;
        if (expire_after_drop_) sessions_.clear();
        return Reply{Reply::Kind::kDrop, {}};
      }
      return Reply::answer(response);
    }
    return Reply::answer(apply(q));
  }

  // The next write is applied, but its connection closes before the reply;
  // with `then_expire`, every session expires right after it.
  void drop_next_write_reply(bool then_expire = false) {
    std::lock_guard<std::mutex> lock(mu_);
    drop_next_write_reply_ = true;
    expire_after_drop_ = then_expire;
  }
  // Forgets every session, as eviction from the session table does.
  void expire_sessions() {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.clear();
  }
  int writes_applied() const {
    std::lock_guard<std::mutex> lock(mu_);
    return writes_applied_;
  }
  uint64_t ttl_of(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = ttl_ms_.find(key);
    return it == ttl_ms_.end() ? 0 : it->second;
  }

 private:
  ClientResponse apply(const ClientRequest& q) {
    ClientResponse r;
    auto it = data_.find(q.key);
    const bool exists = it != data_.end();
    switch (q.op) {
      case ClientOp::kPut:
      case ClientOp::kPutWithTtl:
        r.found = exists;
        data_[q.key] = q.value;
        ttl_ms_[q.key] = q.ttl_ms;
        break;
      case ClientOp::kDelete:
        r.found = exists;
        data_.erase(q.key);
        break;
      case ClientOp::kCompareAndSwap: {
        const bool match =
            q.expected ? exists && it->second == *q.expected : !exists;
        if (match) data_[q.key] = q.value;
        r.result = match ? 0 : 1;
        r.found = match || exists;
        r.value = data_.count(q.key) ? data_[q.key] : "";
        break;
      }
      case ClientOp::kGet:
        r.found = exists;
        if (exists) r.value = it->second;
        break;
      case ClientOp::kGetMulti:
        for (const std::string& key : q.keys) {
          auto found = data_.find(key);
          r.values.push_back(found == data_.end()
                                 ? std::nullopt
                                 : std::optional<std::string>(found->second));
        }
        break;
      case ClientOp::kScanPrefix:
        for (auto e = data_.lower_bound(q.prefix);
             e != data_.end() && e->first.starts_with(q.prefix); ++e) {
          if (r.entries.size() == q.limit) {
            r.more = true;
            break;
          }
          r.entries.emplace_back(e->first, e->second);
        }
        break;
      case ClientOp::kPropose:
        r.data = q.data + " applied";
        r.result = 5;
        break;
      case ClientOp::kRead:
        r.data = "answer to " + q.data;
        break;
      case ClientOp::kStatus:
      case ClientOp::kMembers:
        r.node_status = net::NodeStatus{};
        r.node_status->node_id = 1;
        r.node_status->role = raft::Role::kLeader;
        r.node_status->members = {{1, "127.0.0.1:7001", true},
                                  {2, "127.0.0.1:7002", false}};
        break;
      case ClientOp::kSnapshot:
        r.index = 77;
        break;
      case ClientOp::kMetrics:
        r.data = "dengine_commit_index 7\n";
        break;
      case ClientOp::kAddLearner:
      case ClientOp::kPromote:
      case ClientOp::kRemoveNode:
      case ClientOp::kTransferLeader:
      case ClientOp::kOpenSession:
      case ClientOp::kWatch:  // not served by this fake
        break;
    }
    if (q.session) r.index = ++last_index_;
    // Reads report the revision they reflect: the last write's.
    if (is_consistent_read(q.op)) r.index = last_index_;
    return r;
  }

  mutable std::mutex mu_;
  std::map<std::string, std::string> data_;
  std::map<std::string, uint64_t> ttl_ms_;
  std::map<std::pair<uint64_t, uint64_t>, ClientResponse> applied_;
  std::set<uint64_t> sessions_;
  uint64_t last_index_ = 0;
  int writes_applied_ = 0;
  bool drop_next_write_reply_ = false;
  bool expire_after_drop_ = false;
};

ClientOptions options_for(std::vector<std::string> endpoints) {
  ClientOptions options;
  options.endpoints = std::move(endpoints);
  options.backoff_initial = 1ms;
  options.backoff_max = 4ms;
  options.max_retries = 5;
  return options;
}

std::unique_ptr<Client> make_client(ClientOptions options) {
  std::unique_ptr<Client> client;
  Status status = Client::create(std::move(options), &client);
  EXPECT_TRUE(status.ok()) << status.message;
  return client;
}

FakeServer::Handler kv_handler(FakeKv* kv) {
  return [kv](const ClientRequest& q) { return kv->handle(q); };
}

TEST(Client, KvOperations) {
  FakeKv kv;
  FakeServer server(kv_handler(&kv));
  auto client = make_client(options_for({server.address()}));

  ASSERT_TRUE(client->put("user/1", "ada").ok());
  ASSERT_TRUE(client->put_with_ttl("user/2", "bob", 1500ms).ok());
  EXPECT_EQ(kv.ttl_of("user/2"), 1500u);
  std::optional<std::string> value;
  uint64_t revision = 0;
  ASSERT_TRUE(
      client->get("user/1", &value, ReadConsistency::kDefault, &revision).ok());
  EXPECT_EQ(value, "ada");
  EXPECT_EQ(revision, 3u);  // the session, then the two writes
  ASSERT_TRUE(client->get("nobody", &value).ok());
  EXPECT_EQ(value, std::nullopt);

  bool swapped = false;
  std::optional<std::string> current;
  ASSERT_TRUE(
      client->compare_and_swap("user/1", "ada", "eve", &swapped, &current)
          .ok());
  EXPECT_TRUE(swapped);
  EXPECT_EQ(current, "eve");
  ASSERT_TRUE(
      client->compare_and_swap("user/1", "ada", "zed", &swapped, &current)
          .ok());
  EXPECT_FALSE(swapped);
  EXPECT_EQ(current, "eve");
  ASSERT_TRUE(
      client->compare_and_swap("user/3", std::nullopt, "cy", &swapped, &current)
          .ok());
  EXPECT_TRUE(swapped);

  std::vector<std::optional<std::string>> values;
  ASSERT_TRUE(client
                  ->get_multi({"user/1", "none", "user/3"}, &values,
                              ReadConsistency::kLinearizable)
                  .ok());
  EXPECT_EQ(values, (std::vector<std::optional<std::string>>{
                        "eve", std::nullopt, "cy"}));

  ScanResult scan;
  ASSERT_TRUE(client->scan_prefix("user/", 2, &scan).ok());
  EXPECT_EQ(scan.entries, (std::vector<std::pair<std::string, std::string>>{
                              {"user/1", "eve"}, {"user/2", "bob"}}));
  EXPECT_TRUE(scan.more);
  EXPECT_EQ(scan.revision, 6u);  // and the three swaps

  bool existed = false;
  ASSERT_TRUE(client->erase("user/2", &existed).ok());
  EXPECT_TRUE(existed);
  ASSERT_TRUE(client->erase("user/2", &existed).ok());
  EXPECT_FALSE(existed);

  // Reads carry their consistency; writes carry none. The first write
  // opened the session.
  const std::vector<ClientRequest> requests = server.requests();
  EXPECT_EQ(requests[0].op, ClientOp::kOpenSession);
  EXPECT_EQ(requests[8].op, ClientOp::kGetMulti);
  EXPECT_EQ(requests[8].consistency, ReadConsistency::kLinearizable);
  EXPECT_EQ(requests[1].consistency, ReadConsistency::kDefault);
  EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(Client, RawAndAdminOperations) {
  FakeKv kv;
  FakeServer server(kv_handler(&kv));
  auto client = make_client(options_for({server.address()}));

  ProposeResult result;
  ASSERT_TRUE(client->propose("cmd", &result).ok());
  EXPECT_EQ(result.result, 5);
  EXPECT_EQ(result.data, "cmd applied");
  EXPECT_EQ(result.index, 2u);  // after the session's registration
  EXPECT_TRUE(result.result_known);
  std::string answer;
  ASSERT_TRUE(client->read("q", &answer, ReadConsistency::kEventual).ok());
  EXPECT_EQ(answer, "answer to q");

  net::NodeStatus status;
  ASSERT_TRUE(client->status(&status).ok());
  EXPECT_EQ(status.role, raft::Role::kLeader);
  std::vector<net::Member> members;
  ASSERT_TRUE(client->members(&members).ok());
  EXPECT_EQ(members, (std::vector<net::Member>{{1, "127.0.0.1:7001", true},
                                               {2, "127.0.0.1:7002", false}}));

  ASSERT_TRUE(client->add_learner(4, "127.0.0.1:7004").ok());
  ASSERT_TRUE(client->promote(4).ok());
  ASSERT_TRUE(client->transfer_leader().ok());
  ASSERT_TRUE(client->remove_node(4).ok());
  uint64_t index = 0;
  ASSERT_TRUE(client->snapshot(&index).ok());
  EXPECT_EQ(index, 77u);

  const std::vector<ClientRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 10u);
  EXPECT_EQ(requests[5].op, ClientOp::kAddLearner);
  EXPECT_EQ(requests[5].node_id, 4u);
  EXPECT_EQ(requests[5].address, "127.0.0.1:7004");
  EXPECT_EQ(requests[7].op, ClientOp::kTransferLeader);
  EXPECT_EQ(requests[7].node_id, 0u);
  EXPECT_FALSE(requests[5].session);  // membership is not a session write
}

TEST(Client, OpensASessionBeforeItsFirstWrite) {
  FakeKv kv;
  FakeServer server(kv_handler(&kv));
  auto client = make_client(options_for({server.address()}));
  std::optional<std::string> value;
  ASSERT_TRUE(client->get("a", &value).ok());
  EXPECT_EQ(client->client_id(), 0u);  // reads need no session
  ASSERT_TRUE(client->put("a", "1").ok());
  ASSERT_TRUE(client->get("a", &value).ok());
  ASSERT_TRUE(client->propose("x").ok());
  const std::vector<ClientRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_FALSE(requests[0].session);
  // The id is what the open-session answered: the registration's index.
  EXPECT_EQ(requests[1].op, ClientOp::kOpenSession);
  EXPECT_FALSE(requests[1].session);
  EXPECT_EQ(client->client_id(), 1u);
  EXPECT_EQ(requests[2].session, (net::ClientSession{1, 1, 0}));
  EXPECT_FALSE(requests[3].session);
  EXPECT_EQ(requests[4].session, (net::ClientSession{1, 2, 1}));
  // Ids are distinct on a connection, and the server has a time limit.
  EXPECT_NE(requests[2].request_id, requests[3].request_id);
  EXPECT_GT(requests[2].timeout_ms, 0u);
  EXPECT_LE(requests[2].timeout_ms, 5000u);
}

TEST(Client, StartSessionOpensOneAheadOfTheFirstWrite) {
  FakeKv kv;
  FakeServer server(kv_handler(&kv));
  auto client = make_client(options_for({server.address()}));
  ASSERT_TRUE(client->start_session().ok());
  ASSERT_TRUE(client->start_session().ok());  // already open: nothing sent
  EXPECT_EQ(client->client_id(), 1u);
  ASSERT_TRUE(client->put("a", "1").ok());
  const std::vector<ClientRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].op, ClientOp::kOpenSession);
  EXPECT_EQ(requests[1].session, (net::ClientSession{1, 1, 0}));
}

TEST(Client, AWriteThatCannotOpenASessionIsNotSent) {
  FakeServer busy([](const ClientRequest&) {
    return Reply::error(DENGINE_ERR_BUSY, "not ready");
  });
  auto client = make_client(options_for({busy.address()}));
  Status status = client->put("k", "v");
  EXPECT_EQ(status.code, DENGINE_ERR_BUSY);
  EXPECT_EQ(status.message,
            "opening a session (nothing was written): not ready");
  ASSERT_EQ(busy.requests().size(), 1u);
  EXPECT_EQ(busy.requests()[0].op, ClientOp::kOpenSession);
}

TEST(Client, RetriesAWriteRefusedOnItsFirstAttemptInANewSession) {
  FakeKv kv;
  FakeServer server(kv_handler(&kv));
  auto client = make_client(options_for({server.address()}));
  ASSERT_TRUE(client->put("a", "1").ok());
  kv.expire_sessions();
  // Refused unapplied on its only attempt: nothing can apply it later, so
  // it is sent again in a new session, transparently.
  ASSERT_TRUE(client->put("b", "2").ok());
  EXPECT_EQ(kv.writes_applied(), 2);
  std::optional<std::string> value;
  ASSERT_TRUE(client->get("b", &value).ok());
  EXPECT_EQ(value, "2");
  const std::vector<ClientRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 6u);
  EXPECT_EQ(requests[2].session, (net::ClientSession{1, 2, 1}));
  EXPECT_EQ(requests[3].op, ClientOp::kOpenSession);
  EXPECT_EQ(requests[4].session, (net::ClientSession{3, 1, 0}));
  EXPECT_EQ(client->client_id(), 3u);
}

TEST(Client, RetriesInANewSessionAfterARedirectToo) {
  FakeKv kv;
  FakeServer leader(kv_handler(&kv));
  std::atomic<bool> leading{true};
  FakeServer former([&](const ClientRequest& q) {
    if (leading) return kv.handle(q);
    ClientResponse r;
    r.status = DENGINE_ERR_NOT_LEADER;
    r.leader_id = 2;
    r.leader_address = leader.address();
    return Reply::answer(r);
  });
  auto client = make_client(options_for({former.address()}));
  ASSERT_TRUE(client->put("a", "1").ok());
  leading = false;
  kv.expire_sessions();
  // A node answers NOT_LEADER only to a write it never proposed, so the
  // refusal at the leader still comes before any copy could apply.
  ASSERT_TRUE(client->put("b", "2").ok());
  EXPECT_EQ(kv.writes_applied(), 2);
  ASSERT_EQ(former.requests().size(), 3u);
  const std::vector<ClientRequest> at_leader = leader.requests();
  ASSERT_EQ(at_leader.size(), 3u);
  EXPECT_EQ(at_leader[0].session, former.requests()[2].session);
  EXPECT_EQ(at_leader[1].op, ClientOp::kOpenSession);
  EXPECT_EQ(at_leader[2].session->seq, 1u);
}

TEST(Client, ReportsAnExpiredSessionWhenAnEarlierAttemptMayHaveApplied) {
  FakeKv kv;
  FakeServer server(kv_handler(&kv));
  auto client = make_client(options_for({server.address()}));
  ASSERT_TRUE(client->put("a", "1").ok());
  // Applied, its reply lost, and the session evicted before the retry: the
  // retry is refused, and the write must not be sent again.
  kv.drop_next_write_reply(/*then_expire=*/true);
  Status status = client->put("b", "2");
  EXPECT_EQ(status.code, DENGINE_ERR_SESSION_EXPIRED);
  EXPECT_NE(status.message.find("outcome is unknown"), std::string::npos)
      << status.message;
  EXPECT_EQ(kv.writes_applied(), 2);  // "b" once
  // The next write opens a new session.
  ASSERT_TRUE(client->put("c", "3").ok());
  EXPECT_EQ(kv.writes_applied(), 3);
  const std::vector<ClientRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 6u);
  EXPECT_EQ(requests[2].session, requests[3].session);
  EXPECT_EQ(requests[4].op, ClientOp::kOpenSession);
  EXPECT_EQ(requests[5].session->seq, 1u);
  EXPECT_NE(requests[5].session->client_id, requests[3].session->client_id);
}

TEST(Client, ReopensASessionOnlyOncePerWrite) {
  uint64_t next_id = 0;
  FakeServer refusing([&](const ClientRequest& q) {
    if (q.op == ClientOp::kOpenSession) {
      ClientResponse r;
      r.index = ++next_id;
      return Reply::answer(r);
    }
    return Reply::error(DENGINE_ERR_SESSION_EXPIRED, "gone");
  });
  auto client = make_client(options_for({refusing.address()}));
  Status status = client->put("k", "v");
  EXPECT_EQ(status.code, DENGINE_ERR_SESSION_EXPIRED);
  EXPECT_EQ(status.message, "gone; the write was not applied");
  EXPECT_EQ(refusing.requests().size(), 4u);  // open, put, open, put
}

TEST(Client, FollowsNotLeaderToTheLeader) {
  FakeKv kv;
  FakeServer leader(kv_handler(&kv));
  FakeServer follower([&](const ClientRequest&) {
    ClientResponse r;
    r.status = DENGINE_ERR_NOT_LEADER;
    r.leader_id = 2;
    r.leader_address = leader.address();
    return Reply::answer(r);
  });
  auto client = make_client(options_for({follower.address()}));
  ASSERT_TRUE(client->put("k", "v").ok());
  ASSERT_TRUE(client->put("k", "w").ok());

  // The session was opened at the leader, and the writes went straight
  // there.
  ASSERT_EQ(follower.requests().size(), 1u);
  EXPECT_EQ(follower.requests()[0].op, ClientOp::kOpenSession);
  const std::vector<ClientRequest> at_leader = leader.requests();
  ASSERT_EQ(at_leader.size(), 3u);
  EXPECT_EQ(at_leader[0].op, ClientOp::kOpenSession);
  EXPECT_EQ(at_leader[1].session->seq, 1u);
  EXPECT_EQ(at_leader[2].session->seq, 2u);
  EXPECT_EQ(kv.writes_applied(), 2);
}

TEST(Client, RetriesADroppedWriteWithTheSameSeq) {
  FakeKv kv;
  FakeServer server(kv_handler(&kv));
  auto client = make_client(options_for({server.address()}));
  kv.drop_next_write_reply();
  ProposeResult result;
  ASSERT_TRUE(client->propose("once", &result).ok());
  EXPECT_EQ(result.data, "once applied");
  EXPECT_EQ(kv.writes_applied(), 1);  // the retry was not applied again

  ASSERT_TRUE(client->propose("next").ok());
  const std::vector<ClientRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);  // after the open-session
  EXPECT_EQ(requests[1].session, requests[2].session);
  EXPECT_NE(requests[1].request_id, requests[2].request_id);
  EXPECT_EQ(requests[3].session->seq, requests[1].session->seq + 1);
  EXPECT_EQ(requests[3].session->acked_seq, requests[1].session->seq);
  EXPECT_EQ(server.connections_accepted(), 2);
}

TEST(Client, MovesPastAnEndpointThatIsDown) {
  RefusingPort down;
  FakeKv kv;
  FakeServer server(kv_handler(&kv));
  auto client = make_client(options_for({down.address(), server.address()}));
  ASSERT_TRUE(client->put("k", "v").ok());
  EXPECT_EQ(server.requests().size(), 2u);  // open-session, put
}

TEST(Client, MovesOnWhenANodeHasNoLeaderOrTimesOut) {
  FakeKv kv;
  // The session opened at the first node, which then lost its leader.
  FakeServer no_leader([&](const ClientRequest& q) {
    if (q.op == ClientOp::kOpenSession) return kv.handle(q);
    return Reply::error(DENGINE_ERR_NOT_LEADER);
  });
  FakeServer slow([](const ClientRequest&) {
    return Reply::error(DENGINE_ERR_TIMEOUT, "no quorum");
  });
  FakeServer server(kv_handler(&kv));
  auto client = make_client(
      options_for({no_leader.address(), slow.address(), server.address()}));
  ASSERT_TRUE(client->put("k", "v").ok());
  ASSERT_EQ(no_leader.requests().size(), 2u);
  ASSERT_EQ(slow.requests().size(), 1u);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(no_leader.requests()[1].session, server.requests()[0].session);
  EXPECT_EQ(slow.requests()[0].session, server.requests()[0].session);
  EXPECT_EQ(kv.writes_applied(), 1);
}

TEST(Client, ReconnectsToTheSameServerAfterAnIdleConnectionCloses) {
  FakeKv kv;
  FakeServer closing([&](const ClientRequest& q) {
    Reply reply = kv.handle(q);
    reply.kind = Reply::Kind::kAnswerAndClose;
    return reply;
  });
  FakeServer other(kv_handler(&kv));
  auto client = make_client(options_for({closing.address(), other.address()}));
  ASSERT_TRUE(client->put("k", "1").ok());
  ASSERT_TRUE(client->put("k", "2").ok());
  EXPECT_EQ(closing.requests().size(), 3u);  // open-session, two puts
  EXPECT_EQ(other.requests().size(), 0u);
}

TEST(Client, GivesUpAfterMaxRetries) {
  RefusingPort down;
  ClientOptions options = options_for({down.address()});
  options.max_retries = 2;
  auto client = make_client(options);
  Status status = client->put("k", "v");
  EXPECT_EQ(status.code, DENGINE_ERR_IO);
  EXPECT_NE(status.message.find("gave up after 3 attempts"), std::string::npos)
      << status.message;
  EXPECT_NE(status.message.find("connect to " + down.address()),
            std::string::npos)
      << status.message;
}

TEST(Client, GivesUpOnALoopOfStaleLeaderHints) {
  std::string address_b;
  FakeServer a([&](const ClientRequest&) {
    ClientResponse r;
    r.status = DENGINE_ERR_NOT_LEADER;
    r.leader_id = 2;
    r.leader_address = address_b;
    return Reply::answer(r);
  });
  FakeServer b([&](const ClientRequest&) {
    ClientResponse r;
    r.status = DENGINE_ERR_NOT_LEADER;
    r.leader_id = 1;
    r.leader_address = a.address();
    return Reply::answer(r);
  });
  address_b = b.address();
  ClientOptions options = options_for({a.address()});
  options.max_retries = 4;
  auto client = make_client(options);
  Status status = client->put("k", "v");
  EXPECT_EQ(status.code, DENGINE_ERR_NOT_LEADER);
  EXPECT_EQ(a.requests().size() + b.requests().size(), 5u);
  EXPECT_TRUE(status.leader_id == 1 || status.leader_id == 2);
  EXPECT_FALSE(status.leader_address.empty());
}

TEST(Client, TimesOutWhenNoAnswerComes) {
  FakeServer silent([](const ClientRequest&) {
    return Reply{Reply::Kind::kIgnore, {}};
  });
  ClientOptions options = options_for({silent.address()});
  options.request_timeout = 20ms;
  options.max_retries = 1;
  auto client = make_client(options);
  std::optional<std::string> value;
  Status status = client->get("k", &value);
  EXPECT_EQ(status.code, DENGINE_ERR_TIMEOUT);
  // A timed-out attempt's connection is not reused (its answer may still
  // come): the retry opened another.
  ASSERT_TRUE(silent.wait_for_requests(2));
  EXPECT_EQ(silent.connections_accepted(), 2);
}

TEST(Client, ReturnsTheServersOtherErrorsWithoutRetrying) {
  FakeServer busy([](const ClientRequest&) {
    return Reply::error(DENGINE_ERR_BUSY, "a membership change is pending");
  });
  auto client = make_client(options_for({busy.address()}));
  Status status = client->add_learner(4, "127.0.0.1:7004");
  EXPECT_EQ(status.code, DENGINE_ERR_BUSY);
  EXPECT_EQ(status.message, "a membership change is pending");
  EXPECT_EQ(busy.requests().size(), 1u);
}

TEST(Client, RefusesBadArgumentsWithoutSending) {
  FakeKv kv;
  FakeServer server(kv_handler(&kv));
  auto client = make_client(options_for({server.address()}));
  EXPECT_EQ(client->put("", "v").code, DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(client->put_with_ttl("k", "v", 0ms).code,
            DENGINE_ERR_INVALID_ARGUMENT);
  ScanResult scan;
  EXPECT_EQ(client->scan_prefix("p", 0, &scan).code,
            DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(client->promote(0).code, DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(server.requests().empty());
  // A refused write used no seq.
  ASSERT_TRUE(client->put("k", "v").ok());
  EXPECT_EQ(server.requests()[1].session->seq, 1u);
}

TEST(Client, RejectsAnswersThatDoNotFitTheRequest) {
  FakeServer wrong([](const ClientRequest&) {
    ClientResponse r;
    r.values = {"only one"};
    return Reply::answer(r);
  });
  auto client = make_client(options_for({wrong.address()}));
  std::vector<std::optional<std::string>> values;
  Status status = client->get_multi({"a", "b"}, &values);
  EXPECT_EQ(status.code, DENGINE_ERR_CORRUPTION);
  EXPECT_EQ(status.message, "server answer: 1 values for 2 keys");
  net::NodeStatus node_status;
  EXPECT_EQ(client->status(&node_status).code, DENGINE_ERR_CORRUPTION);
}

TEST(Client, ReportsAWriteWhoseResultTheServerForgot) {
  FakeServer forgetful([](const ClientRequest& q) {
    ClientResponse r;
    if (q.op == ClientOp::kOpenSession) {
      r.index = 1;
      return Reply::answer(r);
    }
    r.duplicate = true;
    r.result_known = false;
    return Reply::answer(r);
  });
  auto client = make_client(options_for({forgetful.address()}));
  // The write itself is known to be applied...
  EXPECT_TRUE(client->erase("k").ok());
  ProposeResult result;
  ASSERT_TRUE(client->propose("x", &result).ok());
  EXPECT_FALSE(result.result_known);
  // ...but not its outcome.
  bool swapped = false;
  EXPECT_EQ(client->compare_and_swap("k", "a", "b", &swapped).code,
            DENGINE_ERR_TIMEOUT);
  bool existed = false;
  EXPECT_EQ(client->erase("k", &existed).code, DENGINE_ERR_TIMEOUT);
}

TEST(Client, IsSafeToShareBetweenThreads) {
  FakeKv kv;
  FakeServer server(kv_handler(&kv));
  auto client = make_client(options_for({server.address()}));
  constexpr int kThreads = 4;
  constexpr int kWritesEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesEach; ++i) {
        const std::string key = std::to_string(t) + "/" + std::to_string(i);
        EXPECT_TRUE(client->put(key, "v").ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  // One session, and seqs 1..100, each acknowledging every earlier one.
  std::set<uint64_t> seqs;
  int sessions_opened = 0;
  for (const ClientRequest& q : server.requests()) {
    if (q.op == ClientOp::kOpenSession) {
      ++sessions_opened;
      continue;
    }
    EXPECT_EQ(q.session->acked_seq, q.session->seq - 1);
    seqs.insert(q.session->seq);
  }
  EXPECT_EQ(seqs.size(), static_cast<size_t>(kThreads * kWritesEach));
  EXPECT_EQ(*seqs.rbegin(), static_cast<uint64_t>(kThreads * kWritesEach));
  EXPECT_EQ(kv.writes_applied(), kThreads * kWritesEach);
  EXPECT_EQ(sessions_opened, 1);
}

TEST(Client, ValidatesOptions) {
  std::unique_ptr<Client> client;
  ClientOptions options;
  Status status = Client::create(options, &client);
  EXPECT_EQ(status.code, DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(status.message, "client options: endpoints: none given");
  options.endpoints = {"localhost"};
  EXPECT_EQ(Client::create(options, &client).message,
            "client options: endpoints: bad address \"localhost\": expected "
            "host:port");
  options.endpoints = {"localhost:7000"};
  options.request_timeout = 0ms;
  EXPECT_EQ(Client::create(options, &client).message,
            "client options: request_timeout: must be positive");
  options.request_timeout = 1s;
  options.backoff_max = 1ms;
  EXPECT_EQ(Client::create(options, &client).message,
            "client options: backoff_max: must be at least backoff_initial");
  EXPECT_EQ(client, nullptr);
}

}  // namespace
}  // namespace dengine::client
