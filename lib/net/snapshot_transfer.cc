#include "net/snapshot_transfer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <system_error>
#include <utility>

#include "base/byte_codec.h"
#include "base/log.h"
#include "net/message_codec.h"

namespace dengine::net {

namespace {

namespace fs = std::filesystem;
using base::ByteReader;
using base::ByteWriter;

constexpr size_t kShaHexBytes = 64;
// The fewest bytes one file entry of an offer takes: name length, size.
constexpr size_t kMinFileEntry = 4 + 8;
constexpr uint8_t kLastKind = static_cast<uint8_t>(ChunkKind::kAck);
constexpr uint8_t kLastStatus = static_cast<uint8_t>(AckStatus::kFailed);

std::string peer_name(raft::NodeId id) { return "peer " + std::to_string(id); }

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// A name must stay inside the snapshot directory whatever the receiver's
// file system makes of it.
std::string validate_name(std::string_view name) {
  if (name.find('\0') != std::string_view::npos) {
    return "file name with a NUL byte";
  }
  size_t start = 0;
  for (;;) {
    const size_t slash = name.find('/', start);
    const std::string_view part = name.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") {
      return "file name \"" + std::string(name) +
             "\" is not a plain relative path";
    }
    if (slash == std::string_view::npos) return "";
    start = slash + 1;
  }
}

// Names strictly ascending, none a directory of another, sizes adding up.
std::string validate_files(const std::vector<SnapshotFile>& files,
                           uint64_t total) {
  uint64_t sum = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& name = files[i].name;
    if (i > 0 && !(files[i - 1].name < name)) {
      return "file names not in strictly ascending order at \"" + name + "\"";
    }
    for (size_t slash = name.find('/'); slash != std::string::npos;
         slash = name.find('/', slash + 1)) {
      const auto parent = files.begin() + static_cast<ptrdiff_t>(i);
      if (std::binary_search(files.begin(), parent,
                             SnapshotFile{name.substr(0, slash), 0},
                             [](const SnapshotFile& a, const SnapshotFile& b) {
                               return a.name < b.name;
                             })) {
        return "file \"" + name + "\" lies under file \"" +
               name.substr(0, slash) + "\"";
      }
    }
    if (files[i].size > UINT64_MAX - sum) return "file sizes overflow";
    sum += files[i].size;
  }
  if (sum != total) {
    return "file sizes add up to " + std::to_string(sum) + ", not " +
           std::to_string(total);
  }
  return "";
}

std::string decode_offer(ByteReader* r, SnapshotChunk* c) {
  std::string_view install;
  if (!r->bytes(&install)) return "offer: install message truncated";
  std::string error = decode_message(install, &c->install);
  if (!error.empty()) return "offer: " + error;
  if (c->install.type != raft::MessageType::kInstallSnapshot ||
      !c->install.snapshot || c->install.snapshot->meta.index == 0) {
    return "offer: not an install-snapshot message for index 1 or later";
  }
  if (!r->raw(kShaHexBytes, &c->sha256) || !is_lower_hex(c->sha256)) {
    return "offer: bad SHA-256";
  }
  uint32_t count = 0;
  if (!r->u64(&c->total) || !r->u32(&count)) return "offer: truncated";
  if (count > r->remaining() / kMinFileEntry) {
    return "offer: file count " + std::to_string(count) +
           " exceeds the remaining bytes";
  }
  c->files.resize(count);
  for (SnapshotFile& file : c->files) {
    std::string_view name;
    if (!r->bytes(&name) || !r->u64(&file.size)) {
      return "offer: file list truncated";
    }
    error = validate_name(name);
    if (!error.empty()) return "offer: " + error;
    file.name.assign(name);
  }
  error = validate_files(c->files, c->total);
  return error.empty() ? "" : "offer: " + error;
}

std::string decode_data(ByteReader* r, SnapshotChunk* c) {
  std::string_view data;
  if (!r->u64(&c->offset) || !r->bytes(&data)) return "data: truncated";
  if (data.empty()) return "data: no bytes";
  if (data.size() > UINT64_MAX - c->offset) return "data: offset overflows";
  c->data.assign(data);
  return "";
}

