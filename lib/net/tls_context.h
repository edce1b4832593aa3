// TLS credentials (issue 14): the certificate, key and CA a node or client
// uses, loaded and checked once, then shared by every TLS connection.
//
// Loading reads each file whole and checks everything that can be checked
// without a peer: each file parses, the key matches the certificate, and the
// certificate chains to the CA and is within its validity period. A node with
// a bad file fails at startup (or at reload) with a message naming the file,
// not later at its first handshake with a message from deep inside OpenSSL.
//
// A TlsContext never changes after load(), so any number of sessions on any
// threads share it. Rotation swaps in a new context (TlsCredentials): new
// connections use the new files, open ones keep the context they started
// with.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace dengine::net {

enum class TlsVersion { k1_2, k1_3 };

const char* to_string(TlsVersion version);  // "TLS 1.2", "TLS 1.3"

struct TlsOptions {
  std::string cert_file;  // PEM certificate this side presents, then its chain
  std::string key_file;   // PEM private key of cert_file, unencrypted
  std::string ca_file;    // PEM CA bundle the other side must chain to
  TlsVersion min_version = TlsVersion::k1_3;  // the lowest version accepted
  // The highest version offered. Only tests lower it, to check that a peer
  // that cannot meet min_version is refused.
  TlsVersion max_version = TlsVersion::k1_3;
};

// Checks that `options` are whole, without reading any file: ca_file always,
// cert_file and key_file both or neither (both if `cert_required`, as for a
// node, which presents a certificate on both sides of its peer connections),
// min_version at most max_version. Returns an empty string, or what is
// missing.
std::string validate(const TlsOptions& options, bool cert_required);

// Loaded credentials: one SSL_CTX for each side of a connection, both with
// the CA store, the version range, no renegotiation, no compression and no
// session resumption, and the certificate and key if given.
//
// Immutable after load(); thread-safe. Sessions hold a shared_ptr, so a
// context outlives every session started from it.
class TlsContext {
 public:
  // Reads and checks every file of `options` (validate(options, false)
  // first). On success sets *out and returns an empty string. Otherwise
  // leaves *out alone and returns what failed, naming the file, e.g.
  //   tls cert_file /x/node.pem: cannot read: No such file or directory
  //   tls key_file /x/k.pem does not match cert_file /x/c.pem
  //   tls cert_file /x/c.pem is not signed by ca_file /x/ca.pem: <reason>
  //   tls cert_file /x/c.pem has expired (not after <date>)
  static std::string load(const TlsOptions& options,
                          std::shared_ptr<const TlsContext>* out);
  // Tests only: as load(), but without checking this side's certificate
  // against the CA and the clock, to make a peer that presents an expired or
  // foreign certificate (as a node would once its certificate expired while
  // it ran).
  static std::string load_unchecked_for_testing(
      const TlsOptions& options, std::shared_ptr<const TlsContext>* out);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // The options it was loaded from.
  const TlsOptions& options() const { return options_; }
  // Whether this side presents a certificate. A server must; a client
  // without one is refused by a server that requires one.
  bool has_certificate() const { return !options_.cert_file.empty(); }

 private:
  friend class TlsSession;
  explicit TlsContext(TlsOptions options) : options_(std::move(options)) {}
  static std::string load(const TlsOptions& options, bool check_own_cert,
                          std::shared_ptr<const TlsContext>* out);

  TlsOptions options_;
  ssl_ctx_st* server_ = nullptr;  // owned
  ssl_ctx_st* client_ = nullptr;  // owned
};

// The current credentials of a running node or client, replaceable while it
// runs (certificate rotation). Thread-safe.
class TlsCredentials {
 public:
  // `initial` must not be null.
  explicit TlsCredentials(std::shared_ptr<const TlsContext> initial);

  // The context for a new connection. Never null.
  std::shared_ptr<const TlsContext> current() const;

  // Loads `options` anew (TlsContext::load) and, only if that succeeds,
  // makes the new context current. Returns an empty string, or the load
  // error; then the old context stays current. Loads on the calling thread,
  // outside the lock: current() never waits for file reads.
  std::string reload(const TlsOptions& options);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const TlsContext> current_;
};

}  // namespace dengine::net
