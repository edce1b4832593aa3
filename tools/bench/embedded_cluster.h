// A cluster of dengine nodes inside this process, on loopback ports, with
// the built-in RocksDB KV machine: what `dengine-bench --mode embedded` runs
// its clients against.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "closed_loop.h"
#include "node/node.h"
#include "sm/snapshot_policy.h"

namespace dengine::bench {

struct EmbeddedClusterOptions {
  int nodes = 3;
  // Where the nodes keep their data; empty: a new directory under the
  // system's temporary directory, removed when the cluster stops.
  std::string data_dir;
  node::LogBackend log_backend = node::LogBackend::kWal;
  sm::SnapshotPolicy snapshot_policy;
};

class EmbeddedCluster {
 public:
  // Starts every node. Returns nullptr with *error saying why on failure.
  static std::unique_ptr<EmbeddedCluster> start(
      const EmbeddedClusterOptions& options, std::string* error);
  ~EmbeddedCluster();  // stops the nodes, removes a directory it made
  EmbeddedCluster(const EmbeddedCluster&) = delete;
  EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

  // Waits, up to `limit`, for a leader that accepts writes (a put through
  // it applies). nullptr, with *error saying why, if none does.
  node::Node* wait_for_leader(std::chrono::milliseconds limit,
                              std::string* error);
  // A node other than `node`; nullptr in a cluster of one.
  node::Node* other_than(const node::Node& node) const;

 private:
  EmbeddedCluster() = default;

  std::filesystem::path data_dir_;
  bool remove_data_dir_ = false;
  std::vector<std::unique_ptr<node::Node>> nodes_;
};

// Runs ops on one node through the async KV API (each completes on a node
// thread), or with `blocking`, through the blocking one on client threads.
class EmbeddedTarget : public Target {
 public:
  EmbeddedTarget(node::Node& node, bool blocking,
                 std::chrono::milliseconds timeout)
      : node_(node), blocking_(blocking), timeout_(timeout) {}

  bool blocking() const override { return blocking_; }
  void run_op(size_t client, const Op& op, OpDone done) override;

 private:
  node::Node& node_;
  const bool blocking_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace dengine::bench
