// Chunked snapshot transfer: streams a snapshot's files from a leader to a
// follower over the peer transport's bulk frames (kSnapshotChunk), resumes
// after a lost connection, and verifies the whole snapshot's SHA-256 before
// the follower sees it. The follower gets it staged (storage::StagedSnapshot):
// whether it becomes the store's latest is for its Raft core to decide.
//
// Chunk protocol. Every kSnapshotChunk frame payload (little-endian,
// base/byte_codec.h; "bytes" = u32 length, then that many bytes):
//
//   u8    kind        1 offer, 2 data, 3 ack
//   u64   stream_id   chosen by the sender, new for each offer; never 0
//   offer (sender -> receiver):
//     bytes install   the kInstallSnapshot raft::Message (message_codec.h);
//                     its snapshot meta says which snapshot this is
//     64    sha256    lowercase hex SHA-256 of the snapshot (sha256_of_dir)
//     u64   total     total bytes: the sum of the file sizes
//     u32   count     number of files, then for each file:
//       bytes name    '/'-separated path relative to the snapshot's data
//                     directory; no empty, "." or ".." component
//       u64   size
//     Names are strictly ascending (bytewise) and none is a directory of
//     another.
//   data (sender -> receiver):
//     u64   offset    position in the files concatenated in offer order
//     bytes data      1 or more bytes; offset + length <= total
//   ack (receiver -> sender):
//     u8    status    0 progress, 1 committed (verified, synced and handed
//                     to the node), 2 failed
//     u64   offset    bytes received without a gap (progress, committed)
//     bytes reason    why it failed; empty unless status is failed
//   Nothing follows the last field.
//
// A stream: the sender sends an offer; the receiver answers with an ack
// giving the offset to start at (0, or what it already holds of the same
// snapshot: a partial transfer is kept per sender, keyed by index, term and
// SHA-256). The sender then sends data chunks in order, at most `window`
// chunks beyond the last acknowledged offset; the receiver acknowledges each
// one. After the last byte the receiver stages the snapshot (checking its
// SHA-256 and syncing it), hands it and the install message to its node and
// acks committed, or failed. While staging it repeats its progress ack each
// tick, so a long checksum is not taken for a stall. When its connection to the
// receiver fails, the sender offers again (under a new stream id) and resumes
// from the offset in the answer. The receiver ignores chunks of an older
// stream, chunks wholly before its offset and chunks starting past it; a chunk
// overlapping its offset adds the bytes after it. The last data chunk ends
// the stream: no separate "done" message is needed.
//
// Only regular files travel; empty directories do not (the SHA-256 does not
// cover them either).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "net/transport.h"
#include "raft/types.h"
#include "storage/snapshot_store.h"

namespace dengine::net {

enum class ChunkKind : uint8_t { kOffer = 1, kData = 2, kAck = 3 };
enum class AckStatus : uint8_t { kProgress = 0, kCommitted = 1, kFailed = 2 };

struct SnapshotFile {
  std::string name;
  uint64_t size = 0;

  bool operator==(const SnapshotFile&) const = default;
};

// One kSnapshotChunk payload; the fields of other kinds stay default.
struct SnapshotChunk {
  ChunkKind kind = ChunkKind::kAck;
  uint64_t stream_id = 0;
  // kOffer
  raft::Message install;
  std::string sha256;
  uint64_t total = 0;
  std::vector<SnapshotFile> files;
  // kData; kAck (offset)
  uint64_t offset = 0;
  std::string data;
  // kAck
  AckStatus status = AckStatus::kProgress;
  std::string reason;

