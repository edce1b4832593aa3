#include "storage/wal_log_store.h"

#include <algorithm>
#include <cstddef>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/log.h"
#include "storage/wal_meta.h"
#include "storage/wal_record.h"
#include "storage/wal_segment.h"

namespace dengine::storage {
namespace {

using raft::Entry;
using raft::Index;
using raft::Term;
using wal::RecordState;
using wal::RecordType;

constexpr uint64_t kMinSegmentBytes = 4096;
constexpr uint64_t kMaxSegmentBytes = uint64_t{1} << 30;
constexpr uint64_t kSealBytes = wal::record_size(0);
// The most an entry record adds to its data: header, entry fields, trailer,
// padding. Lets reads bound the data of a record from its size.
constexpr uint64_t kEntryRecordOverhead =
    wal::kHeaderSize + wal::kEntryPayloadHeader + 1 + wal::kAlignment - 1;
// Encoded records are written out at this size, bounding memory for big
// batches; reads from disk go in chunks of at most this much.
constexpr uint64_t kIoChunkBytes = uint64_t{4} << 20;
// What a cached entry costs beyond its data, counted against cache_bytes.
constexpr uint64_t kCacheEntryOverhead = sizeof(Entry);

struct Segment {
  uint64_t sequence = 0;
  std::string path;
  std::unique_ptr<File> file;
  // File is not thread-safe: the writer and the readers take turns.
  std::mutex io;
  // Highest entry index written to it (0: none); decides when a purge may
  // delete it. Writer-only.
  Index max_index = 0;
};

// Where an entry's record lies.
struct Location {
  Term term = 0;
  Segment* segment = nullptr;
  uint32_t offset = 0;
  uint32_t size = 0;
};

Status corruption_at(const std::string& path, uint64_t offset,
                     const std::string& problem) {
  return Status::corruption(path + " at offset " + std::to_string(offset) +
                            ": " + problem);
}

// Rebuilds the index of held entries by replaying the records of the live
// segments in order, the way they were written.
class Replay {
 public:
  explicit Replay(Index purge_index) : purge_index_(purge_index) {}

  Status apply(Segment* segment, const wal::ScannedRecord& record) {
    if (record.header.type == RecordType::kTruncate) {
      Index index;
      if (!wal::decode_index_payload(record.payload, &index)) {
        return corruption_at(segment->path, record.offset,
                             "malformed truncate record");
      }
      if (started_ && index < next_) cut(index);
      return Status::ok();
    }
    Index index;
    Term term;
    if (!wal::peek_entry_payload(record.payload, &index, &term)) {
      return corruption_at(segment->path, record.offset,
                           "malformed entry record");
    }
    // Entries lost in a crash may leave a hole below the purge point, which
    // was made durable before them.
    if (started_ && index > next_ && index > purge_index_ + 1) {
      return corruption_at(segment->path, record.offset,
                           "entry " + std::to_string(index) +
                               " follows entry " + std::to_string(next_ - 1) +
                               ": entries are missing");
    }
    if (started_ && index <= next_) {
      cut(index);
    } else {
      locations_.clear();
      started_ = true;
      base_ = index;
    }
    locations_.push_back({term, segment, static_cast<uint32_t>(record.offset),
                          static_cast<uint32_t>(record.size)});
    next_ = index + 1;
    segment->max_index = std::max(segment->max_index, index);
    return Status::ok();
  }

  // Drops what the purge point covers; kCorruption if entries between it and
  // the first entry found are missing.
  Status finish(std::deque<Location>* out) {
    const Index purge_index = purge_index_;
    if (started_ && base_ > purge_index + 1) {
      return Status::corruption(
          "WAL entries " + std::to_string(purge_index + 1) + " to " +
          std::to_string(base_ - 1) + " are missing (purged up to " +
          std::to_string(purge_index) + ", first entry found is " +
          std::to_string(base_) + ")");
    }
    if (started_ && base_ <= purge_index) {
      const uint64_t covered =
          std::min<uint64_t>(purge_index - base_ + 1, locations_.size());
      locations_.erase(locations_.begin(),
                       locations_.begin() + static_cast<ptrdiff_t>(covered));
    }
    *out = std::move(locations_);
    return Status::ok();
  }

