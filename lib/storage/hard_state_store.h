// Durable Raft hard state (term, vote, commit). save() returns only once the
// new state is durable, and a crash at any moment leaves either the old or
// the new state, never a mix or garbage.
#pragma once

#include <memory>
#include <string>

#include "raft/types.h"
#include "storage/file_system.h"
#include "storage/status.h"

namespace dengine::storage {

class HardStateStore {
 public:
  virtual ~HardStateStore() = default;
  // The saved state, or a zero HardState if none was ever saved.
  virtual Status load(raft::HardState* out) = 0;
  virtual Status save(const raft::HardState& state) = 0;
};

// One small checksummed file, replaced atomically: write a temporary file,
// fsync it, rename it over the old one, fsync the directory.
Status open_file_hard_state_store(FileSystem* fs, const std::string& dir,
                                  std::unique_ptr<HardStateStore>* out);

}  // namespace dengine::storage
