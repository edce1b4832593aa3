// The state behind linearizable reads (thesis 6.4), kept apart from the rest
// of the core: on a leader, the reads waiting for a ReadIndex round and the
// lease that quorum-acknowledged rounds earn; on a follower, the reads it
// forwarded to the leader. ReadOnly only keeps the books; Raft decides when
// rounds start and turns released or failed reads into messages and Ready
// fields.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/config.h"
#include "raft/types.h"

namespace dengine::raft {

// A read a leader holds until a quorum confirms a round started after it
// arrived.
struct PendingRead {
  std::string context;
  NodeId requester = kNoNode;  // kNoNode: this node
  Index index = 0;             // the commit index when the read arrived
  uint64_t round = 0;          // the first round that can confirm it
};

class ReadOnly {
 public:
  // `seed` derives this instance's nonce (see forward()).
  ReadOnly(const Config& config, uint64_t seed);

  // --- leader: ReadIndex rounds ---
  // Reads that arrive before the leader's first commit wait here: until then
  // the leader does not know the commit index.
  void add_before_ready(std::string context, NodeId requester);
  // The leader committed an entry of its term: the waiting reads join the
  // next round at commit index `committed`.
  void leader_ready(Index committed);
  // A read at commit index `committed`, confirmed by the next round.
  void add(std::string context, NodeId requester, Index committed);
  // Whether a read waits for a round that has not started.
  bool round_wanted() const { return round_wanted_; }
  // The current round; appends and heartbeats carry it, answers echo it.
  uint64_t round() const { return round_; }
  // Starts a round at tick `now`.
  void start_round(uint64_t now);
  // A quorum acknowledged every round up to `confirmed`: takes the lease it
  // earns and returns the reads it releases, oldest first.
  std::vector<PendingRead> confirm(uint64_t confirmed);
  // Takes every read still waiting (before-ready ones first), to fail them.
  std::vector<PendingRead> take_pending();

  // --- leader: the lease ---
  // Whether the lease earned by confirmed rounds still holds at `now`. The
  // caller adds what the lease also needs (leader, ready, no transfer).
  bool lease_valid(uint64_t now) const;
  // A transfer is starting: the target may win ignoring our lease.
  void drop_lease() { lease_held_ = false; }
  // TimeoutNow was sent: no lease read is safe again in this term.
  void forfeit_lease();
  // A new term or role: no round or lease carries over.
  void reset();

  // --- follower: reads forwarded to the leader ---
  // Records a read sent at tick `now`; returns the context to send, prefixed
  // with the nonce.
  std::string forward(std::string context, uint64_t now);
  bool has_forwarded() const { return !forwarded_.empty(); }
  // Matches the leader's answer to a forwarded read and forgets it. Returns
  // the read's context, or nothing if the answer is not for a read this
  // instance is still waiting on.
  std::optional<std::string> answer(const std::string& wire_context);
  // Forgets the reads unanswered for two election timeouts at `now`; returns
  // their contexts, oldest first.
  std::vector<std::string> expire_forwarded(uint64_t now);
  // Takes every forwarded read, to fail them.
  std::vector<std::string> take_forwarded();

 private:
  struct ForwardedRead {
    std::string context;
    uint64_t sent_at;
  };

  const uint64_t election_tick_;
  const uint64_t lease_ticks_;
  const bool lease_enabled_;  // no lease without check-quorum

  std::vector<PendingRead> pending_;
  std::vector<PendingRead> before_ready_;
  uint64_t round_ = 0;
  bool round_wanted_ = false;
  // The tick each recent round started, while it could still earn a lease.
  std::map<uint64_t, uint64_t> round_start_tick_;
  uint64_t lease_start_ = 0;
  bool lease_held_ = false;
  // Set once this leader sent TimeoutNow: no more lease reads this term.
  bool lease_forfeited_ = false;

  std::vector<ForwardedRead> forwarded_;
  // Prefixed to the context of every forwarded read and required on the
  // answer: an answer to a read sent by an earlier instance of this node (it
  // restarted in the same term) must not confirm a new read that happens to
  // reuse the context.
  const std::string nonce_;
};

}  // namespace dengine::raft
