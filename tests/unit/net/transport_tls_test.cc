// The peer transport over mutual TLS (net/transport.h): raft messages and
// bulk frames both ways, certificate rotation, and every refusal with its
// reason on the side that refuses: a peer of another CA, an expired
// certificate, a node presenting another node's certificate (caught by the
// acceptor and by the dialer), and plaintext and TLS transports meeting. A
// refused peer never delivers a message, and the transport keeps serving the
// good ones.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../storage/scratch_dir.h"
#include "loopback.h"
#include "net/transport.h"
#include "testkit/test_certificates.h"

namespace dengine::net {
namespace {

using std::chrono::milliseconds;
using testing::PortReservation;
using testing::RawClient;
using testkit::CertFiles;
using testkit::TestCertificateAuthority;

constexpr uint64_t kCluster = 5;
constexpr auto kDeadline = std::chrono::seconds(10);

class Inbox {
 public:
  void deliver(raft::Message m) {
    std::lock_guard lock(mu_);
    messages_.push_back(std::move(m));
    cv_.notify_all();
  }
  bool wait(size_t n, std::chrono::nanoseconds timeout = kDeadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return messages_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<raft::Message> messages_;
};

// The bulk frames a transport hands to its channel, and the reports of
// its own bulk writes.
class BulkInbox : public BulkChannel {
 public:
  void on_bulk_frame(raft::NodeId from, std::string payload) override {
    std::lock_guard lock(mu_);
    frames_.emplace_back(from, std::move(payload));
    cv_.notify_all();
  }
  void on_bulk_sent(raft::NodeId, bool ok) override {
    std::lock_guard lock(mu_);
    ++(ok ? written_ : failed_);
    cv_.notify_all();
  }
  void on_tick() override {}

  // Waits until `n` frames arrived and `written` of ours were written.
  bool wait(size_t n, size_t written) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] {
      return frames_.size() >= n && written_ >= written;
    });
  }
  std::vector<std::pair<raft::NodeId, std::string>> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }
  size_t failed() {
    std::lock_guard lock(mu_);
    return failed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<raft::NodeId, std::string>> frames_;
  size_t written_ = 0;
  size_t failed_ = 0;
};

struct Peer {
  Inbox inbox;
  BulkInbox bulk;
  std::unique_ptr<Transport> transport;
};

raft::Message heartbeat(raft::NodeId from, raft::NodeId to, uint64_t i) {
  raft::Message m;
  m.type = raft::MessageType::kHeartbeat;
  m.from = from;
  m.to = to;
  m.term = 2;
  m.commit = i;
  return m;
}

TlsOptions options_of(const CertFiles& files, const std::string& ca_file) {
  return {files.cert_file, files.key_file, ca_file, TlsVersion::k1_3,
          TlsVersion::k1_3};
}

std::shared_ptr<TlsCredentials> credentials(const CertFiles& files,
                                            const std::string& ca_file,
                                            bool check = true) {
  const TlsOptions options = options_of(files, ca_file);
  std::shared_ptr<const TlsContext> context;
  EXPECT_EQ(check ? TlsContext::load(options, &context)
                  : TlsContext::load_unchecked_for_testing(options, &context),
            "");
  return context ? std::make_shared<TlsCredentials>(context) : nullptr;
}

std::unique_ptr<Peer> make_peer(
    raft::NodeId id, uint16_t port,
    std::vector<std::pair<raft::NodeId, uint16_t>> peers,
    std::shared_ptr<TlsCredentials> tls) {
  TransportConfig config;
  config.node_id = id;
  config.cluster_id = kCluster;
  config.listen_port = port;
  for (const auto& [peer, peer_port] : peers) {
    config.peers.push_back({peer, "127.0.0.1", peer_port});
  }
  config.reconnect_initial = milliseconds(5);
  config.reconnect_max = milliseconds(50);
  config.tls = std::move(tls);
  auto peer = std::make_unique<Peer>();
  Inbox* inbox = &peer->inbox;
  peer->transport = std::make_unique<Transport>(
      config, [inbox](raft::Message m) { inbox->deliver(std::move(m)); },
      nullptr);
  peer->transport->set_bulk_channel(&peer->bulk, milliseconds(50));
  return peer;
}

