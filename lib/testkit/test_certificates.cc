#include "testkit/test_certificates.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace dengine::testkit {

namespace {

struct OpenSslFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree>;

[[noreturn]] void fail(const std::string& what) {
  char reason[256] = "unknown error";
  if (const unsigned long e = ERR_get_error(); e != 0) {
    ERR_error_string_n(e, reason, sizeof(reason));
  }
  ERR_clear_error();
  throw std::runtime_error("test certificates: " + what + ": " + reason);
}

OpenSslPtr<EVP_PKEY> new_key() {
  OpenSslPtr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("cannot make an EC P-256 key");
  return key;
}

// Adds the extension `value` (OpenSSL's configuration syntax, e.g.
// "critical,CA:TRUE") to `cert`, issued by `issuer` (itself if self-signed).
void add_extension(X509* cert, X509* issuer, int nid,
                   const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  OpenSslPtr<X509_EXTENSION> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    fail("bad extension " + std::string(OBJ_nid2sn(nid)) + " " + value);
  }
}

// A certificate for `key` named `common_name`, valid between the two day
// offsets from now, with a random serial; not yet signed.
OpenSslPtr<X509> new_certificate(EVP_PKEY* key, const std::string& common_name,
                                 int not_before_days, int not_after_days) {
  OpenSslPtr<X509> cert(X509_new());
  uint64_t serial = 0;
  if (!cert || RAND_bytes(reinterpret_cast<unsigned char*>(&serial),
                          sizeof(serial)) != 1) {
    fail("cannot make a certificate");
  }
  constexpr long kDay = 24 * 60 * 60;
  not_before_days = std::min(not_before_days, not_after_days - 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  const bool ok =
      X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
      ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial >> 1) ==
          1 &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()),
                      not_before_days * kDay) != nullptr &&
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_days * kDay) !=
          nullptr &&
      X509_set_pubkey(cert.get(), key) == 1 &&
      (common_name.empty() ||
       X509_NAME_add_entry_by_txt(
           name, "CN", MBSTRING_UTF8,
           reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
           0) == 1);
  if (!ok) fail("cannot fill in the certificate for " + common_name);
  return cert;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  OpenSslPtr<BIO> bio(BIO_new_file(path.c_str(), "w"));
  const bool ok =
      bio && (cert == nullptr
                  ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr,
                                             0, nullptr, nullptr) == 1
                  : PEM_write_bio_X509(bio.get(), cert) == 1);
  if (!ok) fail("cannot write " + path);
}

}  // namespace

struct TestCertificateAuthority::Key {
  OpenSslPtr<EVP_PKEY> key;
  OpenSslPtr<X509> cert;
};

TestCertificateAuthority::TestCertificateAuthority(std::string dir,
                                                   std::string name)
    : dir_(std::move(dir)),
      ca_file_(dir_ + "/" + name + ".crt"),
      key_(std::make_unique<Key>()) {
  key_->key = new_key();
  key_->cert = new_certificate(key_->key.get(), name, -1, 3650);
  X509* cert = key_->cert.get();
  if (X509_set_issuer_name(cert, X509_get_subject_name(cert)) != 1) {
    fail("cannot name the CA's issuer");
  }
  add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(cert, cert, NID_subject_key_identifier, "hash");
  add_extension(cert, cert, NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert, key_->key.get(), EVP_sha256()) == 0) {
    fail("cannot sign the CA certificate");
  }
  write_pem(ca_file_, cert, nullptr);
  write_pem(dir_ + "/" + name + ".key", nullptr, key_->key.get());
}

TestCertificateAuthority::~TestCertificateAuthority() = default;

CertFiles TestCertificateAuthority::issue(const std::string& file_stem,
                                          const Request& request) const {
  OpenSslPtr<EVP_PKEY> key = new_key();
  OpenSslPtr<X509> cert =
      new_certificate(key.get(), request.common_name, request.not_before_days,
                      request.not_after_days);
  X509* ca = key_->cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca)) != 1) {
    fail("cannot name the issuer of " + file_stem);
  }
  add_extension(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), ca, NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), ca, NID_ext_key_usage, "serverAuth,clientAuth");
  add_extension(cert.get(), ca, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), ca, NID_authority_key_identifier, "keyid:always");
  if (!request.subject_alt_names.empty()) {
    std::string names;
    for (const std::string& name : request.subject_alt_names) {
      names += (names.empty() ? "" : ",") + name;
    }
    add_extension(cert.get(), ca, NID_subject_alt_name, names);
  }
  if (X509_sign(cert.get(), key_->key.get(), EVP_sha256()) == 0) {
    fail("cannot sign " + file_stem);
  }
  CertFiles files{dir_ + "/" + file_stem + ".crt",
                  dir_ + "/" + file_stem + ".key"};
  write_pem(files.cert_file, cert.get(), nullptr);
  write_pem(files.key_file, nullptr, key.get());
  return files;
}

CertFiles TestCertificateAuthority::issue_node(uint64_t id,
                                               int not_after_days) const {
  Request request;
  request.common_name = "node-" + std::to_string(id);
  request.subject_alt_names = {"URI:dengine:node:" + std::to_string(id),
                               "IP:127.0.0.1", "DNS:localhost"};
  request.not_after_days = not_after_days;
  return issue(request.common_name, request);
}

CertFiles TestCertificateAuthority::issue_client(
    const std::string& identity) const {
  Request request;
  request.common_name = identity;
  return issue("client-" + identity, request);
}

}  // namespace dengine::testkit
