#include "testkit/sim_checker.h"

#include <algorithm>
#include <utility>

#include "testkit/sim_state_machine.h"

namespace dengine::testkit {

namespace {

std::string str(uint64_t value) { return std::to_string(value); }

std::string node_name(raft::NodeId node) { return "node " + str(node); }

}  // namespace

size_t SimChecker::LogKeyHash::operator()(const LogKey& key) const {
  return std::hash<uint64_t>()(key.index * 0x9e3779b97f4a7c15ull ^ key.term);
}

void SimChecker::fail(std::string violation) {
  if (violation_.empty()) violation_ = std::move(violation);
}

SimChecker::IndexRecord& SimChecker::record(raft::Index index) {
  if (index >= index_.size()) index_.resize(index + 1 + index_.size() / 2);
  return index_[index];
}

SimChecker::NodeTrack& SimChecker::track(raft::NodeId node,
                                         uint64_t incarnation) {
  NodeTrack& track = nodes_[node];
  if (track.incarnation != incarnation) track = NodeTrack{incarnation, 0, 0};
  return track;
}

raft::Term SimChecker::committed_term(raft::Index index) const {
  return index < index_.size() ? index_[index].term : 0;
}

void SimChecker::on_leader(raft::NodeId node, raft::Term term,
                           const raft::RaftLog* log) {
  auto [it, inserted] = term_leader_.emplace(term, node);
  if (!inserted && it->second != node) {
    fail("election safety: term " + str(term) + " has two leaders, " +
         node_name(it->second) + " and " + node_name(node));
    return;
  }
  on_leader_lost(node);
  leaders_.push_back(Leader{node, term, log});
  const Leader& leader = leaders_.back();
  const raft::Index end = std::min<raft::Index>(index_.size(), max_commit_ + 1);
  for (raft::Index i = std::max<raft::Index>(1, log->first_index()); i < end;
       ++i) {
    const IndexRecord& committed = index_[i];
    if (committed.commit_term != 0 && committed.commit_term < term) {
      check_leader_holds(leader, i, committed);
    }
  }
}

void SimChecker::on_leader_commit(raft::NodeId node, raft::Term term,
                                  const raft::RaftLog& log, raft::Index from,
                                  raft::Index to) {
  max_commit_ = std::max(max_commit_, to);
  for (raft::Index i = from + 1; i <= to && ok(); ++i) {
    const std::optional<raft::Term> entry_term = log.term(i);
    if (!entry_term) continue;  // already compacted: committed long ago
    if (!record_entry_term(node, i, *entry_term, "committed")) return;
    IndexRecord& rec = index_[i];
    if (rec.commit_term != 0) continue;
    rec.commit_term = term;
    for (const Leader& leader : leaders_) {
      if (leader.term > term) check_leader_holds(leader, i, rec);
    }
  }
}

bool SimChecker::record_entry_term(raft::NodeId node, raft::Index index,
                                   raft::Term term, const char* how) {
  IndexRecord& rec = record(index);
  if (rec.term == 0) {
    rec.term = term;
    return true;
  }
  if (rec.term == term) return true;
  fail("state-machine safety: " + node_name(node) + " " + how + " " +
       str(term) + "/" + str(index) + ", but " + str(rec.term) + "/" +
       str(index) + " was committed there before");
  return false;
}

void SimChecker::on_leader_lost(raft::NodeId node) {
  std::erase_if(leaders_,
                [node](const Leader& leader) { return leader.node == node; });
}

void SimChecker::check_leader_holds(const Leader& leader, raft::Index index,
                                    const IndexRecord& committed) {
  if (index < leader.log->first_index()) return;  // compacted into a snapshot
  const std::optional<raft::Term> held = leader.log->term(index);
  if (held && *held == committed.term) return;
  fail(std::string(committed.acknowledged ? "acknowledged write lost"
                                          : "leader completeness") +
       ": " + node_name(leader.node) + ", leader of term " + str(leader.term) +
       ", lacks entry " + str(committed.term) + "/" + str(index) +
       " committed in term " + str(committed.commit_term) + " (its log holds " +
       (held ? "term " + str(*held) : std::string("nothing")) +
       " there; last index " + str(leader.log->last_index()) + ")");
}

void SimChecker::on_persisted(raft::NodeId node,
                              const std::vector<raft::Entry>& entries,
                              const raft::Storage& storage) {
  if (entries.empty()) return;
  raft::Term prev_term = 0;
  bool prev_known = storage.term(entries.front().index - 1, &prev_term) ==
                    raft::StorageError::kOk;
  raft::Index expected = entries.front().index;
  for (const raft::Entry& entry : entries) {
    const std::string where = node_name(node) + " persisted " +
                              str(entry.term) + "/" + str(entry.index);
    if (entry.index != expected) {
      fail("log matching: " + where + " where index " + str(expected) +
           " was due (gap in the appended entries)");
      return;
    }
    if (prev_known && entry.term < prev_term) {
      fail("log matching: " + where + " after an entry of term " +
           str(prev_term) + " (terms must not decrease along a log)");
      return;
    }
    const uint64_t digest = entry_digest(entry);
    auto [it, inserted] =
        log_.try_emplace(LogKey{entry.index, entry.term},
                         LogRecord{prev_known, prev_term, digest});
    if (!inserted) {
      LogRecord& seen = it->second;
      if (seen.digest != digest) {
        fail("log matching: " + where +
             " with different data than another log's entry at the same "
             "index and term");
        return;
      }
      if (prev_known && seen.prev_known && seen.prev_term != prev_term) {
        fail("log matching: " + where + " after term " + str(prev_term) +
             ", but another log has it after term " + str(seen.prev_term));
        return;
      }
      if (prev_known && !seen.prev_known) {
        seen.prev_known = true;
        seen.prev_term = prev_term;
      }
    }
    prev_known = true;
    prev_term = entry.term;
    ++expected;
  }
}

void SimChecker::on_hard_state(raft::NodeId node, const raft::HardState& before,
                               const raft::HardState& after) {
  if (after.term < before.term) {
    fail("term monotonicity: " + node_name(node) + " persisted term " +
         str(after.term) + " after term " + str(before.term));
  } else if (after.term == before.term && before.vote != raft::kNoNode &&
             after.vote != before.vote) {
    fail("vote safety: " + node_name(node) + " changed its vote in term " +
         str(after.term) + " from " + str(before.vote) + " to " +
         str(after.vote));
  } else if (after.commit < before.commit) {
    fail("commit monotonicity: " + node_name(node) + " persisted commit " +
         str(after.commit) + " after commit " + str(before.commit));
  }
}

void SimChecker::on_commit(raft::NodeId node, uint64_t incarnation,
                           raft::Index commit) {
  NodeTrack& t = track(node, incarnation);
  if (commit < t.commit) {
    fail("commit monotonicity: " + node_name(node) +
         " commit index went from " + str(t.commit) + " back to " +
         str(commit));
    return;
  }
  t.commit = commit;
  max_commit_ = std::max(max_commit_, commit);
}

void SimChecker::check_state_hash(raft::NodeId node, raft::Index index,
                                  uint64_t hash) {
  IndexRecord& rec = record(index);
  if (!rec.hash_known) {
    rec.hash_known = true;
    rec.hash = hash;
  } else if (rec.hash != hash) {
    fail("state-machine safety: " + node_name(node) +
         " has a different state after index " + str(index) +
         " than another node had");
  }
}

void SimChecker::on_state_restored(raft::NodeId node, uint64_t incarnation,
                                   raft::Index applied, uint64_t hash) {
  NodeTrack& t = track(node, incarnation);
  if (applied < t.applied) {
    fail("applied monotonicity: " + node_name(node) +
         " installed a snapshot at " + str(applied) + " after applying " +
         str(t.applied));
    return;
  }
  t.applied = applied;
  if (applied > 0) check_state_hash(node, applied, hash);
}

void SimChecker::on_apply(raft::NodeId node, uint64_t incarnation,
                          const raft::Entry& entry, uint64_t hash) {
  NodeTrack& t = track(node, incarnation);
  const std::string what =
      node_name(node) + " applied " + str(entry.term) + "/" + str(entry.index);
  if (entry.index != t.applied + 1) {
    fail("applied monotonicity: " + what + " right after index " +
         str(t.applied) + " (entries must be applied in order, no gaps)");
    return;
  }
  t.applied = entry.index;
  if (!record_entry_term(node, entry.index, entry.term, "applied")) return;
  if (entry.type == raft::EntryType::kNormal && !entry.data.empty()) {
    auto [it, inserted] =
        committed_values_.emplace(entry_digest(entry), entry.index);
    if (!inserted && it->second != entry.index) {
      fail("no duplicate commit: " + what + ", whose value already " +
           "committed at index " + str(it->second));
      return;
    }
  }
  check_state_hash(node, entry.index, hash);
}

void SimChecker::on_acknowledged(raft::Index index, raft::Term term) {
  IndexRecord& rec = record(index);
  if (rec.term != term) {
    fail("acknowledged write lost: a client saw " + str(term) + "/" +
         str(index) + " applied, but the committed entry there has term " +
         str(rec.term));
    return;
  }
  rec.acknowledged = true;
}

void SimChecker::on_read_state(raft::NodeId node, const raft::ReadState& read,
                               raft::Index floor) {
  if (read.index < floor) {
    fail("linearizable read: " + node_name(node) + " confirmed read \"" +
         read.context + "\" at index " + str(read.index) + ", but index " +
         str(floor) + " was already committed when it was requested");
  }
}

}  // namespace dengine::testkit
