// A node's metrics: what it counts as it works (NodeCounters, updated on its
// threads), the snapshot Node::metrics() assembles from those counters and
// its state (Metrics: families of samples, the Prometheus data model), and
// that snapshot in the Prometheus text exposition format (version 0.0.4).
// docs/operations.md lists every metric.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/histogram.h"

namespace dengine::node {

enum class MetricType { kCounter, kGauge, kHistogram };

struct MetricSample {
  // Label names and values, e.g. {"peer", "2"}; empty for most.
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;                   // counters and gauges
  base::HistogramSnapshot histogram;  // histograms
};

struct MetricFamily {
  std::string name;  // "dengine_commit_index"
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<MetricSample> samples;
};

using Metrics = std::vector<MetricFamily>;

// The family named `name`, or nullptr.
const MetricFamily* find_family(const Metrics& metrics,
                                const std::string& name);

// The Prometheus text format: # HELP and # TYPE lines, then one line per
// sample (histograms as _bucket{le=...}, _sum and _count).
std::string format_prometheus(const Metrics& metrics);

// The counters a node keeps as it works. Every member is safe to update and
// read from any thread.
struct NodeCounters {
  NodeCounters();

  // A proposal finished with `status` (DENGINE_OK or a DENGINE_ERR_*).
  void count_proposal(int status);
  // Proposals by -status (0: DENGINE_OK); the last slot counts codes beyond.
  static constexpr size_t kStatusSlots = 24;
  std::array<std::atomic<uint64_t>, kStatusSlots> proposals{};
  // The statuses met so far ("ok" always), by name ("timeout",
  // "not_leader", ...), with their counts.
  std::vector<std::pair<std::string, uint64_t>> proposals_by_status() const;

  // Seconds from a proposal's append on the leader to its commit.
  base::Histogram commit_seconds;
  // Seconds each apply_chunk call took.
  base::Histogram apply_seconds;
  // Seconds to write and sync one batch of log entries and hard state
  // (one fdatasync: group commit), and the entries in it.
  base::Histogram persist_seconds;
  base::Histogram persist_entries;
  // Snapshots this node took, their bytes, and how long each took.
  std::atomic<uint64_t> snapshots{0};
  std::atomic<uint64_t> snapshot_bytes{0};
  base::Histogram snapshot_seconds;
  std::atomic<uint64_t> elections_started{0};  // became a candidate
  std::atomic<uint64_t> elections_won{0};      // became the leader
  std::atomic<uint64_t> leader_changes{0};     // a new leader became known
};

}  // namespace dengine::node
