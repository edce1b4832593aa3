#include "cluster_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace dengine::cluster_test {

namespace {

// Ports below Linux's ephemeral range (32768 and up), so that no outgoing
// connection takes a port while its node is down between restarts.
constexpr uint16_t kFirstPort = 20000;
constexpr uint16_t kPortSpan = 12000;

// Whether a listener could bind 127.0.0.1:port now (with SO_REUSEADDR, as
// libuv binds).
bool port_is_free(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free =
      ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return free;
}

// A free port this process has not handed out before.
uint16_t pick_port() {
  static std::mutex mu;
  static std::set<uint16_t> taken;
  static std::mt19937 random(std::random_device{}());
  std::lock_guard lock(mu);
  for (;;) {
    const auto port = static_cast<uint16_t>(kFirstPort + random() % kPortSpan);
    if (taken.count(port) == 0 && port_is_free(port)) {
      taken.insert(port);
      return port;
    }
  }
}

std::string loopback(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

std::string describe_wait_status(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return "exit status " + std::to_string(WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return std::string("signal ") + strsignal(WTERMSIG(wait_status));
  }
  return "wait status " + std::to_string(wait_status);
}

std::string describe_status(const net::NodeStatus& s) {
  std::ostringstream out;
  out << "node " << s.node_id << " " << raft::to_string(s.role) << " term "
      << s.term << " leader " << s.leader_id << " commit " << s.commit_index
      << " applied " << s.applied_index << " last " << s.last_log_index
      << " snapshot " << s.snapshot_index << " members [";
  for (const net::Member& m : s.members) {
    out << " " << m.id << (m.voter ? "" : "(learner)");
  }
  out << " ]";
  return out.str();
}

}  // namespace

bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

bool ClusterOptions::tls_from_environment() {
  const char* value = std::getenv("DENGINE_TEST_CLUSTER_TLS");
  return value != nullptr && std::string(value) == "1";
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "dengine-cluster-XXXXXX")
          .string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << std::strerror(errno);
  }
  dir_ = pattern;
  if (options_.tls) {
    std::filesystem::create_directories(tls_dir());
    ca_ = std::make_unique<testkit::TestCertificateAuthority>(tls_dir());
  }
  for (int i = 1; i <= options_.size; ++i) {
    Node n;
    n.id = static_cast<uint64_t>(i);
    n.peer_port = pick_port();
    n.client_port = pick_port();
    n.metrics_port = pick_port();
    n.config_path = dir_ + "/node" + std::to_string(i) + ".toml";
    n.log_path = dir_ + "/node" + std::to_string(i) + ".log";
    if (ca_) n.certificate = ca_->issue_node(n.id);
    nodes_.emplace(n.id, n);
  }
  for (const auto& [id, n] : nodes_) write_config(n);
}

Cluster::~Cluster() {
  for (auto& [id, n] : nodes_) {
    int wait_status = 0;
    if (n.pid > 0 && !reap_if_exited(&n, &wait_status)) {
      ::kill(n.pid, SIGKILL);
      ::waitpid(n.pid, nullptr, 0);
      n.pid = -1;
    } else if (n.pid > 0) {
      ADD_FAILURE() << "node " << id << " exited on its own with "
                    << describe_wait_status(wait_status);
    }
  }
  if (!::testing::Test::HasFailure()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    return;
  }
  for (const auto& [id, n] : nodes_) {
    std::cerr << "---- the end of node " << id << "'s log (" << n.log_path
              << ") ----\n"
              << log_tail(id) << "\n";
  }
  std::cerr << "---- the nodes' data, logs and configurations are kept in "
            << dir_ << " ----\n";
}

std::vector<uint64_t> Cluster::ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

Cluster::Node& Cluster::node(uint64_t id) { return nodes_.at(id); }
const Cluster::Node& Cluster::node(uint64_t id) const { return nodes_.at(id); }

std::string Cluster::client_address(uint64_t id) const {
  return loopback(node(id).client_port);
}

std::string Cluster::peer_address(uint64_t id) const {
  return loopback(node(id).peer_port);
}

std::string Cluster::metrics_address(uint64_t id) const {
  return loopback(node(id).metrics_port);
}

uint16_t Cluster::metrics_port(uint64_t id) const {
  return node(id).metrics_port;
}