  bool operator==(const SnapshotChunk&) const = default;
};

std::string encode_chunk(const SnapshotChunk& chunk);
// Returns an empty string and sets *out, or says what is wrong with
// `payload`. Checks everything the layout above requires, so an accepted
// offer names only files inside the snapshot directory. Canonical: what it
// accepts re-encodes to the same bytes.
std::string decode_chunk(std::string_view payload, SnapshotChunk* out);

struct SnapshotTransferConfig {
  // Data bytes per chunk (0 counts as 1); with the chunk header it must fit
  // the transport's frame limit.
  uint32_t chunk_bytes = 256u << 10;
  // Data chunks in flight beyond the receiver's acknowledged offset (0
  // counts as 1).
  uint32_t window_chunks = 4;
  // A stream ends, failed, when no ack brings progress for this long.
  std::chrono::milliseconds stall_timeout{10000};
  // A receiver drops a partial transfer its sender left idle this long.
  std::chrono::milliseconds partial_timeout{60000};
};

struct SnapshotTransferStats {
  // Sender side.
  uint64_t streams_started = 0;
  uint64_t streams_succeeded = 0;  // the receiver committed
  uint64_t streams_failed = 0;     // stall, refusal, error, or replaced
  uint64_t reoffers = 0;           // offers again after a lost connection
  uint64_t bytes_sent = 0;         // data bytes handed to the transport
  // Receiver side.
  uint64_t transfers_received = 0;  // staged, handed to on_received
  uint64_t transfers_resumed = 0;   // an offer continued a partial transfer
  uint64_t transfers_aborted = 0;   // bad chunk, I/O error, checksum, expiry
  uint64_t bytes_received = 0;      // data bytes written
  // Both sides.
  uint64_t chunks_rejected = 0;  // malformed payloads or protocol violations
  uint64_t chunks_ignored = 0;   // stale, duplicate or out of order
  std::string last_error;
};

// One per node. Runs on the transport's loop thread: it is the transport's
// bulk channel, reads and writes snapshot files there in chunk-sized
// pieces, and stages received snapshots on libuv's thread pool.
//
// Construct it before transport->start() and destroy it only after
// transport->stop(); no callback runs after stop() returns.
class SnapshotTransfer : public BulkChannel {
 public:
  // Loop thread. Exactly once per stream: ok only once the receiver
  // staged the snapshot.
  using SentHandler = std::function<void(raft::NodeId to, bool ok)>;
  // Loop thread. A verified snapshot, staged in the store, and the leader's
  // kInstallSnapshot message to step into the raft core. The node commits
  // the snapshot once its core installs it, or drops it (removing it).
  using ReceivedHandler =
      std::function<void(raft::Message install,
                         std::unique_ptr<storage::StagedSnapshot> snapshot)>;

  SnapshotTransfer(SnapshotTransferConfig config, Transport* transport,
                   storage::SnapshotStore* store, SentHandler on_sent,
                   ReceivedHandler on_received);
  ~SnapshotTransfer() override;
  SnapshotTransfer(const SnapshotTransfer&) = delete;
  SnapshotTransfer& operator=(const SnapshotTransfer&) = delete;

  // Streams the snapshot in info.data_dir to `to`, then has the receiver
  // step `install` (a kInstallSnapshot message for info.meta). Thread-safe.
  // A newer send to the same peer replaces its stream (the old one ends
  // with on_sent(to, false)); the same snapshot and install message already
  // streaming to `to` is a no-op. Returns false, and starts nothing, if the
  // transport is not running; a send the loop has not taken up when the
  // transport stops is dropped without on_sent.
  bool send(raft::NodeId to, const storage::SnapshotInfo& info,
            raft::Message install);

  SnapshotTransferStats stats() const;

  // BulkChannel: called by the transport on its loop thread.
  void on_bulk_frame(raft::NodeId from, std::string payload) override;
  void on_bulk_sent(raft::NodeId to, bool ok) override;
  void on_tick() override;

  struct OutgoingStream;
  struct IncomingTransfer;

 private:
  using Clock = std::chrono::steady_clock;

  void start_stream(raft::NodeId to, storage::SnapshotInfo info,
                    raft::Message install);
  void offer(OutgoingStream* stream);
  void pump(OutgoingStream* stream);
  void finish(raft::NodeId to, bool ok, const std::string& error);
  void on_ack(raft::NodeId from, const SnapshotChunk& ack);

  void on_offer(raft::NodeId from, SnapshotChunk offer);
  void on_data(raft::NodeId from, const SnapshotChunk& data);
  void begin_staging(const std::shared_ptr<IncomingTransfer>& transfer);
  void finish_staging(const std::shared_ptr<IncomingTransfer>& transfer,
                      storage::Status status,
                      std::unique_ptr<storage::StagedSnapshot> staged);
  void abort_incoming(raft::NodeId from, const std::string& error);
  void send_ack(raft::NodeId to, uint64_t stream_id, AckStatus status,
                uint64_t offset, const std::string& reason = "");
  void resend_ack(const IncomingTransfer& transfer);

  void note_error(const std::string& error);
  template <typename F>
  void count(F&& update) {
    std::lock_guard lock(stats_mu_);
    update(stats_);
  }

  const SnapshotTransferConfig config_;
  Transport* const transport_;
  storage::SnapshotStore* const store_;
  const SentHandler on_sent_;
  const ReceivedHandler on_received_;

  // Loop thread only.
  uint64_t next_stream_id_;
  std::map<raft::NodeId, std::unique_ptr<OutgoingStream>> outgoing_;
  std::map<raft::NodeId, std::shared_ptr<IncomingTransfer>> incoming_;

  mutable std::mutex stats_mu_;
  SnapshotTransferStats stats_;
};

}  // namespace dengine::net
