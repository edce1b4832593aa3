// A node's client listener over TLS, facing the blocking client: TLS
// clients write, read and watch; with client certificates required, a
// client without one, or with one from another CA or expired, is refused
// with the reason, and the admin operations need an identity of
// admin_identities (DENGINE_ERR_PERMISSION_DENIED otherwise, the node going
// on serving); a rotation applies to new connections while open ones keep
// working; a plaintext client and a TLS listener, or a TLS client and a
// plaintext listener, tell each other at once what is wrong.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "../unit/base/log_capture.h"
#include "client/client.h"
#include "client/watch.h"
#include "net/tls_context.h"
#include "node/client_server.h"
#include "node/node.h"
#include "node_test_support.h"
#include "testkit/test_certificates.h"

namespace dengine::node {
namespace {

namespace fs = std::filesystem;

using testing::eventually;
using testkit::CertFiles;
using testkit::TestCertificateAuthority;

// Whether `text` contains `part`; says what `text` was if not.
::testing::AssertionResult contains(const std::string& text,
                                    const std::string& part) {
  if (text.find(part) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "\"" << text << "\" does not contain \"" << part << "\"";
}

net::TlsOptions tls_options(const std::string& ca_file,
                            const CertFiles& files = {}) {
  net::TlsOptions options;
  options.cert_file = files.cert_file;
  options.key_file = files.key_file;
  options.ca_file = ca_file;
  return options;
}

std::shared_ptr<const net::TlsContext> load(const net::TlsOptions& options) {
  std::shared_ptr<const net::TlsContext> context;
  EXPECT_EQ(net::TlsContext::load(options, &context), "");
  return context;
}

// For a side presenting an expired certificate.
std::shared_ptr<const net::TlsContext> load_unchecked(
    const net::TlsOptions& options) {
  std::shared_ptr<const net::TlsContext> context;
  EXPECT_EQ(net::TlsContext::load_unchecked_for_testing(options, &context), "");
  return context;
}

class ClientServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("dengine-client-server-tls-" + std::string(info->name()) + "-" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "other");
    ca_ = std::make_unique<TestCertificateAuthority>(dir_.string());
    other_ca_ = std::make_unique<TestCertificateAuthority>(
        (dir_ / "other").string(), "other-ca");
    server_cert_ = ca_->issue_node(1);

    NodeOptions options;
    options.id = 1;
    options.data_dir = (dir_ / "node1").string();
    options.listen_address = "127.0.0.1:0";
    options.initial_voters = {1};
    options.tick_interval = std::chrono::milliseconds(20);
    std::string error;
    ASSERT_EQ(Node::start(options, &node_, &error), DENGINE_OK) << error;
    ASSERT_TRUE(eventually(
        [&] { return node_->status().role == raft::Role::kLeader; }));
  }
  void TearDown() override {
    server_.reset();
    node_.reset();
    fs::remove_all(dir_);
  }

  // Starts the listener: over TLS with the node's certificate unless
  // `plaintext`, admitting "ops" to the admin operations.
  void serve(bool require_client_cert, bool plaintext = false) {
    ClientServerOptions options;
    if (!plaintext) {
      options.tls = std::make_shared<net::TlsCredentials>(
          load(tls_options(ca_->ca_file(), server_cert_)));
    }
    options.access.require_client_cert = require_client_cert;
    options.access.admin_identities = {"ops"};
    tls_ = options.tls;
    server_ = std::make_unique<ClientServer>(node_.get(), options);
    ASSERT_EQ(server_->start(), "");
  }

  std::string endpoint() const {
    return "127.0.0.1:" + std::to_string(server_->port());
  }

  // Client options for the listener: plaintext if `tls` is null.
  client::ClientOptions options_with(
      std::shared_ptr<const net::TlsContext> tls) const {
    client::ClientOptions options;
    options.endpoints = {endpoint()};
    options.tls = std::move(tls);
    return options;
  }

