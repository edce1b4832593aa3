// A built-in KV machine in C++ terms: what the RocksDB and file-based
// backends implement and kv_machine.cc adapts to the C vtable. The thread
// rules are the vtable's (include/dengine.h): apply_chunk, generate_snapshot,
// install_snapshot, reset and flush on the apply thread, one at a time; read,
// len and last_applied on any thread, concurrently with them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dengine.h"
#include "sm/kv_command.h"
#include "storage/status.h"
#include "watch/event.h"

namespace dengine::sm {

class KvBackend {
 public:
  virtual ~KvBackend() = default;

  // Applies entries[0..count) all-or-nothing. (*results)[i] is the result of
  // entry i: set for normal entries (kAlreadyApplied for one at or below
  // last_applied, which is skipped), nullopt for no-op and membership ones.
  // The effects, the clock, the key count and last_applied are written in
  // one atomic write, durable once flushed (or at once against a process
  // crash). Entries must be contiguous, the first at most last_applied + 1.
  // `events` (may be nullptr) gets the watch events of the entries applied
  // (sm/kv_apply.h), in order; on an error its contents mean nothing.
  // `before_commit` (may be nullptr) is called once the events are final,
  // just before the write that makes the chunk durable (not at all when
  // nothing new is written): the node records the chunk's events there, so
  // that a crash never leaves the machine ahead of its watch history.
  virtual storage::Status apply_chunk(
      const dengine_entry* entries, size_t count,
      std::vector<std::optional<KvResult>>* results,
      std::vector<watch::Event>* events = nullptr,
      const std::function<void()>* before_commit = nullptr) = 0;

  // Answers an encoded KvRead from one consistent view of the applied state;
  // *revision (may be nullptr): the last entry applied in that view.
  virtual storage::Status read(std::string_view query, std::string* answer,
                               uint64_t* revision = nullptr) = 0;

  virtual uint64_t last_applied() const = 0;
  // The exact number of live keys.
  virtual uint64_t len() const = 0;

  // Writes the whole state as of last_applied (which must equal
  // `last_index`) into the existing empty directory `dir`.
  virtual storage::Status generate_snapshot(const std::string& dir,
                                            uint64_t last_index) = 0;
  // Replaces all state with a snapshot made by generate_snapshot; a crash
  // meanwhile leaves the old state or the new one. Afterwards
  // last_applied() == last_index.
  virtual storage::Status install_snapshot(const std::string& dir,
                                           uint64_t last_index) = 0;
  // Makes everything applied durable (against power loss).
  virtual storage::Status flush() = 0;
  // Clears all state, crash-safely; last_applied() becomes 0.
  virtual storage::Status reset() = 0;
};

}  // namespace dengine::sm
