// Real dengined processes on loopback, for the cluster tests. Each node gets
// a TOML configuration and a data directory in a fresh temporary directory,
// two free ports (peers, clients) and a log file holding its standard output
// and error across restarts. When the test has failed, the destructor prints
// every node's log tail and keeps the directory for inspection.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/client.h"

namespace dengine::cluster_test {

using namespace std::chrono_literals;

struct ClusterOptions {
  int size = 3;  // nodes 1 to size
  // The voters that create the cluster; a node left out starts without
  // initial_voters and waits to be added. Empty: every node.
  std::vector<uint64_t> initial_voters;
  // TOML lines added to the [storage] and [raft] sections of every node.
  std::string storage_toml;
  std::string raft_toml;
};

// Polls `condition` every few milliseconds until it holds (true) or
// `timeout` passes (false).
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = 30s);

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  // Kills every node still running.
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  std::vector<uint64_t> ids() const;
  std::string client_address(uint64_t id) const;
  std::string peer_address(uint64_t id) const;
  // Where node `id` serves /metrics and /healthz over HTTP.
  std::string metrics_address(uint64_t id) const;
  uint16_t metrics_port(uint64_t id) const;

  // Starts node `id` (on the data directory of its earlier runs, if any)
  // and waits until it answers clients. Call from the test's main thread:
  // a node is killed when the thread that started it ends, so that no node
  // outlives a crashed test.
  void start(uint64_t id);
  void start_all();
  // SIGKILL, then reap.
  void kill(uint64_t id);
  // SIGTERM; fails the test unless the node exits cleanly (status 0).
  void stop(uint64_t id);
  // SIGSTOP / SIGCONT: the process freezes (its clock keeps running).
  void pause(uint64_t id);
  void resume(uint64_t id);
  bool running(uint64_t id) const;
  // Fails the test for each node that exited without being told to.
  void check_alive();

  // Options for a test client of the given nodes (default: all of them),
  // patient enough to ride out a leader's failure.
  client::ClientOptions client_options(std::vector<uint64_t> ids = {}) const;
  std::unique_ptr<client::Client> client(std::vector<uint64_t> ids = {}) const;
  // Node `id`'s own view, asked once.
  client::Status status(uint64_t id, net::NodeStatus* out) const;

  // Waits until a running node leads and every running voter it knows
  // follows it in its term; returns it, or 0 after a test failure.
  uint64_t wait_for_leader(std::chrono::milliseconds timeout = 30s);
  // Waits until node `id` has applied `index`; false after a test failure.
  bool wait_for_applied(uint64_t id, uint64_t index,
                        std::chrono::milliseconds timeout = 30s);

  // The last `lines` lines of node `id`'s log.
  std::string log_tail(uint64_t id, size_t lines = 40) const;

 private:
  struct Node {
    uint64_t id = 0;
    uint16_t peer_port = 0;
    uint16_t client_port = 0;
    uint16_t metrics_port = 0;
    std::string config_path;
    std::string log_path;
    pid_t pid = -1;  // -1: not running
    int starts = 0;
  };

  Node& node(uint64_t id);
  const Node& node(uint64_t id) const;
  void write_config(const Node& n) const;
  // Reaps `n` if it has exited; true if it has.
  bool reap_if_exited(Node* n, int* wait_status);

  const ClusterOptions options_;
  std::string dir_;
  std::map<uint64_t, Node> nodes_;
};

}  // namespace dengine::cluster_test
