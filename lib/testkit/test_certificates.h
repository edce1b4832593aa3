// A certificate authority for tests of TLS (issue 14): makes a CA and issues
// node and client certificates into a directory, with EC P-256 keys, in the
// PEM files that net::TlsOptions names. Certificates can be issued already
// expired, or naming any subject alternative names, to test refusals.
//
// Not for production: keys are written unencrypted, and nothing is revoked.
// Used from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dengine::testkit {

struct CertFiles {
  std::string cert_file;  // PEM certificate
  std::string key_file;   // PEM private key, unencrypted
};

class TestCertificateAuthority {
 public:
  // Makes a self-signed CA (CN `name`) and writes <dir>/<name>.crt and
  // <dir>/<name>.key; `dir` must exist. Throws std::runtime_error on
  // failure.
  explicit TestCertificateAuthority(std::string dir, std::string name = "ca");
  ~TestCertificateAuthority();
  TestCertificateAuthority(const TestCertificateAuthority&) = delete;
  TestCertificateAuthority& operator=(const TestCertificateAuthority&) = delete;

  // The CA certificate: what TlsOptions::ca_file names to trust this CA.
  const std::string& ca_file() const { return ca_file_; }

  struct Request {
    std::string common_name;
    // Each "URI:<uri>", "IP:<address>" or "DNS:<name>", e.g.
    // "URI:dengine:node:1", "IP:127.0.0.1", "DNS:localhost".
    std::vector<std::string> subject_alt_names;
    int not_before_days = -1;  // valid from this many days from now
    int not_after_days = 365;  // until this many; negative: already expired
  };

  // Issues a certificate signed by this CA and writes <dir>/<file_stem>.crt
  // and <dir>/<file_stem>.key (replacing them). Throws std::runtime_error on
  // failure, e.g. a malformed subject alternative name.
  CertFiles issue(const std::string& file_stem, const Request& request) const;

  // A node's certificate, <dir>/node-<id>.{crt,key}: CN "node-<id>", SANs
  // URI:dengine:node:<id>, IP:127.0.0.1, DNS:localhost.
  CertFiles issue_node(uint64_t id, int not_after_days = 365) const;

  // A client's certificate, <dir>/client-<identity>.{crt,key}: CN
  // `identity`, no subject alternative names.
  CertFiles issue_client(const std::string& identity) const;

 private:
  struct Key;
  std::string dir_;
  std::string ca_file_;
  std::unique_ptr<Key> key_;  // the CA's key and certificate
};

}  // namespace dengine::testkit
