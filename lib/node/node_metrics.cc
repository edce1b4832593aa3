// Node::metrics(): the node's status, its counters and the counters of its
// transport, snapshot transfer, client server and watches, as metric
// families. docs/operations.md ("Metrics") describes each; keep it in step.
#include <string>
#include <utility>

#include "node/node_impl.h"

namespace dengine::node {
namespace {

class Builder {
 public:
  void gauge(std::string name, std::string help, double value) {
    add(std::move(name), std::move(help), MetricType::kGauge, value);
  }
  void counter(std::string name, std::string help, double value) {
    add(std::move(name), std::move(help), MetricType::kCounter, value);
  }
  void histogram(std::string name, std::string help,
                 const base::Histogram& histogram) {
    MetricFamily family{
        std::move(name), std::move(help), MetricType::kHistogram, {}};
    family.samples.push_back({{}, 0, histogram.snapshot()});
    metrics_.push_back(std::move(family));
  }
  // A family with one sample per label value, e.g. per peer.
  void labelled(std::string name, std::string help, MetricType type,
                std::string label,
                const std::vector<std::pair<std::string, double>>& values) {
    MetricFamily family{std::move(name), std::move(help), type, {}};
    for (const auto& [label_value, value] : values) {
      family.samples.push_back({{{label, label_value}}, value, {}});
    }
    metrics_.push_back(std::move(family));
  }
  Metrics take() { return std::move(metrics_); }