// Sends heartbeats from `from` to `to` until `to` got one.
bool reaches(Peer& from, raft::NodeId from_id, Peer& to, raft::NodeId to_id) {
  const size_t before = to.inbox.size();
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  for (uint64_t i = 1; std::chrono::steady_clock::now() < deadline; ++i) {
    from.transport->send(heartbeat(from_id, to_id, i));
    if (to.inbox.wait(before + 1, milliseconds(20))) return true;
  }
  return false;
}

// Keeps sending from `from` to `to` until `peer`'s last error holds `text`
// (the connection is refused and retried meanwhile); then checks that `to`
// received nothing.
void expect_refused(Peer& from, raft::NodeId from_id, Peer& to,
                    raft::NodeId to_id, Peer& reporter,
                    const std::string& text) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  std::string last;
  for (uint64_t i = 1; std::chrono::steady_clock::now() < deadline; ++i) {
    from.transport->send(heartbeat(from_id, to_id, i));
    last = reporter.transport->stats().last_error;
    if (last.find(text) != std::string::npos) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_NE(last.find(text), std::string::npos) << "last error: " << last;
  EXPECT_EQ(to.inbox.size(), 0u) << "a refused peer delivered messages";
}

class TransportTls : public ::testing::Test {
 protected:
  // As a node does (node.cc): a write to a peer that hung up fails with
  // EPIPE instead of killing the process. Refusals make such writes here.
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }

  std::shared_ptr<TlsCredentials> node(uint64_t id) {
    return credentials(ca_.issue_node(id), ca_.ca_file());
  }
  // A CA bundle trusting both ca_ and `other`, so that a peer of the other
  // CA is refused only by the side that trusts ca_ alone.
  std::string both_cas(const TestCertificateAuthority& other) {
    const std::string path = dir_.path() + "/both.crt";
    std::ofstream(path) << std::ifstream(ca_.ca_file()).rdbuf()
                        << std::ifstream(other.ca_file()).rdbuf();
    return path;
  }

  storage::ScratchDir dir_;
  TestCertificateAuthority ca_{dir_.path()};
};

TEST_F(TransportTls, MutualTlsCarriesMessagesBothWays) {
  PortReservation pa, pb;
  auto a = make_peer(1, pa.port(), {{2, pb.port()}}, node(1));
  auto b = make_peer(2, pb.port(), {{1, pa.port()}}, node(2));
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  EXPECT_TRUE(reaches(*a, 1, *b, 2));
  EXPECT_TRUE(reaches(*b, 2, *a, 1));
  constexpr uint64_t kCount = 2000;
  const size_t before = b->inbox.size();
  for (uint64_t i = 1; i <= kCount; ++i) a->transport->send(heartbeat(1, 2, i));
  EXPECT_TRUE(b->inbox.wait(before + kCount));
  EXPECT_EQ(a->transport->stats().connections_rejected, 0u);
  EXPECT_EQ(b->transport->stats().connections_rejected, 0u);
}

