#include "net/tls_session.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <utility>

#include "net/frame.h"
#include "net/tls_openssl.h"

namespace dengine::net {

namespace {

using tls_detail::OpenSslPtr;
using tls_detail::take_openssl_error;

// The largest plaintext a TLS record carries: one SSL_read returns at most
// this much.
constexpr size_t kMaxRecordPlaintext = 16384;
constexpr unsigned char kHandshakeRecord = 0x16;
constexpr unsigned char kAlertRecord = 0x15;

std::string asn1_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  const int family = ASN1_STRING_length(ip) == 4    ? AF_INET
                     : ASN1_STRING_length(ip) == 16 ? AF_INET6
                                                    : AF_UNSPEC;
  if (family == AF_UNSPEC || inet_ntop(family, ASN1_STRING_get0_data(ip), buf,
                                       sizeof(buf)) == nullptr) {
    return "";
  }
  return buf;
}

TlsPeerIdentity identity_of(X509* cert) {
  TlsPeerIdentity identity;
  if (cert == nullptr) return identity;
  identity.presented = true;
  X509_NAME* subject = X509_get_subject_name(cert);
  const int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn >= 0) {
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(
        &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn)));
    if (n >= 0) {
      identity.common_name.assign(reinterpret_cast<char*>(utf8),
                                  static_cast<size_t>(n));
      OPENSSL_free(utf8);
    }
  }
  OpenSslPtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    switch (name->type) {
      case GEN_URI:
        identity.uris.push_back(asn1_text(name->d.uniformResourceIdentifier));
        break;
      case GEN_DNS:
        identity.dns_names.push_back(asn1_text(name->d.dNSName));
        break;
      case GEN_IPADD:
        if (std::string ip = ip_text(name->d.iPAddress); !ip.empty()) {
          identity.ip_addresses.push_back(std::move(ip));
        }
        break;
      default:
        break;
    }
  }
  ERR_clear_error();
  return identity;
}

// Why the first bytes from the peer cannot begin a TLS stream, or "". A
// client hello opens with a handshake record; a server answers with one, or
// with an alert.
std::string not_tls(std::string_view bytes, TlsSession::Side side) {
  const auto byte = [&](size_t i) {
    return static_cast<unsigned char>(bytes[i]);
  };
  if (byte(0) == kHandshakeRecord ||
      (side == TlsSession::Side::kClient && byte(0) == kAlertRecord)) {
    return "";
  }
  const std::string what = "the peer is not speaking TLS";
  if (bytes.size() >= 2 && byte(0) == (kFrameMagic & 0xFF) &&
      byte(1) == (kFrameMagic >> 8)) {
    return what + ": it sent a plaintext dengine frame (is TLS off there?)";
  }
  const std::string_view head = bytes.substr(0, 32);
  const bool text = std::all_of(head.begin(), head.end(), [](char c) {
    return (c >= 0x20 && c < 0x7F) || c == '\r' || c == '\n' || c == '\t';
  });
  if (text) {
    const std::string_view line = head.substr(0, head.find_first_of("\r\n"));
    return what + ": it sent plain text \"" + std::string(line) +
           "\" (a plaintext client or server?)";
  }
  return what + " (a plaintext client or server?)";
}

std::string version_range(const TlsOptions& options) {
  if (options.min_version == options.max_version) {
    return std::string(to_string(options.min_version)) + " only";
  }
  return std::string(to_string(options.min_version)) + " to " +
         to_string(options.max_version);
}

}  // namespace

std::optional<uint64_t> TlsPeerIdentity::node_id() const {
  constexpr std::string_view kPrefix = "dengine:node:";
  std::optional<uint64_t> id;
  for (const std::string& uri : uris) {
    if (!uri.starts_with(kPrefix)) continue;
    const std::string_view digits =
        std::string_view(uri).substr(kPrefix.size());
    uint64_t value = 0;
    const auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), value);
    const bool whole = !digits.empty() && digits[0] != '-' &&
                       ec == std::errc() &&
                       end == digits.data() + digits.size();
    if (!whole || value == 0 || (id && *id != value)) return std::nullopt;
    id = value;
  }
  return id;
}

struct TlsSession::Impl {
  std::shared_ptr<const TlsContext> context;
  Options options;
  OpenSslPtr<SSL> ssl;
  BIO* in = nullptr;   // socket bytes for OpenSSL; owned by ssl
  BIO* out = nullptr;  // OpenSSL's bytes for the socket; owned by ssl
  bool started = false;
  bool first_bytes_seen = false;
  bool handshake_done = false;
  bool closed = false;
  bool peer_closed = false;
  std::string error;
  std::string unsent;  // plaintext waiting for the handshake
  std::string plaintext;
  TlsPeerIdentity peer;

  bool fail(std::string why) {
    if (error.empty()) error = std::move(why);
    ERR_clear_error();
    return false;
  }
  bool advance();
  bool write(std::string_view data);
  std::string describe(int ssl_error);
  std::string describe_verify_failure();
};