std::string decode_ack(ByteReader* r, SnapshotChunk* c) {
  uint8_t status = 0;
  std::string_view reason;
  if (!r->u8(&status) || !r->u64(&c->offset) || !r->bytes(&reason)) {
    return "ack: truncated";
  }
  if (status > kLastStatus)
    return "ack: unknown status " + std::to_string(status);
  c->status = static_cast<AckStatus>(status);
  if (c->status != AckStatus::kFailed && !reason.empty()) {
    return "ack: a reason without a failure";
  }
  c->reason.assign(reason);
  return "";
}

// A snapshot's regular files, '/'-separated names relative to `dir`, in
// name order.
std::string list_files(const std::string& dir, std::vector<SnapshotFile>* out,
                       uint64_t* total) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec);
  *total = 0;
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::file_status status = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(status)) continue;
    if (!fs::is_regular_file(status)) {
      return it->path().string() + " is neither a file nor a directory";
    }
    const uint64_t size = it->file_size(ec);
    if (ec) break;
    out->push_back({it->path().lexically_relative(dir).generic_string(), size});
    *total += size;
  }
  if (ec) return "listing " + dir + ": " + ec.message();
  std::sort(out->begin(), out->end(),
            [](const SnapshotFile& a, const SnapshotFile& b) {
              return a.name < b.name;
            });
  return "";
}

}  // namespace

std::string encode_chunk(const SnapshotChunk& chunk) {
  std::string out;
  ByteWriter w(&out);
  w.u8(static_cast<uint8_t>(chunk.kind));
  w.u64(chunk.stream_id);
  switch (chunk.kind) {
    case ChunkKind::kOffer:
      w.bytes(encode_message(chunk.install));
      out.append(chunk.sha256);
      w.u64(chunk.total);
      w.u32(static_cast<uint32_t>(chunk.files.size()));
      for (const SnapshotFile& file : chunk.files) {
        w.bytes(file.name);
        w.u64(file.size);
      }
      break;
    case ChunkKind::kData:
      w.u64(chunk.offset);
      w.bytes(chunk.data);
      break;
    case ChunkKind::kAck:
      w.u8(static_cast<uint8_t>(chunk.status));
      w.u64(chunk.offset);
      w.bytes(chunk.reason);
      break;
  }
  return out;
}

std::string decode_chunk(std::string_view payload, SnapshotChunk* out) {
  ByteReader r(payload);
  SnapshotChunk chunk;
  uint8_t kind = 0;
  if (!r.u8(&kind) || !r.u64(&chunk.stream_id)) {
    return "snapshot chunk: header truncated";
  }
  if (kind == 0 || kind > kLastKind) {
    return "snapshot chunk: unknown kind " + std::to_string(kind);
  }
  if (chunk.stream_id == 0) return "snapshot chunk: stream id 0";
  chunk.kind = static_cast<ChunkKind>(kind);
  std::string error;
  switch (chunk.kind) {
    case ChunkKind::kOffer:
      error = decode_offer(&r, &chunk);
      break;
    case ChunkKind::kData:
      error = decode_data(&r, &chunk);
      break;
    case ChunkKind::kAck:
      error = decode_ack(&r, &chunk);
      break;
  }
  if (error.empty() && !r.at_end()) {
    error = std::to_string(r.remaining()) + " trailing bytes";
  }
  if (!error.empty()) return "snapshot chunk: " + error;
  *out = std::move(chunk);
  return "";
}

namespace {

// A snapshot's files laid end to end, as data offsets address them, with
// the file last used kept open.
class FileSpan {
 public:
  FileSpan() = default;
  FileSpan(std::string dir, std::vector<SnapshotFile> files, int open_flags)
      : dir_(std::move(dir)), files_(std::move(files)), flags_(open_flags) {
    uint64_t start = 0;
    for (const SnapshotFile& file : files_) {
      starts_.push_back(start);
      start += file.size;
    }
  }
  ~FileSpan() { close(); }
  FileSpan(const FileSpan&) = delete;
  FileSpan& operator=(const FileSpan&) = delete;
  FileSpan& operator=(FileSpan&& other) noexcept {
    close();
    dir_ = std::move(other.dir_);
    files_ = std::move(other.files_);
    starts_ = std::move(other.starts_);
    flags_ = other.flags_;
    std::swap(fd_, other.fd_);
    std::swap(open_index_, other.open_index_);
    return *this;
  }

