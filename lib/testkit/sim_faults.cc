#include "testkit/sim_faults.h"

#include <string>

namespace dengine::testkit {

using raft::NodeId;

SimFaults::SimFaults(SimCluster* cluster, SimRandom* rng, FaultOptions options)
    : cluster_(cluster), rng_(rng), options_(options) {}

int64_t SimFaults::after(int64_t min_us, int64_t max_us) {
  return cluster_->now() + rng_->between(min_us, max_us);
}

double SimFaults::fraction(double max) {
  return max * static_cast<double>(rng_->below(1001)) / 1000.0;
}

void SimFaults::start(int64_t until) {
  until_ = until;
  if (options_.loss) loss_step();
  if (options_.partition) {
    cluster_->at(after(options_.partition_min_us, options_.partition_max_us),
                 [this] { partition_step(); });
  }
  if (options_.crash) {
    cluster_->at(after(options_.crash_min_us, options_.crash_max_us),
                 [this] { crash_step(); });
  }
}

void SimFaults::heal() {
  cluster_->network().heal_links();
  cluster_->network().set_faults(NetworkFaults{});
  cluster_->trace("heal: links restored, no loss, crashed nodes restart");
  for (const NodeId id : cluster_->node_ids()) cluster_->restart(id);
}

std::vector<NodeId> SimFaults::members() const {
  std::vector<NodeId> ids;
  for (const NodeId id : cluster_->node_ids()) {
    if (!cluster_->node(id)->decommissioned) ids.push_back(id);
  }
  return ids;
}

void SimFaults::loss_step() {
  if (cluster_->now() >= until_) return;
  NetworkFaults faults;
  // Some stretches are clean so the cluster makes progress in between.
  if (!rng_->chance(0.2)) {
    faults.loss = fraction(options_.max_loss);
    faults.duplicate = fraction(options_.max_duplicate);
    faults.delay_spike = fraction(options_.max_delay_spike);
  }
  cluster_->network().set_faults(faults);
  if (cluster_->tracing()) {
    cluster_->trace("network: loss=" + std::to_string(faults.loss) +
                    " duplicate=" + std::to_string(faults.duplicate) +
                    " delay_spike=" + std::to_string(faults.delay_spike));
  }
  cluster_->at(after(options_.loss_min_us, options_.loss_max_us),
               [this] { loss_step(); });
}

void SimFaults::partition_step() {
  if (cluster_->now() >= until_) return;
  cluster_->at(after(options_.partition_min_us, options_.partition_max_us),
               [this] { partition_step(); });
  SimNetwork& network = cluster_->network();
  if (network.partitioned() && rng_->chance(0.5)) {
    network.heal_links();
    cluster_->trace("partition healed");
    return;
  }
  std::vector<NodeId> nodes = members();
  if (nodes.size() < 2) return;
  const NodeId leader = cluster_->leader();
  const NodeId victim =
      leader != raft::kNoNode && rng_->chance(0.5) ? leader : rng_->pick(nodes);
  std::vector<NodeId> rest;
  for (const NodeId id : nodes) {
    if (id != victim) rest.push_back(id);
  }
  switch (rng_->below(4)) {
    case 0:  // isolate one node
      network.partition({victim}, rest);
      break;
    case 1: {  // split into two random sides
      std::vector<NodeId> a{victim};
      std::vector<NodeId> b;
      for (const NodeId id : rest) (rng_->chance(0.5) ? a : b).push_back(id);
      network.partition(a, b);
      break;
    }
    case 2:  // the victim can send but not receive (or the reverse)
      for (const NodeId id : rest) {
        if (rng_->chance(0.5)) {
          network.cut(id, victim);
        } else {
          network.cut(victim, id);
        }
      }
      break;
    default:  // a few random one-way links
      for (int i = 0, n = static_cast<int>(rng_->between(1, 3)); i < n; ++i) {
        network.cut(rng_->pick(nodes), rng_->pick(rest));
      }
      break;
  }
  if (cluster_->tracing()) {
    cluster_->trace("partition: cut " + network.describe_cuts());
  }
}

void SimFaults::crash_step() {
  if (cluster_->now() >= until_) return;
  cluster_->at(after(options_.crash_min_us, options_.crash_max_us),
               [this] { crash_step(); });
  const std::vector<NodeId> up = cluster_->up_nodes();
  if (up.empty()) return;
  std::vector<NodeId> writing;
  for (const NodeId id : up) {
    if (cluster_->node(id)->writing) writing.push_back(id);
  }
  std::vector<NodeId> victims;
  const uint64_t roll = rng_->below(100);
  const NodeId leader = cluster_->leader();
  if (roll < 35 && leader != raft::kNoNode) {
    victims.push_back(leader);
  } else if (roll < 60 && !writing.empty()) {
    victims.push_back(rng_->pick(writing));
  } else if (roll < 68) {
    // A majority (sometimes everyone) goes down at once.
    for (const NodeId id : up) {
      if (rng_->chance(0.7)) victims.push_back(id);
    }
  } else {
    victims.push_back(rng_->pick(up));
  }
  for (const NodeId id : victims) {
    cluster_->crash(id);
    cluster_->at(after(options_.downtime_min_us, options_.downtime_max_us),
                 [this, id] { cluster_->restart(id); });
  }
}

}  // namespace dengine::testkit