TEST_F(TransportTls, ThreeNodesExchangeBulkFramesAndMessagesEveryWay) {
  PortReservation ports[3];
  std::unique_ptr<Peer> nodes[3];
  for (raft::NodeId id = 1; id <= 3; ++id) {
    std::vector<std::pair<raft::NodeId, uint16_t>> peers;
    for (raft::NodeId peer = 1; peer <= 3; ++peer) {
      if (peer != id) peers.emplace_back(peer, ports[peer - 1].port());
    }
    nodes[id - 1] = make_peer(id, ports[id - 1].port(), peers, node(id));
    ASSERT_EQ(nodes[id - 1]->transport->start(), "");
  }
  constexpr int kChunks = 20;
  const std::string chunk(100 * 1000, 'c');  // many TLS records each
  for (raft::NodeId from = 1; from <= 3; ++from) {
    for (raft::NodeId to = 1; to <= 3; ++to) {
      if (from == to) continue;
      EXPECT_TRUE(reaches(*nodes[from - 1], from, *nodes[to - 1], to));
      for (int i = 0; i < kChunks; ++i) {
        ASSERT_TRUE(nodes[from - 1]->transport->send_bulk(
            to, std::to_string(from) + ":" + std::to_string(i) + chunk));
      }
    }
  }
  for (raft::NodeId id = 1; id <= 3; ++id) {
    Peer& peer = *nodes[id - 1];
    ASSERT_TRUE(peer.bulk.wait(2 * kChunks, 2 * kChunks)) << "node " << id;
    // In order from each sender, whole.
    int next[4] = {0, 0, 0, 0};
    for (const auto& [from, payload] : peer.bulk.frames()) {
      EXPECT_EQ(payload, std::to_string(from) + ":" +
                             std::to_string(next[from]++) + chunk);
    }
    EXPECT_EQ(peer.bulk.failed(), 0u);
    const TransportStats stats = peer.transport->stats();
    EXPECT_EQ(stats.bulk_frames_sent, 2u * kChunks);
    EXPECT_EQ(stats.bulk_frames_received, 2u * kChunks);
    EXPECT_EQ(stats.bulk_frames_dropped, 0u);
    EXPECT_EQ(stats.messages_dropped, 0u);
    EXPECT_EQ(stats.connections_rejected, 0u);
    // Records and handshakes on the wire: more than the frames they carry.
    EXPECT_GT(stats.bytes_sent, 2u * kChunks * chunk.size());
  }
}

TEST_F(TransportTls, ARotationAppliesToNewConnectionsOnly) {
  TestCertificateAuthority other(dir_.path(), "other-ca");
  PortReservation pa, pb;
  std::shared_ptr<TlsCredentials> a_tls = node(1);
  auto a = make_peer(1, pa.port(), {{2, pb.port()}}, a_tls);
  auto b = make_peer(2, pb.port(), {{1, pa.port()}}, node(2));
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  ASSERT_TRUE(reaches(*a, 1, *b, 2));
  // Node 1 rotates to a certificate node 2 will not trust: its open
  // connection keeps the old one and keeps working.
  EXPECT_EQ(a_tls->reload(options_of(other.issue_node(1), both_cas(other))),
            "");
  EXPECT_TRUE(reaches(*a, 1, *b, 2));
  const uint64_t rejected = b->transport->stats().connections_rejected;
  // Its next connection presents the new one, and is refused.
  a->transport->remove_peer(2);
  ASSERT_EQ(a->transport->add_peer({2, "127.0.0.1", pb.port()}), "");
  const size_t before = b->inbox.size();
  const std::string refusal =
      "TLS: the peer's certificate is not signed by the configured CA";
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  std::string last;
  for (uint64_t i = 1; last.find(refusal) == std::string::npos &&
                       std::chrono::steady_clock::now() < deadline;
       ++i) {
    a->transport->send(heartbeat(1, 2, i));
    std::this_thread::sleep_for(milliseconds(10));
    last = b->transport->stats().last_error;
  }
  EXPECT_NE(last.find(refusal), std::string::npos) << "last error: " << last;
  EXPECT_GT(b->transport->stats().connections_rejected, rejected);
  EXPECT_EQ(b->inbox.size(), before);
  // Rotated again, to a good certificate, it is served again.
  EXPECT_EQ(a_tls->reload(options_of(ca_.issue_node(1), ca_.ca_file())), "");
  a->transport->remove_peer(2);
  ASSERT_EQ(a->transport->add_peer({2, "127.0.0.1", pb.port()}), "");
  EXPECT_TRUE(reaches(*a, 1, *b, 2));
  EXPECT_TRUE(reaches(*b, 2, *a, 1));
}

