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
#include <mutex>
#include <string>
#include <vector>

#include "client/client.h"
#include "testkit/test_certificates.h"

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
  // Mutual TLS between the nodes and for clients (a test CA in the
  // cluster's directory, require_client_cert, the admin identity "admin"),
  // and every client the harness makes presents the "admin" certificate.
  // On by default when DENGINE_TEST_CLUSTER_TLS=1 is in the environment, so
  // that the same tests run again over TLS (tests/cluster/CMakeLists.txt).
  bool tls = tls_from_environment();

  static bool tls_from_environment();
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
  // patient enough to ride out a leader's failure. With tls, it presents
  // the certificate of client `identity`, issued by the cluster's CA.
  client::ClientOptions client_options(
      std::vector<uint64_t> ids = {},
      const std::string& identity = "admin") const;
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
  // Whether node `id`'s log holds `text`.
  bool log_contains(uint64_t id, const std::string& text) const;

  // With tls: the cluster's CA (it issues certificates into tls_dir()), and
  // the loaded credentials of client `identity` (issued on first use).
  const testkit::TestCertificateAuthority& ca() const { return *ca_; }
  std::string tls_dir() const { return dir_ + "/tls"; }
  std::shared_ptr<const net::TlsContext> client_tls(
      const std::string& identity) const;
  // Makes node `id` present `files` from its next start (its config is
  // rewritten); the default is its own certificate, tls_dir()/node-<id>.
  void use_certificate(uint64_t id, const testkit::CertFiles& files);
  // The CA bundle the clients made from now on trust (default: the
  // cluster's CA).
  void set_client_ca_file(std::string path);
  // SIGHUP: the node reloads its TLS files.
  void reload_tls(uint64_t id);

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
    testkit::CertFiles certificate;  // with tls
  };

  Node& node(uint64_t id);
  const Node& node(uint64_t id) const;
  void write_config(const Node& n) const;
  // Reaps `n` if it has exited; true if it has.
  bool reap_if_exited(Node* n, int* wait_status);

  const ClusterOptions options_;
  std::string dir_;
  std::unique_ptr<testkit::TestCertificateAuthority> ca_;  // with tls
  mutable std::mutex client_tls_mu_;
  std::string client_ca_file_;  // guarded by client_tls_mu_; "": the CA's
  mutable std::map<std::string, std::shared_ptr<const net::TlsContext>>
      client_tls_;  // by identity
  std::map<uint64_t, Node> nodes_;
};

}  // namespace dengine::cluster_test