  const std::vector<SnapshotFile>& files() const { return files_; }

  // Creates every file, empty, and the directories above them.
  std::string create_all() const {
    for (const SnapshotFile& file : files_) {
      const fs::path path = fs::path(dir_) / file.name;
      std::error_code ec;
      fs::create_directories(path.parent_path(), ec);
      if (ec)
        return "creating " + path.parent_path().string() + ": " + ec.message();
      const int fd =
          ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0) return "creating " + path.string() + ": " + strerror(errno);
      ::close(fd);
    }
    return "";
  }

  // [offset, offset + len) must lie within the files.
  std::string read(uint64_t offset, char* buf, size_t len) {
    return io(offset, len, [&](int fd, size_t done, size_t n, uint64_t at) {
      return ::pread(fd, buf + done, n, static_cast<off_t>(at));
    });
  }
  std::string write(uint64_t offset, const char* buf, size_t len) {
    return io(offset, len, [&](int fd, size_t done, size_t n, uint64_t at) {
      return ::pwrite(fd, buf + done, n, static_cast<off_t>(at));
    });
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    open_index_ = SIZE_MAX;
  }

 private:
  template <typename Op>
  std::string io(uint64_t offset, size_t len, Op op) {
    size_t done = 0;
    while (done < len) {
      const uint64_t pos = offset + done;
      // The last file starting at or before pos: never an empty one, since
      // pos is before the end of all files.
      const size_t i = static_cast<size_t>(
          std::upper_bound(starts_.begin(), starts_.end(), pos) -
          starts_.begin() - 1);
      const uint64_t at = pos - starts_[i];
      const size_t n = static_cast<size_t>(
          std::min<uint64_t>(len - done, files_[i].size - at));
      const std::string path = dir_ + "/" + files_[i].name;
      if (open_index_ != i) {
        close();
        fd_ = ::open(path.c_str(), flags_ | O_CLOEXEC | O_NOFOLLOW);
        if (fd_ < 0) return "open " + path + ": " + strerror(errno);
        open_index_ = i;
      }
      const ssize_t moved = op(fd_, done, n, at);
      if (moved < 0 && errno == EINTR) continue;
      if (moved < 0) return path + ": " + strerror(errno);
      if (moved == 0) return path + " is shorter than its listed size";
      done += static_cast<size_t>(moved);
    }
    return "";
  }

  std::string dir_;
  std::vector<SnapshotFile> files_;
  std::vector<uint64_t> starts_;  // offset of each file's first byte
  int flags_ = O_RDONLY;
  int fd_ = -1;
  size_t open_index_ = SIZE_MAX;
};

SnapshotTransferConfig at_least_one_chunk(SnapshotTransferConfig config) {
  config.chunk_bytes = std::max<uint32_t>(config.chunk_bytes, 1);
  config.window_chunks = std::max<uint32_t>(config.window_chunks, 1);
  return config;
}

}  // namespace

struct SnapshotTransfer::OutgoingStream {
  enum class Phase {
    kOffering,    // waiting for the ack that says where to start
    kStreaming,   // sending data chunks
    kCommitting,  // all bytes acknowledged; waiting for the commit's ack
  };

  raft::NodeId to = raft::kNoNode;
  uint64_t stream_id = 0;  // of the latest offer: older acks are stale
  storage::SnapshotInfo info;
  raft::Message install;
  SnapshotChunk offer;
  FileSpan span;
  Phase phase = Phase::kOffering;
  uint64_t acked = 0;  // the receiver holds every byte before it
  uint64_t next = 0;   // the next byte to send
  Clock::time_point last_progress;
};

struct SnapshotTransfer::IncomingTransfer {
  enum class State {
    kReceiving,
    kStaging,  // writer belongs to the pool job until it reports
    kStaged,   // handed to the node; kept to answer a repeated offer until
               // it expires
  };

  bool same_snapshot(const SnapshotChunk& offer) const {
    return install.snapshot->meta == offer.install.snapshot->meta &&
           sha256 == offer.sha256 && total == offer.total &&
           span.files() == offer.files;
  }

