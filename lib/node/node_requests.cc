// Requests on the loop thread: proposals, reads, membership changes and
// leadership transfers, each a Pending finished by its outcome, its deadline
// or the node stopping.
#include "base/write_trace.h"
#include "node/node_impl.h"
#include "sm/apply_results.h"

namespace dengine::node {

void Node::Impl::track(const std::shared_ptr<Pending>& pending,
                       std::chrono::milliseconds timeout) {
  if (timeout == std::chrono::milliseconds::zero()) {
    timeout = kDefaultRequestTimeout;
  }
  deadlines.emplace(Clock::now() + timeout, pending);
}

void Node::Impl::submit(
    std::shared_ptr<Pending> pending, std::chrono::milliseconds timeout,
    std::function<void(const std::shared_ptr<Pending>&)> task) {
  const auto refuse = [](const std::shared_ptr<Pending>& p) {
    p->finish(error_reply(DENGINE_ERR_SHUTTING_DOWN, "the node is stopping"));
  };
  if (stopping) {
    refuse(pending);
    return;
  }
  const bool posted = post([this, pending, timeout, task = std::move(task),
                            refuse] {
    if (shutting_down) {
      refuse(pending);
    } else if (failed) {
      std::lock_guard lock(status_mutex);
      pending->finish(error_reply(status.fatal_status, status.fatal_message));
    } else {
      track(pending, timeout);
      task(pending);
    }
  });
  if (!posted) refuse(pending);
}

Reply Node::Impl::not_leader_reply(raft::NodeId leader,
                                   const std::string& message) {
  Reply reply = error_reply(DENGINE_ERR_NOT_LEADER, message);
  reply.leader_id = leader;
  if (leader != raft::kNoNode) {
    std::lock_guard lock(status_mutex);
    reply.leader_address = leader == status.leader_id ? status.leader_address
                                                      : addresses.get(leader);
  }
  return reply;
}

Reply Node::Impl::reply_for(const raft::Result& result) {
  const std::string message =
      result.message.empty() ? raft::to_string(result.code) : result.message;
  switch (result.code) {
    case raft::Code::kOk:
      return Reply{};
    case raft::Code::kNotLeader:
      return not_leader_reply(
          result.leader,
          "node " + std::to_string(options.id) + " is not the leader");
    case raft::Code::kLeaderNotReady:
    case raft::Code::kTransferInProgress:
    case raft::Code::kConfChangePending:
    case raft::Code::kLearnerNotCaughtUp:
      return error_reply(DENGINE_ERR_BUSY, message);
    case raft::Code::kInvalidConfChange:
    case raft::Code::kProposalTooLarge:
    case raft::Code::kInvalidArgument:
      return error_reply(DENGINE_ERR_INVALID_ARGUMENT, message);
  }
  return error_reply(DENGINE_ERR_INTERNAL, message);
}

namespace {

// Waits for the entry proposed at (index, term) to apply.
void await_entry(sm::StateMachineHandler* handler,
                 const std::shared_ptr<Pending>& pending,
                 const raft::Result& result) {
  handler->wait_proposal(
      result.index, result.term,
      [pending, index = result.index](const sm::ProposalOutcome& outcome) {
        Reply reply = error_reply(outcome.status, outcome.message);
        reply.result = outcome.result;
        reply.data = outcome.data;
        reply.index = index;
        reply.duplicate = outcome.duplicate;
        reply.result_known = outcome.result_known;
        pending->finish(std::move(reply));
      });
}

}  // namespace

bool Node::Impl::park_until_leader(const raft::Result& result,
                                   std::function<void()> retry) {
  if (result.code != raft::Code::kNotLeader || result.leader != raft::kNoNode) {
    return false;
  }
  awaiting_leader.push_back(std::move(retry));
  return true;
}

void Node::Impl::retry_parked_requests() {
  std::vector<std::function<void()>> parked;
  parked.swap(awaiting_leader);
  for (auto& retry : parked) retry();
}

void Node::Impl::propose_entry(const std::shared_ptr<Pending>& pending,
                               std::string data) {
  if (pending->finished) return;  // its deadline passed while parked
  const raft::Result result = raft->propose(data);
  if (!result.ok()) {
    if (!park_until_leader(result, [this, pending, data = std::move(data)] {
          propose_entry(pending, data);
        })) {
      pending->finish(reply_for(result));
    }
    return;
  }
  last_proposal = Clock::now();
  base::write_trace::mark(base::write_trace::kProposed, result.index);
  // Bounded: entries that never commit are forgotten at the next change of
  // leader, and there cannot be more in flight than fit in memory anyway.
  if (proposed_at.size() < 1'000'000) {
    proposed_at.emplace_back(result.index, last_proposal);
  }
  await_entry(handler.get(), pending, result);
}

void Node::Impl::change_membership(const std::shared_ptr<Pending>& pending,
                                   const raft::ConfChange& change) {
  if (pending->finished) return;
  const raft::Result result = raft->propose_conf_change(change);
  if (!result.ok()) {
    if (!park_until_leader(result, [this, pending, change] {
          change_membership(pending, change);
        })) {
      pending->finish(reply_for(result));
    }
    return;
  }
  if (change.type == raft::ConfChangeType::kAddLearner) {
    learn_address(change.node, change.context);
  }
  await_entry(handler.get(), pending, result);
}

void Node::Impl::start_read(const std::shared_ptr<Pending>& pending,
                            std::string query, raft::ReadMode mode) {
  if (pending->finished) return;
  std::string context(8, '\0');
  const uint64_t id = next_read_id++;
  for (int i = 0; i < 8; ++i) context[i] = static_cast<char>(id >> (8 * i));
  const raft::Result result = raft->read_index(context, mode);
  if (!result.ok()) {
    if (!park_until_leader(result, [this, pending, query, mode] {
          start_read(pending, query, mode);
        })) {
      pending->finish(reply_for(result));
    }
    return;
  }
  reads.emplace(std::move(context), PendingRead{pending, std::move(query)});
}

void Node::Impl::serve_read_states(const std::vector<raft::ReadState>& states) {
  for (const raft::ReadState& state : states) {
    auto it = reads.find(state.context);
    if (it == reads.end()) continue;
    PendingRead read = std::move(it->second);
    reads.erase(it);
    handler->wait_applied(state.index, [this, read](int status) {
      if (status != DENGINE_OK) {
        read.pending->finish(
            error_reply(status, "the node stopped before the read"));
      } else {
        read.pending->finish(read_machine(read.query));
      }
    });
  }
}

void Node::Impl::fail_reads(const std::vector<raft::ReadFailure>& failures) {
  for (const raft::ReadFailure& failure : failures) {
    auto it = reads.find(failure.context);
    if (it == reads.end()) continue;
    it->second.pending->finish(not_leader_reply(
        failure.leader, "the read could not be confirmed: leadership changed"));
    reads.erase(it);
  }
}

Reply Node::Impl::read_machine(const std::string& query) {
  std::shared_lock lock(machine_mutex);
  if (machine_closed) {
    return error_reply(DENGINE_ERR_SHUTTING_DOWN, "the node is stopping");
  }
  if (machine.read == nullptr) {
    return error_reply(DENGINE_ERR_UNSUPPORTED,
                       "the state machine has no read callback");
  }
  dengine_read_result answer;
  const int rc =
      machine.read(machine.user, reinterpret_cast<const uint8_t*>(query.data()),
                   query.size(), &answer);
  if (rc != 0) {
    // A machine may answer with a dengine code (e.g. a malformed query).
    const bool known =
        rc <= DENGINE_ERR_INVALID_ARGUMENT && rc >= DENGINE_ERR_INTERNAL;
    return error_reply(
        known ? rc : DENGINE_ERR_STATE_MACHINE,
        "the state machine's read returned " + std::to_string(rc));
  }
  Reply reply;
  reply.data.assign(answer.data.begin(), answer.data.end());
  reply.index = answer.revision;
  return reply;
}

void Node::Impl::check_transfers() {
  std::erase_if(transfers, [this](const PendingTransfer& transfer) {
    if (soft_state.leader != transfer.target) return false;
    Reply reply;
    reply.leader_id = transfer.target;
    transfer.pending->finish(std::move(reply));
    return true;
  });
}

}  // namespace dengine::node
