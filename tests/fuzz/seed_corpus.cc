// Writes the fuzz seed corpus into <dir>/<target>/: valid encodings for each
// fuzz target, so that fuzzing starts from inputs that reach deep code.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "net/client_codec.h"
#include "net/frame.h"
#include "net/hello.h"
#include "net/message_codec.h"
#include "net/snapshot_transfer.h"
#include "net/tls_context.h"
#include "net/tls_session.h"
#include "raft/conf_change.h"
#include "sample_chunks.h"
#include "sample_client_messages.h"
#include "sample_messages.h"
#include "sm/session.h"
#include "testkit/test_certificates.h"

namespace {

namespace fs = std::filesystem;
using dengine::net::FrameType;

void write_seeds(const fs::path& dir, const std::vector<std::string>& seeds) {
  fs::create_directories(dir);
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::ofstream(dir / std::to_string(i), std::ios::binary) << seeds[i];
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seed_corpus <dir>\n";
    return 2;
  }
  const fs::path root = argv[1];
  std::vector<std::string> messages;
  for (const auto& m : dengine::net::testing::all_full_messages()) {
    messages.push_back(dengine::net::encode_message(m));
  }
  messages.push_back(dengine::net::encode_message({}));
  const std::string hello = dengine::net::encode_hello({1, 42});

  // A frame stream: a piece-size byte, then a hello and every message.
  std::string stream(1, '\x07');
  dengine::net::append_frame(&stream, FrameType::kHello, hello);
  for (const auto& m : messages) {
    dengine::net::append_frame(&stream, FrameType::kRaftMessage, m);
  }

  using dengine::raft::ConfChangeType;
  std::vector<std::string> conf_changes;
  conf_changes.push_back(dengine::raft::encode_conf_change(
      {{ConfChangeType::kAddLearner, 4, "127.0.0.1:7004"}, {{1, 2, 3}, {4}}}));
  conf_changes.push_back(dengine::raft::encode_conf_change(
      {{ConfChangeType::kBootstrap, 1, ""}, {{1, 2, 3}, {}}}));

  write_seeds(root / "message_decoder", messages);
  write_seeds(root / "hello_decoder", {hello});
  write_seeds(root / "frame_decoder", {stream});
  write_seeds(root / "conf_change_decoder", conf_changes);

  std::vector<std::string> client_requests;
  for (const auto& q : dengine::net::testing::all_client_requests()) {
    client_requests.push_back(dengine::net::encode_client_request(q));
  }
  std::vector<std::string> client_responses;
  for (const auto& p : dengine::net::testing::all_client_responses()) {
    client_responses.push_back(dengine::net::encode_client_response(p));
  }
  write_seeds(root / "client_request_decoder", client_requests);
  write_seeds(root / "client_response_decoder", client_responses);

  std::vector<std::string> chunks;
  for (const auto& c : dengine::net::testing::sample_chunks()) {
    chunks.push_back(dengine::net::encode_chunk(c));
  }
  write_seeds(root / "snapshot_chunk_decoder", chunks);

  // session_decoder: a leading byte 0 for an envelope, 1 for a table.
  using dengine::sm::SessionHeader;
  dengine::sm::SessionTable table(8);
  const uint64_t client = table.register_client(9);
  const SessionHeader first{client, 1, 0};
  const SessionHeader second{client, 2, 1};
  table.admit(10, first);
  table.set_result(first, {true, 0, "ok"});
  table.admit(11, second);
  table.set_result(second, {true, 1, ""});
  table.pass(12);
  write_seeds(
      root / "session_decoder",
      {std::string(1, '\0') + dengine::sm::wrap_plain("command"),
       std::string(1, '\0') + dengine::sm::wrap_session(second, "command"),
       std::string(1, '\0') + dengine::sm::wrap_register(),
       std::string(1, '\1') + table.encode()});

  // tls_session: a control byte (pieces of 1 byte, client certificate
  // required; then pieces of 129 bytes, optional), then a client's real
  // ClientHello.
  const fs::path tls_dir = root / "tls_session-certificates";
  fs::create_directories(tls_dir);
  std::string client_hello;
  {
    const dengine::testkit::TestCertificateAuthority ca(tls_dir.string());
    dengine::net::TlsOptions options;
    options.ca_file = ca.ca_file();
    std::shared_ptr<const dengine::net::TlsContext> context;
    if (const std::string error =
            dengine::net::TlsContext::load(options, &context);
        !error.empty()) {
      std::cerr << error << "\n";
      return 1;
    }
    dengine::net::TlsSession client(
        context, dengine::net::TlsSession::client("localhost"));
    client.start();
    client_hello = client.take_ciphertext();
  }
  fs::remove_all(tls_dir);
  write_seeds(root / "tls_session", {std::string(1, '\0') + client_hello,
                                     std::string(1, '\x11') + client_hello});
  return 0;
}