  raft::NodeId from = raft::kNoNode;
  uint64_t stream_id = 0;  // of the latest offer: older chunks are stale
  raft::Message install;
  std::string sha256;
  uint64_t total = 0;
  std::unique_ptr<storage::SnapshotWriter> writer;
  FileSpan span;
  uint64_t received = 0;  // every byte before it is written
  State state = State::kReceiving;
  Clock::time_point last_heard;
};

SnapshotTransfer::SnapshotTransfer(SnapshotTransferConfig config,
                                   Transport* transport,
                                   storage::SnapshotStore* store,
                                   SentHandler on_sent,
                                   ReceivedHandler on_received)
    : config_(at_least_one_chunk(config)),
      transport_(transport),
      store_(store),
      on_sent_(std::move(on_sent)),
      on_received_(std::move(on_received)) {
  // Random, so a restarted sender's streams never pass for its old ones.
  std::random_device random;
  next_stream_id_ = (uint64_t{random()} << 32) | random();
  // The receiver's keep-alive must come well within the sender's patience.
  transport_->set_bulk_channel(
      this, std::min(config_.stall_timeout, config_.partial_timeout) / 4);
}

SnapshotTransfer::~SnapshotTransfer() = default;

bool SnapshotTransfer::send(raft::NodeId to, const storage::SnapshotInfo& info,
                            raft::Message install) {
  return transport_->post(
      [this, to, info, install = std::move(install)]() mutable {
        start_stream(to, std::move(info), std::move(install));
      });
}

SnapshotTransferStats SnapshotTransfer::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

void SnapshotTransfer::start_stream(raft::NodeId to, storage::SnapshotInfo info,
                                    raft::Message install) {
  const auto current = outgoing_.find(to);
  if (current != outgoing_.end()) {
    const OutgoingStream& old = *current->second;
    if (old.info.meta == info.meta && old.info.sha256 == info.sha256 &&
        old.install == install) {
      return;
    }
    finish(to, false, "snapshot stream to " + peer_name(to) + " replaced");
  }
  count([](SnapshotTransferStats& s) { ++s.streams_started; });
  auto stream = std::make_unique<OutgoingStream>();
  OutgoingStream* s = stream.get();
  s->to = to;
  s->info = std::move(info);
  s->install = std::move(install);
  s->last_progress = Clock::now();
  outgoing_[to] = std::move(stream);

  std::string error;
  if (s->install.type != raft::MessageType::kInstallSnapshot ||
      !s->install.snapshot || s->install.snapshot->meta != s->info.meta ||
      s->install.to != to || s->info.meta.index == 0) {
    error = "the install message does not match the snapshot";
  }
  std::vector<SnapshotFile> files;
  uint64_t total = 0;
  if (error.empty()) error = list_files(s->info.data_dir, &files, &total);
  if (error.empty() && total != s->info.bytes) {
    error = "holds " + std::to_string(total) + " bytes, its metadata says " +
            std::to_string(s->info.bytes);
  }
  if (!error.empty()) {
    finish(to, false, "snapshot in " + s->info.data_dir + ": " + error);
    return;
  }
  s->offer.kind = ChunkKind::kOffer;
  s->offer.install = s->install;
  s->offer.sha256 = s->info.sha256;
  s->offer.total = total;
  s->offer.files = files;
  s->span = FileSpan(s->info.data_dir, std::move(files), O_RDONLY);
  offer(s);
}

void SnapshotTransfer::offer(OutgoingStream* stream) {
  if (++next_stream_id_ == 0) ++next_stream_id_;
  stream->stream_id = next_stream_id_;
  stream->offer.stream_id = stream->stream_id;
  stream->phase = OutgoingStream::Phase::kOffering;
  if (!transport_->send_bulk(stream->to, encode_chunk(stream->offer))) {
    finish(
        stream->to, false,
        "the transport refused the snapshot offer to " + peer_name(stream->to));
  }
}

