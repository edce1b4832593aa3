// The simulator's safety checker. The cluster reports what it observes (who
// leads which term, what each node persists, commits and applies, which reads
// are confirmed) and the checker compares it with everything seen before. All
// checks are incremental: O(1) amortized per observation, except that a new
// leader's log is compared once with the committed entries it still holds.
//
// Checked invariants (Raft thesis 3.6 and Figure 3.2):
//   election safety      at most one leader per term
//   vote safety          a node's durable vote never changes within a term
//   log matching         entries with the same index and term carry the same
//                        data and follow the same previous term, and log terms
//                        never decrease
//   leader completeness  an entry committed by the leader of term T (and so
//                        every write a client saw committed) is in the log of
//                        every leader of a term after T, unless compacted into
//                        its snapshot. The commit term, not the entry's term,
//                        is what counts: an entry of term 2 that the leader of
//                        term 4 commits may be missing from the leader of term
//                        3 (the Raft paper's Figure 8).
//   state-machine safety no two nodes apply different entries at one index;
//                        the state hash after each index agrees everywhere
//   monotonicity         commit and applied indexes never go back within one
//                        incarnation of a node; durable term and commit never
//                        go back
//   no duplicate commit  a client value (unique per proposal) commits once
//   linearizable reads   a confirmed read index is at least the highest
//                        commit index any node knew when the read was made
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "raft/raft_log.h"
#include "raft/storage.h"
#include "raft/types.h"

namespace dengine::testkit {

class SimChecker {
 public:
  bool ok() const { return violation_.empty(); }
  // The first violation found: "<invariant>: <details>".
  const std::string& violation() const { return violation_; }
  // Records a violation the host side found (the first one wins).
  void fail(std::string violation);

  // `node` is leader of `term`; `log` must stay valid until on_leader_lost().
  void on_leader(raft::NodeId node, raft::Term term, const raft::RaftLog* log);
  // The leader `node` of `term` advanced its commit index from `from` to `to`:
  // it committed those entries in `term`.
  void on_leader_commit(raft::NodeId node, raft::Term term,
                        const raft::RaftLog& log, raft::Index from,
                        raft::Index to);
  // `node` stopped being leader (stepped down or crashed).
  void on_leader_lost(raft::NodeId node);

  // `node` made `entries` durable in `storage` (already appended there).
  void on_persisted(raft::NodeId node, const std::vector<raft::Entry>& entries,
                    const raft::Storage& storage);
  // `node` replaced its durable hard state `before` with `after`.
  void on_hard_state(raft::NodeId node, const raft::HardState& before,
                     const raft::HardState& after);

  // The core of `node` (in its `incarnation`-th life) has commit index
  // `commit` after a step.
  void on_commit(raft::NodeId node, uint64_t incarnation, raft::Index commit);
  // The state machine of `node` was replaced by a snapshot (or rebuilt on
  // restart) at `applied`, with state hash `hash`.
  void on_state_restored(raft::NodeId node, uint64_t incarnation,
                         raft::Index applied, uint64_t hash);
  // The state machine of `node` applied `entry`; its hash is now `hash`.
  void on_apply(raft::NodeId node, uint64_t incarnation,
                const raft::Entry& entry, uint64_t hash);

  // A client saw its proposal applied at (index, term) on the node it
  // proposed to.
  void on_acknowledged(raft::Index index, raft::Term term);

  // The lowest index a read requested now may be confirmed at.
  raft::Index read_floor() const { return max_commit_; }
  // `node` confirmed `read`, which was requested when read_floor() was
  // `floor`.
  void on_read_state(raft::NodeId node, const raft::ReadState& read,
                     raft::Index floor);

  // Term of the entry known committed (or applied) at `index`, 0 if none.
  raft::Term committed_term(raft::Index index) const;
  raft::Index max_commit() const { return max_commit_; }

 private:
  struct IndexRecord {
    raft::Term term = 0;         // of the entry; 0: not known committed yet
    raft::Term commit_term = 0;  // of the leader that committed it; 0: unknown
    bool hash_known = false;
    uint64_t hash = 0;
    bool acknowledged = false;
  };
  struct LogRecord {
    bool prev_known = false;
    raft::Term prev_term = 0;
    uint64_t digest = 0;
  };
  struct LogKey {
    raft::Index index;
    raft::Term term;
    bool operator==(const LogKey&) const = default;
  };
  struct LogKeyHash {
    size_t operator()(const LogKey& key) const;
  };
  struct NodeTrack {
    uint64_t incarnation = 0;
    raft::Index commit = 0;
    raft::Index applied = 0;
  };
  struct Leader {
    raft::NodeId node;
    raft::Term term;
    const raft::RaftLog* log;
  };

  IndexRecord& record(raft::Index index);
  NodeTrack& track(raft::NodeId node, uint64_t incarnation);
  void check_state_hash(raft::NodeId node, raft::Index index, uint64_t hash);
  // Records that the entry at `index` has term `term`; reports a conflict.
  bool record_entry_term(raft::NodeId node, raft::Index index, raft::Term term,
                         const char* how);
  // Reports if `leader` lacks the committed entry at `index`.
  void check_leader_holds(const Leader& leader, raft::Index index,
                          const IndexRecord& committed);

  std::string violation_;
  std::unordered_map<raft::Term, raft::NodeId> term_leader_;
  std::vector<Leader> leaders_;
  std::unordered_map<LogKey, LogRecord, LogKeyHash> log_;
  std::vector<IndexRecord> index_;
  std::unordered_map<raft::NodeId, NodeTrack> nodes_;
  // Digest of each committed client value -> its index.
  std::unordered_map<uint64_t, raft::Index> committed_values_;
  raft::Index max_commit_ = 0;
};

}  // namespace dengine::testkit
