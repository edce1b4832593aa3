// The core object: construction and restart, roles, ticks, message dispatch,
// proposals and the Ready cycle. Elections, replication, membership and reads
// live in raft_election.cc, raft_replication.cc, raft_membership.cc and
// raft_reads.cc; the quorum arithmetic in quorum.cc and the reads' books in
// read_only.cc.
#include "raft/raft.h"

#include <algorithm>
#include <utility>

#include "raft/quorum.h"

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
      rng_(config.seed ^ (config.id * 0x9E3779B97F4A7C15ull)),
      // Apart from the election timeouts' stream.
      reads_(config, config.seed ^ (config.id * 0xD1B54A32D192ED03ull)) {}

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
    ConfChangeRecord record;
    record.change.type = ConfChangeType::kBootstrap;
    record.conf = conf;
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
  fail_pending_reads();
  reads_.reset();
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
  append_entry(
      Entry{term_, log_.last_index() + 1, EntryType::kNoop, encode_noop(id_)});
}

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
  if (reads_.has_forwarded()) expire_forwarded_reads();
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
  return active >= quorum::majority(conf_.voters.size());
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
      on_read_index_response(m);
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
    case MessageType::kTimeoutNow:
      // A pre-candidate has not left the leader's term: the leader may still
      // hand it leadership.
      if (role_ == Role::kPreCandidate) step_follower(m);
      break;
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse: {
      const bool expected = (role_ == Role::kPreCandidate) ==
                            (m.type == MessageType::kPreVoteResponse);
      if (!expected) break;
      votes_.emplace(m.from, !m.reject);
      const quorum::VoteResult result = quorum::vote_result(conf_, votes_);
      if (result == quorum::VoteResult::kWon) {
        if (role_ == Role::kPreCandidate) {
          become_candidate();
          start_election(/*pre_vote=*/false, /*transfer=*/false);
        } else {
          become_leader();
        }
      } else if (result == quorum::VoteResult::kLost) {
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
  if (reads_.round_wanted()) {
    // The round rides on the appends; followers that get none get a heartbeat.
    reads_.start_round(now_);
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
  if (role_ == Role::kLeader && (reads_.round_wanted() || broadcast_wanted_)) {
    return true;
  }
  return soft_state() != prev_soft_state_ || hard_state() != prev_hard_state_ ||
         !msgs_.empty() || !msgs_after_persist_.empty() ||
         !log_.unstable_entries().empty() ||
         log_.unstable_snapshot().has_value() || !read_states_.empty() ||
         !failed_reads_.empty() ||
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
  rd.messages_after_persist = std::move(msgs_after_persist_);
  msgs_after_persist_.clear();
  if (hs.term == prev_hard_state_.term) {
    rd.messages = std::move(msgs_);
  } else {
    // Our current term is not durable yet: nothing of it may leave before it
    // is. A leader elected by its own vote alone (one voter, learners) would
    // otherwise send appends of a term it may forget in a crash, win the
    // same term again after restart and write different entries under it.
    for (Message& m : msgs_) {
      const bool pre_vote = m.type == MessageType::kPreVote ||
                            m.type == MessageType::kPreVoteResponse;
      if (pre_vote) {
        rd.messages.push_back(std::move(m));  // they change no state
      } else {
        rd.messages_after_persist.push_back(std::move(m));
      }
    }
  }
  msgs_.clear();
  // A pending snapshot replaces the state machine first.
  if (!rd.snapshot.has_value()) {
    rd.committed_entries = log_.next_committed(kMaxCommittedBytesPerReady);
  }
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  rd.failed_reads = std::move(failed_reads_);
  failed_reads_.clear();
  for (ReadFailure& failure : rd.failed_reads) {
    if (failure.leader == kNoNode) failure.leader = leader_;
  }
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
