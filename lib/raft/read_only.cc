#include "raft/read_only.h"

#include <algorithm>
#include <utility>

namespace dengine::raft {

namespace {

// 16 hex digits and a colon, mixed from the seed so each instance of the core
// has its own.
std::string read_nonce(uint64_t seed) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull;  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(17, ':');
  for (size_t i = 0; i < 16; i++) out[i] = kHex[(z >> (60 - 4 * i)) & 0xF];
  return out;
}

}  // namespace

ReadOnly::ReadOnly(const Config& config, uint64_t seed)
    : election_tick_(static_cast<uint64_t>(config.election_tick)),
      lease_ticks_(static_cast<uint64_t>(config.election_tick -
                                         config.lease_drift_ticks)),
      lease_enabled_(config.check_quorum),
      nonce_(read_nonce(seed)) {}

// ---------------------------------------------------------------------------
// Leader: ReadIndex rounds

void ReadOnly::add_before_ready(std::string context, NodeId requester) {
  before_ready_.push_back({std::move(context), requester, 0, 0});
}

void ReadOnly::leader_ready(Index committed) {
  for (PendingRead& read : before_ready_) {
    add(std::move(read.context), read.requester, committed);
  }
  before_ready_.clear();
}

void ReadOnly::add(std::string context, NodeId requester, Index committed) {
  // Confirmed by the first round that starts after this point.
  pending_.push_back({std::move(context), requester, committed, round_ + 1});
  round_wanted_ = true;
}

void ReadOnly::start_round(uint64_t now) {
  round_++;
  round_wanted_ = false;
  if (!lease_enabled_) return;
  round_start_tick_[round_] = now;
  // A round older than an election timeout can no longer give a lease.
  while (!round_start_tick_.empty() &&
         round_start_tick_.begin()->second + election_tick_ <= now) {
    round_start_tick_.erase(round_start_tick_.begin());
  }
}

std::vector<PendingRead> ReadOnly::confirm(uint64_t confirmed) {
  // A quorum acknowledged a message sent at the start of `confirmed`; no other
  // leader can be elected until an election timeout after that tick.
  auto it = round_start_tick_.find(confirmed);
  if (it != round_start_tick_.end()) {
    lease_start_ = std::max(lease_start_, it->second);
    lease_held_ = true;
  }
  round_start_tick_.erase(round_start_tick_.begin(),
                          round_start_tick_.upper_bound(confirmed));

  // Reads join rounds in arrival order, so the released ones are a prefix.
  auto first_waiting = std::find_if(
      pending_.begin(), pending_.end(),
      [&](const PendingRead& read) { return read.round > confirmed; });
  std::vector<PendingRead> released(std::make_move_iterator(pending_.begin()),
                                    std::make_move_iterator(first_waiting));
  pending_.erase(pending_.begin(), first_waiting);
  return released;
}

std::vector<PendingRead> ReadOnly::take_pending() {
  std::vector<PendingRead> taken = std::move(before_ready_);
  for (PendingRead& read : pending_) taken.push_back(std::move(read));
  before_ready_.clear();
  pending_.clear();
  return taken;
}

// ---------------------------------------------------------------------------
// Leader: the lease

bool ReadOnly::lease_valid(uint64_t now) const {
  if (!lease_enabled_ || !lease_held_ || lease_forfeited_) return false;
  return now < lease_start_ + lease_ticks_;
}

void ReadOnly::forfeit_lease() {
  lease_held_ = false;
  lease_forfeited_ = true;
}

void ReadOnly::reset() {
  round_wanted_ = false;
  round_start_tick_.clear();
  lease_held_ = false;
  lease_forfeited_ = false;
}

// ---------------------------------------------------------------------------
// Follower: forwarded reads

std::string ReadOnly::forward(std::string context, uint64_t now) {
  std::string wire = nonce_ + context;
  forwarded_.push_back({std::move(context), now});
  return wire;
}

std::optional<std::string> ReadOnly::answer(const std::string& wire_context) {
  // An answer to an earlier instance of this node: not ours.
  if (!wire_context.starts_with(nonce_)) return std::nullopt;
  std::string context = wire_context.substr(nonce_.size());
  auto it = std::find_if(
      forwarded_.begin(), forwarded_.end(),
      [&](const ForwardedRead& read) { return read.context == context; });
  if (it == forwarded_.end()) return std::nullopt;  // failed, or a duplicate
  forwarded_.erase(it);
  return context;
}

// A forwarded read whose answer was lost would otherwise wait forever.
std::vector<std::string> ReadOnly::expire_forwarded(uint64_t now) {
  const uint64_t limit = 2 * election_tick_;
  auto expired = [&](const ForwardedRead& read) {
    return read.sent_at + limit <= now;
  };
  std::vector<std::string> contexts;
  for (const ForwardedRead& read : forwarded_) {
    if (expired(read)) contexts.push_back(read.context);
  }
  std::erase_if(forwarded_, expired);
  return contexts;
}

std::vector<std::string> ReadOnly::take_forwarded() {
  std::vector<std::string> contexts;
  for (ForwardedRead& read : forwarded_) {
    contexts.push_back(std::move(read.context));
  }
  forwarded_.clear();
  return contexts;
}

}  // namespace dengine::raft
