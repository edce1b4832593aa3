// A server-side TLS session fed untrusted bytes: never crashes, and a
// session that refuses them says why. The first byte sets the piece size the
// rest is fed in (as the socket may cut it anywhere) and whether the client
// must present a certificate.
#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "net/tls_context.h"
#include "net/tls_session.h"
#include "testkit/test_certificates.h"

namespace {

using dengine::net::TlsContext;
using dengine::net::TlsSession;

std::shared_ptr<const TlsContext> server_context;

}  // namespace

// Makes a CA and a node certificate in a scratch directory, once: the
// context keeps them in memory, so the files go at once.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string dir = std::filesystem::temp_directory_path().string() +
                    "/dengine-tls-fuzz-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) abort();
  {
    const dengine::testkit::TestCertificateAuthority ca(dir);
    const dengine::testkit::CertFiles node = ca.issue_node(1);
    dengine::net::TlsOptions options;
    options.cert_file = node.cert_file;
    options.key_file = node.key_file;
    options.ca_file = ca.ca_file();
    if (!TlsContext::load(options, &server_context).empty()) abort();
  }
  std::filesystem::remove_all(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const uint8_t control = data[0];
  input.remove_prefix(1);
  const size_t piece = 1 + (control >> 1) * 16;
  TlsSession server(
      server_context,
      TlsSession::server(control & 1 ? TlsSession::PeerCert::kOptional
                                     : TlsSession::PeerCert::kRequired));
  server.start();
  while (!input.empty()) {
    const bool alive = server.receive(input.substr(0, piece));
    if (alive == server.failed() || (!alive && server.error().empty())) {
      abort();
    }
    input.remove_prefix(std::min(piece, input.size()));
    server.take_ciphertext();
    if (!alive) break;
  }
  server.send("reply");
  server.close();
  server.take_ciphertext();
  if (!server.handshake_done() && !server.take_plaintext().empty()) abort();
  return 0;
}