void SnapshotTransfer::pump(OutgoingStream* s) {
  const uint64_t window = uint64_t{config_.window_chunks} * config_.chunk_bytes;
  const uint64_t total = s->offer.total;
  while (s->phase == OutgoingStream::Phase::kStreaming && s->next < total &&
         s->next - s->acked < window) {
    SnapshotChunk chunk;
    chunk.kind = ChunkKind::kData;
    chunk.stream_id = s->stream_id;
    chunk.offset = s->next;
    chunk.data.resize(static_cast<size_t>(
        std::min<uint64_t>(config_.chunk_bytes, total - s->next)));
    std::string error =
        s->span.read(s->next, chunk.data.data(), chunk.data.size());
    if (!error.empty()) {
      finish(s->to, false, "reading snapshot: " + error);
      return;
    }
    if (!transport_->send_bulk(s->to, encode_chunk(chunk))) {
      finish(s->to, false,
             "the transport refused a snapshot chunk to " + peer_name(s->to));
      return;
    }
    s->next += chunk.data.size();
    count(
        [&](SnapshotTransferStats& st) { st.bytes_sent += chunk.data.size(); });
  }
}

void SnapshotTransfer::finish(raft::NodeId to, bool ok,
                              const std::string& error) {
  outgoing_.erase(to);
  count([&](SnapshotTransferStats& s) {
    ++(ok ? s.streams_succeeded : s.streams_failed);
    if (!ok) s.last_error = error;
  });
  if (!ok) {
    base::log_line(DENGINE_LOG_WARN,
                   "snapshot transfer: giving up sending to " + peer_name(to) +
                       ": " + error);
  }
  if (on_sent_) on_sent_(to, ok);
}

void SnapshotTransfer::on_ack(raft::NodeId from, const SnapshotChunk& ack) {
  const auto it = outgoing_.find(from);
  if (it == outgoing_.end() || it->second->stream_id != ack.stream_id) {
    count([](SnapshotTransferStats& s) { ++s.chunks_ignored; });
    return;
  }
  OutgoingStream* s = it->second.get();
  if (ack.status == AckStatus::kFailed) {
    finish(from, false,
           peer_name(from) + " failed the snapshot: " + ack.reason);
    return;
  }
  if (ack.status == AckStatus::kCommitted) {
    finish(from, true, "");
    return;
  }
  if (ack.offset > s->offer.total) {
    count([](SnapshotTransferStats& st) { ++st.chunks_rejected; });
    finish(from, false,
           peer_name(from) + " acknowledged " + std::to_string(ack.offset) +
               " of " + std::to_string(s->offer.total) + " bytes");
    return;
  }
  using Phase = OutgoingStream::Phase;
  // Progress: the answer to an offer, a keep-alive while committing, or
  // bytes newly acknowledged.
  if (s->phase != Phase::kStreaming || ack.offset > s->acked) {
    s->last_progress = Clock::now();
  }
  if (s->phase == Phase::kOffering) {
    s->phase = Phase::kStreaming;
    s->acked = s->next = ack.offset;
  }
  s->acked = std::max(s->acked, ack.offset);
  s->next = std::max(s->next, s->acked);
  if (s->phase == Phase::kStreaming && s->acked == s->offer.total) {
    s->phase = Phase::kCommitting;
  }
  pump(s);
}

void SnapshotTransfer::on_bulk_frame(raft::NodeId from, std::string payload) {
  SnapshotChunk chunk;
  const std::string error = decode_chunk(payload, &chunk);
  if (!error.empty()) {
    count([](SnapshotTransferStats& s) { ++s.chunks_rejected; });
    abort_incoming(from, peer_name(from) + ": " + error);
    return;
  }
  switch (chunk.kind) {
    case ChunkKind::kOffer:
      on_offer(from, std::move(chunk));
      break;
    case ChunkKind::kData:
      on_data(from, chunk);
      break;
    case ChunkKind::kAck:
      on_ack(from, chunk);
      break;
  }
}

// Pacing comes from the receiver's acks; only a failed connection matters
// here: what was in flight is lost, so each side repeats where it stands.
void SnapshotTransfer::on_bulk_sent(raft::NodeId to, bool ok) {
  if (ok) return;
  const auto out = outgoing_.find(to);
  if (out != outgoing_.end()) {
    count([](SnapshotTransferStats& s) { ++s.reoffers; });
    offer(out->second.get());
  }
  const auto in = incoming_.find(to);
  if (in != incoming_.end()) resend_ack(*in->second);
}