 private:
  // Removes the entries from index on.
  void cut(Index index) {
    if (index <= base_) {
      locations_.clear();
      base_ = index;
    } else if (index - base_ < locations_.size()) {
      locations_.resize(index - base_);
    }
    next_ = index;
  }

  const Index purge_index_;
  bool started_ = false;
  Index base_ = 0;  // index of locations_.front()
  Index next_ = 0;  // index the next entry must have
  std::deque<Location> locations_;
};

class WalLogStore final : public LogStore {
 public:
  WalLogStore(FileSystem* fs, WalOptions options)
      : fs_(fs), options_(std::move(options)) {}
  ~WalLogStore() override {
    if (opened_ && !closed_) static_cast<void>(close());
  }
  WalLogStore(const WalLogStore&) = delete;
  WalLogStore& operator=(const WalLogStore&) = delete;

  Status open();

  Index first_index() const override {
    std::shared_lock lock(mutex_);
    return first_index_;
  }
  Index last_index() const override {
    std::shared_lock lock(mutex_);
    return last_index_locked();
  }
  Index durable_index() const override {
    std::shared_lock lock(mutex_);
    return durable_index_;
  }
  Status term(Index index, Term* out) const override;
  Status entries(Index lo, Index hi, uint64_t max_bytes,
                 std::vector<Entry>* out) const override;

  Status append(const std::vector<Entry>& entries) override;
  Status truncate_suffix(Index index) override;
  Status purge_prefix(Index index) override;
  Status reset(Index index, Term term) override;
  Status sync() override;
  Status close() override;

 private:
  Index last_index_locked() const {
    return first_index_ + locations_.size() - 1;
  }
  // Reads entries [lo, hi) from their records, adding data bytes to *bytes
  // and stopping, as entries() does, once they would exceed max_bytes (after
  // the entry at `first`); *stopped tells whether it did.
  Status read_from_disk(Index lo, Index hi, Index first, uint64_t max_bytes,
                        uint64_t* bytes, bool* stopped,
                        std::vector<Entry>* out) const;

  Status check_writable() const;
  Status fail(Status status);
  Status write_record(RecordType type, std::string_view payload,
                      Location* where);
  Status flush_writes();
  Status roll_over();
  Status create_segment(uint64_t sequence, std::unique_ptr<Segment>* out);
  Status open_segments(const std::vector<uint64_t>& sequences,
                       std::vector<std::unique_ptr<Segment>>* out);
  Status prepare_spare(std::unique_ptr<Segment> segment);
  Status fill_cache();
  void remove_segment_files(std::vector<std::unique_ptr<Segment>> segments);

  // Under an exclusive lock.
  void cut_locked(Index index);
  void cache_push_locked(const Entry& entry);

  std::string path_of(uint64_t sequence) const {
    return options_.dir + "/" + wal::segment_file_name(sequence);
  }

  FileSystem* const fs_;
  const WalOptions options_;

  // Readers take it shared; the writer changes the state below only under it
  // exclusively, and does its file I/O without it.
  mutable std::shared_mutex mutex_;
  bool closed_ = false;
  Index first_index_ = 1;
  Term purge_term_ = 0;  // term of the entry at first_index_ - 1
  Index durable_index_ = 0;
  std::deque<Location> locations_;  // entries [first_index_, last]
  std::deque<Entry> cache_;         // the newest entries, ending at last
  uint64_t cache_bytes_ = 0;
  std::map<uint64_t, std::unique_ptr<Segment>> segments_;

