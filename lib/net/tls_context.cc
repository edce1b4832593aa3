#include "net/tls_context.h"

#include <openssl/pem.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "net/tls_openssl.h"

namespace dengine::net {

namespace tls_detail {

std::string take_openssl_error() {
  std::string text;
  const char* data = nullptr;
  int flags = 0;
  const unsigned long first =
      ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags);
  if (first != 0) {
    const char* reason = ERR_reason_error_string(first);
    if (reason != nullptr) {
      text = reason;
    } else {
      char buf[256];
      ERR_error_string_n(first, buf, sizeof(buf));
      text = buf;
    }
    if (data != nullptr && (flags & ERR_TXT_STRING) && *data != '\0') {
      text += std::string(" (") + data + ")";
    }
  }
  ERR_clear_error();
  return text;
}

}  // namespace tls_detail

namespace {

using tls_detail::OpenSslPtr;
using tls_detail::take_openssl_error;

std::string describe(const char* option, const std::string& path) {
  return std::string("tls ") + option + " " + path;
}

// Reads the whole of `path` into *out. Returns "" or why it cannot be read.
std::string read_file(const char* option, const std::string& path,
                      std::string* out) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return describe(option, path) + ": cannot read: " + std::strerror(errno);
  }
  std::string error;
  char buf[16384];
  out->clear();
  for (;;) {
    const size_t n = std::fread(buf, 1, sizeof(buf), file);
    out->append(buf, n);
    if (n < sizeof(buf)) {
      if (std::ferror(file)) {
        error =
            describe(option, path) + ": cannot read: " + std::strerror(errno);
      }
      break;
    }
  }
  std::fclose(file);
  return error;
}

// No passphrase prompts: dengine reads keys unattended, so an encrypted key
// fails to load instead of waiting for a terminal.
int no_passphrase(char*, int, int, void*) { return -1; }

OpenSslPtr<BIO> memory_bio(const std::string& bytes) {
  return OpenSslPtr<BIO>(
      BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// Parses every PEM certificate in `pem`, in order. Returns "" or what is
// wrong; no certificate at all is an error.
std::string parse_certificates(const char* option, const std::string& path,
                               const std::string& pem,
                               std::vector<OpenSslPtr<X509>>* out) {
  ERR_clear_error();
  OpenSslPtr<BIO> bio = memory_bio(pem);
  if (!bio) return describe(option, path) + ": " + take_openssl_error();
  for (;;) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr);
    if (cert == nullptr) break;
    out->emplace_back(cert);
  }
  // The loop ends at the first thing that is not a certificate: the end of
  // the file (no start line) is expected, anything else is damage.
  const unsigned long last = ERR_peek_last_error();
  if (ERR_GET_LIB(last) == ERR_LIB_PEM &&
      ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
  }
  const std::string error = take_openssl_error();
  if (!error.empty()) {
    return describe(option, path) + ": not a valid PEM certificate: " + error;
  }
  if (out->empty()) {
    return describe(option, path) + ": no PEM certificate in it";
  }
  return "";
}

std::string parse_private_key(const std::string& path, const std::string& pem,
                              OpenSslPtr<EVP_PKEY>* out) {
  ERR_clear_error();
  OpenSslPtr<BIO> bio = memory_bio(pem);
  if (!bio) return describe("key_file", path) + ": " + take_openssl_error();
  out->reset(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!*out) {
    return describe("key_file", path) +
           ": not an unencrypted PEM private key: " + take_openssl_error();
  }
  return "";
}

std::string print_time(const ASN1_TIME* time) {
  OpenSslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), time) != 1) return "?";
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// Checks that the certificate this side presents chains to the CA, with the
// same checks a peer will make (its chain, its validity period).
std::string verify_own_certificate(const TlsOptions& options, X509_STORE* store,
                                   const std::vector<OpenSslPtr<X509>>& chain) {
  OpenSslPtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  if (!ctx || untrusted == nullptr) {
    sk_X509_free(untrusted);
    return describe("cert_file", options.cert_file) + ": out of memory";
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    sk_X509_push(untrusted, chain[i].get());
  }
  X509* leaf = chain[0].get();
  int ok = X509_STORE_CTX_init(ctx.get(), store, leaf, untrusted);
  if (ok == 1) ok = X509_verify_cert(ctx.get());
  const int code = X509_STORE_CTX_get_error(ctx.get());
  const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  sk_X509_free(untrusted);
  ERR_clear_error();
  if (ok == 1) return "";

  const std::string cert = describe("cert_file", options.cert_file);
  if (depth == 0 && code == X509_V_ERR_CERT_HAS_EXPIRED) {
    return cert + " has expired (not after " +
           print_time(X509_get0_notAfter(leaf)) + ")";
  }
  if (depth == 0 && code == X509_V_ERR_CERT_NOT_YET_VALID) {
    return cert + " is not valid yet (not before " +
           print_time(X509_get0_notBefore(leaf)) + ")";
  }
  const std::string reason = X509_verify_cert_error_string(code);
  switch (code) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return cert + " is not signed by ca_file " + options.ca_file + ": " +
             reason;
    default:
      return cert + " does not verify against ca_file " + options.ca_file +
             ": " + reason + " (at chain depth " + std::to_string(depth) + ")";
  }
}

int protocol_version(TlsVersion version) {
  return version == TlsVersion::k1_2 ? TLS1_2_VERSION : TLS1_3_VERSION;
}