void SnapshotTransfer::on_tick() {
  const Clock::time_point now = Clock::now();
  std::vector<raft::NodeId> stalled;
  for (const auto& [to, stream] : outgoing_) {
    if (now - stream->last_progress >= config_.stall_timeout) {
      stalled.push_back(to);
    }
  }
  for (raft::NodeId to : stalled) {
    finish(to, false,
           "snapshot stream to " + peer_name(to) +
               " stalled: no progress for " +
               std::to_string(config_.stall_timeout.count()) + " ms");
  }
  std::vector<raft::NodeId> expired;
  for (const auto& [from, transfer] : incoming_) {
    if (transfer->state == IncomingTransfer::State::kStaging) {
      resend_ack(*transfer);  // the keep-alive
    } else if (now - transfer->last_heard >= config_.partial_timeout) {
      expired.push_back(from);
    }
  }
  for (raft::NodeId from : expired) {
    if (incoming_[from]->state == IncomingTransfer::State::kReceiving) {
      abort_incoming(from,
                     "partial snapshot from " + peer_name(from) + " expired");
    } else {
      incoming_.erase(from);
    }
  }
}

void SnapshotTransfer::on_offer(raft::NodeId from, SnapshotChunk offer) {
  const Clock::time_point now = Clock::now();
  if (offer.install.from != from || offer.install.to != transport_->node_id()) {
    const std::string error = peer_name(from) +
                              " offered a snapshot with a message from " +
                              std::to_string(offer.install.from) + " to " +
                              std::to_string(offer.install.to);
    count([](SnapshotTransferStats& s) { ++s.chunks_rejected; });
    note_error(error);
    send_ack(from, offer.stream_id, AckStatus::kFailed, 0, error);
    return;
  }
  const auto it = incoming_.find(from);
  if (it != incoming_.end() && it->second->same_snapshot(offer)) {
    IncomingTransfer& t = *it->second;
    t.stream_id = offer.stream_id;
    t.install = std::move(offer.install);
    t.last_heard = now;
    if (t.state == IncomingTransfer::State::kReceiving && t.received > 0) {
      count([](SnapshotTransferStats& s) { ++s.transfers_resumed; });
    }
    resend_ack(t);
    return;
  }
  // Another snapshot replaces the partial one; staging under way finishes
  // on its own.
  if (it != incoming_.end()) incoming_.erase(it);

  auto t = std::make_shared<IncomingTransfer>();
  t->from = from;
  t->stream_id = offer.stream_id;
  t->sha256 = std::move(offer.sha256);
  t->total = offer.total;
  t->last_heard = now;
  storage::Status status =
      store_->begin(offer.install.snapshot->meta, &t->writer);
  std::string error;
  if (status) {
    t->span = FileSpan(t->writer->data_dir(), std::move(offer.files), O_WRONLY);
    error = t->span.create_all();
  } else {
    error = status.to_string();
  }
  t->install = std::move(offer.install);
  if (!error.empty()) {
    error = "snapshot from " + peer_name(from) + ": " + error;
    count([](SnapshotTransferStats& s) { ++s.transfers_aborted; });
    note_error(error);
    send_ack(from, t->stream_id, AckStatus::kFailed, 0, error);
    return;
  }
  incoming_[from] = t;
  if (t->total == 0) {
    begin_staging(t);
  } else {
    send_ack(from, t->stream_id, AckStatus::kProgress, 0);
  }
}

void SnapshotTransfer::on_data(raft::NodeId from, const SnapshotChunk& data) {
  const auto it = incoming_.find(from);
  if (it == incoming_.end() || it->second->stream_id != data.stream_id ||
      it->second->state != IncomingTransfer::State::kReceiving) {
    count([](SnapshotTransferStats& s) { ++s.chunks_ignored; });
    return;
  }
  IncomingTransfer& t = *it->second;
  const uint64_t end = data.offset + data.data.size();
  if (end > t.total) {
    count([](SnapshotTransferStats& s) { ++s.chunks_rejected; });
    abort_incoming(from, peer_name(from) + ": data chunk ends at " +
                             std::to_string(end) + ", past the offered " +
                             std::to_string(t.total) + " bytes");
    return;
  }
  // A duplicate holds no new byte; after a gap, bytes are missing.
  if (end <= t.received || data.offset > t.received) {
    count([](SnapshotTransferStats& s) { ++s.chunks_ignored; });
    return;
  }
  const size_t skip = static_cast<size_t>(t.received - data.offset);
  const std::string error = t.span.write(t.received, data.data.data() + skip,
                                         data.data.size() - skip);
  if (!error.empty()) {
    abort_incoming(from,
                   "writing snapshot from " + peer_name(from) + ": " + error);
    return;
  }
  count(
      [&](SnapshotTransferStats& s) { s.bytes_received += end - t.received; });
  t.received = end;
  t.last_heard = Clock::now();
  if (t.received == t.total) {
    begin_staging(it->second);
  } else {
    send_ack(from, t.stream_id, AckStatus::kProgress, t.received);
  }
}

