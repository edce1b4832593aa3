#include "sm/chunk_events.h"

#include <algorithm>
#include <utility>

#include "raft/conf_change.h"

namespace dengine::sm {

namespace {

watch::Event member_event(raft::Index index, watch::EventType type,
                          raft::NodeId node) {
  watch::Event event;
  event.revision = index;
  event.type = type;
  event.node_id = node;
  return event;
}

}  // namespace

void append_cluster_events(const raft::Entry& entry,
                           std::vector<watch::Event>* out) {
  using watch::EventType;
  if (entry.type == raft::EntryType::kNoop) {
    watch::Event event = member_event(entry.index, EventType::kLeader,
                                      raft::decode_noop_leader(entry.data));
    event.term = entry.term;
    out->push_back(std::move(event));
    return;
  }
  if (entry.type != raft::EntryType::kConfChange) return;
  auto record = raft::decode_conf_change(entry.data);
  if (!record) return;
  const raft::ConfChange& change = record->change;
  switch (change.type) {
    case raft::ConfChangeType::kAddLearner: {
      watch::Event event =
          member_event(entry.index, EventType::kMemberAdded, change.node);
      event.address = change.context;
      out->push_back(std::move(event));
      break;
    }
    case raft::ConfChangeType::kPromoteLearner:
      out->push_back(
          member_event(entry.index, EventType::kMemberPromoted, change.node));
      break;
    case raft::ConfChangeType::kRemoveNode:
      out->push_back(
          member_event(entry.index, EventType::kMemberRemoved, change.node));
      break;
    case raft::ConfChangeType::kBootstrap:
      for (raft::NodeId voter : record->conf.voters) {
        out->push_back(
            member_event(entry.index, EventType::kMemberAdded, voter));
        out->push_back(
            member_event(entry.index, EventType::kMemberPromoted, voter));
      }
      break;
  }
}

std::vector<watch::Event> chunk_events(
    const std::vector<raft::Entry>& entries,
    std::vector<watch::Event> machine_events) {
  std::vector<watch::Event> events;
  for (const raft::Entry& entry : entries) {
    append_cluster_events(entry, &events);
  }
  if (events.empty()) return machine_events;
  if (machine_events.empty()) return events;
  std::vector<watch::Event> merged;
  merged.reserve(events.size() + machine_events.size());
  std::merge(std::make_move_iterator(events.begin()),
             std::make_move_iterator(events.end()),
             std::make_move_iterator(machine_events.begin()),
             std::make_move_iterator(machine_events.end()),
             std::back_inserter(merged),
             [](const watch::Event& a, const watch::Event& b) {
               return a.revision < b.revision;
             });
  return merged;
}

}  // namespace dengine::sm
