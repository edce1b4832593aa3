// TLS over memory buffers: a client and a server session exchange bytes
// through the test's hands, with certificates from the testkit's CA.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../storage/scratch_dir.h"
#include "net/frame.h"
#include "net/hello.h"
#include "net/tls_context.h"
#include "net/tls_session.h"
#include "testkit/test_certificates.h"

namespace dengine::net {
namespace {

using testkit::CertFiles;
using testkit::TestCertificateAuthority;
using PeerCert = TlsSession::PeerCert;

// Whether `text` contains `part`; says what `text` was if not.
::testing::AssertionResult contains(const std::string& text,
                                    const std::string& part) {
  if (text.find(part) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "\"" << text << "\" does not contain \"" << part << "\"";
}

TlsOptions options_with(const std::string& ca_file, const CertFiles& files) {
  TlsOptions options;
  options.cert_file = files.cert_file;
  options.key_file = files.key_file;
  options.ca_file = ca_file;
  return options;
}

std::shared_ptr<const TlsContext> load(const TlsOptions& options) {
  std::shared_ptr<const TlsContext> context;
  EXPECT_EQ(TlsContext::load(options, &context), "");
  return context;
}

std::shared_ptr<const TlsContext> load_unchecked(const TlsOptions& options) {
  std::shared_ptr<const TlsContext> context;
  EXPECT_EQ(TlsContext::load_unchecked_for_testing(options, &context), "");
  return context;
}

// Moves ciphertext both ways, in pieces of at most `piece` bytes, until
// neither side has anything more to say. A side that failed still hands
// over what it queued (its alert); the other side then reads it.
void pump(TlsSession& client, TlsSession& server, size_t piece = SIZE_MAX) {
  const auto deliver = [piece](const std::string& bytes, TlsSession& to) {
    for (size_t at = 0; at < bytes.size(); at += piece) {
      to.receive(std::string_view(bytes).substr(at, piece));
    }
  };
  for (int round = 0; round < 1000; ++round) {
    const std::string to_server = client.take_ciphertext();
    const std::string to_client = server.take_ciphertext();
    if (to_server.empty() && to_client.empty()) return;
    deliver(to_server, server);
    deliver(to_client, client);
  }
  ADD_FAILURE() << "the sessions never stopped talking";
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

std::string file_contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class TlsSessionTest : public ::testing::Test {
 protected:
  // Node 1 dials node 2, both with certificates from `ca_`.
  std::shared_ptr<const TlsContext> node(uint64_t id) {
    return load(options_with(ca_.ca_file(), ca_.issue_node(id)));
  }
  // A client that presents no certificate, trusting `ca_`.
  std::shared_ptr<const TlsContext> anonymous_client() {
    TlsOptions options;
    options.ca_file = ca_.ca_file();
    return load(options);
  }
  // The first flight of a client: its ClientHello.
  std::string client_hello() {
    TlsSession client(node(1), TlsSession::client());
    client.start();
    return client.take_ciphertext();
  }

  storage::ScratchDir dir_;
  TestCertificateAuthority ca_{dir_.path()};
};

TEST_F(TlsSessionTest, HandshakesAndCarriesDataBothWays) {
  TlsSession client(node(1), TlsSession::client("127.0.0.1"));
  TlsSession server(node(2), TlsSession::server());
  client.start();
  server.start();
  EXPECT_TRUE(client.send("hello from the client, before the handshake"));
  EXPECT_FALSE(client.handshake_done());
  pump(client, server);
  ASSERT_TRUE(client.handshake_done()) << client.error();
  ASSERT_TRUE(server.handshake_done()) << server.error();
  EXPECT_EQ(server.take_plaintext(),
            "hello from the client, before the handshake");
  EXPECT_TRUE(server.send("hello from the server"));
  EXPECT_TRUE(client.send("and again"));
  pump(client, server);
  EXPECT_EQ(client.take_plaintext(), "hello from the server");
  EXPECT_EQ(server.take_plaintext(), "and again");
  EXPECT_EQ(client.take_plaintext(), "");
  EXPECT_FALSE(client.failed());
  EXPECT_FALSE(server.failed());
}

TEST_F(TlsSessionTest, CarriesMegabytesInRecordsSplitAnywhere) {
  TlsSession client(node(1), TlsSession::client());
  TlsSession server(node(2), TlsSession::server());
  client.start();
  const std::string up = random_bytes(5u << 20, 1);
  const std::string down = random_bytes(3u << 20, 2);
  // Two sends, to check their order survives across records.
  EXPECT_TRUE(client.send(std::string_view(up).substr(0, 1000)));
  EXPECT_TRUE(client.send(std::string_view(up).substr(1000)));
  pump(client, server, 7001);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  EXPECT_TRUE(server.send(down));
  pump(client, server, 65536);
  const std::string got_up = server.take_plaintext();
  const std::string got_down = client.take_plaintext();
  EXPECT_EQ(got_up.size(), up.size());
  EXPECT_TRUE(got_up == up);
  EXPECT_EQ(got_down.size(), down.size());
  EXPECT_TRUE(got_down == down);
}

TEST_F(TlsSessionTest, MutualTlsShowsEachSideTheOthersIdentity) {
  TlsSession client(node(1), TlsSession::client());
  TlsSession server(node(2), TlsSession::server(PeerCert::kRequired));
  client.start();
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  const TlsPeerIdentity& of_client = server.peer_identity();
  EXPECT_TRUE(of_client.presented);
  EXPECT_EQ(of_client.common_name, "node-1");
  EXPECT_EQ(of_client.uris, std::vector<std::string>{"dengine:node:1"});
  EXPECT_EQ(of_client.ip_addresses, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(of_client.dns_names, std::vector<std::string>{"localhost"});
  EXPECT_EQ(of_client.node_id(), std::optional<uint64_t>(1));
  const TlsPeerIdentity& of_server = client.peer_identity();
  EXPECT_TRUE(of_server.presented);
  EXPECT_EQ(of_server.common_name, "node-2");
  EXPECT_EQ(of_server.node_id(), std::optional<uint64_t>(2));
}

TEST_F(TlsSessionTest, RequiredPeerCertRefusesAClientWithout) {
  TlsSession client(anonymous_client(), TlsSession::client());
  TlsSession server(node(2), TlsSession::server(PeerCert::kRequired));
  client.start();
  pump(client, server);
  EXPECT_TRUE(server.failed());
  EXPECT_FALSE(server.handshake_done());
  EXPECT_EQ(server.error(),
            "the peer presented no certificate, and one is required");
  // The client learns it from the server's alert, not from a hang.
  EXPECT_TRUE(client.failed());
  EXPECT_EQ(client.error(),
            "the peer requires a certificate, and this side presented none");
  EXPECT_FALSE(client.send("x"));
  EXPECT_FALSE(server.receive("x"));
}

TEST_F(TlsSessionTest, OptionalPeerCertAcceptsAClientWithout) {
  TlsSession client(anonymous_client(), TlsSession::client("localhost"));
  TlsSession server(node(2), TlsSession::server(PeerCert::kOptional));
  client.start();
  EXPECT_TRUE(client.send("ping"));
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  EXPECT_FALSE(server.peer_identity().presented);
  EXPECT_EQ(server.peer_identity().node_id(), std::nullopt);
  EXPECT_EQ(server.take_plaintext(), "ping");
  EXPECT_EQ(client.peer_identity().node_id(), std::optional<uint64_t>(2));
}

TEST_F(TlsSessionTest, OptionalPeerCertStillVerifiesOnePresented) {
  storage::ScratchDir other_dir;
  TestCertificateAuthority other(other_dir.path(), "other-ca");
  TlsSession client(
      load_unchecked(options_with(ca_.ca_file(), other.issue_client("eve"))),
      TlsSession::client());
  TlsSession server(node(2), TlsSession::server(PeerCert::kOptional));
  client.start();
  pump(client, server);
  EXPECT_EQ(server.error(),
            "the peer's certificate is not signed by the configured CA");
  EXPECT_EQ(client.error(),
            "the peer refused this side's certificate: it is not signed by a "
            "CA the peer trusts");
}

TEST_F(TlsSessionTest, ClientRefusesAServerFromAnotherCa) {
  storage::ScratchDir other_dir;
  TestCertificateAuthority other(other_dir.path(), "other-ca");
  TlsSession client(node(1), TlsSession::client());
  TlsSession server(load(options_with(other.ca_file(), other.issue_node(2))),
                    TlsSession::server(PeerCert::kOptional));
  client.start();
  pump(client, server);
  EXPECT_FALSE(client.handshake_done());
  EXPECT_EQ(client.error(),
            "the peer's certificate is not signed by the configured CA");
  EXPECT_EQ(server.error(),
            "the peer refused this side's certificate: it is not signed by a "
            "CA the peer trusts");
}

TEST_F(TlsSessionTest, ServerRefusesAClientFromAnotherCa) {
  storage::ScratchDir other_dir;
  TestCertificateAuthority other(other_dir.path(), "other-ca");
  // The client trusts both CAs (a bundle), so only the server refuses.
  const std::string bundle = dir_.path() + "/bundle.crt";
  std::ofstream(bundle) << file_contents(ca_.ca_file())
                        << file_contents(other.ca_file());
  TlsSession client(load(options_with(bundle, other.issue_node(1))),
                    TlsSession::client());
  TlsSession server(node(2), TlsSession::server());
  client.start();
  pump(client, server);
  EXPECT_EQ(server.error(),
            "the peer's certificate is not signed by the configured CA");
  EXPECT_TRUE(client.failed());
  EXPECT_TRUE(contains(client.error(), "the peer refused this side's"));
}

TEST_F(TlsSessionTest, RefusesAnExpiredCertificateEitherWay) {
  const TlsOptions expired =
      options_with(ca_.ca_file(), ca_.issue_node(3, /*not_after_days=*/-1));
  {
    TlsSession client(node(1), TlsSession::client());
    TlsSession server(load_unchecked(expired), TlsSession::server());
    client.start();
    pump(client, server);
    EXPECT_EQ(client.error(), "the peer's certificate has expired");
    EXPECT_EQ(server.error(),
              "the peer refused this side's certificate: it has expired");
  }
  {
    TlsSession client(load_unchecked(expired), TlsSession::client());
    TlsSession server(node(2), TlsSession::server());
    client.start();
    pump(client, server);
    EXPECT_EQ(server.error(), "the peer's certificate has expired");
    EXPECT_TRUE(contains(client.error(), "expired"));
  }
}

TEST_F(TlsSessionTest, ClientChecksTheHostTheServerCertificateNames) {
  for (const std::string host : {"127.0.0.1", "localhost", "LOCALHOST"}) {
    TlsSession client(node(1), TlsSession::client(host));
    TlsSession server(node(2), TlsSession::server());
    client.start();
    pump(client, server);
    EXPECT_TRUE(client.handshake_done()) << host << ": " << client.error();
    EXPECT_TRUE(server.handshake_done()) << host << ": " << server.error();
  }
  for (const std::string host :
       {"127.0.0.2", "::1", "example.com", "node-2", "localhost.example"}) {
    TlsSession client(node(1), TlsSession::client(host));
    TlsSession server(node(2), TlsSession::server());
    client.start();
    pump(client, server);
    EXPECT_EQ(client.error(), "the peer's certificate does not name " + host);
    EXPECT_TRUE(server.failed()) << host;
  }
}

TEST_F(TlsSessionTest, MatchesAnIpv6HostAndPrintsIt) {
  TestCertificateAuthority::Request request;
  request.common_name = "v6";
  request.subject_alt_names = {"IP:::1"};
  TlsSession client(node(1), TlsSession::client("[::1]"));
  TlsSession server(load(options_with(ca_.ca_file(), ca_.issue("v6", request))),
                    TlsSession::server());
  client.start();
  pump(client, server);
  ASSERT_TRUE(client.handshake_done()) << client.error();
  EXPECT_EQ(client.peer_identity().ip_addresses,
            std::vector<std::string>{"::1"});
  EXPECT_EQ(client.peer_identity().node_id(), std::nullopt);
}

TEST_F(TlsSessionTest, ServerSaysWhenThePeerSpeaksPlaintext) {
  const std::string frame =
      encode_frame(FrameType::kHello, encode_hello({1, 42}));
  EXPECT_FALSE(looks_like_tls(frame));
  const struct {
    std::string bytes;
    std::string error;
  } cases[] = {
      {frame,
       "the peer is not speaking TLS: it sent a plaintext dengine frame (is "
       "TLS off there?)"},
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
       "the peer is not speaking TLS: it sent plain text \"GET / HTTP/1.1\" "
       "(a plaintext client or server?)"},
      {std::string("\x00\x01\x02\xff", 4),
       "the peer is not speaking TLS (a plaintext client or server?)"},
  };
  for (const auto& c : cases) {
    TlsSession server(node(2), TlsSession::server());
    server.start();
    EXPECT_FALSE(server.receive(c.bytes));
    EXPECT_TRUE(server.failed());
    EXPECT_EQ(server.error(), c.error);
    // The peer is told, in a record it can recognise without TLS.
    const std::string alert = server.take_ciphertext();
    EXPECT_TRUE(looks_like_tls_record(alert));
    EXPECT_EQ(alert, std::string("\x15\x03\x03\x00\x02\x02\x46", 7));
    EXPECT_FALSE(server.receive(client_hello()));
  }
}

TEST(LooksLikeTlsRecordTest, AlertsAndHandshakesOnly) {
  EXPECT_TRUE(looks_like_tls_record(std::string("\x15\x03\x03", 3)));
  EXPECT_TRUE(looks_like_tls_record(std::string("\x16\x03\x01\x00", 4)));
  EXPECT_FALSE(looks_like_tls_record(std::string("\x15\x03", 2)));
  EXPECT_FALSE(looks_like_tls_record(std::string("\x17\x03\x03", 3)));
  EXPECT_FALSE(looks_like_tls_record(std::string("\x15\x02\x03", 3)));
  EXPECT_FALSE(looks_like_tls_record(std::string("\x16\x03\x05", 3)));
  EXPECT_FALSE(looks_like_tls_record(
      encode_frame(FrameType::kHello, encode_hello({1, 42}))));
}

TEST_F(TlsSessionTest, ClientSaysWhenTheServerAnswersInPlaintext) {
  TlsSession client(node(1), TlsSession::client());
  client.start();
  EXPECT_FALSE(client.take_ciphertext().empty());
  EXPECT_FALSE(client.receive("HTTP/1.1 400 Bad Request\r\n\r\n"));
  EXPECT_EQ(client.error(),
            "the peer is not speaking TLS: it sent plain text \"HTTP/1.1 400 "
            "Bad Request\" (a plaintext client or server?)");
  EXPECT_FALSE(client.send("x"));
}

TEST_F(TlsSessionTest, SurvivesTruncatedAndCorruptedRecords) {
  const std::string hello = client_hello();
  ASSERT_TRUE(looks_like_tls(hello));
  const std::shared_ptr<const TlsContext> client_context = node(1);
  const std::shared_ptr<const TlsContext> server_context = node(2);
  // A truncated hello is only incomplete: the server waits for the rest.
  for (size_t n = 1; n < hello.size(); n += 7) {
    TlsSession server(server_context, TlsSession::server());
    EXPECT_TRUE(server.receive(hello.substr(0, n))) << n;
    EXPECT_FALSE(server.handshake_done());
  }
  // A corrupted byte anywhere: the server answers or fails, with a reason.
  std::mt19937 rng(7);
  for (size_t at = 0; at < hello.size(); ++at) {
    std::string bad = hello;
    bad[at] = static_cast<char>(bad[at] ^ (1 + rng() % 255));
    TlsSession server(server_context, TlsSession::server());
    const bool alive = server.receive(bad);
    EXPECT_EQ(alive, server.error().empty()) << at;
    server.take_ciphertext();
    EXPECT_EQ(server.take_plaintext(), "");
  }
  // Garbage records after a good handshake kill the session with a reason.
  for (uint32_t seed = 0; seed < 10; ++seed) {
    TlsSession client(client_context, TlsSession::client());
    TlsSession server(server_context, TlsSession::server());
    client.start();
    pump(client, server);
    ASSERT_TRUE(server.handshake_done());
    const std::string garbage =
        std::string("\x17\x03\x03\x00\x40", 5) + random_bytes(64, seed);
    EXPECT_FALSE(server.receive(garbage));
    EXPECT_TRUE(contains(server.error(), "malformed TLS")) << seed;
    const std::string huge = "\x17\x03\x03\xff\xff" + random_bytes(100, seed);
    EXPECT_FALSE(client.receive(huge));
    EXPECT_TRUE(contains(client.error(), "malformed TLS")) << seed;
    EXPECT_EQ(client.take_plaintext(), "");
  }
}

TEST_F(TlsSessionTest, CloseNotifyReachesThePeer) {
  TlsSession client(node(1), TlsSession::client());
  TlsSession server(node(2), TlsSession::server());
  client.start();
  pump(client, server);
  ASSERT_TRUE(server.handshake_done());
  EXPECT_TRUE(client.send("last words"));
  client.close();
  EXPECT_FALSE(client.send("too late"));
  pump(client, server);
  EXPECT_EQ(server.take_plaintext(), "last words");
  EXPECT_TRUE(server.peer_closed());
  EXPECT_FALSE(server.failed());
  EXPECT_FALSE(client.peer_closed());
}

TEST_F(TlsSessionTest, ServerWithoutACertificateFailsAtOnce) {
  TlsSession server(anonymous_client(), TlsSession::server());
  EXPECT_TRUE(server.failed());
  EXPECT_TRUE(contains(server.error(), "no certificate to serve TLS with"));
  EXPECT_FALSE(server.receive(client_hello()));
  EXPECT_EQ(server.take_ciphertext(), "");
}

TEST_F(TlsSessionTest, ServerRequiringTls13RefusesATls12Client) {
  TlsOptions old = options_with(ca_.ca_file(), ca_.issue_node(1));
  old.min_version = TlsVersion::k1_2;
  old.max_version = TlsVersion::k1_2;
  TlsSession client(load(old), TlsSession::client());
  TlsSession server(node(2), TlsSession::server());
  client.start();
  pump(client, server);
  EXPECT_EQ(server.error(),
            "no TLS version in common with the peer (this side accepts TLS "
            "1.3 only)");
  EXPECT_EQ(client.error(),
            "no TLS version in common with the peer (this side accepts TLS "
            "1.2 only)");
}

TEST_F(TlsSessionTest, Tls12WorksWhenBothAllowIt) {
  TlsOptions old = options_with(ca_.ca_file(), ca_.issue_node(1));
  old.min_version = TlsVersion::k1_2;
  old.max_version = TlsVersion::k1_2;
  TlsOptions either = options_with(ca_.ca_file(), ca_.issue_node(2));
  either.min_version = TlsVersion::k1_2;
  TlsSession client(load(old), TlsSession::client("localhost"));
  TlsSession server(load(either), TlsSession::server());
  client.start();
  EXPECT_TRUE(client.send("over 1.2"));
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  EXPECT_EQ(server.take_plaintext(), "over 1.2");
  EXPECT_EQ(server.peer_identity().node_id(), std::optional<uint64_t>(1));
}

TEST_F(TlsSessionTest, LooksLikeTlsKnowsAClientHello) {
  const std::string hello = client_hello();
  for (size_t n = 1; n <= 8; ++n) {
    EXPECT_TRUE(looks_like_tls(hello.substr(0, n))) << n;
  }
  EXPECT_FALSE(looks_like_tls(""));
  EXPECT_FALSE(looks_like_tls("GET / HTTP/1.1\r\n"));
  EXPECT_FALSE(looks_like_tls(std::string("\x16\x02", 2)));
  EXPECT_FALSE(looks_like_tls(std::string("\x16\x03\x01\x00\x10\x02", 6)));
}

class TlsContextTest : public ::testing::Test {
 protected:
  std::string load_error(const TlsOptions& options) {
    std::shared_ptr<const TlsContext> context;
    const std::string error = TlsContext::load(options, &context);
    EXPECT_EQ(context == nullptr, !error.empty());
    return error;
  }

  storage::ScratchDir dir_;
  TestCertificateAuthority ca_{dir_.path()};
  CertFiles node_ = ca_.issue_node(1);
};

TEST_F(TlsContextTest, LoadsGoodFiles) {
  std::shared_ptr<const TlsContext> context;
  const TlsOptions options = options_with(ca_.ca_file(), node_);
  EXPECT_EQ(TlsContext::load(options, &context), "");
  ASSERT_NE(context, nullptr);
  EXPECT_TRUE(context->has_certificate());
  EXPECT_EQ(context->options().cert_file, node_.cert_file);
}

TEST_F(TlsContextTest, NamesAMissingFile) {
  const std::string missing = dir_.path() + "/missing.pem";
  TlsOptions options = options_with(missing, node_);
  EXPECT_EQ(
      load_error(options),
      "tls ca_file " + missing + ": cannot read: No such file or directory");
  options = options_with(ca_.ca_file(), {missing, node_.key_file});
  EXPECT_EQ(
      load_error(options),
      "tls cert_file " + missing + ": cannot read: No such file or directory");
  options = options_with(ca_.ca_file(), {node_.cert_file, missing});
  EXPECT_EQ(
      load_error(options),
      "tls key_file " + missing + ": cannot read: No such file or directory");
}

TEST_F(TlsContextTest, RefusesFilesThatAreNotPem) {
  const std::string junk = dir_.path() + "/junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  EXPECT_EQ(load_error(options_with(junk, node_)),
            "tls ca_file " + junk + ": no PEM certificate in it");
  EXPECT_EQ(load_error(options_with(ca_.ca_file(), {junk, node_.key_file})),
            "tls cert_file " + junk + ": no PEM certificate in it");
  EXPECT_TRUE(contains(
      load_error(options_with(ca_.ca_file(), {node_.cert_file, junk})),
      "tls key_file " + junk + ": not an unencrypted PEM private key"));
  // A certificate where the key should be, and a damaged certificate.
  EXPECT_TRUE(contains(load_error(options_with(
                           ca_.ca_file(), {node_.cert_file, node_.cert_file})),
                       "tls key_file " + node_.cert_file + ": not an"));
  std::string pem = file_contents(node_.cert_file);
  pem[pem.size() / 2] = '*';
  std::ofstream(junk) << pem;
  EXPECT_TRUE(
      contains(load_error(options_with(ca_.ca_file(), {junk, node_.key_file})),
               "tls cert_file " + junk + ": not a valid PEM"));
}

TEST_F(TlsContextTest, RefusesAKeyThatDoesNotMatch) {
  const CertFiles other = ca_.issue_node(2);
  EXPECT_EQ(load_error(
                options_with(ca_.ca_file(), {node_.cert_file, other.key_file})),
            "tls key_file " + other.key_file + " does not match cert_file " +
                node_.cert_file);
}

TEST_F(TlsContextTest, RefusesACertificateTheCaDidNotSign) {
  storage::ScratchDir other_dir;
  TestCertificateAuthority other(other_dir.path(), "other-ca");
  const CertFiles foreign = other.issue_node(1);
  EXPECT_EQ(load_error(options_with(ca_.ca_file(), foreign)),
            "tls cert_file " + foreign.cert_file +
                " is not signed by ca_file " + ca_.ca_file() +
                ": unable to get local issuer certificate");
}

TEST_F(TlsContextTest, RefusesAnExpiredOrNotYetValidCertificate) {
  const CertFiles expired = ca_.issue_node(3, -1);
  EXPECT_TRUE(contains(
      load_error(options_with(ca_.ca_file(), expired)),
      "tls cert_file " + expired.cert_file + " has expired (not after "));
  TestCertificateAuthority::Request request;
  request.common_name = "future";
  request.not_before_days = 2;
  request.not_after_days = 10;
  const CertFiles future = ca_.issue("future", request);
  EXPECT_TRUE(contains(
      load_error(options_with(ca_.ca_file(), future)),
      "tls cert_file " + future.cert_file + " is not valid yet (not before "));
}

TEST_F(TlsContextTest, LoadsACaOnlyContextForAClient) {
  TlsOptions options;
  options.ca_file = ca_.ca_file();
  std::shared_ptr<const TlsContext> context;
  EXPECT_EQ(TlsContext::load(options, &context), "");
  ASSERT_NE(context, nullptr);
  EXPECT_FALSE(context->has_certificate());
}

TEST(TlsValidate, ChecksTheOptionsAreWhole) {
  TlsOptions options;
  options.cert_file = "c.pem";
  options.key_file = "k.pem";
  options.ca_file = "ca.pem";
  EXPECT_EQ(validate(options, true), "");
  EXPECT_EQ(validate(options, false), "");

  TlsOptions no_ca = options;
  no_ca.ca_file.clear();
  EXPECT_TRUE(contains(validate(no_ca, false), "tls ca_file is not set"));
  TlsOptions no_key = options;
  no_key.key_file.clear();
  EXPECT_EQ(validate(no_key, false),
            "tls cert_file is set but key_file is not");
  TlsOptions no_cert = options;
  no_cert.cert_file.clear();
  EXPECT_EQ(validate(no_cert, false),
            "tls key_file is set but cert_file is not");
  TlsOptions ca_only;
  ca_only.ca_file = "ca.pem";
  EXPECT_EQ(validate(ca_only, false), "");
  EXPECT_TRUE(contains(validate(ca_only, true),
                       "tls cert_file and key_file are not set"));
  TlsOptions inverted = options;
  inverted.max_version = TlsVersion::k1_2;
  EXPECT_EQ(validate(inverted, false),
            "tls min_version TLS 1.3 is above max_version TLS 1.2");
  // load() checks the same before reading anything.
  std::shared_ptr<const TlsContext> context;
  EXPECT_EQ(TlsContext::load(no_key, &context),
            "tls cert_file is set but key_file is not");
}

TEST(TlsCredentials, ReloadSwapsOnlyForGoodFiles) {
  storage::ScratchDir dir;
  TestCertificateAuthority ca(dir.path());
  const TlsOptions first = options_with(ca.ca_file(), ca.issue_node(1));
  const std::shared_ptr<const TlsContext> initial = load(first);
  TlsCredentials credentials(initial);
  EXPECT_EQ(credentials.current(), initial);

  TlsOptions bad = first;
  bad.key_file = dir.path() + "/missing.key";
  EXPECT_TRUE(contains(credentials.reload(bad), "cannot read"));
  EXPECT_EQ(credentials.current(), initial);

  // A session begun on the old context outlives the swap.
  TlsSession client(credentials.current(), TlsSession::client());
  client.start();
  const TlsOptions second = options_with(ca.ca_file(), ca.issue_node(7));
  EXPECT_EQ(credentials.reload(second), "");
  ASSERT_NE(credentials.current(), initial);
  EXPECT_EQ(credentials.current()->options().cert_file, second.cert_file);

  TlsSession server(credentials.current(), TlsSession::server());
  pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.error();
  EXPECT_EQ(server.peer_identity().node_id(), std::optional<uint64_t>(1));
  EXPECT_EQ(client.peer_identity().node_id(), std::optional<uint64_t>(7));
}

TEST(TlsPeerIdentity, NodeIdNeedsOneWellFormedDengineUri) {
  const auto id = [](std::vector<std::string> uris) {
    TlsPeerIdentity identity;
    identity.presented = true;
    identity.uris = std::move(uris);
    return identity.node_id();
  };
  EXPECT_EQ(id({}), std::nullopt);
  EXPECT_EQ(id({"https://example.com"}), std::nullopt);
  EXPECT_EQ(id({"dengine:node:42"}), std::optional<uint64_t>(42));
  EXPECT_EQ(id({"spiffe://x/y", "dengine:node:42"}),
            std::optional<uint64_t>(42));
  EXPECT_EQ(id({"dengine:node:18446744073709551615"}),
            std::optional<uint64_t>(UINT64_MAX));
  EXPECT_EQ(id({"dengine:node:42", "dengine:node:42"}),
            std::optional<uint64_t>(42));
  EXPECT_EQ(id({"dengine:node:1", "dengine:node:2"}), std::nullopt);
  EXPECT_EQ(id({"dengine:node:1", "dengine:node:x"}), std::nullopt);
  for (const std::string bad :
       {"dengine:node:", "dengine:node:abc", "dengine:node:12a",
        "dengine:node:-1", "dengine:node:+1", "dengine:node: 1",
        "dengine:node:0", "dengine:node:18446744073709551616"}) {
    EXPECT_EQ(id({bad}), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace dengine::net