 private:
  void add(std::string name, std::string help, MetricType type, double value) {
    MetricFamily family{std::move(name), std::move(help), type, {}};
    family.samples.push_back({{}, value, {}});
    metrics_.push_back(std::move(family));
  }
  Metrics metrics_;
};

template <typename T>
double as_double(T value) {
  return static_cast<double>(value);
}

}  // namespace

Metrics Node::metrics() const {
  const NodeStatus s = status();
  const NodeCounters& c = impl_->counters;
  Builder b;

  b.gauge("dengine_node_id", "This node's id.", as_double(s.id));
  b.gauge("dengine_role",
          "The node's role: 0 follower, 1 pre-candidate, 2 candidate, "
          "3 leader (DENGINE_ROLE_*).",
          as_double(static_cast<int>(s.role)));
  b.gauge("dengine_is_leader", "1 if this node is the leader, else 0.",
          s.role == raft::Role::kLeader ? 1 : 0);
  b.gauge("dengine_term", "The current Raft term.", as_double(s.term));
  b.gauge("dengine_leader_id", "The leader's id; 0 when none is known.",
          as_double(s.leader_id));
  b.gauge("dengine_commit_index", "The highest log index known committed.",
          as_double(s.commit_index));
  b.gauge("dengine_applied_index",
          "The highest log index the state machine applied.",
          as_double(s.applied_index));
  b.gauge("dengine_last_log_index", "The last index in this node's log.",
          as_double(s.last_log_index));
  b.gauge("dengine_snapshot_index",
          "The last index of the newest snapshot on disk.",
          as_double(s.snapshot_index));
  size_t voters = 0;
  for (const Member& m : s.members) voters += m.voter ? 1 : 0;
  b.gauge("dengine_voters", "Voting members in the configuration.",
          as_double(voters));
  b.gauge("dengine_learners", "Learners in the configuration.",
          as_double(s.members.size() - voters));

  // Replication, as the leader sees it (empty elsewhere).
  std::vector<std::pair<std::string, double>> match, lag;
  for (const NodeStatus::Replication& r : s.replication) {
    match.emplace_back(std::to_string(r.id), as_double(r.match));
    lag.emplace_back(
        std::to_string(r.id),
        as_double(s.last_log_index > r.match ? s.last_log_index - r.match : 0));
  }
  b.labelled("dengine_peer_match_index",
             "Leader only: the highest index known in the peer's log.",
             MetricType::kGauge, "peer", match);
  b.labelled("dengine_peer_lag_entries",
             "Leader only: entries the peer's log is behind the leader's.",
             MetricType::kGauge, "peer", lag);

  std::vector<std::pair<std::string, double>> proposals;
  for (const auto& [status, n] : c.proposals_by_status()) {
    proposals.emplace_back(status, as_double(n));
  }
  b.labelled("dengine_proposals_total",
             "Proposals finished on this node, by status (ok, not_leader, "
             "timeout, ...).",
             MetricType::kCounter, "status", proposals);
  b.histogram("dengine_commit_latency_seconds",
              "Leader only: from a proposal's append to its commit.",
              c.commit_seconds);
  b.histogram("dengine_apply_latency_seconds",
              "How long the state machine's apply_chunk took per chunk.",
              c.apply_seconds);
  b.histogram("dengine_fsync_latency_seconds",
              "Writing and syncing one batch of log entries and hard state "
              "(one fdatasync).",
              c.persist_seconds);
  b.histogram("dengine_fsync_batch_entries",
              "Log entries made durable by one sync (group commit).",
              c.persist_entries);
  b.counter("dengine_snapshots_total", "Snapshots this node took.",
            as_double(c.snapshots.load()));
  b.counter("dengine_snapshot_bytes_total",
            "Bytes of the snapshots this node took.",
            as_double(c.snapshot_bytes.load()));
  b.histogram("dengine_snapshot_duration_seconds",
              "How long taking a snapshot took.", c.snapshot_seconds);
  b.counter("dengine_elections_started_total",
            "Times this node became a candidate.",
            as_double(c.elections_started.load()));
  b.counter("dengine_elections_won_total", "Times this node became leader.",
            as_double(c.elections_won.load()));
  b.counter("dengine_leader_changes_total",
            "Times this node learned of a new leader.",
            as_double(c.leader_changes.load()));

  const net::TransportStats t = impl_->transport->stats();
  std::vector<std::pair<std::string, double>> sent, dropped, out, in;
  for (const auto& [id, traffic] : t.peers) {
    const std::string peer = std::to_string(id);
    sent.emplace_back(peer, as_double(traffic.messages_sent));
    dropped.emplace_back(peer, as_double(traffic.messages_dropped));
    out.emplace_back(peer, as_double(traffic.bytes_sent));
    in.emplace_back(peer, as_double(traffic.bytes_received));
  }
  b.labelled("dengine_peer_messages_sent_total",
             "Raft messages written to the peer's connection.",
             MetricType::kCounter, "peer", sent);
  b.labelled("dengine_peer_messages_dropped_total",
             "Raft messages to the peer dropped: queue full, too big, or "
             "lost with a connection.",
             MetricType::kCounter, "peer", dropped);
  b.labelled("dengine_peer_bytes_sent_total",
             "Bytes written to the peer (messages, snapshots, hellos).",
             MetricType::kCounter, "peer", out);
  b.labelled("dengine_peer_bytes_received_total",
             "Bytes read from the peer's connections.", MetricType::kCounter,
             "peer", in);
  b.counter("dengine_peer_connections_rejected_total",
            "Incoming peer connections closed for bad input.",
            as_double(t.connections_rejected));

  const net::SnapshotTransferStats x = impl_->snapshot_transfer->stats();
  b.counter("dengine_snapshots_sent_total",
            "Snapshots streamed to followers that committed them.",
            as_double(x.streams_succeeded));
  b.counter("dengine_snapshots_received_total",
            "Snapshots received from the leader.",
            as_double(x.transfers_received));

  ClientServerStats clients;
  if (impl_->client_server != nullptr) {
    clients = impl_->client_server->stats();
  }
  b.labelled("dengine_network_bytes_sent_total",
             "Bytes written, by listener (peer, client).", MetricType::kCounter,
             "listener",
             {{"peer", as_double(t.bytes_sent)},
              {"client", as_double(clients.bytes_sent)}});
  b.labelled("dengine_network_bytes_received_total",
             "Bytes read, by listener (peer, client).", MetricType::kCounter,
             "listener",
             {{"peer", as_double(t.bytes_received)},
              {"client", as_double(clients.bytes_received)}});
  b.gauge("dengine_client_connections", "Client connections open now.",
          as_double(clients.connections_open));
  b.counter("dengine_client_connections_accepted_total",
            "Client connections accepted.",
            as_double(clients.connections_accepted));
  b.gauge("dengine_watches",
          "Watches open on this node (in-process and through clients).",
          as_double(impl_->watches->watch_count()));
  b.gauge("dengine_pending_reads",
          "Linearizable reads waiting for the leader's confirmation.",
          as_double(s.pending_reads));
  return b.take();
}

}  // namespace dengine::node