void Cluster::write_config(const Node& n) const {
  const std::vector<uint64_t>& voters = options_.initial_voters;
  const bool founder = voters.empty() || std::find(voters.begin(), voters.end(),
                                                   n.id) != voters.end();
  std::ostringstream toml;
  toml << "[node]\n"
       << "id = " << n.id << "\n"
       << "data_dir = \"" << dir_ << "/node" << n.id << "\"\n"
       << "peer_address = \"" << loopback(n.peer_port) << "\"\n"
       << "client_address = \"" << loopback(n.client_port) << "\"\n"
       << "metrics_address = \"" << loopback(n.metrics_port) << "\"\n\n"
       << "[cluster]\n";
  if (founder) {
    toml << "initial_voters = [";
    const std::vector<uint64_t> founders = voters.empty() ? ids() : voters;
    for (size_t i = 0; i < founders.size(); ++i) {
      toml << (i > 0 ? ", " : "") << founders[i];
    }
    toml << "]\n";
  }
  toml << "peers = [\n";
  for (const auto& [id, peer] : nodes_) {
    if (id == n.id) continue;
    toml << "  { id = " << id << ", address = \"" << loopback(peer.peer_port)
         << "\", client_address = \"" << loopback(peer.client_port)
         << "\" },\n";
  }
  toml << "]\n\n"
       << "[storage]\n"
       << options_.storage_toml << "\n"
       << "[raft]\n"
       << options_.raft_toml << "\n";
  if (ca_) {
    toml << "[tls]\n"
         << "cert_file = \"" << n.certificate.cert_file << "\"\n"
         << "key_file = \"" << n.certificate.key_file << "\"\n"
         << "ca_file = \"" << ca_->ca_file() << "\"\n"
         << "require_client_cert = true\n"
         << "admin_identities = [\"admin\"]\n\n";
  }
  toml << "[log]\n"
       << "level = \"info\"\n";
  std::ofstream(n.config_path) << toml.str();
}

std::shared_ptr<const net::TlsContext> Cluster::client_tls(
    const std::string& identity) const {
  if (!ca_) return nullptr;
  std::lock_guard lock(client_tls_mu_);
  auto& cached = client_tls_[identity];
  if (cached) return cached;
  const testkit::CertFiles files = ca_->issue_client(identity);
  const std::string error = net::TlsContext::load(
      net::TlsOptions{
          files.cert_file, files.key_file,
          client_ca_file_.empty() ? ca_->ca_file() : client_ca_file_,
          net::TlsVersion::k1_3, net::TlsVersion::k1_3},
      &cached);
  EXPECT_EQ(error, "");
  return cached;
}

void Cluster::set_client_ca_file(std::string path) {
  std::lock_guard lock(client_tls_mu_);
  client_ca_file_ = std::move(path);
  client_tls_.clear();
}

void Cluster::use_certificate(uint64_t id, const testkit::CertFiles& files) {
  Node& n = node(id);
  n.certificate = files;
  write_config(n);
}

void Cluster::reload_tls(uint64_t id) {
  const Node& n = node(id);
  ASSERT_GT(n.pid, 0) << "node " << id << " is not running";
  ::kill(n.pid, SIGHUP);
}

void Cluster::start(uint64_t id) {
  Node& n = node(id);
  if (n.pid > 0) {
    ADD_FAILURE() << "node " << id << " is already running";
    return;
  }
  ++n.starts;
  const int log_fd = ::open(n.log_path.c_str(),
                            O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    ADD_FAILURE() << "open " << n.log_path << ": " << std::strerror(errno);
    return;
  }
  const std::string banner = "==== harness: start " + std::to_string(n.starts) +
                             " of node " + std::to_string(id) + " ====\n";
  if (::write(log_fd, banner.data(), banner.size()) < 0) {
    ADD_FAILURE() << "write " << n.log_path << ": " << std::strerror(errno);
  }
  // Everything the child needs is prepared before fork: between fork and
  // exec only async-signal-safe calls are allowed (other threads may hold
  // the allocator's locks).
  std::string program = DENGINED_PATH;
  std::string flag = "--config";
  std::string config = n.config_path;
  char* argv[] = {program.data(), flag.data(), config.data(), nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv);
    ::_exit(127);
  }
  ::close(log_fd);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return;
  }
  n.pid = pid;
  int wait_status = 0;
  bool exited = false;
  const bool serving = eventually([&] {
    if (reap_if_exited(&n, &wait_status)) {
      exited = true;
      return true;
    }
    net::NodeStatus s;
    return status(id, &s).ok();
  });
  if (exited) {
    ADD_FAILURE() << "node " << id << " exited at start with "
                  << describe_wait_status(wait_status) << "; its log:\n"
                  << log_tail(id);
  } else if (!serving) {
    ADD_FAILURE() << "node " << id << " does not answer on "
                  << client_address(id) << "; its log:\n"
                  << log_tail(id);
  }
}

void Cluster::start_all() {
  for (uint64_t id : ids()) start(id);
}

void Cluster::kill(uint64_t id) {
  Node& n = node(id);
  if (n.pid <= 0) {
    ADD_FAILURE() << "node " << id << " is not running";
    return;
  }
  ::kill(n.pid, SIGKILL);
  ::waitpid(n.pid, nullptr, 0);
  n.pid = -1;
}

void Cluster::pause(uint64_t id) {
  const Node& n = node(id);
  ASSERT_GT(n.pid, 0) << "node " << id << " is not running";
  ::kill(n.pid, SIGSTOP);
}

void Cluster::resume(uint64_t id) {
  const Node& n = node(id);
  ASSERT_GT(n.pid, 0) << "node " << id << " is not running";
  ::kill(n.pid, SIGCONT);
}