void SnapshotTransfer::begin_staging(
    const std::shared_ptr<IncomingTransfer>& transfer) {
  transfer->state = IncomingTransfer::State::kStaging;
  transfer->span.close();
  struct Result {
    storage::Status status;
    std::unique_ptr<storage::StagedSnapshot> staged;
  };
  auto result = std::make_shared<Result>();
  // Hashing and syncing take long: off the loop. Meanwhile the loop touches
  // only the transfer's stream_id, install and last_heard.
  transport_->run_in_pool(
      [transfer, result] {
        result->status =
            transfer->writer->stage(transfer->sha256, &result->staged);
      },
      [this, transfer, result] {
        finish_staging(transfer, result->status, std::move(result->staged));
      });
}

void SnapshotTransfer::finish_staging(
    const std::shared_ptr<IncomingTransfer>& transfer, storage::Status status,
    std::unique_ptr<storage::StagedSnapshot> staged) {
  IncomingTransfer& t = *transfer;
  if (!status) {
    const std::string error =
        "snapshot from " + peer_name(t.from) + ": " + status.to_string();
    count([](SnapshotTransferStats& s) { ++s.transfers_aborted; });
    note_error(error);
    base::log_line(DENGINE_LOG_WARN,
                   "snapshot transfer: refusing a received snapshot: " + error);
    send_ack(t.from, t.stream_id, AckStatus::kFailed, t.received, error);
    const auto it = incoming_.find(t.from);
    if (it != incoming_.end() && it->second == transfer) incoming_.erase(it);
    return;
  }
  t.state = IncomingTransfer::State::kStaged;
  t.writer.reset();
  t.last_heard = Clock::now();
  count([](SnapshotTransferStats& s) { ++s.transfers_received; });
  if (on_received_) on_received_(t.install, std::move(staged));
  send_ack(t.from, t.stream_id, AckStatus::kCommitted, t.total);
}

void SnapshotTransfer::abort_incoming(raft::NodeId from,
                                      const std::string& error) {
  note_error(error);
  const auto it = incoming_.find(from);
  if (it == incoming_.end() ||
      it->second->state != IncomingTransfer::State::kReceiving) {
    return;
  }
  base::log_line(DENGINE_LOG_WARN,
                 "snapshot transfer: discarding the " +
                     std::to_string(it->second->received) +
                     " bytes received of a snapshot: " + error);
  send_ack(from, it->second->stream_id, AckStatus::kFailed,
           it->second->received, error);
  incoming_.erase(it);  // the writer discards what was written
  count([](SnapshotTransferStats& s) { ++s.transfers_aborted; });
}

void SnapshotTransfer::send_ack(raft::NodeId to, uint64_t stream_id,
                                AckStatus status, uint64_t offset,
                                const std::string& reason) {
  SnapshotChunk ack;
  ack.kind = ChunkKind::kAck;
  ack.stream_id = stream_id;
  ack.status = status;
  ack.offset = offset;
  ack.reason = reason;
  // A lost ack is repeated on the next failure report or offer; a sender
  // that hears nothing gives up after its stall timeout.
  transport_->send_bulk(to, encode_chunk(ack));
}

void SnapshotTransfer::resend_ack(const IncomingTransfer& t) {
  switch (t.state) {
    case IncomingTransfer::State::kReceiving:
      send_ack(t.from, t.stream_id, AckStatus::kProgress, t.received);
      break;
    case IncomingTransfer::State::kStaging:
      send_ack(t.from, t.stream_id, AckStatus::kProgress, t.total);
      break;
    case IncomingTransfer::State::kStaged:
      send_ack(t.from, t.stream_id, AckStatus::kCommitted, t.total);
      break;
  }
}

void SnapshotTransfer::note_error(const std::string& error) {
  count([&](SnapshotTransferStats& s) { s.last_error = error; });
}

}  // namespace dengine::net