  std::unique_ptr<client::Client> client_with(
      std::shared_ptr<const net::TlsContext> tls) const {
    std::unique_ptr<client::Client> client;
    EXPECT_TRUE(
        client::Client::create(options_with(std::move(tls)), &client).ok());
    return client;
  }

  // A client trusting the node's CA, presenting the certificate of
  // `identity` (none if empty).
  std::unique_ptr<client::Client> client_as(const std::string& identity) {
    CertFiles files;
    if (!identity.empty()) files = ca_->issue_client(identity);
    return client_with(load(tls_options(ca_->ca_file(), files)));
  }

  fs::path dir_;
  std::unique_ptr<TestCertificateAuthority> ca_;
  std::unique_ptr<TestCertificateAuthority> other_ca_;
  CertFiles server_cert_;
  std::unique_ptr<Node> node_;
  std::shared_ptr<net::TlsCredentials> tls_;
  std::unique_ptr<ClientServer> server_;
};

TEST_F(ClientServerTlsTest, ATlsClientWritesReadsAndWatches) {
  serve(/*require_client_cert=*/false);
  std::unique_ptr<client::Client> client = client_as("");
  ASSERT_TRUE(client->put("k", "v1").ok());
  std::optional<std::string> value;
  ASSERT_TRUE(client->get("k", &value).ok());
  EXPECT_EQ(value, "v1");

  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::string> seen;
  client::WatchSpec spec;
  spec.key = "k";
  std::shared_ptr<client::Watch> watch;
  const client::Status started = client->watch(
      spec,
      [&](const watch::Event& event) {
        std::lock_guard lock(mu);
        seen.push_back(event.value);
        changed.notify_all();
      },
      [](const watch::WatchEnd&) {}, &watch);
  ASSERT_TRUE(started.ok()) << started.message;
  ASSERT_TRUE(client->put("k", "v2").ok());
  std::unique_lock lock(mu);
  ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(20),
                               [&] { return !seen.empty(); }));
  EXPECT_EQ(seen.front(), "v2");
  lock.unlock();
  watch->cancel();

  // What went over the wire was TLS: more than the frames themselves.
  EXPECT_GT(server_->stats().bytes_received, 0u);
  EXPECT_GT(server_->stats().bytes_sent, 0u);
}

TEST_F(ClientServerTlsTest, WithoutRequiredCertificatesAnyoneIsAnAdmin) {
  serve(/*require_client_cert=*/false);
  std::unique_ptr<client::Client> client = client_as("");
  ASSERT_TRUE(client->put("k", "v").ok());
  const client::Status snapshot = client->snapshot();
  EXPECT_TRUE(snapshot.ok()) << snapshot.message;
}

TEST_F(ClientServerTlsTest,
       AClientWithoutACertificateIsRefusedWhenOneIsNeeded) {
  serve(/*require_client_cert=*/true);
  base::LogCapture log(DENGINE_LOG_WARN);
  const client::Status put = client_as("")->put("k", "v");
  EXPECT_EQ(put.code, DENGINE_ERR_IO);
  EXPECT_TRUE(contains(put.message, "TLS with " + endpoint()));
  EXPECT_TRUE(
      contains(put.message,
               "the peer requires a certificate, and this side presented "
               "none"));
  // Retrying cannot help: one endpoint, one attempt.
  EXPECT_TRUE(contains(put.message, "gave up after 1 attempt:"));
  EXPECT_TRUE(eventually([&] {
    return !log.find(DENGINE_LOG_WARN, {"client server",
                                        "presented no "
                                        "certificate"})
                .empty();
  }));
}

TEST_F(ClientServerTlsTest, AClientCertificateFromAnotherCaIsRefused) {
  serve(/*require_client_cert=*/true);
  const CertFiles mallory = other_ca_->issue_client("mallory");
  // It trusts the node's CA but presents a certificate the node does not.
  net::TlsOptions options = tls_options(ca_->ca_file(), mallory);
  const client::Status put =
      client_with(load_unchecked(options))->put("k", "v");
  EXPECT_EQ(put.code, DENGINE_ERR_IO);
  EXPECT_TRUE(contains(put.message,
                       "the peer refused this side's certificate: "
                       "it is not signed by a CA the peer "
                       "trusts"));
}

