// The blocking client connection's TLS against a server made by hand (one
// accepted socket, a TlsSession moved by the test's thread): the handshake
// runs within open()'s deadline and can be interrupted by the wake fd,
// frames then travel encrypted, and a server that is not what the client
// expects (silent, closing, plaintext answering with a TLS alert) is
// reported at once with what is wrong, marked as a TLS failure.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "../storage/scratch_dir.h"
#include "client/connection.h"
#include "net/frame.h"
#include "net/tls_context.h"
#include "net/tls_session.h"
#include "testkit/test_certificates.h"

namespace dengine::client {
namespace {

using testkit::TestCertificateAuthority;

::testing::AssertionResult contains(const std::string& text,
                                    const std::string& part) {
  if (text.find(part) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "\"" << text << "\" does not contain \"" << part << "\"";
}

// Listens on 127.0.0.1 and runs `serve` with the first connection accepted,
// on its own thread; closes the connection when `serve` returns.
class OneConnectionServer {
 public:
  explicit OneConnectionServer(std::function<void(int fd)> serve)
      : listen_fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 ||
        bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(listen_fd_, 4) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) !=
            0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    endpoint_ = {"127.0.0.1", ntohs(addr.sin_port)};
    thread_ = std::thread([this, serve = std::move(serve)] {
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      serve(fd);
      close(fd);
    });
  }
  ~OneConnectionServer() {
    shutdown(listen_fd_, SHUT_RDWR);  // ends an accept() still waiting
    thread_.join();
    close(listen_fd_);
  }
  OneConnectionServer(const OneConnectionServer&) = delete;
  OneConnectionServer& operator=(const OneConnectionServer&) = delete;

  const net::HostPort& endpoint() const { return endpoint_; }

 private:
  int listen_fd_;
  net::HostPort endpoint_;
  std::thread thread_;
};

void send_all(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

// Serves TLS on `fd` until the peer closes: every frame received is sent
// back.
void echo_frames_over_tls(int fd, std::shared_ptr<const net::TlsContext> ctx) {
  net::TlsSession tls(
      std::move(ctx),
      net::TlsSession::server(net::TlsSession::PeerCert::kOptional));
  tls.start();
  net::FrameDecoder decoder;
  char buffer[16 * 1024];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return;
    const bool ok = tls.receive(std::string_view(buffer, n));
    send_all(fd, tls.take_ciphertext());
    if (!ok) return;
    decoder.feed(tls.take_plaintext());
    while (std::optional<net::Frame> frame = decoder.pop()) {
      tls.send(net::encode_frame(frame->type, frame->payload));
      send_all(fd, tls.take_ciphertext());
    }
  }
}

// Waits until the client closes, saying nothing.
void stay_silent(int fd) {
  char buffer[1024];
  while (recv(fd, buffer, sizeof buffer, 0) > 0) {
  }
}

class ConnectionTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = std::make_unique<TestCertificateAuthority>(dir_.path());
    const testkit::CertFiles server = ca_->issue_node(1);
    net::TlsOptions options;
    options.cert_file = server.cert_file;
    options.key_file = server.key_file;
    options.ca_file = ca_->ca_file();
    ASSERT_EQ(net::TlsContext::load(options, &server_context_), "");
    net::TlsOptions client_options;
    client_options.ca_file = ca_->ca_file();
    ASSERT_EQ(net::TlsContext::load(client_options, &client_context_), "");
  }

  Status open(const net::HostPort& endpoint, Clock::duration patience,
              std::unique_ptr<Connection>* out, int wake_fd = -1) {
    const TlsTarget tls{client_context_, ""};
    return Connection::open(endpoint, Clock::now() + patience,
                            net::kDefaultMaxFramePayload, out, wake_fd, &tls);
  }

  storage::ScratchDir dir_;
  std::unique_ptr<TestCertificateAuthority> ca_;
  std::shared_ptr<const net::TlsContext> server_context_;
  std::shared_ptr<const net::TlsContext> client_context_;
};

