// A cluster of dengined processes on loopback, for dengine-bench's failover
// workload: each node gets a TOML configuration, a data directory and a log
// file (its standard output and error across restarts) in one directory,
// and two free ports (peers, clients). Nodes can be killed with SIGKILL and
// started again on the same configuration and data.
//
// No node outlives dengine-bench: the destructor kills every node still
// running; SIGINT, SIGTERM, SIGHUP, SIGQUIT and the fatal signals (SIGSEGV,
// SIGABRT, ...) kill them before the bench dies of the signal (leaving the
// directory, which the handler names on stderr), and so does exit(); a node
// whose parent dies anyway (SIGKILL) gets SIGKILL from the kernel
// (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/client.h"

namespace dengine::bench {

struct DenginedClusterOptions {
  std::string dengined;  // the server binary
  int nodes = 3;
  // Where the configurations, data and logs go; empty: a new temporary
  // directory, removed by the destructor unless keep_dir() was called.
  std::string dir;
  // TOML lines added to every node's [raft] and [storage] sections.
  std::vector<std::string> raft_lines;
  std::vector<std::string> storage_lines;
};

class DenginedCluster {
 public:
  // Makes the directory and writes the configurations; starts nothing.
  // Returns nullptr with *error on failure.
  static std::unique_ptr<DenginedCluster> create(
      const DenginedClusterOptions& options, std::string* error);
  ~DenginedCluster();
  DenginedCluster(const DenginedCluster&) = delete;
  DenginedCluster& operator=(const DenginedCluster&) = delete;

  const std::string& dir() const { return dir_; }
  // Leaves the directory in place (e.g. after a failure, for its logs).
  void keep_dir() { remove_dir_ = false; }
  std::vector<uint64_t> ids() const;
  std::vector<std::string> client_addresses() const;

  // Starts node `id` and waits until it answers a status request. Call
  // from one thread, the one that lives longest (PR_SET_PDEATHSIG fires
  // when the starting thread ends). False, with *error naming the log's
  // tail, if it exited or did not answer within `timeout`.
  bool start(uint64_t id, std::chrono::milliseconds timeout,
             std::string* error);
  // SIGKILL, then reap: the process is gone when this returns.
  void kill(uint64_t id);
  bool running(uint64_t id) const;
  // False, with *error, if a node exited without being killed.
  bool check_alive(std::string* error);

  // Node `id`'s own view, asked once (no retries).
  client::Status status(uint64_t id, net::NodeStatus* out) const;
  // The last lines of node `id`'s log.
  std::string log_tail(uint64_t id, size_t lines = 20) const;

 private:
  struct Node {
    uint64_t id = 0;
    uint16_t peer_port = 0;
    uint16_t client_port = 0;
    std::string config_path;
    std::string log_path;
    pid_t pid = -1;  // -1: not running
    int starts = 0;
  };

  DenginedCluster() = default;
  std::string config_text(const Node& n) const;
  Node& node(uint64_t id);
  const Node& node(uint64_t id) const;

  DenginedClusterOptions options_;
  std::string dir_;
  bool remove_dir_ = false;
  std::vector<Node> nodes_;  // node i at index i - 1
};

}  // namespace dengine::bench