void Cluster::stop(uint64_t id) {
  Node& n = node(id);
  if (n.pid <= 0) {
    ADD_FAILURE() << "node " << id << " is not running";
    return;
  }
  ::kill(n.pid, SIGTERM);
  int wait_status = 0;
  if (!eventually([&] { return reap_if_exited(&n, &wait_status); }, 60s)) {
    ADD_FAILURE() << "node " << id << " did not stop within 60 s of SIGTERM; "
                  << "its log:\n"
                  << log_tail(id);
    kill(id);
    return;
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    ADD_FAILURE() << "node " << id << " stopped with "
                  << describe_wait_status(wait_status) << "; its log:\n"
                  << log_tail(id);
  }
}

bool Cluster::running(uint64_t id) const { return node(id).pid > 0; }

bool Cluster::reap_if_exited(Node* n, int* wait_status) {
  if (n->pid <= 0) return false;
  const pid_t reaped = ::waitpid(n->pid, wait_status, WNOHANG);
  if (reaped != n->pid) return false;
  n->pid = -1;
  return true;
}

void Cluster::check_alive() {
  for (auto& [id, n] : nodes_) {
    int wait_status = 0;
    if (reap_if_exited(&n, &wait_status)) {
      ADD_FAILURE() << "node " << id << " exited on its own with "
                    << describe_wait_status(wait_status) << "; its log:\n"
                    << log_tail(id);
    }
  }
}

client::ClientOptions Cluster::client_options(
    std::vector<uint64_t> ids, const std::string& identity) const {
  if (ids.empty()) ids = this->ids();
  client::ClientOptions options;
  options.tls = client_tls(identity);
  for (uint64_t id : ids) options.endpoints.push_back(client_address(id));
  options.connect_timeout = 500ms;
  options.request_timeout = 3s;
  options.deadline = 30s;
  options.max_retries = 200;
  options.backoff_initial = 10ms;
  options.backoff_max = 250ms;
  return options;
}

std::unique_ptr<client::Client> Cluster::client(
    std::vector<uint64_t> ids) const {
  std::unique_ptr<client::Client> out;
  client::Status s =
      client::Client::create(client_options(std::move(ids)), &out);
  EXPECT_TRUE(s.ok()) << s.message;
  return out;
}

client::Status Cluster::status(uint64_t id, net::NodeStatus* out) const {
  client::ClientOptions options;
  options.tls = client_tls("admin");
  options.endpoints = {client_address(id)};
  options.connect_timeout = 500ms;
  options.request_timeout = 1s;
  options.deadline = 2s;
  options.max_retries = 0;
  std::unique_ptr<client::Client> c;
  client::Status s = client::Client::create(options, &c);
  if (!s.ok()) return s;
  return c->status(out);
}

uint64_t Cluster::wait_for_leader(std::chrono::milliseconds timeout) {
  uint64_t leader = 0;
  std::string seen_text;
  const bool found = eventually(
      [&] {
        check_alive();
        std::map<uint64_t, net::NodeStatus> seen;
        seen_text.clear();
        for (const auto& [id, n] : nodes_) {
          if (n.pid <= 0) continue;
          net::NodeStatus s;
          client::Status st = status(id, &s);
          if (st.ok()) {
            seen_text += "\n  " + describe_status(s);
            seen.emplace(id, std::move(s));
          } else {
            seen_text += "\n  node " + std::to_string(id) + ": " + st.message;
          }
        }
        for (const auto& [id, s] : seen) {
          if (s.role != raft::Role::kLeader) continue;
          const bool followed = std::all_of(
              s.members.begin(), s.members.end(), [&](const net::Member& m) {
                if (!m.voter || !running(m.id)) return true;
                auto it = seen.find(m.id);
                return it != seen.end() && it->second.leader_id == id &&
                       it->second.term == s.term;
              });
          if (followed) {
            leader = id;
            return true;
          }
        }
        return false;
      },
      timeout);
  if (!found) {
    ADD_FAILURE() << "no leader followed by every running voter within "
                  << timeout.count() << " ms; the nodes said:" << seen_text;
    return 0;
  }
  return leader;
}

bool Cluster::wait_for_applied(uint64_t id, uint64_t index,
                               std::chrono::milliseconds timeout) {
  std::string last = "no answer";
  const bool done = eventually(
      [&] {
        net::NodeStatus s;
        client::Status st = status(id, &s);
        if (!st.ok()) {
          last = st.message;
          return false;
        }
        last = describe_status(s);
        return s.applied_index >= index;
      },
      timeout);
  if (!done) {
    ADD_FAILURE() << "node " << id << " has not applied index " << index
                  << " within " << timeout.count() << " ms; last: " << last;
  }
  return done;
}

std::string Cluster::log_tail(uint64_t id, size_t lines) const {
  std::ifstream in(node(id).log_path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(std::move(line));
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const std::string& line : tail) out += line + "\n";
  return out;
}

bool Cluster::log_contains(uint64_t id, const std::string& text) const {
  std::ifstream in(node(id).log_path);
  for (std::string line; std::getline(in, line);) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace dengine::cluster_test
