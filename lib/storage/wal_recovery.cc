// Opening the WAL: the recovery wal_log_store.h describes, one step per
// function, each repair logged with what it did and why.
//   load_meta               wal.meta, and the leftover of an interrupted
//                           update of it;
//   remove_purged_segments  segments a purge had dropped before the crash;
//   replay_segments         the records in order, up to the tail;
//   resume_at_tail          the tail segment goes on as the active one,
//                           once repair_torn_tail cut the incomplete record
//                           a crash left there (start_new_segment instead,
//                           when every segment is sealed);
//   prepare_spare_segment   the next segment, cleared and preallocated.
#include <algorithm>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/log.h"
#include "storage/wal_log_store_impl.h"

namespace dengine::storage::wal {

using raft::Index;
using raft::Term;

namespace {

constexpr uint64_t kMinSegmentBytes = 4096;
constexpr uint64_t kMaxSegmentBytes = uint64_t{1} << 30;

// Rebuilds the index of held entries by replaying the records of the live
// segments in order, the way they were written.
class Replay {
 public:
  explicit Replay(Index purge_index) : purge_index_(purge_index) {}

  Status apply(Segment* segment, const ScannedRecord& record) {
    if (record.header.type == RecordType::kTruncate) {
      Index index;
      if (!decode_index_payload(record.payload, &index)) {
        return corruption_at(segment->path, record.offset,
                             "malformed truncate record");
      }
      if (started_ && index < next_) cut(index);
      return Status::ok();
    }
    Index index;
    Term term;
    if (!peek_entry_payload(record.payload, &index, &term)) {
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

// kCorruption unless every segment after segments[tail], which ends without
// a seal at tail_offset, is still unwritten.
Status check_unwritten_after(
    const std::vector<std::unique_ptr<Segment>>& segments, size_t tail,
    uint64_t tail_offset) {
  for (size_t k = tail + 1; k < segments.size(); ++k) {
    SegmentReader reader(segments[k]->file.get(), segments[k]->path);
    ScannedRecord record;
    RecordState state;
    std::string problem;
    Status s = reader.read(0, &record, &state, &problem);
    if (!s) return s;
    if (state != RecordState::kUnwritten) {
      return Status::corruption(
          segments[k]->path + " holds records, but " + segments[tail]->path +
          " ends without a seal at offset " + std::to_string(tail_offset));
    }
  }
  return Status::ok();
}

}  // namespace

struct WalLogStore::Replayed {
  // The segment whose written area ends without a seal (segments.size()
  // when every segment is sealed), where that area ends, and whether every
  // byte after it is zero.
  size_t tail = 0;
  uint64_t tail_offset = 0;
  bool tail_clean = true;
  std::deque<Location> locations;  // the held entries, after the purge point
};

Status WalLogStore::open() {
  if (options_.dir.empty() || options_.segment_bytes < kMinSegmentBytes ||
      options_.segment_bytes > kMaxSegmentBytes) {
    return Status::invalid_argument(
        "WAL options need a directory and segment_bytes in [4 KiB, 1 GiB]");
  }
  std::vector<std::string> names;
  WalMeta meta;
  Status s = load_meta(&names, &meta);
  std::vector<uint64_t> live;
  if (s) s = remove_purged_segments(names, meta.first_sequence, &live);
  std::vector<std::unique_ptr<Segment>> segments;
  if (s) s = open_segments(live, &segments);
  Replayed replayed;
  if (s) s = replay_segments(meta.purge_index, segments, &replayed);
  if (!s) return s;

  std::vector<std::unique_ptr<Segment>> unused;
  s = replayed.tail < segments.size()
          ? resume_at_tail(replayed, &segments, &unused)
          : start_new_segment(meta.first_sequence, &segments);
  if (!s) return s;
  synced_offset_ = write_offset_;
  s = prepare_spare_segment(std::move(unused));
  if (!s) return s;

  for (auto& segment : segments) {
    segments_[segment->sequence] = std::move(segment);
  }
  locations_ = std::move(replayed.locations);
  first_index_ = meta.purge_index + 1;
  purge_term_ = meta.purge_term;
  durable_index_ = last_index_locked();
  s = fill_cache();
  if (!s) return s;
  opened_ = true;
  return Status::ok();
}

// Makes the tail segment the active one, repaired, and moves the segments
// after it, never written to, into *unused (the first is the spare).
Status WalLogStore::resume_at_tail(
    const Replayed& replayed, std::vector<std::unique_ptr<Segment>>* segments,
    std::vector<std::unique_ptr<Segment>>* unused) {
  Segment* tail = (*segments)[replayed.tail].get();
  Status s = repair_torn_tail(tail, replayed.tail_offset, replayed.tail_clean);
  if (!s) return s;
  unused->assign(std::make_move_iterator(segments->begin() + replayed.tail + 1),
                 std::make_move_iterator(segments->end()));
  segments->resize(replayed.tail + 1);
  active_ = tail;
  write_offset_ = replayed.tail_offset;
  return Status::ok();
}

// Every segment is sealed (or there is none): the log goes on in a new one.
Status WalLogStore::start_new_segment(
    uint64_t first_sequence, std::vector<std::unique_ptr<Segment>>* segments) {
  std::unique_ptr<Segment> fresh;
  Status s = create_segment(
      segments->empty() ? first_sequence : segments->back()->sequence + 1,
      &fresh);
  if (!s) return s;
  active_ = fresh.get();
  segments->push_back(std::move(fresh));
  write_offset_ = 0;
  return Status::ok();
}

// Creates the directory if missing, lists it into *names, and loads
// wal.meta, first removing the temporary file of an update the crash
// interrupted (wal.meta itself is then still the old one).
Status WalLogStore::load_meta(std::vector<std::string>* names, WalMeta* meta) {
  const std::string& dir = options_.dir;
  Status s = fs_->create_dirs(dir);
  if (s) s = fs_->list(dir, names);
  if (!s) return s;
  if (std::find(names->begin(), names->end(), kMetaTempFileName) !=
      names->end()) {
    base::log_line(DENGINE_LOG_INFO,
                   "WAL: removing " + dir + "/" + kMetaTempFileName +
                       ", left by a meta update the crash interrupted");
    s = fs_->remove(dir + "/" + kMetaTempFileName);
    if (!s) return s;
  }
  return wal::load_meta(fs_, dir, meta);
}

// Removes the segments before first_sequence, which a purge made garbage
// before the crash could delete them; *live: the sequences of the others.
Status WalLogStore::remove_purged_segments(
    const std::vector<std::string>& names, uint64_t first_sequence,
    std::vector<uint64_t>* live) {
  const std::string& dir = options_.dir;
  bool removed = false;
  for (const std::string& name : names) {
    uint64_t sequence;
    if (!parse_segment_file_name(name, &sequence)) continue;
    if (sequence >= first_sequence) {
      live->push_back(sequence);
      continue;
    }
    base::log_line(DENGINE_LOG_INFO,
                   "WAL: removing segment " + dir + "/" + name +
                       ", purged before the crash (the log starts in segment " +
                       std::to_string(first_sequence) + ")");
    Status s = fs_->remove(dir + "/" + name);
    if (!s) return s;
    removed = true;
  }
  if (removed) return fs_->sync_dir(dir);
  return Status::ok();
}

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

// Replays every sealed segment and the one after them, whose written area
// ends at the tail; checks that what lies after the tail was never written.
Status WalLogStore::replay_segments(
    Index purge_index, const std::vector<std::unique_ptr<Segment>>& segments,
    Replayed* out) {
  Replay replay(purge_index);
  out->tail = segments.size();
  for (size_t k = 0; k < segments.size(); ++k) {
    Segment* segment = segments[k].get();
    SegmentReader reader(segment->file.get(), segment->path);
    SegmentEnd end;
    Status s = scan_segment(
        &reader,
        [&](const ScannedRecord& record) {
          return replay.apply(segment, record);
        },
        &end);
    if (!s) return s;
    if (end.kind == SegmentEnd::Kind::kSealed) continue;
    if (end.kind == SegmentEnd::Kind::kDamaged) {
      return corruption_at(segment->path, end.offset, end.problem);
    }
    TailInspection inspection;
    s = inspect_after_tail(&reader, end.offset, &inspection);
    if (!s) return s;
    if (inspection.proof_offset) {
      return corruption_at(segment->path, end.offset,
                           "record incomplete, yet the record at offset " +
                               std::to_string(*inspection.proof_offset) +
                               " was written after a sync that covered it");
    }
    out->tail = k;
    out->tail_offset = end.offset;
    out->tail_clean = inspection.all_zero;
    break;
  }
  Status s = check_unwritten_after(segments, out->tail, out->tail_offset);
  if (!s) return s;
  return replay.finish(&out->locations);
}

// Cuts the torn tail, so that new records never sit before old bytes, and
// makes the tail segment whole and durable again: what survived the crash
// may still be only in the page cache.
Status WalLogStore::repair_torn_tail(Segment* segment, uint64_t tail_offset,
                                     bool tail_clean) {
  Status s;
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
  if (s) s = segment->file->sync();
  return s;
}

// Makes the first of the never-written segments found after the tail the
// spare, removes the rest, and creates the spare if there was none.
Status WalLogStore::prepare_spare_segment(
    std::vector<std::unique_ptr<Segment>> unused) {
  if (!unused.empty()) {
    Status s = clear_spare(unused.front().get());
    if (!s) return s;
    spare_ = std::move(unused.front());
  }
  for (size_t k = 1; k < unused.size(); ++k) {
    const std::string path = unused[k]->path;
    base::log_line(DENGINE_LOG_INFO,
                   "WAL: removing segment " + path +
                       ": an unused spare beyond the next one");
    unused[k].reset();
    Status s = fs_->remove(path);
    if (!s) return s;
  }
  if (spare_) return Status::ok();
  return create_segment(active_->sequence + 1, &spare_);
}

// A spare holds no record, but a header a crash left behind is cleared so
// that no old byte can follow new records.
Status WalLogStore::clear_spare(Segment* segment) {
  std::string head;
  Status s = segment->file->read(0, kHeaderSize, &head);
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
  }
  return s;
}

}  // namespace dengine::storage::wal

namespace dengine::storage {

Status open_wal_log_store(FileSystem* fs, const WalOptions& options,
                          std::unique_ptr<LogStore>* out) {
  auto store = std::make_unique<wal::WalLogStore>(fs, options);
  Status s = store->open();
  if (!s) return s;
  *out = std::move(store);
  return Status::ok();
}

}  // namespace dengine::storage