// Runs the handshake as far as the input allows, then decrypts every
// complete record, then writes what waited for the handshake.
bool TlsSession::Impl::advance() {
  ERR_clear_error();
  if (!handshake_done) {
    const int r = SSL_do_handshake(ssl.get());
    if (r != 1) {
      const int e = SSL_get_error(ssl.get(), r);
      if (e == SSL_ERROR_WANT_READ) return true;
      return fail(describe(e));
    }
    handshake_done = true;
    peer = identity_of(SSL_get0_peer_certificate(ssl.get()));
  }
  for (;;) {
    const size_t old = plaintext.size();
    plaintext.resize(old + kMaxRecordPlaintext);
    size_t n = 0;
    const int r =
        SSL_read_ex(ssl.get(), plaintext.data() + old, kMaxRecordPlaintext, &n);
    plaintext.resize(old + n);
    if (r == 1) continue;
    const int e = SSL_get_error(ssl.get(), r);
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      peer_closed = true;
      break;
    }
    return fail(describe(e));
  }
  if (!unsent.empty() && !closed) {
    const std::string data = std::move(unsent);
    unsent.clear();
    return write(data);
  }
  return true;
}

// Encrypts `data` into the output; keeps what OpenSSL cannot take yet (it
// must read first, e.g. a key update) in `unsent`, which must be empty.
bool TlsSession::Impl::write(std::string_view data) {
  while (!data.empty()) {
    ERR_clear_error();
    size_t n = 0;
    const int r = SSL_write_ex(ssl.get(), data.data(), data.size(), &n);
    if (r == 1) {
      data.remove_prefix(n);
      continue;
    }
    const int e = SSL_get_error(ssl.get(), r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      unsent.assign(data);
      return true;
    }
    return fail(describe(e));
  }
  return true;
}

std::string TlsSession::Impl::describe_verify_failure() {
  const long code = SSL_get_verify_result(ssl.get());
  switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "the peer's certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "the peer's certificate is not valid yet (are the clocks "
             "right?)";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "the peer's certificate is not signed by the configured CA";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "the peer's certificate does not name " + options.verify_host;
    default:
      return std::string("certificate verify failed: ") +
             X509_verify_cert_error_string(code);
  }
}

// Plain words for a failed SSL call; empties the error queue.
std::string TlsSession::Impl::describe(int ssl_error) {
  const unsigned long first = ERR_peek_error();
  const std::string openssl = take_openssl_error();
  const std::string stage = handshake_done ? "TLS" : "TLS handshake";
  if (ssl_error != SSL_ERROR_SSL || ERR_GET_LIB(first) != ERR_LIB_SSL) {
    return stage + " failed: " +
           (openssl.empty() ? "error " + std::to_string(ssl_error) : openssl);
  }
  const std::string ours = context->has_certificate()
                               ? "this side's certificate"
                               : "this side (it presents no certificate)";
  switch (ERR_GET_REASON(first)) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return describe_verify_failure();
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return "the peer presented no certificate, and one is required";
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return "the peer requires a certificate, and this side presented none";
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      return "the peer refused " + ours +
             ": it is not signed by a CA the peer trusts";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      return "the peer refused " + ours + ": it has expired";
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      return "the peer refused " + ours + " (" + openssl + ")";
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_WRONG_SSL_VERSION:
      return "no TLS version in common with the peer (this side accepts " +
             version_range(context->options()) + ")";
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
    case SSL_R_UNEXPECTED_MESSAGE:
    case SSL_R_UNEXPECTED_RECORD:
    case SSL_R_LENGTH_MISMATCH:
    case SSL_R_BAD_PACKET_LENGTH:
      return "the peer sent malformed TLS (" + openssl + ")";
    default:
      if (ERR_GET_REASON(first) >= SSL_AD_REASON_OFFSET) {
        return std::string("the peer ended the ") +
               (handshake_done ? "connection" : "handshake") +
               " with an alert (" + openssl + ")";
      }
      return stage + " failed: " + openssl;
  }
}

