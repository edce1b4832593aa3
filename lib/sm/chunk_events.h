// The watch events of one applied chunk (watch/event.h): what the machine
// published, and what the engine itself reports from the log — membership
// changes (from kConfChange entries) and leaders (from the no-op each new
// leader appends, which names it). Every replica applies the same entries,
// so every replica reports the same events at the same revisions.
#pragma once

#include <vector>

#include "raft/types.h"
#include "watch/event.h"

namespace dengine::sm {

// Appends the membership or leader events of `entry` (none for a normal
// entry). The bootstrap entry reports each initial voter as added, then
// promoted.
void append_cluster_events(const raft::Entry& entry,
                           std::vector<watch::Event>* out);

// The events of the applied `entries`, in revision order: their cluster
// events merged with `machine_events` (already in entry order).
std::vector<watch::Event> chunk_events(
    const std::vector<raft::Entry>& entries,
    std::vector<watch::Event> machine_events);

}  // namespace dengine::sm
