// The watch history on disk, so that a restart keeps it: the events of each
// applied chunk are appended, on the apply thread, to segment files in one
// directory, and read back when the node starts again.
//
// Files: events-<16 hex digits>.log, in order. Each is a run of records,
//   u32 payload length, u32 CRC-32C of the payload, payload
// and starts with a start record (u8 1, u64 after: the covered index the
// segment continues from), followed by one chunk record per applied chunk
// (u8 2, u64 covered_to, u32 count, count x event; see encode_event), even a
// chunk without events, so the covered index on disk keeps up with apply.
//
// Bounds. A segment is closed once it holds a quarter of the history's
// limits, and the oldest segments are deleted once the newer ones alone hold
// as much as the history keeps in memory, so the files stay within about
// 1.25 times the limits.
//
// Durability. Records are written, not synced: they survive a process crash
// (kill -9), but after a power loss the files may end earlier than what the
// machine applied. The node then finds a gap between the covered index on
// disk and the machine's last applied index and starts the history again
// (see Restored); a torn or corrupt record ends what is read (and is logged).
// A failed write is logged and deletes the files: the history on disk is an
// aid to watches from the past, never a reason to stop applying.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "watch/event.h"
#include "watch/history.h"

namespace dengine::watch {

class HistoryLog {
 public:
  // What the files held: the events from available_from on (in revision
  // order) and the covered index. `found` is false when there was nothing
  // (a new node, or files lost): the caller then resets.
  struct Restored {
    bool found = false;
    uint64_t available_from = 1;
    uint64_t covered_to = 0;
    std::vector<Event> events;
  };

  // Opens (creating) the directory and reads it into *restored. Fails only
  // when the directory cannot be made or listed (*error says why); unreadable
  // records are cut, as above. Appends go to a new segment.
  static int open(const std::string& dir, HistoryLimits limits,
                  std::unique_ptr<HistoryLog>* out, Restored* restored,
                  std::string* error);
  ~HistoryLog();
  HistoryLog(const HistoryLog&) = delete;
  HistoryLog& operator=(const HistoryLog&) = delete;

  // The events of the entries after the last covered index up to
  // `covered_to`, as EventHistory::append takes them. Apply thread.
  void append(const std::vector<Event>& events, uint64_t covered_to);
  // Deletes every segment and starts again after `index`.
  void reset(uint64_t index);

  // One event's bytes in a chunk record (exposed for tests and fuzzing).
  static void encode_event(const Event& event, std::string* out);

 private:
  struct Segment {
    uint64_t number = 0;
    std::string path;
    uint64_t events = 0;
    uint64_t bytes = 0;  // the events' footprint()
  };

  HistoryLog(std::string dir, HistoryLimits limits);
  void start_segment(uint64_t after);
  bool write_record(const std::string& payload);
  void drop_old_segments();
  void remove_all();
  void fail(const std::string& what);

  const std::string dir_;
  const HistoryLimits limits_;
  std::vector<Segment> segments_;  // oldest first; the last is written
  int fd_ = -1;
  uint64_t next_number_ = 1;
  uint64_t covered_to_ = 0;
  bool broken_ = false;  // a write failed: nothing more is written
};

}  // namespace dengine::watch