TEST_F(ConnectionTlsTest, FramesTravelOverTheHandshakenSession) {
  OneConnectionServer server(
      [this](int fd) { echo_frames_over_tls(fd, server_context_); });
  std::unique_ptr<Connection> connection;
  const Status opened =
      open(server.endpoint(), std::chrono::seconds(10), &connection);
  ASSERT_TRUE(opened.ok()) << opened.message;
  const std::string big(200 * 1024, 'x');  // many TLS records
  for (const std::string& payload : {std::string("hello"), big}) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    ASSERT_TRUE(
        connection
            ->send(net::encode_frame(net::FrameType::kClientRequest, payload),
                   deadline)
            .ok());
    net::Frame frame;
    const Status received = connection->receive(&frame, deadline);
    ASSERT_TRUE(received.ok()) << received.message;
    EXPECT_EQ(frame.type, net::FrameType::kClientRequest);
    EXPECT_EQ(frame.payload, payload);
  }
}

TEST_F(ConnectionTlsTest, ASilentServerTimesTheHandshakeOut) {
  OneConnectionServer server(stay_silent);
  std::unique_ptr<Connection> connection;
  const Status opened =
      open(server.endpoint(), std::chrono::milliseconds(200), &connection);
  EXPECT_EQ(opened.code, DENGINE_ERR_TIMEOUT);
  EXPECT_TRUE(contains(opened.message, "no TLS handshake from 127.0.0.1:"));
  EXPECT_EQ(connection, nullptr);
}

TEST_F(ConnectionTlsTest, TheWakeFdInterruptsOpening) {
  OneConnectionServer server(stay_silent);
  const int wake_fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);  // readable
  ASSERT_GE(wake_fd, 0);
  std::unique_ptr<Connection> connection;
  const Status opened =
      open(server.endpoint(), std::chrono::seconds(30), &connection, wake_fd);
  close(wake_fd);
  EXPECT_EQ(opened.code, DENGINE_ERR_CANCELLED);
  EXPECT_EQ(connection, nullptr);
}

TEST_F(ConnectionTlsTest, AServerClosingDuringTheHandshakeMayBePlaintext) {
  OneConnectionServer server([](int fd) {
    char buffer[1024];
    (void)recv(fd, buffer, sizeof buffer, 0);  // the ClientHello, unread
  });
  std::unique_ptr<Connection> connection;
  const Status opened =
      open(server.endpoint(), std::chrono::seconds(10), &connection);
  EXPECT_EQ(opened.code, DENGINE_ERR_IO);
  EXPECT_TRUE(opened.tls_failed);
  EXPECT_TRUE(contains(opened.message,
                       "closed the connection during the TLS handshake: is it "
                       "serving plaintext?"));
}

TEST_F(ConnectionTlsTest, APlaintextConnectionToATlsServerSaysSo) {
  OneConnectionServer server([this](int fd) {
    net::TlsSession tls(
        server_context_,
        net::TlsSession::server(net::TlsSession::PeerCert::kOptional));
    tls.start();
    char buffer[1024];
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) tls.receive(std::string_view(buffer, n));
    send_all(fd, tls.take_ciphertext());  // the alert
  });
  std::unique_ptr<Connection> connection;
  ASSERT_TRUE(Connection::open(server.endpoint(),
                               Clock::now() + std::chrono::seconds(10),
                               net::kDefaultMaxFramePayload, &connection)
                  .ok());
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  ASSERT_TRUE(connection
                  ->send(net::encode_frame(net::FrameType::kClientRequest, "x"),
                         deadline)
                  .ok());
  net::Frame frame;
  const Status received = connection->receive(&frame, deadline);
  EXPECT_EQ(received.code, DENGINE_ERR_IO);
  EXPECT_TRUE(received.tls_failed);
  EXPECT_TRUE(contains(received.message,
                       " speaks TLS: open the client with TLS options"));
}

TEST_F(ConnectionTlsTest, AServerCertificateNotNamingTheHostIsRefused) {
  OneConnectionServer server(
      [this](int fd) { echo_frames_over_tls(fd, server_context_); });
  const TlsTarget tls{client_context_, "elsewhere.example"};
  std::unique_ptr<Connection> connection;
  const Status opened = Connection::open(
      server.endpoint(), Clock::now() + std::chrono::seconds(10),
      net::kDefaultMaxFramePayload, &connection, -1, &tls);
  EXPECT_EQ(opened.code, DENGINE_ERR_IO);
  EXPECT_TRUE(opened.tls_failed);
  EXPECT_TRUE(contains(opened.message,
                       "the peer's certificate does not name "
                       "elsewhere.example"));
}

}  // namespace
}  // namespace dengine::client