  // The writer's own state, never touched by readers.
  Segment* active_ = nullptr;
  std::unique_ptr<Segment> spare_;  // the next segment, preallocated
  uint64_t write_offset_ = 0;       // end of the written area of active_
  uint64_t synced_offset_ = 0;      // bytes of active_ a completed sync covered
  bool dirty_ = false;              // active_ has unsynced writes
  std::string pending_;  // encoded records not yet written, at write_offset_
  Status failure_;       // the first failed write or sync
  bool opened_ = false;
};

// ---------------------------------------------------------------- reading

Status WalLogStore::term(Index index, Term* out) const {
  std::shared_lock lock(mutex_);
  if (closed_) return Status::error(StatusCode::kClosed, "WAL closed");
  if (index > last_index_locked()) {
    return Status::error(StatusCode::kUnavailable,
                         "index " + std::to_string(index) + " past the log");
  }
  if (index + 1 < first_index_) {
    return Status::error(StatusCode::kCompacted,
                         "index " + std::to_string(index) + " purged");
  }
  *out = index + 1 == first_index_ ? purge_term_
                                   : locations_[index - first_index_].term;
  return Status::ok();
}

Status WalLogStore::entries(Index lo, Index hi, uint64_t max_bytes,
                            std::vector<Entry>* out) const {
  std::shared_lock lock(mutex_);
  if (closed_) return Status::error(StatusCode::kClosed, "WAL closed");
  if (lo < first_index_) {
    return Status::error(StatusCode::kCompacted,
                         "index " + std::to_string(lo) + " purged");
  }
  if (hi > last_index_locked() + 1) {
    return Status::error(StatusCode::kUnavailable,
                         "index " + std::to_string(hi - 1) + " past the log");
  }
  const Index cache_first =
      cache_.empty() ? last_index_locked() + 1 : cache_.front().index;
  uint64_t bytes = 0;
  if (lo < cache_first) {
    bool stopped = false;
    Status s = read_from_disk(lo, std::min(hi, cache_first), lo, max_bytes,
                              &bytes, &stopped, out);
    if (!s || stopped) return s;
  }
  for (Index i = std::max(lo, cache_first); i < hi; ++i) {
    const Entry& entry = cache_[i - cache_first];
    bytes += entry.data.size();
    if (i > lo && bytes > max_bytes) break;
    out->push_back(entry);
  }
  return Status::ok();
}

Status WalLogStore::read_from_disk(Index lo, Index hi, Index first,
                                   uint64_t max_bytes, uint64_t* bytes,
                                   bool* stopped,
                                   std::vector<Entry>* out) const {
  *stopped = false;
  Index i = lo;
  while (i < hi) {
    // One read for a run of adjacent records in one segment, no longer than
    // the data max_bytes still allows.
    const Location& head = locations_[i - first_index_];
    Segment* segment = head.segment;
    const uint64_t start = head.offset;
    uint64_t end = start + head.size;
    uint64_t data_floor = *bytes;
    Index j = i + 1;
    for (; j < hi; ++j) {
      const Location& prev = locations_[j - 1 - first_index_];
      data_floor += prev.size > kEntryRecordOverhead
                        ? prev.size - kEntryRecordOverhead
                        : 0;
      const Location& next = locations_[j - first_index_];
      if (next.segment != segment || next.offset != end ||
          end - start + next.size > kIoChunkBytes || data_floor > max_bytes) {
        break;
      }
      end += next.size;
    }
    std::string chunk;
    {
      std::lock_guard io(segment->io);
      Status s = segment->file->read(start, end - start, &chunk);
      if (!s) return s;
    }
    if (chunk.size() != end - start) {
      return corruption_at(segment->path, start + chunk.size(),
                           "file ends before entry " + std::to_string(i));
    }
    for (Index k = i; k < j; ++k) {
      const Location& at = locations_[k - first_index_];
      const std::string_view bytes_of_record =
          std::string_view(chunk).substr(at.offset - start);
      const std::string where = "entry " + std::to_string(k);
      wal::RecordHeader header;
      std::string problem;
      RecordState state =
          wal::decode_header(bytes_of_record, &header, &problem);
      if (state == RecordState::kValid) {
        state = wal::check_record(header, bytes_of_record, &problem);
      }
      if (state != RecordState::kValid) {
        return corruption_at(
            segment->path, at.offset,
            (problem.empty() ? "record gone" : problem) + " reading " + where);
      }
      Entry entry;
      if (!wal::decode_entry_payload(
              bytes_of_record.substr(wal::kHeaderSize, header.payload_size),
              &entry) ||
          entry.index != k || entry.term != at.term) {
        return corruption_at(segment->path, at.offset,
                             "record does not hold " + where);
      }
      *bytes += entry.data.size();
      if (k > first && *bytes > max_bytes) {
        *stopped = true;
        return Status::ok();
      }
      out->push_back(std::move(entry));
    }
    i = j;
  }
  return Status::ok();
}

// ---------------------------------------------------------------- writing

Status WalLogStore::check_writable() const {
  if (closed_) return Status::error(StatusCode::kClosed, "WAL closed");
  return failure_;
}

Status WalLogStore::fail(Status status) {
  if (failure_.is_ok()) failure_ = status;
  return status;
}

Status WalLogStore::write_record(RecordType type, std::string_view payload,
                                 Location* where) {
  const uint64_t size = wal::record_size(payload.size());
  const uint64_t end = write_offset_ + pending_.size();
  if (end > 0 && end + size + kSealBytes > options_.segment_bytes) {
    Status s = flush_writes();
    if (s) s = roll_over();
    if (!s) return s;
  }
  const uint64_t offset = write_offset_ + pending_.size();
  wal::encode_record(type, payload, static_cast<uint32_t>(synced_offset_),
                     &pending_);
  *where = {0, active_, static_cast<uint32_t>(offset),
            static_cast<uint32_t>(size)};
  if (pending_.size() >= kIoChunkBytes) return flush_writes();
  return Status::ok();
}

Status WalLogStore::flush_writes() {
  if (pending_.empty()) return Status::ok();
  {
    std::lock_guard io(active_->io);
    Status s = active_->file->write(write_offset_, pending_);
    if (!s) return fail(s);
  }
  write_offset_ += pending_.size();
  pending_.clear();
  dirty_ = true;
  return Status::ok();
}

// Seals the full active segment, syncs it, and moves on to the spare.
Status WalLogStore::roll_over() {
  std::string seal;
  wal::encode_record(RecordType::kSeal, {},
                     static_cast<uint32_t>(synced_offset_), &seal);
  {
    std::lock_guard io(active_->io);
    Status s = active_->file->write(write_offset_, seal);
    if (s) s = active_->file->sync();
    if (!s) return fail(s);
  }
  if (!spare_) {
    Status s = create_segment(active_->sequence + 1, &spare_);
    if (!s) return fail(s);
  }
  Segment* next = spare_.get();
  {
    std::unique_lock lock(mutex_);
    segments_[next->sequence] = std::move(spare_);
  }
  active_ = next;
  write_offset_ = 0;
  synced_offset_ = 0;
  dirty_ = false;
  Status s = create_segment(active_->sequence + 1, &spare_);
  if (!s) return fail(s);
  return Status::ok();
}

// A new preallocated segment, durable in its directory before any record is
// written to it.
Status WalLogStore::create_segment(uint64_t sequence,
                                   std::unique_ptr<Segment>* out) {
  auto segment = std::make_unique<Segment>();
  segment->sequence = sequence;
  segment->path = path_of(sequence);
  Status s = fs_->open(segment->path, true, &segment->file);
  if (s) s = segment->file->allocate(options_.segment_bytes);
  if (s) s = segment->file->sync();
  if (s) s = fs_->sync_dir(options_.dir);
  if (!s) return s;
  *out = std::move(segment);
  return Status::ok();
}

void WalLogStore::cut_locked(Index index) {
  if (index > last_index_locked()) return;
  locations_.resize(index - first_index_);
  while (!cache_.empty() && cache_.back().index >= index) {
    cache_bytes_ -= cache_.back().data.size() + kCacheEntryOverhead;
    cache_.pop_back();
  }
  durable_index_ = std::min(durable_index_, index - 1);
}

void WalLogStore::cache_push_locked(const Entry& entry) {
  if (options_.cache_bytes == 0) return;
  cache_.push_back(entry);
  cache_bytes_ += entry.data.size() + kCacheEntryOverhead;
  while (!cache_.empty() && cache_bytes_ > options_.cache_bytes) {
    cache_bytes_ -= cache_.front().data.size() + kCacheEntryOverhead;
    cache_.pop_front();
  }
}

Status WalLogStore::append(const std::vector<Entry>& entries) {
  Status s = check_writable();
  if (!s || entries.empty()) return s;
  const Index from = entries.front().index;
  if (from < first_index_ || from > last_index_locked() + 1) {
    return Status::invalid_argument(
        "append at " + std::to_string(from) + " outside [" +
        std::to_string(first_index_) + ", " +
        std::to_string(last_index_locked() + 1) + "]");
  }
  std::vector<Location> where(entries.size());
  for (size_t k = 0; k < entries.size(); ++k) {
    const Entry& entry = entries[k];
    if (entry.index != from + k) {
      return Status::invalid_argument("entry " + std::to_string(entry.index) +
                                      " does not follow " +
                                      std::to_string(from + k - 1));
    }
    if (entry.data.size() > wal::kMaxPayload - wal::kEntryPayloadHeader) {
      return Status::invalid_argument("entry " + std::to_string(entry.index) +
                                      " too large");
    }
  }
  for (size_t k = 0; k < entries.size(); ++k) {
    s = write_record(RecordType::kEntry, wal::encode_entry_payload(entries[k]),
                     &where[k]);
    if (!s) return s;
    where[k].term = entries[k].term;
    active_->max_index = std::max(active_->max_index, entries[k].index);
  }
  s = flush_writes();
  if (!s) return s;
  std::unique_lock lock(mutex_);
  cut_locked(from);
  for (size_t k = 0; k < entries.size(); ++k) {
    locations_.push_back(where[k]);
    cache_push_locked(entries[k]);
  }
  return Status::ok();
}

Status WalLogStore::truncate_suffix(Index index) {
  Status s = check_writable();
  if (!s || index > last_index_locked()) return s;
  if (index < first_index_) {
    return Status::invalid_argument("truncate at " + std::to_string(index) +
                                    " below the first index " +
                                    std::to_string(first_index_));
  }
  Location unused;
  s = write_record(RecordType::kTruncate, wal::encode_index_payload(index),
                   &unused);
  if (s) s = flush_writes();
  if (!s) return s;
  std::unique_lock lock(mutex_);
  cut_locked(index);
  return Status::ok();
}

Status WalLogStore::purge_prefix(Index index) {
  Status s = check_writable();
  if (!s || index < first_index_) return s;
  if (index > last_index_locked()) {
    return Status::invalid_argument("purge up to " + std::to_string(index) +
                                    " past the last index " +
                                    std::to_string(last_index_locked()));
  }
  const Term term = locations_[index - first_index_].term;
  // Whole segments go, oldest first, once every entry they hold is purged.
  uint64_t first_kept = active_->sequence;
  for (const auto& [sequence, segment] : segments_) {
    if (segment.get() == active_ || segment->max_index > index) {
      first_kept = sequence;
      break;
    }
  }
  s = wal::save_meta(fs_, options_.dir, {index, term, first_kept});
  if (!s) return fail(s);
  std::vector<std::unique_ptr<Segment>> purged;
  {
    std::unique_lock lock(mutex_);
    locations_.erase(
        locations_.begin(),
        locations_.begin() + static_cast<ptrdiff_t>(index - first_index_ + 1));
    while (!cache_.empty() && cache_.front().index <= index) {
      cache_bytes_ -= cache_.front().data.size() + kCacheEntryOverhead;
      cache_.pop_front();
    }
    first_index_ = index + 1;
    purge_term_ = term;
    durable_index_ = std::max(durable_index_, index);
    while (segments_.begin()->first < first_kept) {
      purged.push_back(std::move(segments_.begin()->second));
      segments_.erase(segments_.begin());
    }
  }
  remove_segment_files(std::move(purged));
  return Status::ok();
}

Status WalLogStore::reset(Index index, Term term) {
  Status s = check_writable();
  if (!s) return s;
  if (!spare_) {
    s = create_segment(active_->sequence + 1, &spare_);
    if (!s) return fail(s);
  }
  s = wal::save_meta(fs_, options_.dir, {index, term, spare_->sequence});
  if (!s) return fail(s);
  std::vector<std::unique_ptr<Segment>> old;
  {
    std::unique_lock lock(mutex_);
    locations_.clear();
    cache_.clear();
    cache_bytes_ = 0;
    first_index_ = index + 1;
    purge_term_ = term;
    durable_index_ = index;
    for (auto& [sequence, segment] : segments_) {
      old.push_back(std::move(segment));
    }
    segments_.clear();
    active_ = spare_.get();
    segments_[active_->sequence] = std::move(spare_);
  }
  write_offset_ = 0;
  synced_offset_ = 0;
  dirty_ = false;
  remove_segment_files(std::move(old));
  s = create_segment(active_->sequence + 1, &spare_);
  if (!s) return fail(s);
  return Status::ok();
}

// The files are garbage already (below wal.meta's first sequence): a file
// left behind by a failure here is deleted on the next open.
void WalLogStore::remove_segment_files(
    std::vector<std::unique_ptr<Segment>> segments) {
  for (auto& segment : segments) {
    const std::string path = segment->path;
    segment.reset();
    static_cast<void>(fs_->remove(path));
  }
}

Status WalLogStore::sync() {
  Status s = check_writable();
  if (s) s = flush_writes();
  if (!s) return s;
  if (dirty_) {
    std::lock_guard io(active_->io);
    s = active_->file->sync();
    if (!s) return fail(s);
  }
  synced_offset_ = write_offset_;
  dirty_ = false;
  std::unique_lock lock(mutex_);
  durable_index_ = last_index_locked();
  return Status::ok();
}

Status WalLogStore::close() {
  if (closed_) return Status::error(StatusCode::kClosed, "WAL closed");
  Status s = failure_.is_ok() ? sync() : failure_;
  std::unique_lock lock(mutex_);
  closed_ = true;
  locations_.clear();
  cache_.clear();
  segments_.clear();
  active_ = nullptr;
  spare_.reset();
  return s;
}

// ---------------------------------------------------------------- opening

Status WalLogStore::open_segments(const std::vector<uint64_t>& sequences,
                                  std::vector<std::unique_ptr<Segment>>* out) {
  for (uint64_t sequence : sequences) {
    auto segment = std::make_unique<Segment>();
    segment->sequence = sequence;
    segment->path = path_of(sequence);
    Status s = fs_->open(segment->path, false, &segment->file);
    if (!s) return s;
    out->push_back(std::move(segment));
  }
  return Status::ok();
}

// Makes a segment found on disk after the last one written the spare. It
// holds no record, but a header a crash left behind is cleared so that no
// old byte can follow new records.
Status WalLogStore::prepare_spare(std::unique_ptr<Segment> segment) {
  std::string head;
  Status s = segment->file->read(0, wal::kHeaderSize, &head);
  if (!s) return s;
  if (std::any_of(head.begin(), head.end(), [](char c) { return c != 0; })) {
    base::log_line(DENGINE_LOG_WARN,
                   "WAL: clearing spare segment " + segment->path +
                       ": it holds a record header the crash left behind");
    s = segment->file->truncate(0);
    if (!s) return s;
  }
  if (segment->file->size() < options_.segment_bytes) {
    s = segment->file->allocate(options_.segment_bytes);
    if (s) s = segment->file->sync();
    if (!s) return s;
  }
  spare_ = std::move(segment);
  return Status::ok();
}

Status WalLogStore::open() {
  if (options_.dir.empty() || options_.segment_bytes < kMinSegmentBytes ||
      options_.segment_bytes > kMaxSegmentBytes) {
    return Status::invalid_argument(
        "WAL options need a directory and segment_bytes in [4 KiB, 1 GiB]");
  }
  const std::string& dir = options_.dir;
  Status s = fs_->create_dirs(dir);
  std::vector<std::string> names;
  if (s) s = fs_->list(dir, &names);
  if (!s) return s;
  if (std::find(names.begin(), names.end(), wal::kMetaTempFileName) !=
      names.end()) {
    base::log_line(DENGINE_LOG_INFO,
                   "WAL: removing " + dir + "/" + wal::kMetaTempFileName +
                       ", left by a meta update the crash interrupted");
    s = fs_->remove(dir + "/" + wal::kMetaTempFileName);
    if (!s) return s;
  }
  wal::WalMeta meta;
  s = wal::load_meta(fs_, dir, &meta);
  if (!s) return s;

  std::vector<uint64_t> live;
  bool removed = false;
  for (const std::string& name : names) {
    uint64_t sequence;
    if (!wal::parse_segment_file_name(name, &sequence)) continue;
    if (sequence >= meta.first_sequence) {
      live.push_back(sequence);
      continue;
    }
    base::log_line(DENGINE_LOG_INFO,
                   "WAL: removing segment " + dir + "/" + name +
                       ", purged before the crash (the log starts in segment " +
                       std::to_string(meta.first_sequence) + ")");
    s = fs_->remove(dir + "/" + name);
    if (!s) return s;
    removed = true;
  }
  if (removed) {
    s = fs_->sync_dir(dir);
    if (!s) return s;
  }
  std::vector<std::unique_ptr<Segment>> segments;
  s = open_segments(live, &segments);
  if (!s) return s;

  // Replay every sealed segment and the one after them, whose written area
  // ends at the tail.
  Replay replay(meta.purge_index);
  size_t tail = segments.size();
  uint64_t tail_offset = 0;
  bool tail_clean = true;
  for (size_t k = 0; k < segments.size(); ++k) {
    Segment* segment = segments[k].get();
    wal::SegmentReader reader(segment->file.get(), segment->path);
    wal::SegmentEnd end;
    s = wal::scan_segment(
        &reader,
        [&](const wal::ScannedRecord& record) {
          return replay.apply(segment, record);
        },
        &end);
    if (!s) return s;
    if (end.kind == wal::SegmentEnd::Kind::kSealed) continue;
    if (end.kind == wal::SegmentEnd::Kind::kDamaged) {
      return corruption_at(segment->path, end.offset, end.problem);
    }
    wal::TailInspection inspection;
    s = wal::inspect_after_tail(&reader, end.offset, &inspection);
    if (!s) return s;
    if (inspection.proof_offset) {
      return corruption_at(segment->path, end.offset,
                           "record incomplete, yet the record at offset " +
                               std::to_string(*inspection.proof_offset) +
                               " was written after a sync that covered it");
    }
    tail = k;
    tail_offset = end.offset;
    tail_clean = inspection.all_zero;
    break;
  }
  // Segments after the tail were never written to; the first is the spare.
  for (size_t k = tail + 1; k < segments.size(); ++k) {
    wal::SegmentReader reader(segments[k]->file.get(), segments[k]->path);
    wal::ScannedRecord record;
    RecordState state;
    std::string problem;
    s = reader.read(0, &record, &state, &problem);
    if (!s) return s;
    if (state != RecordState::kUnwritten) {
      return Status::corruption(
          segments[k]->path + " holds records, but " + segments[tail]->path +
          " ends without a seal at offset " + std::to_string(tail_offset));
    }
  }
  std::deque<Location> locations;
  s = replay.finish(&locations);
  if (!s) return s;

  if (tail < segments.size()) {
    Segment* segment = segments[tail].get();
    // Cut the torn tail, so that new records never sit before old bytes.
    if (!tail_clean) {
      base::log_line(
          DENGINE_LOG_WARN,
          "WAL: cutting the torn tail of " + segment->path + " at offset " +
              std::to_string(tail_offset) + " (" +
              std::to_string(segment->file->size() - tail_offset) +
              " bytes): an incomplete record no sync covered, a write the "
              "crash cut short");
      s = segment->file->truncate(tail_offset);
    }
    if (s) s = segment->file->allocate(options_.segment_bytes);
    // What survived the crash may still be only in the page cache.
    if (s) s = segment->file->sync();
    if (!s) return s;
    if (tail + 1 < segments.size()) {
      s = prepare_spare(std::move(segments[tail + 1]));
      if (!s) return s;
    }
    for (size_t k = tail + 2; k < segments.size(); ++k) {
      const std::string path = segments[k]->path;
      base::log_line(DENGINE_LOG_INFO,
                     "WAL: removing segment " + path +
                         ": an unused spare beyond the next one");
      segments[k].reset();
      s = fs_->remove(path);
      if (!s) return s;
    }
    segments.resize(tail + 1);
    active_ = segment;
    write_offset_ = tail_offset;
  } else {
    std::unique_ptr<Segment> fresh;
    s = create_segment(
        segments.empty() ? meta.first_sequence : segments.back()->sequence + 1,
        &fresh);
    if (!s) return s;
    active_ = fresh.get();
    segments.push_back(std::move(fresh));
    write_offset_ = 0;
  }
  synced_offset_ = write_offset_;
  if (!spare_) {
    s = create_segment(active_->sequence + 1, &spare_);
    if (!s) return s;
  }
  for (auto& segment : segments) {
    segments_[segment->sequence] = std::move(segment);
  }
  locations_ = std::move(locations);
  first_index_ = meta.purge_index + 1;
  purge_term_ = meta.purge_term;
  durable_index_ = last_index_locked();
  s = fill_cache();
  if (!s) return s;
  opened_ = true;
  return Status::ok();
}

// Loads the newest entries into the cache, as much as it holds.
Status WalLogStore::fill_cache() {
  if (options_.cache_bytes == 0 || locations_.empty()) return Status::ok();
  const Index last = last_index_locked();
  Index lo = last + 1;
  uint64_t bytes = 0;
  while (lo > first_index_) {
    const Location& at = locations_[lo - 1 - first_index_];
    bytes += at.size + kCacheEntryOverhead;
    if (bytes > options_.cache_bytes) break;
    --lo;
  }
  if (lo > last) return Status::ok();
  std::vector<Entry> recent;
  uint64_t data_bytes = 0;
  bool stopped;
  Status s =
      read_from_disk(lo, last + 1, lo, std::numeric_limits<uint64_t>::max(),
                     &data_bytes, &stopped, &recent);
  if (!s) return s;
  for (const Entry& entry : recent) cache_push_locked(entry);
  return Status::ok();
}

}  // namespace

Status open_wal_log_store(FileSystem* fs, const WalOptions& options,
                          std::unique_ptr<LogStore>* out) {
  auto store = std::make_unique<WalLogStore>(fs, options);
  Status s = store->open();
  if (!s) return s;
  *out = std::move(store);
  return Status::ok();
}

}  // namespace dengine::storage
