#include "raft/raft.h"

#include <algorithm>
#include <utility>

namespace dengine::raft {

namespace {

// No cap on the committed entries handed out in one Ready beyond this.
constexpr uint64_t kMaxCommittedBytesPerReady = 64ull << 20;

bool is_vote_request(MessageType type) {
  return type == MessageType::kPreVote || type == MessageType::kVote;
}

// Messages that promise nothing about local durable state: a leader's
// replication traffic (its appends travel while it writes the same entries
// locally, thesis 10.2.1) and pre-votes, which change no state.
bool sendable_before_persist(Role role, MessageType type) {
  if (type == MessageType::kPreVote || type == MessageType::kPreVoteResponse) {
    return true;
  }
  if (role != Role::kLeader) return false;
  switch (type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kInstallSnapshot:
    case MessageType::kTimeoutNow:
    case MessageType::kReadIndexResponse:
      return true;
    default:
      return false;
  }
}

uint64_t data_bytes(const std::vector<Entry>& entries) {
  uint64_t bytes = 0;
  for (const Entry& e : entries) bytes += e.data.size();
  return bytes;
}

// Entries of an AppendEntries must follow `prev` without gaps and carry terms
// that never decrease and never exceed the sender's term.
bool well_formed_append(const Message& m) {
  Term last_term = m.log_term;
  for (size_t i = 0; i < m.entries.size(); i++) {
    const Entry& e = m.entries[i];
    if (e.index != m.index + 1 + i || e.term < last_term || e.term > m.term) {
      return false;
    }
    last_term = e.term;
  }
  return m.log_term <= m.term;
}

}  // namespace

const char* to_string(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kNotLeader:
      return "not leader";
    case Code::kLeaderNotReady:
      return "leader not ready";
    case Code::kTransferInProgress:
      return "leadership transfer in progress";
    case Code::kConfChangePending:
      return "a membership change is pending";
    case Code::kInvalidConfChange:
      return "invalid membership change";
    case Code::kLearnerNotCaughtUp:
      return "learner not caught up";
    case Code::kProposalTooLarge:
      return "proposal too large";
    case Code::kInvalidArgument:
      return "invalid argument";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// Construction and restart

std::unique_ptr<Raft> Raft::create(const Config& config, Storage* storage,
                                   std::string* error) {
  std::string problem = config.validate();
  if (problem.empty() && storage == nullptr) problem = "storage is null";
  if (!problem.empty()) {
    if (error != nullptr) *error = problem;
    return nullptr;
  }
  std::unique_ptr<Raft> raft(new Raft(config, storage));
  std::string restore_error;
  if (!raft->restore(&restore_error)) {
    if (error != nullptr) *error = restore_error;
    return nullptr;
  }
  return raft;
}

Raft::Raft(const Config& config, Storage* storage)
    : id_(config.id),
      config_(config),
      storage_(storage),
      log_(storage),
      rng_(config.seed ^ (config.id * 0x9E3779B97F4A7C15ull)) {}

bool Raft::restore(std::string* error) {
  const InitialState initial = storage_->initial_state();
  const Snapshot snapshot = storage_->snapshot();
  const Index first = storage_->first_index();
  const Index last = storage_->last_index();
  HardState hs = initial.hard_state;
  if (hs.commit > last) {
    *error = "stored commit index " + std::to_string(hs.commit) +
             " is past the last log index " + std::to_string(last);
    return false;
  }
  // Everything in a snapshot is committed.
  hs.commit = std::max(hs.commit, snapshot.meta.index);
  log_.restore(hs.commit, config_.applied);
  term_ = hs.term;
  vote_ = hs.vote;
  prev_hard_state_ = initial.hard_state;

  conf_history_ = {{snapshot.meta.index, initial.conf}};
  for (Index lo = first; lo <= last;) {
    std::vector<Entry> batch;
    if (storage_->entries(lo, last + 1, 4ull << 20, &batch) !=
            StorageError::kOk ||
        batch.empty()) {
      *error = "cannot read log entries from index " + std::to_string(lo);
      return false;
    }
    for (const Entry& e : batch) {
      if (e.type != EntryType::kConfChange) continue;
      auto record = decode_conf_change(e.data);
      if (!record) {
        *error = "corrupt membership entry at index " + std::to_string(e.index);
        return false;
      }
      conf_history_.emplace_back(e.index, record->conf);
    }
    lo = batch.back().index + 1;
  }

  const bool fresh = last == 0 && hs.term == 0;
  if (fresh && !config_.bootstrap_voters.empty()) {
    ConfState conf;
    conf.voters = config_.bootstrap_voters;
    std::sort(conf.voters.begin(), conf.voters.end());
    ConfChangeRecord record{{ConfChangeType::kBootstrap, kNoNode, {}}, conf};
    term_ = 1;
    log_.append(
        {Entry{1, 1, EntryType::kConfChange, encode_conf_change(record)}});
    conf_history_.emplace_back(1, conf);
  }
  conf_ = conf_history_.back().second;
  prune_conf_history();

  become_follower(term_, kNoNode);
  // A restarted node may have acknowledged a leader just before it crashed;
  // it must not help elect another until that leader's lease has run out.
  if (!fresh) vote_guard_until_ = static_cast<uint64_t>(config_.election_tick);
  prev_soft_state_ = soft_state();
  return true;
}

// ---------------------------------------------------------------------------
// Roles

void Raft::reset(Term term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  leader_ready_ = false;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  abort_transfer();
  votes_.clear();
  progress_.clear();
  // Reads waiting on this leadership cannot be confirmed any more; the host
  // times them out.
  pending_reads_.clear();
  reads_before_ready_.clear();
  read_round_wanted_ = false;
  round_start_tick_.clear();
  lease_held_ = false;
  lease_forfeited_ = false;
  broadcast_wanted_ = false;
}

void Raft::become_follower(Term term, NodeId leader) {
  reset(term);
  role_ = Role::kFollower;
  leader_ = leader;
}

void Raft::become_pre_candidate() {
  // A pre-candidate keeps its term and vote: nothing changes until it knows
  // it could win.
  votes_.clear();
  progress_.clear();
  leader_ = kNoNode;
  role_ = Role::kPreCandidate;
  reset_randomized_election_timeout();
}

void Raft::become_candidate() {
  reset(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
}

void Raft::become_leader() {
  reset(term_);
  role_ = Role::kLeader;
  leader_ = id_;
  rebuild_progress();
  // The no-op commits this term; through it, every earlier entry
  // (thesis 3.6.2).
  append_entry(Entry{term_, log_.last_index() + 1, EntryType::kNoop, {}});
}

void Raft::reset_randomized_election_timeout() {
  const auto span = static_cast<uint64_t>(config_.election_tick);
  randomized_election_timeout_ =
      config_.election_tick + static_cast<int>(rng_() % span);
}

bool Raft::promotable() const {
  return conf_.is_voter(id_) && !log_.unstable_snapshot().has_value();
}

bool Raft::in_lease() const {
  if (!config_.check_quorum) return false;
  if (now_ < vote_guard_until_) return true;
  return leader_ != kNoNode && election_elapsed_ < config_.election_tick;
}

void Raft::campaign() {
  if (role_ == Role::kLeader || !promotable()) return;
  if (config_.pre_vote) {
    become_pre_candidate();
    start_election(/*pre_vote=*/true, /*transfer=*/false);
  } else {
    become_candidate();
    start_election(/*pre_vote=*/false, /*transfer=*/false);
  }
}

void Raft::start_election(bool pre_vote, bool transfer) {
  election_elapsed_ = 0;
  votes_.clear();
  votes_[id_] = true;
  if (election_won()) {
    if (pre_vote) {
      become_candidate();
      start_election(false, transfer);
    } else {
      become_leader();
    }
    return;
  }
  const Term term = pre_vote ? term_ + 1 : term_;
  for (NodeId voter : conf_.voters) {
    if (voter == id_) continue;
    Message m;
    m.type = pre_vote ? MessageType::kPreVote : MessageType::kVote;
    m.to = voter;
    m.term = term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.transfer = transfer;
    send(std::move(m));
  }
}

bool Raft::election_won() const {
  size_t granted = 0;
  for (NodeId voter : conf_.voters) {
    auto it = votes_.find(voter);
    if (it != votes_.end() && it->second) granted++;
  }
  return granted >= quorum();
}

bool Raft::election_lost() const {
  size_t rejected = 0;
  for (NodeId voter : conf_.voters) {
    auto it = votes_.find(voter);
    if (it != votes_.end() && !it->second) rejected++;
  }
  return rejected >= quorum();
}

size_t Raft::quorum() const { return conf_.voters.size() / 2 + 1; }

// ---------------------------------------------------------------------------
// Ticks

void Raft::tick() {
  now_++;
  if (role_ == Role::kLeader) {
    tick_leader();
  } else {
    tick_election();
  }
}

void Raft::tick_election() {
  election_elapsed_++;
  if (promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    campaign();
  }
}

void Raft::tick_leader() {
  heartbeat_elapsed_++;
  election_elapsed_++;
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    if (config_.check_quorum && !quorum_active()) {
      become_follower(term_, kNoNode);
      return;
    }
  }
  if (transferee_ != kNoNode && ++transfer_elapsed_ >= config_.election_tick) {
    abort_transfer();
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
}

// Whether a quorum of voters was heard from since the last check; clears the
// marks for the next window.
bool Raft::quorum_active() {
  size_t active = 0;
  for (auto& [id, pr] : progress_) {
    if (conf_.is_voter(id) && (id == id_ || pr.recent_active)) active++;
    if (id != id_) pr.recent_active = false;
  }
  return active >= quorum();
}

// ---------------------------------------------------------------------------
// Messages

void Raft::send(Message m) {
  m.from = id_;
  // Pre-vote messages speak of a future term; everything else of ours.
  if (m.type != MessageType::kPreVote &&
      m.type != MessageType::kPreVoteResponse) {
    m.term = term_;
  }
  if (sendable_before_persist(role_, m.type)) {
    msgs_.push_back(std::move(m));
  } else {
    // Votes, acknowledgements and vote requests promise durable state.
    msgs_after_persist_.push_back(std::move(m));
  }
}

void Raft::step(const Message& m) {
  if (m.from == kNoNode || m.from == id_ || (m.to != id_ && m.to != kNoNode)) {
    malformed_messages_++;
    return;
  }
  if ((m.type == MessageType::kAppend && !well_formed_append(m)) ||
      (m.type == MessageType::kInstallSnapshot && !m.snapshot.has_value())) {
    malformed_messages_++;
    return;
  }

  if (m.term > term_) {
    if (is_vote_request(m.type) && !m.transfer && in_lease()) {
      // We hear from a live leader: this candidate cannot be needed.
      return;
    }
    if (m.type == MessageType::kPreVote ||
        (m.type == MessageType::kPreVoteResponse && !m.reject)) {
      // Pre-votes never change terms.
    } else if (m.type == MessageType::kAppend ||
               m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kInstallSnapshot) {
      become_follower(m.term, m.from);
    } else {
      become_follower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat) {
      // A stale leader: tell it the current term so it steps down.
      Message reply;
      reply.type = MessageType::kAppendResponse;
      reply.to = m.from;
      send(std::move(reply));
    } else if (m.type == MessageType::kPreVote) {
      Message reply;
      reply.type = MessageType::kPreVoteResponse;
      reply.to = m.from;
      reply.term = term_;
      reply.reject = true;
      send(std::move(reply));
    }
    return;
  }

  if (is_vote_request(m.type)) {
    handle_vote_request(m);
    return;
  }
  switch (role_) {
    case Role::kLeader:
      step_leader(m);
      break;
    case Role::kPreCandidate:
    case Role::kCandidate:
      step_candidate(m);
      break;
    case Role::kFollower:
      step_follower(m);
      break;
  }
}

void Raft::handle_vote_request(const Message& m) {
  const bool pre_vote = m.type == MessageType::kPreVote;
  const bool can_vote = vote_ == m.from ||
                        (vote_ == kNoNode && leader_ == kNoNode) ||
                        (pre_vote && m.term > term_);
  Message reply;
  reply.type =
      pre_vote ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  reply.to = m.from;
  if (can_vote && log_.is_up_to_date(m.index, m.log_term)) {
    // A granted pre-vote answers in the candidate's future term.
    reply.term = m.term;
    if (!pre_vote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    reply.term = term_;
    reply.reject = true;
  }
  send(std::move(reply));
}

void Raft::step_follower(const Message& m) {
  const bool from_leader = m.type == MessageType::kAppend ||
                           m.type == MessageType::kHeartbeat ||
                           m.type == MessageType::kInstallSnapshot;
  if (from_leader) {
    // The leader is alive: no election for another timeout.
    election_elapsed_ = 0;
    leader_ = m.from;
  }
  switch (m.type) {
    case MessageType::kAppend:
      handle_append(m);
      break;
    case MessageType::kHeartbeat:
      handle_heartbeat(m);
      break;
    case MessageType::kInstallSnapshot:
      handle_install_snapshot(m);
      break;
    case MessageType::kTimeoutNow:
      if (promotable()) {
        become_candidate();
        start_election(/*pre_vote=*/false, /*transfer=*/true);
      }
      break;
    case MessageType::kReadIndexResponse:
      read_states_.push_back(ReadState{m.index, m.context});
      break;
    default:
      break;
  }
}

void Raft::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kInstallSnapshot:
      // A leader of our term exists: it won.
      become_follower(m.term, m.from);
      step_follower(m);
      break;
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse: {
      const bool expected = (role_ == Role::kPreCandidate) ==
                            (m.type == MessageType::kPreVoteResponse);
      if (!expected) break;
      votes_.emplace(m.from, !m.reject);
      if (election_won()) {
        if (role_ == Role::kPreCandidate) {
          become_candidate();
          start_election(/*pre_vote=*/false, /*transfer=*/false);
        } else {
          become_leader();
        }
      } else if (election_lost()) {
        become_follower(term_, kNoNode);
      }
      break;
    }
    default:
      break;
  }
}

void Raft::step_leader(const Message& m) {
  Progress* pr = progress(m.from);
  switch (m.type) {
    case MessageType::kAppendResponse:
      if (pr == nullptr) return;
      pr->recent_active = true;
      pr->acked_round = std::max(pr->acked_round, m.read_round);
      handle_append_response(m, *pr);
      release_confirmed_reads();
      break;
    case MessageType::kHeartbeatResponse:
      if (pr == nullptr) return;
      pr->recent_active = true;
      pr->acked_round = std::max(pr->acked_round, m.read_round);
      if (m.commit > pr->match) {
        // The follower's durable, committed prefix is ahead of what we knew:
        // an acknowledgement (or a snapshot's) was lost.
        handle_append_ack(m.from, *pr, m.commit);
      } else {
        if (pr->state == ProgressState::kProbe) pr->probe_sent = false;
        if (pr->state == ProgressState::kReplicate && pr->inflights.full()) {
          pr->inflights.free_first_one();
        }
        // A lagging follower may have lost appends: an append (empty if
        // nothing is left to send) either fills the gap or is rejected and
        // resets the follower to probing.
        if (pr->match < log_.last_index()) send_append(m.from, true);
      }
      release_confirmed_reads();
      break;
    case MessageType::kReadIndex:
      add_read(m.context, m.from);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------
// Follower side of replication

void Raft::handle_append(const Message& m) {
  Message reply;
  reply.type = MessageType::kAppendResponse;
  reply.to = m.from;
  reply.read_round = m.read_round;
  if (m.index < log_.committed()) {
    reply.index = log_.committed();
    send(std::move(reply));
    return;
  }
  if (log_.match_term(m.index, m.log_term)) {
    const Index conflict = log_.append_after(m.index, m.entries);
    if (conflict != 0) {
      on_log_truncated(conflict);
      on_entries_appended(std::vector<Entry>(
          m.entries.begin() +
              static_cast<std::ptrdiff_t>(conflict - m.index - 1),
          m.entries.end()));
    }
    const Index last_new = m.index + m.entries.size();
    commit_to(std::min(m.commit, last_new));
    reply.index = last_new;
  } else {
    // Fast backtracking: point the leader at the last index whose term is not
    // above the one it asked about, so it skips a whole term per round trip.
    const Index hint = log_.find_conflict_by_term(
        std::min(m.index, log_.last_index()), m.log_term);
    reply.reject = true;
    reply.index = m.index;
    reply.reject_hint = hint;
    reply.log_term = log_.term(hint).value_or(0);
  }
  send(std::move(reply));
}

void Raft::handle_heartbeat(const Message& m) {
  commit_to(std::min(m.commit, log_.last_index()));
  Message reply;
  reply.type = MessageType::kHeartbeatResponse;
  reply.to = m.from;
  // Sent only once durable, and committed entries match every later leader's.
  reply.commit = log_.committed();
  reply.read_round = m.read_round;
  send(std::move(reply));
}

void Raft::handle_install_snapshot(const Message& m) {
  const SnapshotMeta& meta = m.snapshot->meta;
  Message reply;
  reply.type = MessageType::kAppendResponse;
  reply.to = m.from;
  if (meta.index <= log_.committed()) {
    reply.index = log_.committed();
  } else if (log_.match_term(meta.index, meta.term)) {
    // We already hold the snapshot's entries; only the commit was missing.
    commit_to(meta.index);
    reply.index = meta.index;
  } else {
    log_.restore_snapshot(*m.snapshot);
    conf_history_ = {{meta.index, meta.conf}};
    conf_ = meta.conf;
    reply.index = meta.index;
  }
  send(std::move(reply));
}

void Raft::commit_to(Index index) {
  if (index <= log_.committed()) return;
  log_.commit_to(index);
  prune_conf_history();
}

// ---------------------------------------------------------------------------
// Leader side of replication

Progress* Raft::progress(NodeId id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

void Raft::rebuild_progress() {
  std::map<NodeId, Progress> next;
  auto add = [&](NodeId id) {
    auto it = progress_.find(id);
    if (it != progress_.end()) {
      next.emplace(id, std::move(it->second));
      return;
    }
    Progress pr(log_.last_index() + 1, config_.max_inflight_msgs,
                config_.max_inflight_bytes);
    pr.recent_active = true;
    if (id == id_) {
      pr.match = log_.stable_last_index();
      pr.become_replicate();
      pr.next = log_.last_index() + 1;
    }
    next.emplace(id, std::move(pr));
  };
  for (NodeId id : conf_.voters) add(id);
  for (NodeId id : conf_.learners) add(id);
  // A leader removed by an uncommitted change still tracks itself.
  if (!conf_.contains(id_)) add(id_);
  progress_ = std::move(next);
}

void Raft::append_entry(Entry entry) {
  entry.term = term_;
  entry.index = log_.last_index() + 1;
  std::vector<Entry> entries{std::move(entry)};
  log_.append(entries);
  on_entries_appended(entries);
  broadcast_wanted_ = true;
}

bool Raft::send_append(NodeId to, bool send_if_empty) {
  Progress* pr = progress(to);
  if (pr == nullptr || pr->paused()) return false;
  const Index prev = pr->next - 1;
  const std::optional<Term> prev_term = log_.term(prev);
  std::optional<std::vector<Entry>> entries;
  if (prev_term.has_value()) {
    entries =
        pr->next <= log_.last_index()
            ? log_.slice(pr->next, log_.last_index() + 1, config_.max_msg_bytes)
            : std::vector<Entry>{};
  }
  if (!entries.has_value()) return send_snapshot(to, *pr);
  if (entries->empty() && !send_if_empty) return false;

  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  m.read_round = read_round_;
  if (!entries->empty()) {
    pr->sent_entries(entries->back().index, data_bytes(*entries));
  } else if (pr->state == ProgressState::kProbe) {
    pr->probe_sent = true;
  }
  m.entries = std::move(*entries);
  send(std::move(m));
  return true;
}

// The entries `pr` needs are compacted: ship the latest snapshot instead.
bool Raft::send_snapshot(NodeId to, Progress& pr) {
  Snapshot snapshot = storage_->snapshot();
  if (snapshot.empty()) return false;
  pr.become_snapshot(snapshot.meta.index);
  Message m;
  m.type = MessageType::kInstallSnapshot;
  m.to = to;
  m.snapshot = std::move(snapshot);
  send(std::move(m));
  return true;
}

void Raft::send_heartbeat(NodeId to) {
  const Progress* pr = progress(to);
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  // A follower may not yet hold the leader's whole committed prefix.
  m.commit = std::min(pr->match, log_.committed());
  m.read_round = read_round_;
  send(std::move(m));
}

void Raft::replicate_to_all(bool heartbeat_if_idle) {
  for (auto& [id, pr] : progress_) {
    if (id == id_) continue;
    if (!send_append(id, true)) {
      if (heartbeat_if_idle) send_heartbeat(id);
      continue;
    }
    // Pipeline whatever else fits in the inflight window.
    while (pr.state == ProgressState::kReplicate && send_append(id, false)) {
    }
  }
}

void Raft::broadcast_heartbeat() {
  // Every heartbeat is also a read round: it renews the lease.
  start_read_round();
  for (const auto& [id, pr] : progress_) {
    if (id != id_) send_heartbeat(id);
  }
  release_confirmed_reads();
}

void Raft::handle_append_response(const Message& m, Progress& pr) {
  if (!m.reject) {
    handle_append_ack(m.from, pr, m.index);
    return;
  }
  Index probe = m.reject_hint;
  if (m.log_term > 0) probe = log_.find_conflict_by_term(probe, m.log_term);
  if (pr.maybe_decrease(m.index, probe + 1)) {
    if (pr.state == ProgressState::kReplicate) pr.become_probe();
    send_append(m.from, true);
  }
}

// `from` holds our log up to `index`, durably.
void Raft::handle_append_ack(NodeId from, Progress& pr, Index index) {
  const bool was_paused = pr.paused();
  const bool updated = pr.maybe_update(index);
  switch (pr.state) {
    case ProgressState::kProbe:
      // The probe point is confirmed: from here on, stream.
      if (pr.match + 1 >= pr.next) pr.become_replicate();
      break;
    case ProgressState::kSnapshot:
      if (pr.match >= pr.pending_snapshot) pr.become_replicate();
      break;
    case ProgressState::kReplicate:
      pr.inflights.free_to(index);
      break;
  }
  if (!updated) {
    if (was_paused && !pr.paused()) send_append(from, false);
    return;
  }
  if (maybe_commit()) {
    broadcast_wanted_ = true;
  } else if (was_paused || pr.state == ProgressState::kReplicate) {
    while (send_append(from, false)) {
    }
  }
  if (from == transferee_ && pr.match == log_.last_index()) {
    send_timeout_now(from);
  }
}

bool Raft::maybe_commit() {
  std::vector<Index> matches;
  for (NodeId voter : conf_.voters) {
    const Progress* pr = progress(voter);
    matches.push_back(pr == nullptr ? 0 : pr->match);
  }
  if (matches.empty()) return false;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const Index candidate = matches[quorum() - 1];
  // Only an entry of the current term commits by counting (thesis 3.6.2).
  if (candidate <= log_.committed() || log_.term(candidate) != term_) {
    return false;
  }
  commit_to(candidate);
  on_leader_commit();
  return true;
}

void Raft::on_leader_commit() {
  if (!leader_ready_ && log_.term(log_.committed()) == term_) {
    leader_ready_ = true;
    for (PendingRead& read : reads_before_ready_) {
      add_read(std::move(read.context), read.requester);
    }
    reads_before_ready_.clear();
  }
  // A leader that removed itself hands over once the removal commits
  // (thesis 4.2.2).
  if (!conf_.is_voter(id_) && conf_history_.back().first <= log_.committed()) {
    become_follower(term_, kNoNode);
  }
}

// ---------------------------------------------------------------------------
// Proposals

Result Raft::not_leader() const {
  Result r;
  r.code = Code::kNotLeader;
  r.leader = leader_;
  r.message = leader_ == kNoNode
                  ? "no leader is known"
                  : "node " + std::to_string(leader_) + " is the leader";
  return r;
}

Result Raft::propose(std::string data) {
  if (role_ != Role::kLeader) return not_leader();
  if (transferee_ != kNoNode) {
    return {Code::kTransferInProgress, kNoNode, 0, 0,
            "leadership is moving to node " + std::to_string(transferee_)};
  }
  if (config_.max_entry_bytes != 0 && data.size() > config_.max_entry_bytes) {
    return {Code::kProposalTooLarge, kNoNode, 0, 0,
            "proposal of " + std::to_string(data.size()) +
                " bytes exceeds max_entry_bytes " +
                std::to_string(config_.max_entry_bytes)};
  }
  append_entry(Entry{term_, 0, EntryType::kNormal, std::move(data)});
  return {Code::kOk, kNoNode, log_.last_index(), term_, {}};
}

Result Raft::propose_conf_change(const ConfChange& change) {
  if (role_ != Role::kLeader) return not_leader();
  if (transferee_ != kNoNode) {
    return {Code::kTransferInProgress, kNoNode, 0, 0,
            "leadership is moving to node " + std::to_string(transferee_)};
  }
  if (!leader_ready_) {
    return {Code::kLeaderNotReady, kNoNode, 0, 0,
            "the leader has not yet committed an entry of its term"};
  }
  if (conf_history_.back().first > log_.committed()) {
    return {Code::kConfChangePending, kNoNode, 0, 0,
            "the membership change at index " +
                std::to_string(conf_history_.back().first) +
                " has not committed yet"};
  }
  if (change.type == ConfChangeType::kBootstrap) {
    return {Code::kInvalidConfChange, kNoNode, 0, 0,
            "bootstrap is not a change that can be proposed"};
  }
  ConfState next;
  std::string why = apply_conf_change(conf_, change, &next);
  if (!why.empty()) return {Code::kInvalidConfChange, kNoNode, 0, 0, why};
  if (change.type == ConfChangeType::kPromoteLearner) {
    const Progress* pr = progress(change.node);
    if (pr == nullptr || pr->match < log_.committed()) {
      return {Code::kLearnerNotCaughtUp, kNoNode, 0, 0,
              "learner " + std::to_string(change.node) + " has index " +
                  std::to_string(pr == nullptr ? 0 : pr->match) +
                  ", the commit index is " + std::to_string(log_.committed())};
    }
  }
  append_entry(Entry{term_, 0, EntryType::kConfChange,
                     encode_conf_change({change, next})});
  return {Code::kOk, kNoNode, log_.last_index(), term_, {}};
}

// ---------------------------------------------------------------------------
// Membership

void Raft::on_entries_appended(const std::vector<Entry>& entries) {
  bool changed = false;
  for (const Entry& e : entries) {
    if (e.type != EntryType::kConfChange) continue;
    // An undecodable entry cannot have been proposed by a leader (which
    // encodes it itself); it leaves the membership as it was.
    auto record = decode_conf_change(e.data);
    if (!record) continue;
    conf_history_.emplace_back(e.index, record->conf);
    changed = true;
  }
  if (changed) apply_conf(conf_history_.back().second);
}

void Raft::on_log_truncated(Index from) {
  const size_t before = conf_history_.size();
  while (conf_history_.size() > 1 && conf_history_.back().first >= from) {
    conf_history_.pop_back();
  }
  if (conf_history_.size() != before) apply_conf(conf_history_.back().second);
}

void Raft::apply_conf(const ConfState& conf) {
  conf_ = conf;
  if (role_ == Role::kLeader) {
    rebuild_progress();
    if (transferee_ != kNoNode && !conf_.is_voter(transferee_))
      abort_transfer();
  } else if (role_ != Role::kFollower && !conf_.is_voter(id_)) {
    become_follower(term_, kNoNode);
  }
}

// Keeps the newest configuration known committed and every one after it.
void Raft::prune_conf_history() {
  while (conf_history_.size() > 1 &&
         conf_history_[1].first <= log_.committed()) {
    conf_history_.erase(conf_history_.begin());
  }
}

// ---------------------------------------------------------------------------
// Reads

Result Raft::read_index(std::string context, ReadMode mode) {
  if (role_ != Role::kLeader) {
    if (leader_ == kNoNode) return not_leader();
    Message m;
    m.type = MessageType::kReadIndex;
    m.to = leader_;
    m.term = term_;
    m.context = std::move(context);
    send(std::move(m));
    return {};
  }
  if (!leader_ready_) {
    // Until the no-op commits the leader does not know the commit index.
    reads_before_ready_.push_back({std::move(context), kNoNode, 0, 0});
    return {};
  }
  if (mode == ReadMode::kLease && lease_valid()) {
    read_states_.push_back(ReadState{log_.committed(), std::move(context)});
    return {};
  }
  add_read(std::move(context), kNoNode);
  return {};
}

void Raft::add_read(std::string context, NodeId requester) {
  if (!leader_ready_) {
    reads_before_ready_.push_back({std::move(context), requester, 0, 0});
    return;
  }
  // Confirmed by the first round that starts after this point.
  pending_reads_.push_back(
      {std::move(context), requester, log_.committed(), read_round_ + 1});
  read_round_wanted_ = true;
}

void Raft::start_read_round() {
  read_round_++;
  read_round_wanted_ = false;
  if (!config_.check_quorum) return;  // no lease without check-quorum
  round_start_tick_[read_round_] = now_;
  // A round older than an election timeout can no longer give a lease.
  const auto horizon = static_cast<uint64_t>(config_.election_tick);
  while (!round_start_tick_.empty() &&
         round_start_tick_.begin()->second + horizon <= now_) {
    round_start_tick_.erase(round_start_tick_.begin());
  }
}

void Raft::release_confirmed_reads() {
  std::vector<uint64_t> acked;
  for (NodeId voter : conf_.voters) {
    if (voter == id_) {
      acked.push_back(read_round_);
    } else {
      const Progress* pr = progress(voter);
      acked.push_back(pr == nullptr ? 0 : pr->acked_round);
    }
  }
  if (acked.empty()) return;
  std::sort(acked.begin(), acked.end(), std::greater<>());
  const uint64_t confirmed = acked[quorum() - 1];
  if (confirmed == 0) return;

  // A quorum acknowledged a message sent at the start of `confirmed`; no other
  // leader can be elected until an election timeout after that tick.
  auto it = round_start_tick_.find(confirmed);
  if (it != round_start_tick_.end()) {
    lease_start_ = std::max(lease_start_, it->second);
    lease_held_ = true;
  }
  round_start_tick_.erase(round_start_tick_.begin(),
                          round_start_tick_.upper_bound(confirmed));

  size_t done = 0;
  for (; done < pending_reads_.size(); done++) {
    PendingRead& read = pending_reads_[done];
    if (read.round > confirmed) break;
    if (read.requester == kNoNode) {
      read_states_.push_back(ReadState{read.index, std::move(read.context)});
    } else {
      Message m;
      m.type = MessageType::kReadIndexResponse;
      m.to = read.requester;
      m.index = read.index;
      m.context = std::move(read.context);
      send(std::move(m));
    }
  }
  pending_reads_.erase(
      pending_reads_.begin(),
      pending_reads_.begin() + static_cast<std::ptrdiff_t>(done));
}

bool Raft::lease_valid() const {
  if (role_ != Role::kLeader || !leader_ready_ || !lease_held_ ||
      lease_forfeited_ || !config_.check_quorum || transferee_ != kNoNode) {
    return false;
  }
  const auto length =
      static_cast<uint64_t>(config_.election_tick - config_.lease_drift_ticks);
  return now_ < lease_start_ + length;
}

// ---------------------------------------------------------------------------
// Leadership transfer

Result Raft::transfer_leadership(NodeId to) {
  if (role_ != Role::kLeader) return not_leader();
  if (to == id_) {
    return {Code::kInvalidArgument, kNoNode, 0, 0,
            "node " + std::to_string(to) + " is already the leader"};
  }
  if (!conf_.is_voter(to)) {
    return {Code::kInvalidArgument, kNoNode, 0, 0,
            "node " + std::to_string(to) + " is not a voter"};
  }
  if (transferee_ == to) return {};
  abort_transfer();
  transferee_ = to;
  transfer_elapsed_ = 0;
  // The target will win an election that ignores our lease.
  lease_held_ = false;
  const Progress* pr = progress(to);
  if (pr->match == log_.last_index()) {
    send_timeout_now(to);
  } else {
    send_append(to, true);
  }
  return {};
}

void Raft::send_timeout_now(NodeId to) {
  // The target may win an election that ignores leases at any time from now
  // on (a delayed TimeoutNow still counts), so no lease read is safe again in
  // this term.
  lease_held_ = false;
  lease_forfeited_ = true;
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  send(std::move(m));
}

void Raft::abort_transfer() {
  transferee_ = kNoNode;
  transfer_elapsed_ = 0;
}

// ---------------------------------------------------------------------------
// Host feedback

void Raft::report_unreachable(NodeId to) {
  Progress* pr = progress(to);
  if (role_ != Role::kLeader || pr == nullptr) return;
  if (pr->state == ProgressState::kReplicate) pr->become_probe();
}

void Raft::report_snapshot(NodeId to, bool success) {
  Progress* pr = progress(to);
  if (role_ != Role::kLeader || pr == nullptr ||
      pr->state != ProgressState::kSnapshot) {
    return;
  }
  if (!success) pr->pending_snapshot = 0;
  pr->become_probe();
  // Wait for the follower's answer (or the next heartbeat) before probing.
  pr->probe_sent = true;
}

// ---------------------------------------------------------------------------
// Ready

void Raft::flush() {
  if (role_ != Role::kLeader) return;
  if (read_round_wanted_) {
    // The round rides on the appends; followers that get none get a heartbeat.
    start_read_round();
    broadcast_wanted_ = false;
    replicate_to_all(/*heartbeat_if_idle=*/true);
    release_confirmed_reads();
  } else if (broadcast_wanted_) {
    broadcast_wanted_ = false;
    replicate_to_all(/*heartbeat_if_idle=*/false);
  }
}

SoftState Raft::soft_state() const {
  return {role_, leader_, role_ == Role::kLeader && leader_ready_};
}

bool Raft::has_ready() const {
  if (role_ == Role::kLeader && (read_round_wanted_ || broadcast_wanted_)) {
    return true;
  }
  return soft_state() != prev_soft_state_ || hard_state() != prev_hard_state_ ||
         !msgs_.empty() || !msgs_after_persist_.empty() ||
         !log_.unstable_entries().empty() ||
         log_.unstable_snapshot().has_value() || !read_states_.empty() ||
         (!log_.unstable_snapshot().has_value() && log_.has_next_committed());
}

Ready Raft::ready() {
  flush();
  Ready rd;
  const SoftState ss = soft_state();
  if (ss != prev_soft_state_) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  const HardState hs = hard_state();
  if (hs != prev_hard_state_) rd.hard_state = hs;
  rd.snapshot = log_.unstable_snapshot();
  rd.entries = log_.unstable_entries();
  rd.must_sync = !rd.entries.empty() || rd.snapshot.has_value() ||
                 hs.term != prev_hard_state_.term ||
                 hs.vote != prev_hard_state_.vote;
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.messages_after_persist = std::move(msgs_after_persist_);
  msgs_after_persist_.clear();
  // A pending snapshot replaces the state machine first.
  if (!rd.snapshot.has_value()) {
    rd.committed_entries = log_.next_committed(kMaxCommittedBytesPerReady);
  }
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  return rd;
}

void Raft::advance(const Ready& rd) {
  if (rd.hard_state.has_value()) prev_hard_state_ = *rd.hard_state;
  if (rd.snapshot.has_value()) {
    log_.stable_snapshot_to(rd.snapshot->meta.index);
    log_.applied_to(std::max(log_.applied(), rd.snapshot->meta.index));
  }
  if (!rd.entries.empty()) {
    log_.stable_to(rd.entries.back().index, rd.entries.back().term);
  }
  if (!rd.committed_entries.empty()) {
    log_.applied_to(rd.committed_entries.back().index);
  }
  if (role_ == Role::kLeader && !rd.entries.empty()) {
    // The leader's own entries count toward commit only once durable.
    Progress* self = progress(id_);
    if (self != nullptr && self->maybe_update(log_.stable_last_index()) &&
        maybe_commit()) {
      broadcast_wanted_ = true;
    }
  }
}

// ---------------------------------------------------------------------------
// Introspection

Status Raft::status() const {
  Status s;
  s.id = id_;
  s.hard_state = hard_state();
  s.soft_state = soft_state();
  s.applied = log_.applied();
  s.last_index = log_.last_index();
  s.conf = conf_;
  if (role_ == Role::kLeader) {
    for (const auto& [id, pr] : progress_) {
      s.peers.push_back({id, conf_.is_voter(id), pr});
    }
  }
  s.transferee = transferee_;
  s.lease_valid = lease_valid();
  s.malformed_messages = malformed_messages_;
  return s;
}

}  // namespace dengine::raft
