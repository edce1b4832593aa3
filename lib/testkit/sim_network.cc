#include "testkit/sim_network.h"

namespace dengine::testkit {

SimNetwork::SimNetwork(SimRandom* rng, NetworkTiming timing)
    : rng_(rng), timing_(timing) {}

void SimNetwork::cut(raft::NodeId from, raft::NodeId to) {
  cut_.insert({from, to});
}

void SimNetwork::partition(const std::vector<raft::NodeId>& a,
                           const std::vector<raft::NodeId>& b) {
  for (const raft::NodeId x : a) {
    for (const raft::NodeId y : b) {
      cut(x, y);
      cut(y, x);
    }
  }
}

void SimNetwork::heal_links() { cut_.clear(); }

bool SimNetwork::connected(raft::NodeId from, raft::NodeId to) const {
  return cut_.empty() || !cut_.contains({from, to});
}

std::string SimNetwork::describe_cuts() const {
  std::string out;
  for (const auto& [from, to] : cut_) {
    if (!out.empty()) out += ' ';
    out += std::to_string(from) + "->" + std::to_string(to);
  }
  return out.empty() ? "none" : out;
}

int64_t SimNetwork::delay() {
  if (faults_.delay_spike > 0 && rng_->chance(faults_.delay_spike)) {
    return rng_->between(timing_.max_delay_us, timing_.spike_delay_us);
  }
  return rng_->between(timing_.min_delay_us, timing_.max_delay_us);
}

Route SimNetwork::route(raft::NodeId from, raft::NodeId to) {
  Route route;
  if (!connected(from, to)) {
    route.dropped = "partition";
    return route;
  }
  if (faults_.loss > 0 && rng_->chance(faults_.loss)) {
    route.dropped = "loss";
    return route;
  }
  route.copies = 1;
  route.delay_us[0] = delay();
  if (faults_.duplicate > 0 && rng_->chance(faults_.duplicate)) {
    route.copies = 2;
    route.delay_us[1] = delay();
  }
  return route;
}

}  // namespace dengine::testkit
