// The write-ahead log's meta file, wal.meta: where the log starts. Purges and
// resets write it before deleting any segment, replacing it atomically
// (write wal.meta.tmp, sync, rename, sync the directory).
#pragma once

#include <cstdint>
#include <string>

#include "raft/types.h"
#include "storage/file_system.h"
#include "storage/status.h"

namespace dengine::storage::wal {

inline constexpr char kMetaFileName[] = "wal.meta";
inline constexpr char kMetaTempFileName[] = "wal.meta.tmp";

struct WalMeta {
  // Entries up to here are discarded; purge_term is the term of that entry.
  raft::Index purge_index = 0;
  raft::Term purge_term = 0;
  // Segments with a lower sequence number are garbage left by a purge or
  // reset that was interrupted: they are deleted on open, never read.
  uint64_t first_sequence = 0;

  bool operator==(const WalMeta&) const = default;
};

// Reads dir/wal.meta; a missing file gives the defaults, a damaged one
// kCorruption.
Status load_meta(FileSystem* fs, const std::string& dir, WalMeta* meta);
Status save_meta(FileSystem* fs, const std::string& dir, const WalMeta& meta);

}  // namespace dengine::storage::wal