TEST_F(ClientServerTlsTest, AnExpiredClientCertificateIsRefused) {
  serve(/*require_client_cert=*/true);
  TestCertificateAuthority::Request request;
  request.common_name = "old";
  request.not_before_days = -10;
  request.not_after_days = -1;
  const CertFiles old = ca_->issue("client-old", request);
  const client::Status put =
      client_with(load_unchecked(tls_options(ca_->ca_file(), old)))
          ->put("k", "v");
  EXPECT_EQ(put.code, DENGINE_ERR_IO);
  EXPECT_TRUE(contains(put.message,
                       "the peer refused this side's certificate: it has "
                       "expired"));
}

TEST_F(ClientServerTlsTest, AServerCertificateThatDoesNotNameTheHostIsRefused) {
  serve(/*require_client_cert=*/false);
  client::ClientOptions options =
      options_with(load(tls_options(ca_->ca_file())));
  options.tls_server_name = "elsewhere.example";
  std::unique_ptr<client::Client> client;
  ASSERT_TRUE(client::Client::create(options, &client).ok());
  const client::Status put = client->put("k", "v");
  EXPECT_EQ(put.code, DENGINE_ERR_IO);
  EXPECT_TRUE(contains(put.message,
                       "the peer's certificate does not name "
                       "elsewhere.example"));
  EXPECT_TRUE(contains(put.message, "gave up after 1 attempt:"));
}

TEST_F(ClientServerTlsTest, AServerCertificateFromAnotherCaIsRefused) {
  serve(/*require_client_cert=*/false);
  const client::Status put =
      client_with(load(tls_options(other_ca_->ca_file())))->put("k", "v");
  EXPECT_EQ(put.code, DENGINE_ERR_IO);
  EXPECT_TRUE(contains(put.message,
                       "the peer's certificate is not signed by "
                       "the configured CA"));
}

TEST_F(ClientServerTlsTest, AnExpiredServerCertificateIsRefused) {
  server_cert_ = ca_->issue_node(1, /*not_after_days=*/-1);
  ClientServerOptions options;
  options.tls = std::make_shared<net::TlsCredentials>(
      load_unchecked(tls_options(ca_->ca_file(), server_cert_)));
  server_ = std::make_unique<ClientServer>(node_.get(), options);
  ASSERT_EQ(server_->start(), "");
  const client::Status put = client_as("")->put("k", "v");
  EXPECT_EQ(put.code, DENGINE_ERR_IO);
  EXPECT_TRUE(contains(put.message, "the peer's certificate has expired"));
}

TEST_F(ClientServerTlsTest, AdminOperationsNeedAnAdminIdentity) {
  serve(/*require_client_cert=*/true);
  base::LogCapture log(DENGINE_LOG_WARN);
  std::unique_ptr<client::Client> alice = client_as("alice");
  ASSERT_TRUE(alice->put("k", "v").ok());
  const client::Status removed = alice->remove_node(2);
  EXPECT_EQ(removed.code, DENGINE_ERR_PERMISSION_DENIED) << removed.message;
  EXPECT_TRUE(contains(removed.message, "client \"alice\" may not"));
  EXPECT_TRUE(contains(removed.message, "tls_admin_identities"));
  const client::Status transferred = alice->transfer_leader(1);
  EXPECT_EQ(transferred.code, DENGINE_ERR_PERMISSION_DENIED)
      << transferred.message;
  const client::Status snapshot = alice->snapshot();
  EXPECT_EQ(snapshot.code, DENGINE_ERR_PERMISSION_DENIED) << snapshot.message;
  EXPECT_EQ(alice->promote(2).code, DENGINE_ERR_PERMISSION_DENIED);
  EXPECT_EQ(alice->add_learner(2, "127.0.0.1:1").code,
            DENGINE_ERR_PERMISSION_DENIED);
  // Refused, not cut off: the same connection, and the node, go on.
  ASSERT_TRUE(alice->put("k", "v2").ok());
  std::optional<std::string> value;
  ASSERT_TRUE(alice->get("k", &value).ok());
  EXPECT_EQ(value, "v2");
  net::NodeStatus status;
  EXPECT_TRUE(alice->status(&status).ok());
  EXPECT_EQ(server_->stats().connections_accepted, 1u);
  EXPECT_FALSE(
      log.find(DENGINE_LOG_WARN,
               {"client server: refused a request from", "client \"alice\""})
          .empty());

  std::unique_ptr<client::Client> ops = client_as("ops");
  const client::Status allowed = ops->snapshot();
  EXPECT_TRUE(allowed.ok()) << allowed.message;
  // Allowed, and then refused by the node for its own reasons.
  const client::Status remove_unknown = ops->remove_node(7);
  EXPECT_NE(remove_unknown.code, DENGINE_ERR_PERMISSION_DENIED)
      << remove_unknown.message;
}

