#include "testkit/sim_workload.h"

#include <utility>

namespace dengine::testkit {

using raft::ConfChange;
using raft::ConfChangeType;
using raft::NodeId;
using raft::Result;

SimWorkload::SimWorkload(SimCluster* cluster, SimRandom* rng,
                         WorkloadOptions options)
    : cluster_(cluster), rng_(rng), options_(options) {
  for (const NodeId id : cluster_->node_ids()) enrolled_.insert(id);
  cluster_->set_apply_listener(
      [this](const SimNode& node, const raft::Entry& entry) {
        on_apply(node, entry);
      });
}

int64_t SimWorkload::after(int64_t min_us, int64_t max_us) {
  return cluster_->now() + rng_->between(min_us, max_us);
}

void SimWorkload::start(int64_t until) {
  until_ = until;
  clients_.resize(options_.clients);
  for (size_t c = 0; c < clients_.size(); ++c) {
    clients_[c].id = static_cast<int>(c) + 1;
    cluster_->at(after(0, options_.think_max_us),
                 [this, c] { client_step(c); });
  }
  cluster_->at(after(options_.read_min_us, options_.read_max_us),
               [this] { read_step(); });
  if (options_.membership) {
    cluster_->at(after(options_.membership_min_us, options_.membership_max_us),
                 [this] { membership_step(); });
  }
  if (options_.transfers) {
    cluster_->at(after(options_.transfer_min_us, options_.transfer_max_us),
                 [this] { transfer_step(); });
  }
}

NodeId SimWorkload::random_up_node() {
  const std::vector<NodeId> up = cluster_->up_nodes();
  return up.empty() ? raft::kNoNode : rng_->pick(up);
}

void SimWorkload::client_step(size_t c) {
  if (cluster_->now() >= until_) return;
  Client& client = clients_[c];
  if (client.waiting) {
    const SimNode* n = cluster_->node(client.node);
    // The outcome is unknown once the node restarted or time ran out; a real
    // client would retry with a new value.
    if (!n->up || n->incarnation != client.incarnation ||
        cluster_->now() > client.deadline) {
      client.waiting = false;
      client.leader = raft::kNoNode;
    }
  }
  if (!client.waiting) {
    const SimNode* believed = cluster_->node(client.leader);
    const NodeId target =
        believed != nullptr && believed->up ? client.leader : random_up_node();
    if (target != raft::kNoNode) {
      // Built piecewise: GCC 12 at -O3 misreports "c" + std::string as an
      // overlapping memcpy (-Wrestrict).
      std::string value = "c";
      value += std::to_string(client.id);
      value += '.';
      value += std::to_string(++client.sequence);
      value += '.';
      int padding = static_cast<int>(rng_->below(options_.max_padding + 1));
      if (rng_->chance(0.02)) padding *= 10;
      value.append(padding, 'x');
      const Result result = cluster_->propose(target, value);
      if (result.ok()) {
        const SimNode* n = cluster_->node(target);
        client.waiting = true;
        client.node = target;
        client.incarnation = n->incarnation;
        client.index = result.index;
        client.term = result.term;
        client.value = std::move(value);
        client.deadline = cluster_->now() + options_.proposal_timeout_us;
        client.leader = target;
      } else if (result.code == raft::Code::kNotLeader) {
        client.leader = result.leader;
      }
    }
  }
  cluster_->at(after(options_.think_min_us, options_.think_max_us),
               [this, c] { client_step(c); });
}

void SimWorkload::on_apply(const SimNode& node, const raft::Entry& entry) {
  for (Client& client : clients_) {
    if (!client.waiting || client.node != node.id ||
        client.incarnation != node.incarnation || client.index != entry.index) {
      continue;
    }
    client.waiting = false;
    if (entry.term == client.term && entry.data == client.value) {
      cluster_->checker().on_acknowledged(entry.index, entry.term);
      cluster_->stats().proposals_acknowledged++;
    }
  }
}

void SimWorkload::read_step() {
  if (cluster_->now() >= until_) return;
  const NodeId leader = cluster_->leader();
  const NodeId target =
      leader != raft::kNoNode && rng_->chance(0.5) ? leader : random_up_node();
  if (target != raft::kNoNode) {
    cluster_->read_index(target, rng_->chance(0.5)
                                     ? raft::ReadMode::kLease
                                     : raft::ReadMode::kReadIndex);
  }
  cluster_->at(after(options_.read_min_us, options_.read_max_us),
               [this] { read_step(); });
}

void SimWorkload::membership_step() {
  if (cluster_->now() >= until_) return;
  cluster_->at(after(options_.membership_min_us, options_.membership_max_us),
               [this] { membership_step(); });
  const NodeId leader = cluster_->leader();
  if (!cluster_->leader_ready(leader)) return;
  const raft::ConfState conf = cluster_->node(leader)->raft->conf();
  const size_t voters = conf.voters.size();
  const size_t members = voters + conf.learners.size();
  const uint64_t roll = rng_->below(100);

  ConfChange change;
  if (options_.promote && !conf.learners.empty() && roll < 45) {
    change = {ConfChangeType::kPromoteLearner, rng_->pick(conf.learners), {}};
  } else if (voters > static_cast<size_t>(options_.min_voters) && roll < 70) {
    // Sometimes the leader removes itself.
    const NodeId voter = rng_->chance(0.25) ? leader : rng_->pick(conf.voters);
    change = {ConfChangeType::kRemoveNode, voter, {}};
  } else if (!conf.learners.empty() && roll < 78) {
    change = {ConfChangeType::kRemoveNode, rng_->pick(conf.learners), {}};
  } else if (members < static_cast<size_t>(options_.max_members)) {
    NodeId spare = raft::kNoNode;
    for (const NodeId id : cluster_->node_ids()) {
      if (!enrolled_.contains(id)) {
        spare = id;
        break;
      }
    }
    if (spare == raft::kNoNode) spare = cluster_->add_node();
    change = {ConfChangeType::kAddLearner, spare, {}};
  } else {
    return;
  }
  const Result result = cluster_->propose_conf_change(leader, change);
  if (result.ok() && change.type == ConfChangeType::kAddLearner) {
    enrolled_.insert(change.node);
  }
}

void SimWorkload::transfer_step() {
  if (cluster_->now() >= until_) return;
  cluster_->at(after(options_.transfer_min_us, options_.transfer_max_us),
               [this] { transfer_step(); });
  const NodeId leader = cluster_->leader();
  if (leader == raft::kNoNode) return;
  std::vector<NodeId> others;
  for (const NodeId voter : cluster_->node(leader)->raft->conf().voters) {
    if (voter != leader) others.push_back(voter);
  }
  if (others.empty()) return;
  cluster_->transfer_leadership(leader, rng_->pick(others));
}

}  // namespace dengine::testkit
