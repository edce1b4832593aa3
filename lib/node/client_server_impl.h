// The inside of the client listener (node/client_server.h), shared by its
// three files: client_server.cc (start, stop, the outbox of answers and the
// loop's wake-up), client_server_connections.cc (accepted connections:
// reads, TLS, writes, refusals and their log lines) and
// client_server_requests.cc (decoding, access control and serving each
// request through the node).
//
// What travels between threads: answer() is called on the node's threads
// (a request's completion) and queues the encoded response frame on
// `outbox` under `outbox_mutex`, then wakes the loop (uv_async `wakeup`);
// stop() sets `closing` the same way. Watch frames come from the hub's
// delivery thread through ClientWatches' own outbox, which also wakes the
// loop. The counters are atomics, written by the loop and read by stats()
// on any thread. Everything else, connections and their TLS sessions
// included, is the loop thread's.
#pragma once

#include <uv.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/client_codec.h"
#include "net/frame.h"
#include "net/tls_session.h"
#include "node/client_server.h"
#include "node/client_watches.h"
#include "node/kv.h"
#include "node/node.h"

namespace dengine::node {

// The least time between two log lines about bad client frames: a client
// that keeps sending them is cut off, reconnects and is cut off again.
inline constexpr uint64_t kBadFrameLogIntervalMs = 1000;

// One accepted client connection (loop thread only).
struct ClientConnection {
  uv_tcp_t tcp{};
  uv_shutdown_t shutdown_req{};
  ClientServer::Impl* server = nullptr;
  uint64_t id = 0;
  std::string peer;           // the client's address, for the log
  net::FrameDecoder decoder;  // the plaintext stream's frames
  size_t in_flight = 0;       // requests dispatched and not yet answered
  bool reading = true;        // false: paused, too many in flight
  bool received_any = false;  // whether the first bytes were checked
  std::unique_ptr<net::TlsSession> tls;  // null: plaintext
  std::string identity;  // the certificate's common name, once verified
  std::array<char, 64 * 1024> buffer{};

  explicit ClientConnection(uint32_t max_payload) : decoder(max_payload) {}
};

struct ClientServer::Impl {
  Impl(Node* n, ClientServerOptions o)
      : node(n),
        options(std::move(o)),
        watches(
            n,
            [this](uint64_t conn_id, std::string frame) {
              return write_watch_frame(conn_id, std::move(frame));
            },
            [this] { uv_async_send(&wakeup); }) {}

  Node* node;
  ClientServerOptions options;
  uv_loop_t loop{};
  uv_tcp_t listener{};
  uv_async_t wakeup{};
  uv_timer_t progress_timer{};  // ClientWatches::report_progress
  std::thread thread;
  std::atomic<std::thread::id> thread_id{};  // thread's, kept after the join
  uint16_t bound_port = 0;
  bool running = false;
  // Counted by the loop thread, read by stats() on any thread.
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> bytes_sent{0};

  // Loop thread only.
  uint64_t next_connection = 1;
  std::unordered_map<uint64_t, ClientConnection*> connections;
  // Bad frames are logged at most once a kBadFrameLogIntervalMs.
  std::optional<uint64_t> last_bad_frame_log_ms;  // uv_now of the last line
  uint64_t bad_frames_not_logged = 0;

  // Answers completed on other threads, for the loop to write; `closing`
  // tells the loop to close everything.
  std::mutex outbox_mutex;
  std::vector<std::pair<uint64_t, std::string>> outbox;
  bool closing = false;

  // The watches clients opened (loop thread; their frames come through
  // ClientWatches' own outbox, which also wakes the loop).
  ClientWatches watches;

  // client_server.cc: the loop, and what other threads hand it.
  std::string start();
  // Queues a response for the loop to write (any thread).
  void answer(uint64_t conn_id, net::ClientResponse response);
  // On the loop's wake-up: writes the queued answers and watch frames, or
  // closes everything once `closing` is set.
  void flush_outbox();
  void close_all();

  // client_server_connections.cc: each connection's bytes.
  void on_connection();
  void start_reading(ClientConnection* conn);
  void on_read(ClientConnection* conn, ssize_t n);
  // The plaintext of what a connection read (decrypted with TLS), or false
  // when the connection was closed for it.
  bool plaintext_of(ClientConnection* conn, std::string_view bytes,
                    std::string* plaintext);
  void close_connection(ClientConnection* conn);
  // Answers `why` with DENGINE_ERR_INVALID_ARGUMENT, logs it and closes.
  void refuse(ClientConnection* conn, uint64_t request_id,
              const std::string& why);
  // Logs a connection closed for `why` (or, !closed, a request refused),
  // at most one line a kBadFrameLogIntervalMs.
  void log_bad_frame(const ClientConnection& conn, const std::string& why,
                     bool closed = true);
  // Encrypts (with TLS) and writes; write_wire writes bytes as they are.
  // Both close the connection when the write fails.
  void write(ClientConnection* conn, std::string bytes);
  void write_wire(ClientConnection* conn, std::string bytes);
  std::optional<size_t> write_watch_frame(uint64_t conn_id, std::string frame);

  // client_server_requests.cc: serving what the frames ask.
  // Decodes and checks one request payload and dispatches it; false when
  // the connection was closed for it.
  bool handle(ClientConnection* conn, const std::string& payload);
  // A request being served: where its answer goes, and how long it may take.
  struct Call {
    uint64_t conn_id = 0;
    uint64_t request_id = 0;
    net::ClientOp op = net::ClientOp::kStatus;
    std::chrono::milliseconds timeout{};
  };
  void dispatch(uint64_t conn_id, net::ClientRequest request);
  // One handler per kind of request; dispatch picks it.
  void serve_propose(const Call& call, net::ClientRequest request);
  void serve_read(const Call& call, net::ClientRequest request);
  void serve_kv_write(const Call& call,
                      const std::optional<net::ClientSession>& session,
                      sm::KvCommand command);
  void serve_kv_read(const Call& call, net::ReadConsistency consistency,
                     const sm::KvRead& read);
  void serve_status(const Call& call);
  void serve_metrics(const Call& call);
  void serve_unknown(const Call& call);
  // The completion of a node call answered with the Reply alone.
  Node::Callback plain_reply(const Call& call);
  net::ClientResponse response_to(const Call& call) const;
  void fill_from(const Reply& reply, net::ClientResponse* out) const;
};

}  // namespace dengine::node
