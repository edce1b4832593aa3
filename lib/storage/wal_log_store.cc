// The running WAL: reads (from the cache or the segments), appends,
// truncation, purges, resets and syncs. Opening and recovery are in
// wal_recovery.cc.
#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/wal_log_store_impl.h"

namespace dengine::storage::wal {

using raft::Entry;
using raft::Index;
using raft::Term;

namespace {

constexpr uint64_t kSealBytes = record_size(0);
// The most an entry record adds to its data: header, entry fields, trailer,
// padding. Lets reads bound the data of a record from its size.
constexpr uint64_t kEntryRecordOverhead =
    kHeaderSize + kEntryPayloadHeader + 1 + kAlignment - 1;
// Encoded records are written out at this size, bounding memory for big
// batches; reads from disk go in chunks of at most this much.
constexpr uint64_t kIoChunkBytes = uint64_t{4} << 20;
// What a cached entry costs beyond its data, counted against cache_bytes.
constexpr uint64_t kCacheEntryOverhead = sizeof(Entry);

}  // namespace

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
      RecordHeader header;
      std::string problem;
      RecordState state = decode_header(bytes_of_record, &header, &problem);
      if (state == RecordState::kValid) {
        state = check_record(header, bytes_of_record, &problem);
      }
      if (state != RecordState::kValid) {
        return corruption_at(
            segment->path, at.offset,
            (problem.empty() ? "record gone" : problem) + " reading " + where);
      }
      Entry entry;
      if (!decode_entry_payload(
              bytes_of_record.substr(kHeaderSize, header.payload_size),
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
  const uint64_t size = record_size(payload.size());
  const uint64_t end = write_offset_ + pending_.size();
  if (end > 0 && end + size + kSealBytes > options_.segment_bytes) {
    Status s = flush_writes();
    if (s) s = roll_over();
    if (!s) return s;
  }
  const uint64_t offset = write_offset_ + pending_.size();
  encode_record(type, payload, static_cast<uint32_t>(synced_offset_),
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
  encode_record(RecordType::kSeal, {}, static_cast<uint32_t>(synced_offset_),
                &seal);
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
    if (entry.data.size() > kMaxPayload - kEntryPayloadHeader) {
      return Status::invalid_argument("entry " + std::to_string(entry.index) +
                                      " too large");
    }
  }
  for (size_t k = 0; k < entries.size(); ++k) {
    s = write_record(RecordType::kEntry, encode_entry_payload(entries[k]),
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
  s = write_record(RecordType::kTruncate, encode_index_payload(index), &unused);
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
  s = save_meta(fs_, options_.dir, {index, term, first_kept});
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
  s = save_meta(fs_, options_.dir, {index, term, spare_->sequence});
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

// ---------------------------------------------------------------- the cache

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

}  // namespace dengine::storage::wal
