// The peer addresses a node knows: from its configuration, and from the
// membership changes that add nodes (their address travels in the change).
// Kept in one checksummed file in the data directory, so a restarted node can
// reach members it learned about from log entries since compacted away.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "raft/types.h"
#include "storage/file_system.h"
#include "storage/status.h"

namespace dengine::node {

class AddressBook {
 public:
  // Loads `dir`/MEMBERS if present. kCorruption if it is damaged.
  storage::Status open(storage::FileSystem* fs, const std::string& dir);

  // Records an address; persists the book when it changed. Returns whether
  // it changed (and the error if persisting failed).
  storage::Status set(raft::NodeId id, const std::string& address,
                      bool* changed);
  // "" when unknown.
  std::string get(raft::NodeId id) const;
  std::map<raft::NodeId, std::string> all() const;

 private:
  storage::FileSystem* fs_ = nullptr;
  std::string dir_;
  mutable std::mutex mutex_;
  std::map<raft::NodeId, std::string> addresses_;
};

}  // namespace dengine::node