TEST_F(ClientServerTlsTest, RotationAppliesToNewConnections) {
  serve(/*require_client_cert=*/false);
  std::unique_ptr<client::Client> before = client_as("");
  ASSERT_TRUE(before->put("k", "before").ok());

  // The new certificate comes from another CA; the listener trusts both.
  const CertFiles rotated = other_ca_->issue_node(1);
  const std::string bundle = (dir_ / "bundle.crt").string();
  {
    std::ofstream out(bundle);
    out << std::ifstream(ca_->ca_file()).rdbuf();
    out << std::ifstream(other_ca_->ca_file()).rdbuf();
  }
  ASSERT_EQ(tls_->reload(tls_options(bundle, rotated)), "");

  // The connection opened before keeps its session.
  ASSERT_TRUE(before->put("k", "after").ok());
  EXPECT_EQ(server_->stats().connections_accepted, 1u);
  // A new one meets the new certificate: refused by a client trusting only
  // the old CA, accepted by one trusting the new.
  const client::Status refused = client_as("")->put("k", "v");
  EXPECT_EQ(refused.code, DENGINE_ERR_IO);
  EXPECT_TRUE(contains(refused.message,
                       "the peer's certificate is not signed "
                       "by the configured CA"));
  std::unique_ptr<client::Client> after =
      client_with(load(tls_options(other_ca_->ca_file())));
  std::optional<std::string> value;
  ASSERT_TRUE(after->get("k", &value).ok());
  EXPECT_EQ(value, "after");
}

TEST_F(ClientServerTlsTest, APlaintextClientIsToldTheServerSpeaksTls) {
  serve(/*require_client_cert=*/false);
  base::LogCapture log(DENGINE_LOG_WARN);
  const client::Status put = client_with(nullptr)->put("k", "v");
  EXPECT_EQ(put.code, DENGINE_ERR_IO);
  EXPECT_TRUE(contains(put.message, endpoint() +
                                        " speaks TLS: open the client with "
                                        "TLS options"));
  EXPECT_TRUE(contains(put.message, "gave up after 1 attempt:"));
  EXPECT_TRUE(eventually([&] {
    return !log.find(DENGINE_LOG_WARN, {"client server", "not speaking TLS"})
                .empty();
  }));
}

TEST_F(ClientServerTlsTest, ATlsClientIsToldThePlaintextServerIsNotTls) {
  serve(/*require_client_cert=*/false, /*plaintext=*/true);
  base::LogCapture log(DENGINE_LOG_WARN);
  const client::Status put = client_as("")->put("k", "v");
  EXPECT_EQ(put.code, DENGINE_ERR_IO);
  EXPECT_TRUE(contains(put.message,
                       endpoint() +
                           " closed the connection during the TLS handshake: "
                           "is it serving plaintext?"));
  EXPECT_TRUE(contains(put.message, "gave up after 1 attempt:"));
  EXPECT_FALSE(log.find(DENGINE_LOG_WARN,
                        {"client server",
                         "a TLS client connected to a plaintext listener (this "
                         "server has no [tls] configured)"})
                   .empty());
}

}  // namespace
}  // namespace dengine::node