TlsSession::TlsSession(std::shared_ptr<const TlsContext> context,
                       Options options)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.context = std::move(context);
  s.options = std::move(options);
  const bool server = s.options.side == Side::kServer;
  if (server && !s.context->has_certificate()) {
    s.fail(
        "this side has no certificate to serve TLS with (tls cert_file "
        "is not set)");
    return;
  }
  ERR_clear_error();
  s.ssl.reset(SSL_new(server ? s.context->server_ : s.context->client_));
  s.in = BIO_new(BIO_s_mem());
  s.out = BIO_new(BIO_s_mem());
  if (!s.ssl || s.in == nullptr || s.out == nullptr) {
    BIO_free(s.in);
    BIO_free(s.out);
    s.in = s.out = nullptr;
    s.fail("tls: cannot create a session: " + take_openssl_error());
    return;
  }
  // An empty input means "wait for more bytes", never end of stream.
  BIO_set_mem_eof_return(s.in, -1);
  BIO_set_mem_eof_return(s.out, -1);
  SSL_set_bio(s.ssl.get(), s.in, s.out);
  if (server) {
    SSL_set_verify(s.ssl.get(),
                   s.options.peer_cert == PeerCert::kRequired
                       ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                       : SSL_VERIFY_PEER,
                   nullptr);
    SSL_set_accept_state(s.ssl.get());
    return;
  }
  SSL_set_verify(s.ssl.get(), SSL_VERIFY_PEER, nullptr);
  std::string host = s.options.verify_host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (!host.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(s.ssl.get());
    X509_VERIFY_PARAM_set_hostflags(param,
                                    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                                        X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      ERR_clear_error();
      if (X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1 ||
          SSL_set_tlsext_host_name(s.ssl.get(), host.c_str()) != 1) {
        s.fail("tls: cannot verify host \"" + s.options.verify_host +
               "\": " + take_openssl_error());
        return;
      }
    }
  }
  SSL_set_connect_state(s.ssl.get());
}

TlsSession::~TlsSession() = default;
TlsSession::TlsSession(TlsSession&&) noexcept = default;
TlsSession& TlsSession::operator=(TlsSession&&) noexcept = default;

void TlsSession::start() {
  if (impl_->started || failed()) return;
  impl_->started = true;
  impl_->advance();
}

bool TlsSession::receive(std::string_view bytes) {
  Impl& s = *impl_;
  if (failed()) return false;
  if (!s.started) start();
  if (bytes.empty()) return !failed();
  if (!s.first_bytes_seen) {
    s.first_bytes_seen = true;
    if (std::string why = not_tls(bytes, s.options.side); !why.empty()) {
      // OpenSSL would not answer bytes that are not TLS at all: a fatal
      // protocol_version alert by hand, so that a plaintext peer can tell
      // that this side speaks TLS (looks_like_tls_record).
      static constexpr unsigned char kAlert[] = {kAlertRecord,
                                                 0x03,
                                                 0x03,
                                                 0x00,
                                                 0x02,
                                                 /*fatal*/ 0x02,
                                                 /*protocol_version*/ 0x46};
      size_t written = 0;
      BIO_write_ex(s.out, kAlert, sizeof kAlert, &written);
      return s.fail(std::move(why));
    }
  }
  while (!bytes.empty()) {
    const size_t piece = std::min<size_t>(bytes.size(), INT_MAX);
    if (BIO_write(s.in, bytes.data(), static_cast<int>(piece)) !=
        static_cast<int>(piece)) {
      return s.fail("tls: out of memory");
    }
    bytes.remove_prefix(piece);
  }
  return s.advance();
}

bool TlsSession::send(std::string_view plaintext) {
  Impl& s = *impl_;
  if (failed() || s.closed) return false;
  if (!s.started) start();
  if (!s.handshake_done || !s.unsent.empty()) {
    s.unsent.append(plaintext);
    return !failed();
  }
  return s.write(plaintext);
}

std::string TlsSession::take_ciphertext() {
  Impl& s = *impl_;
  if (s.out == nullptr) return "";
  std::string bytes(BIO_ctrl_pending(s.out), '\0');
  size_t n = 0;
  if (!bytes.empty() &&
      BIO_read_ex(s.out, bytes.data(), bytes.size(), &n) != 1) {
    n = 0;
  }
  bytes.resize(n);
  return bytes;
}

std::string TlsSession::take_plaintext() {
  return std::exchange(impl_->plaintext, std::string());
}

bool TlsSession::handshake_done() const { return impl_->handshake_done; }
bool TlsSession::failed() const { return !impl_->error.empty(); }
const std::string& TlsSession::error() const { return impl_->error; }
const TlsPeerIdentity& TlsSession::peer_identity() const { return impl_->peer; }
bool TlsSession::peer_closed() const { return impl_->peer_closed; }

void TlsSession::close() {
  Impl& s = *impl_;
  if (s.closed || failed()) return;
  s.closed = true;
  s.unsent.clear();
  if (s.handshake_done) {
    ERR_clear_error();
    SSL_shutdown(s.ssl.get());
    ERR_clear_error();
  }
}

bool looks_like_tls(std::string_view first_bytes) {
  const auto byte = [&](size_t i) {
    return static_cast<unsigned char>(first_bytes[i]);
  };
  const size_t n = first_bytes.size();
  return n > 0 && byte(0) == kHandshakeRecord && (n < 2 || byte(1) == 0x03) &&
         (n < 3 || byte(2) <= 0x04) && (n < 6 || byte(5) == 0x01);
}

bool looks_like_tls_record(std::string_view first_bytes) {
  if (first_bytes.size() < 3) return false;
  const auto type = static_cast<unsigned char>(first_bytes[0]);
  return (type == kAlertRecord || type == kHandshakeRecord) &&
         first_bytes[1] == 0x03 &&
         static_cast<unsigned char>(first_bytes[2]) <= 0x04;
}

}  // namespace dengine::net