TEST_F(TransportTls, ACertificateNamingNoNodeIsRefusedBothWays) {
  PortReservation pa, pb;
  auto a = make_peer(1, pa.port(), {{2, pb.port()}}, node(1));
  const CertFiles nameless =
      ca_.issue("nameless", {"node-2", {"DNS:localhost", "IP:127.0.0.1"}});
  auto b = make_peer(2, pb.port(), {{1, pa.port()}},
                     credentials(nameless, ca_.ca_file()));
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  expect_refused(*b, 2, *a, 1, *a,
                 "node 2's certificate names no dengine node id (a URI "
                 "subject alternative name dengine:node:<id>)");
  expect_refused(*a, 1, *b, 2, *a,
                 "peer 2's certificate names no dengine node id (a URI "
                 "subject alternative name dengine:node:<id>)");
}

TEST_F(TransportTls, ANewCertificateServesNewConnections) {
  PortReservation pa, pb;
  std::shared_ptr<TlsCredentials> a_tls = node(1);
  auto a = make_peer(1, pa.port(), {{2, pb.port()}}, a_tls);
  auto b = make_peer(2, pb.port(), {{1, pa.port()}}, node(2));
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  ASSERT_TRUE(reaches(*a, 1, *b, 2));
  // A renewed certificate for node 1, then its connection anew.
  const CertFiles renewed =
      ca_.issue("node-1-renewed", {"node-1", {"URI:dengine:node:1"}});
  EXPECT_EQ(a_tls->reload({renewed.cert_file, renewed.key_file, ca_.ca_file(),
                           TlsVersion::k1_3, TlsVersion::k1_3}),
            "");
  EXPECT_EQ(a->transport->add_peer({2, "localhost", pb.port()}), "");
  EXPECT_TRUE(reaches(*a, 1, *b, 2));
  // A bad file keeps the renewed one.
  EXPECT_NE(a_tls->reload({dir_.path() + "/none.crt", renewed.key_file,
                           ca_.ca_file(), TlsVersion::k1_3, TlsVersion::k1_3}),
            "");
  EXPECT_EQ(a->transport->add_peer({2, "127.0.0.1", pb.port()}), "");
  EXPECT_TRUE(reaches(*a, 1, *b, 2));
}

TEST_F(TransportTls, APeerOfAnotherCaIsRefused) {
  TestCertificateAuthority other(dir_.path(), "other-ca");
  PortReservation pa, pb, pc;
  auto a = make_peer(1, pa.port(), {{2, pb.port()}, {3, pc.port()}}, node(1));
  auto b = make_peer(2, pb.port(), {{1, pa.port()}}, node(2));
  // Node 3's certificate is of another CA (it trusts both, so only node 1
  // can refuse it).
  auto c = make_peer(3, pc.port(), {{1, pa.port()}},
                     credentials(other.issue_node(3), both_cas(other)));
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  ASSERT_EQ(c->transport->start(), "");
  // Dialed by it, node 1 refuses its certificate.
  expect_refused(*c, 3, *a, 1, *a,
                 "TLS: the peer's certificate is not signed by the configured "
                 "CA");
  EXPECT_GT(a->transport->stats().connections_rejected, 0u);
  // Dialing it, too.
  expect_refused(*a, 1, *c, 3, *a,
                 "TLS with peer 3: the peer's certificate is not signed by the "
                 "configured CA");
  EXPECT_EQ(c->inbox.size(), 0u);
  // Node 1 keeps serving node 2, both ways.
  EXPECT_TRUE(reaches(*b, 2, *a, 1));
  EXPECT_TRUE(reaches(*a, 1, *b, 2));
}

