// The segmented write-ahead log: the default LogStore for embedded use.
//
// On disk (all in WalOptions::dir):
//   wal-<sequence>.log  segments, preallocated to segment_bytes and filled
//                       with checksummed records (wal_record.h): one per
//                       entry, one per truncate_suffix, a seal when full;
//   wal.meta            the purge point and the first live segment
//                       (wal_meta.h), written by purge_prefix and reset.
// The log is never rewritten in place: truncation is a record, and reopening
// replays the records in order.
//
// Memory: an index of every held entry (term, segment, offset: 24 bytes per
// entry) and a cache of the most recent entries up to cache_bytes of data.
// Older entries are read back from disk, with their checksums verified.
//
// Durability: sync() is one fdatasync of the active segment (a full segment
// is synced when it is sealed). purge_prefix and reset are durable when they
// return (they rewrite wal.meta). After any failed write or sync the store
// refuses further writes: what reached the disk is unknown, so reopen it.
//
// Recovery on open, for the last segment holding records (all earlier ones
// must end in a seal):
//   - a record that was never completely written (a zero marker or trailer,
//     see wal_record.h) ends the log; it and everything after it are cut,
//     unless a later valid record proves, by its durable-end field, that a
//     completed sync covered those bytes: then it is kCorruption;
//   - a completely written record that fails a check is kCorruption, naming
//     the file and offset, wherever it lies; nothing is skipped silently.
// Garbage at the tail (rather than zeros) cannot come from our writes, since
// segments are preallocated with zeros and never reused, so it is reported
// as corruption too.
//
// Boundaries: purge_prefix below first_index() is a no-op; truncate_suffix
// below first_index() is kInvalidArgument (purged entries cannot be
// truncated), past last_index() a no-op.
//
// Thread-safety: as LogStore (one writer, concurrent readers).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "storage/file_system.h"
#include "storage/log_store.h"
#include "storage/status.h"

namespace dengine::storage {

struct WalOptions {
  // Directory holding the log; created if missing. Nothing else may write
  // files named wal-* or wal.meta* there.
  std::string dir;
  // Size each segment is preallocated to, in [4 KiB, 1 GiB]. A record
  // larger than a segment gets a segment of its own.
  uint64_t segment_bytes = uint64_t{64} << 20;
  // Data bytes of recent entries kept in memory for reads (0: none).
  uint64_t cache_bytes = uint64_t{16} << 20;
};

// Opens the log in options.dir, creating it if empty, recovering it after a
// crash as described above. The signature is stable: the conformance suite
// and the crash tests build stores through it.
Status open_wal_log_store(FileSystem* fs, const WalOptions& options,
                          std::unique_ptr<LogStore>* out);

}  // namespace dengine::storage