// One side's SSL_CTX. The store is shared (reference-counted) by both sides.
std::string make_ssl_ctx(bool server, const TlsOptions& options,
                         X509_STORE* store,
                         const std::vector<OpenSslPtr<X509>>& chain,
                         EVP_PKEY* key, OpenSslPtr<SSL_CTX>* out) {
  ERR_clear_error();
  OpenSslPtr<SSL_CTX> ctx(
      SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return "tls: cannot create a context: " + take_openssl_error();
  SSL_CTX_set_min_proto_version(ctx.get(),
                                protocol_version(options.min_version));
  SSL_CTX_set_max_proto_version(ctx.get(),
                                protocol_version(options.max_version));
  // No resumption: every connection verifies the peer's certificate afresh,
  // and rotated credentials take effect on the next connection.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  // Sessions retry a write from a buffer that may have moved (grown).
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  X509_STORE_up_ref(store);
  SSL_CTX_set_cert_store(ctx.get(), store);
  if (!chain.empty()) {
    bool ok = SSL_CTX_use_certificate(ctx.get(), chain[0].get()) == 1;
    for (size_t i = 1; ok && i < chain.size(); ++i) {
      ok = SSL_CTX_add1_chain_cert(ctx.get(), chain[i].get()) == 1;
    }
    ok = ok && SSL_CTX_use_PrivateKey(ctx.get(), key) == 1;
    if (!ok) {
      return describe("cert_file", options.cert_file) +
             ": cannot be used: " + take_openssl_error();
    }
  }
  *out = std::move(ctx);
  return "";
}

}  // namespace

const char* to_string(TlsVersion version) {
  return version == TlsVersion::k1_2 ? "TLS 1.2" : "TLS 1.3";
}

std::string validate(const TlsOptions& options, bool cert_required) {
  if (options.ca_file.empty()) {
    return "tls ca_file is not set (the CA the other side's certificate "
           "must be signed by)";
  }
  if (!options.cert_file.empty() && options.key_file.empty()) {
    return "tls cert_file is set but key_file is not";
  }
  if (options.cert_file.empty() && !options.key_file.empty()) {
    return "tls key_file is set but cert_file is not";
  }
  if (cert_required && options.cert_file.empty()) {
    return "tls cert_file and key_file are not set (this side must present "
           "a certificate)";
  }
  if (options.min_version > options.max_version) {
    return std::string("tls min_version ") + to_string(options.min_version) +
           " is above max_version " + to_string(options.max_version);
  }
  return "";
}

std::string TlsContext::load(const TlsOptions& options,
                             std::shared_ptr<const TlsContext>* out) {
  return load(options, true, out);
}

std::string TlsContext::load_unchecked_for_testing(
    const TlsOptions& options, std::shared_ptr<const TlsContext>* out) {
  return load(options, false, out);
}

std::string TlsContext::load(const TlsOptions& options, bool check_own_cert,
                             std::shared_ptr<const TlsContext>* out) {
  if (std::string error = validate(options, false); !error.empty()) {
    return error;
  }
  std::string pem;
  std::vector<OpenSslPtr<X509>> cas;
  if (std::string error = read_file("ca_file", options.ca_file, &pem);
      !error.empty()) {
    return error;
  }
  if (std::string error =
          parse_certificates("ca_file", options.ca_file, pem, &cas);
      !error.empty()) {
    return error;
  }
  OpenSslPtr<X509_STORE> store(X509_STORE_new());
  if (!store) return "tls: out of memory";
  for (const auto& ca : cas) {
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1) {
      return describe("ca_file", options.ca_file) +
             ": cannot be used: " + take_openssl_error();
    }
  }

  std::vector<OpenSslPtr<X509>> chain;
  OpenSslPtr<EVP_PKEY> key;
  if (!options.cert_file.empty()) {
    if (std::string error = read_file("cert_file", options.cert_file, &pem);
        !error.empty()) {
      return error;
    }
    if (std::string error =
            parse_certificates("cert_file", options.cert_file, pem, &chain);
        !error.empty()) {
      return error;
    }
    if (std::string error = read_file("key_file", options.key_file, &pem);
        !error.empty()) {
      return error;
    }
    if (std::string error = parse_private_key(options.key_file, pem, &key);
        !error.empty()) {
      return error;
    }
    if (X509_check_private_key(chain[0].get(), key.get()) != 1) {
      ERR_clear_error();
      return describe("key_file", options.key_file) +
             " does not match cert_file " + options.cert_file;
    }
    if (std::string error =
            check_own_cert ? verify_own_certificate(options, store.get(), chain)
                           : "";
        !error.empty()) {
      return error;
    }
  }

  std::shared_ptr<TlsContext> context(new TlsContext(options));
  OpenSslPtr<SSL_CTX> server;
  OpenSslPtr<SSL_CTX> client;
  if (std::string error =
          make_ssl_ctx(true, options, store.get(), chain, key.get(), &server);
      !error.empty()) {
    return error;
  }
  if (std::string error =
          make_ssl_ctx(false, options, store.get(), chain, key.get(), &client);
      !error.empty()) {
    return error;
  }
  context->server_ = server.release();
  context->client_ = client.release();
  *out = std::move(context);
  return "";
}

TlsContext::~TlsContext() {
  SSL_CTX_free(server_);
  SSL_CTX_free(client_);
}

TlsCredentials::TlsCredentials(std::shared_ptr<const TlsContext> initial)
    : current_(std::move(initial)) {}

std::shared_ptr<const TlsContext> TlsCredentials::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::string TlsCredentials::reload(const TlsOptions& options) {
  std::shared_ptr<const TlsContext> fresh;
  if (std::string error = TlsContext::load(options, &fresh); !error.empty()) {
    return error;
  }
  std::shared_ptr<const TlsContext> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = std::exchange(current_, std::move(fresh));
  }
  return "";  // `old` is released outside the lock
}

}  // namespace dengine::net