TEST_F(TransportTls, AnExpiredCertificateIsRefused) {
  PortReservation pa, pb;
  auto a = make_peer(1, pa.port(), {{2, pb.port()}}, node(1));
  const CertFiles expired =
      ca_.issue("node-2-expired", {"node-2", {"URI:dengine:node:2"}, -30, -1});
  auto b = make_peer(2, pb.port(), {{1, pa.port()}},
                     credentials(expired, ca_.ca_file(), /*check=*/false));
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  // Dialing it, node 1 refuses its certificate.
  expect_refused(*a, 1, *b, 2, *a, "TLS with peer 2: ");
  EXPECT_NE(a->transport->stats().last_error.find("expired"), std::string::npos)
      << a->transport->stats().last_error;
  // Dialed by it, too.
  expect_refused(*b, 2, *a, 1, *a, "TLS: ");
  EXPECT_NE(a->transport->stats().last_error.find("expired"), std::string::npos)
      << a->transport->stats().last_error;
}

TEST_F(TransportTls, ANodePresentingAnotherNodesCertificateIsRefused) {
  PortReservation pa, pb;
  const std::shared_ptr<TlsCredentials> node2 = node(2);
  auto a = make_peer(1, pa.port(), {{2, pb.port()}}, node(1));
  // Node 3 presents node 2's certificate and claims to be 3 in its hello.
  auto impostor = make_peer(3, pb.port(), {{1, pa.port()}}, node2);
  ASSERT_EQ(a->transport->add_peer({3, "127.0.0.1", pb.port()}), "");
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(impostor->transport->start(), "");
  expect_refused(*impostor, 3, *a, 1, *a,
                 "node 3 presented the certificate of node 2");
  // Dialing node 3, node 1 finds node 2's certificate and hangs up.
  expect_refused(*a, 1, *impostor, 3, *a,
                 "peer 3 presented the certificate of node 2");
}

TEST_F(TransportTls, PlaintextAndTlsTransportsRefuseEachOtherClearly) {
  PortReservation pa, pb;
  auto secure = make_peer(1, pa.port(), {{2, pb.port()}}, node(1));
  auto plain = make_peer(2, pb.port(), {{1, pa.port()}}, nullptr);
  ASSERT_EQ(secure->transport->start(), "");
  ASSERT_EQ(plain->transport->start(), "");
  // The plaintext dialer: refused by the TLS acceptor, and told why.
  expect_refused(*plain, 2, *secure, 1, *secure,
                 "the peer is not speaking TLS");
  expect_refused(*plain, 2, *secure, 1, *plain,
                 "peer 1 speaks TLS; configure [tls] on this node too");
  // The TLS dialer: refused by the plaintext acceptor, and told why.
  expect_refused(*secure, 1, *plain, 2, *plain,
                 "a TLS client connected to a plaintext listener");
  expect_refused(*secure, 1, *plain, 2, *secure,
                 "closed the connection during the TLS handshake");
}

TEST_F(TransportTls, CredentialsWithoutACertificateFailAtStart) {
  std::shared_ptr<const TlsContext> context;
  ASSERT_EQ(TlsContext::load(
                {"", "", ca_.ca_file(), TlsVersion::k1_3, TlsVersion::k1_3},
                &context),
            "");
  PortReservation pa;
  auto a =
      make_peer(1, pa.port(), {}, std::make_shared<TlsCredentials>(context));
  EXPECT_EQ(a->transport->start(),
            "transport: tls has no cert_file (a node presents a certificate "
            "on both sides of its peer connections)");
}

TEST_F(TransportTls, RandomBytesNeverHurtATlsTransport) {
  PortReservation pa, pb;
  auto a = make_peer(1, pa.port(), {{2, pb.port()}}, node(1));
  auto b = make_peer(2, pb.port(), {{1, pa.port()}}, node(2));
  ASSERT_EQ(a->transport->start(), "");
  ASSERT_EQ(b->transport->start(), "");
  std::mt19937 rng(14);
  for (int round = 0; round < 50; ++round) {
    std::string junk(1 + rng() % 4096, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (round % 2 == 0) junk[0] = 0x16;  // looks like a handshake record
    RawClient raw(pa.port());
    ASSERT_TRUE(raw.connected());
    raw.write_all(junk);
  }
  EXPECT_TRUE(reaches(*b, 2, *a, 1));
  EXPECT_TRUE(reaches(*a, 1, *b, 2));
}

}  // namespace
}  // namespace dengine::net
