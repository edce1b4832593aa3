// The watches a ClientServer serves (docs/client-protocol.md, "Watch"): each
// relays one watch of the node's hub (watch/hub.h) to one client connection
// as a stream of response frames: the start, event batches, the end.
//
// Threads:
//   - the server's loop thread calls open(), flush(), close_connection() and
//     close(), and is the only one that writes to connections (through the
//     Writer);
//   - the hub's delivery thread runs each watch's on_event, on_batch and
//     (mostly) on_end: they encode the events into frames and queue them,
//     never waiting for the loop thread.
// What travels between them: per watch, the encoded frames waiting to be
// written (its outbox) and, last, its end frame; a watch with any of these
// is put on the ready list, and the loop is woken (Wake) to flush it.
//
// Slow clients: a watch whose frames the client does not read fast enough
// (more than kMaxUnsentBytes queued on its connection, or waiting in its
// outbox) is ended with DENGINE_ERR_WATCH_OVERFLOW and the revision to
// resume from; the hub, and so the apply thread, never waits for a client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "net/client_codec.h"
#include "node/node.h"

namespace dengine::node {

class ClientWatches {
 public:
  // Writes one frame to connection `conn_id` (loop thread); the bytes its
  // connection has queued unsent afterwards, or nullopt when it is gone.
  using Writer =
      std::function<std::optional<size_t>(uint64_t conn_id, std::string)>;
  // Wakes the loop thread, which then calls flush(). Any thread.
  using Wake = std::function<void()>;

  // The unsent bytes a watch may have before it is ended as overflowed.
  static constexpr size_t kMaxUnsentBytes = 8u << 20;
  // An event batch is split into frames of about this many bytes (between
  // revisions).
  static constexpr size_t kFrameBytes = 1u << 20;
  // How often the server calls report_progress().
  static constexpr uint64_t kProgressIntervalMs = 1000;

  // `node` is borrowed and outlives this object.
  ClientWatches(Node* node, Writer writer, Wake wake);
  ~ClientWatches();  // close()
  ClientWatches(const ClientWatches&) = delete;
  ClientWatches& operator=(const ClientWatches&) = delete;

  // Starts the watch `request` (a validated kWatch) asks for on connection
  // `conn_id`, writing its start frame, or its end frame when the node
  // refuses it. Loop thread.
  void open(uint64_t conn_id, const net::ClientRequest& request);
  // Writes what the watches have ready; ends those whose client is too slow.
  // Loop thread.
  void flush();
  // Tells the client of each watch with nothing waiting to be written how
  // far it got, when that moved since its last frame: an empty event batch
  // with the revision to resume from. A watch that matches nothing for a
  // long time would otherwise resume, after a reconnection, from a revision
  // the history may no longer keep. Loop thread, every kProgressInterval.
  void report_progress();
  // Ends the watches of a connection that closed. Loop thread.
  void close_connection(uint64_t conn_id);
  // Ends every watch; later wake-ups are not sent. Loop thread. Idempotent.
  void close();

  size_t count() const { return served_.size(); }

 private:
  struct Served;
  struct Shared;

  // Ends `served` in the hub, with no end frame from its on_end; when it
  // returns no callback of the watch runs. Nothing if it already ended.
  void cancel(Served& served);
  // Ends `served` with DENGINE_ERR_WATCH_OVERFLOW at the last revision
  // written, and forgets it.
  void end_overflowed(Served& served);

  Node* node_;
  Writer writer_;
  std::shared_ptr<Shared> shared_;  // with the hub's callbacks
  // Loop thread only: the watches not yet ended and flushed, by id.
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Served>> served_;
};

}  // namespace dengine::node
