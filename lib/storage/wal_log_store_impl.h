// The segmented WAL's store object, shared by its two halves:
//   wal_log_store.cc  the running store: reads, writes, syncs, purges, the
//                     entry cache;
//   wal_recovery.cc   opening: wal.meta, replaying the segments, repairing
//                     the torn tail, preparing the spare segment.
// Private to lib/storage: the public face is open_wal_log_store
// (wal_log_store.h), whose comment describes the format and the recovery.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/file_system.h"
#include "storage/log_store.h"
#include "storage/status.h"
#include "storage/wal_log_store.h"
#include "storage/wal_meta.h"
#include "storage/wal_record.h"
#include "storage/wal_segment.h"

namespace dengine::storage::wal {

struct Segment {
  uint64_t sequence = 0;
  std::string path;
  std::unique_ptr<File> file;
  // File is not thread-safe: the writer and the readers take turns.
  std::mutex io;
  // Highest entry index written to it (0: none); decides when a purge may
  // delete it. Writer-only.
  raft::Index max_index = 0;
};

// Where an entry's record lies.
struct Location {
  raft::Term term = 0;
  Segment* segment = nullptr;
  uint32_t offset = 0;
  uint32_t size = 0;
};

inline Status corruption_at(const std::string& path, uint64_t offset,
                            const std::string& problem) {
  return Status::corruption(path + " at offset " + std::to_string(offset) +
                            ": " + problem);
}

class WalLogStore final : public LogStore {
 public:
  WalLogStore(FileSystem* fs, WalOptions options)
      : fs_(fs), options_(std::move(options)) {}
  ~WalLogStore() override {
    if (opened_ && !closed_) static_cast<void>(close());
  }
  WalLogStore(const WalLogStore&) = delete;
  WalLogStore& operator=(const WalLogStore&) = delete;

  // Recovers the log in options.dir (wal_recovery.cc).
  Status open();

  raft::Index first_index() const override {
    std::shared_lock lock(mutex_);
    return first_index_;
  }
  raft::Index last_index() const override {
    std::shared_lock lock(mutex_);
    return last_index_locked();
  }
  raft::Index durable_index() const override {
    std::shared_lock lock(mutex_);
    return durable_index_;
  }
  Status term(raft::Index index, raft::Term* out) const override;
  Status entries(raft::Index lo, raft::Index hi, uint64_t max_bytes,
                 std::vector<raft::Entry>* out) const override;

  Status append(const std::vector<raft::Entry>& entries) override;
  Status truncate_suffix(raft::Index index) override;
  Status purge_prefix(raft::Index index) override;
  Status reset(raft::Index index, raft::Term term) override;
  Status sync() override;
  Status close() override;

 private:
  // What replaying the live segments found (wal_recovery.cc).
  struct Replayed;

  raft::Index last_index_locked() const {
    return first_index_ + locations_.size() - 1;
  }
  // Reads entries [lo, hi) from their records, adding data bytes to *bytes
  // and stopping, as entries() does, once they would exceed max_bytes (after
  // the entry at `first`); *stopped tells whether it did.
  Status read_from_disk(raft::Index lo, raft::Index hi, raft::Index first,
                        uint64_t max_bytes, uint64_t* bytes, bool* stopped,
                        std::vector<raft::Entry>* out) const;

  Status check_writable() const;
  Status fail(Status status);
  Status write_record(RecordType type, std::string_view payload,
                      Location* where);
  Status flush_writes();
  Status roll_over();
  Status create_segment(uint64_t sequence, std::unique_ptr<Segment>* out);
  Status fill_cache();
  void remove_segment_files(std::vector<std::unique_ptr<Segment>> segments);

  // Opening, in order (wal_recovery.cc).
  Status load_meta(std::vector<std::string>* names, WalMeta* meta);
  Status remove_purged_segments(const std::vector<std::string>& names,
                                uint64_t first_sequence,
                                std::vector<uint64_t>* live);
  Status open_segments(const std::vector<uint64_t>& sequences,
                       std::vector<std::unique_ptr<Segment>>* out);
  Status replay_segments(raft::Index purge_index,
                         const std::vector<std::unique_ptr<Segment>>& segments,
                         Replayed* out);
  Status resume_at_tail(const Replayed& replayed,
                        std::vector<std::unique_ptr<Segment>>* segments,
                        std::vector<std::unique_ptr<Segment>>* unused);
  Status repair_torn_tail(Segment* segment, uint64_t tail_offset,
                          bool tail_clean);
  Status start_new_segment(uint64_t first_sequence,
                           std::vector<std::unique_ptr<Segment>>* segments);
  Status prepare_spare_segment(std::vector<std::unique_ptr<Segment>> unused);
  Status clear_spare(Segment* segment);

  // Under an exclusive lock.
  void cut_locked(raft::Index index);
  void cache_push_locked(const raft::Entry& entry);

  std::string path_of(uint64_t sequence) const {
    return options_.dir + "/" + segment_file_name(sequence);
  }

  FileSystem* const fs_;
  const WalOptions options_;

  // Readers take it shared; the writer changes the state below only under it
  // exclusively, and does its file I/O without it.
  mutable std::shared_mutex mutex_;
  bool closed_ = false;
  raft::Index first_index_ = 1;
  raft::Term purge_term_ = 0;  // term of the entry at first_index_ - 1
  raft::Index durable_index_ = 0;
  std::deque<Location> locations_;  // entries [first_index_, last]
  std::deque<raft::Entry> cache_;   // the newest entries, ending at last
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

}  // namespace dengine::storage::wal
