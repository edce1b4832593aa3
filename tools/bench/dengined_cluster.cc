#include "dengined_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace dengine::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Ports below Linux's ephemeral range (32768 and up), so that no outgoing
// connection takes a node's port while the node is down between restarts.
constexpr uint16_t kFirstPort = 20000;
constexpr uint16_t kPortSpan = 12000;
constexpr milliseconds kPoll{20};

// The pids of the running nodes, for the signal handler and exit(); 0 is a
// free slot. Lock-free atomics, so the handler may read them.
constexpr size_t kMaxChildren = 16;
std::atomic<pid_t> g_children[kMaxChildren];

// What the signal handler says about the directory it leaves behind,
// written when the cluster is made (the handler may not allocate).
char g_left_behind[4096];
std::atomic<size_t> g_left_behind_size{0};

void kill_children() {
  for (std::atomic<pid_t>& child : g_children) {
    const pid_t pid = child.load();
    if (pid > 0) ::kill(pid, SIGKILL);
  }
}

extern "C" void kill_children_and_die(int signal_number) {
  kill_children();
  // Whether it got written or not, the process dies of the signal next.
  [[maybe_unused]] const ssize_t written =
      ::write(STDERR_FILENO, g_left_behind, g_left_behind_size.load());
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void install_cleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::atexit(kill_children);
    struct sigaction action {};
    action.sa_handler = kill_children_and_die;
    sigemptyset(&action.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGFPE,
                  SIGILL, SIGABRT}) {
      ::sigaction(s, &action, nullptr);
    }
  });
}

void register_child(pid_t pid) {
  for (std::atomic<pid_t>& child : g_children) {
    pid_t free = 0;
    if (child.compare_exchange_strong(free, pid)) return;
  }
}

void unregister_child(pid_t pid) {
  for (std::atomic<pid_t>& child : g_children) {
    pid_t expected = pid;
    if (child.compare_exchange_strong(expected, 0)) return;
  }
}

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

// A free port not in `taken`, which it joins.
uint16_t pick_port(std::set<uint16_t>* taken) {
  static std::mt19937 random(std::random_device{}());
  for (;;) {
    const auto port = static_cast<uint16_t>(kFirstPort + random() % kPortSpan);
    if (taken->count(port) == 0 && port_is_free(port)) {
      taken->insert(port);
      return port;
    }
  }
}

std::string loopback(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

// A TOML basic string holding `text`.
std::string toml_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
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

bool make_temp_dir(std::string* out, std::string* error) {
  std::string pattern =
      (fs::temp_directory_path() / "dengine-bench-failover-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    *error = "cannot create a directory like " + pattern + ": " +
             std::strerror(errno);
    return false;
  }
  *out = pattern;
  return true;
}

}  // namespace

std::unique_ptr<DenginedCluster> DenginedCluster::create(
    const DenginedClusterOptions& options, std::string* error) {
  if (::access(options.dengined.c_str(), X_OK) != 0) {
    *error = "no dengined at " + options.dengined + " (" +
             std::strerror(errno) +
             "); build it (cmake --build <build> --target dengined) or name "
             "it with --dengined PATH";
    return nullptr;
  }
  std::unique_ptr<DenginedCluster> cluster(new DenginedCluster());
  cluster->options_ = options;
  if (options.dir.empty()) {
    if (!make_temp_dir(&cluster->dir_, error)) return nullptr;
    cluster->remove_dir_ = true;
  } else {
    std::error_code ec;
    fs::create_directories(options.dir, ec);
    if (ec) {
      *error = "create " + options.dir + ": " + ec.message();
      return nullptr;
    }
    cluster->dir_ = fs::absolute(options.dir).string();
  }
  std::set<uint16_t> taken;
  for (int i = 1; i <= options.nodes; ++i) {
    Node n;
    n.id = static_cast<uint64_t>(i);
    n.peer_port = pick_port(&taken);
    n.client_port = pick_port(&taken);
    n.config_path = cluster->dir_ + "/node" + std::to_string(i) + ".toml";
    n.log_path = cluster->dir_ + "/node" + std::to_string(i) + ".log";
    cluster->nodes_.push_back(n);
  }
  for (const Node& n : cluster->nodes_) {
    std::ofstream out(n.config_path);
    out << cluster->config_text(n);
    if (!out.flush()) {
      *error = "cannot write " + n.config_path;
      return nullptr;
    }
  }
  const std::string left_behind =
      "\ndengine-bench: killed the dengined nodes; "
      "their data and logs are left in " +
      cluster->dir_ + "\n";
  g_left_behind_size.store(0);
  const size_t size = std::min(left_behind.size(), sizeof g_left_behind);
  std::memcpy(g_left_behind, left_behind.data(), size);
  g_left_behind_size.store(size);
  install_cleanup();
  return cluster;
}

DenginedCluster::~DenginedCluster() {
  g_left_behind_size.store(0);
  for (const Node& n : nodes_) {
    if (n.pid > 0) kill(n.id);
  }
  if (remove_dir_) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

std::string DenginedCluster::config_text(const Node& n) const {
  std::ostringstream toml;
  toml << "# Written by dengine-bench --workload failover.\n"
       << "[node]\n"
       << "id = " << n.id << "\n"
       << "data_dir = " << toml_string(dir_ + "/node" + std::to_string(n.id))
       << "\n"
       << "peer_address = \"" << loopback(n.peer_port) << "\"\n"
       << "client_address = \"" << loopback(n.client_port) << "\"\n\n"
       << "[cluster]\n"
       << "initial_voters = [";
  for (size_t i = 0; i < nodes_.size(); ++i) {
    toml << (i > 0 ? ", " : "") << nodes_[i].id;
  }
  toml << "]\npeers = [\n";
  for (const Node& peer : nodes_) {
    if (peer.id == n.id) continue;
    toml << "  { id = " << peer.id << ", address = \""
         << loopback(peer.peer_port) << "\", client_address = \""
         << loopback(peer.client_port) << "\" },\n";
  }
  toml << "]\n\n[storage]\n";
  for (const std::string& line : options_.storage_lines) toml << line << "\n";
  toml << "\n[raft]\n";
  for (const std::string& line : options_.raft_lines) toml << line << "\n";
  return toml.str();
}

DenginedCluster::Node& DenginedCluster::node(uint64_t id) {
  return nodes_.at(id - 1);
}

const DenginedCluster::Node& DenginedCluster::node(uint64_t id) const {
  return nodes_.at(id - 1);
}

std::vector<uint64_t> DenginedCluster::ids() const {
  std::vector<uint64_t> out;
  for (const Node& n : nodes_) out.push_back(n.id);
  return out;
}

std::vector<std::string> DenginedCluster::client_addresses() const {
  std::vector<std::string> out;
  for (const Node& n : nodes_) out.push_back(loopback(n.client_port));
  return out;
}

bool DenginedCluster::start(uint64_t id, milliseconds timeout,
                            std::string* error) {
  Node& n = node(id);
  if (n.pid > 0) {
    *error = "node " + std::to_string(id) + " is already running";
    return false;
  }
  ++n.starts;
  const int log_fd = ::open(n.log_path.c_str(),
                            O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *error = "open " + n.log_path + ": " + std::strerror(errno);
    return false;
  }
  const std::string banner = "==== dengine-bench: start " +
                             std::to_string(n.starts) + " of node " +
                             std::to_string(id) + " ====\n";
  if (::write(log_fd, banner.data(), banner.size()) < 0) {
    *error = "write " + n.log_path + ": " + std::strerror(errno);
    ::close(log_fd);
    return false;
  }
  // Everything the child needs is prepared before fork: between fork and
  // exec only async-signal-safe calls are allowed (other threads may hold
  // the allocator's locks).
  std::string program = options_.dengined;
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
    *error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  n.pid = pid;
  register_child(pid);

  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    if (!check_alive(error)) return false;
    net::NodeStatus s;
    if (status(id, &s).ok()) return true;
    if (Clock::now() >= deadline) {
      *error = "node " + std::to_string(id) + " does not answer on " +
               loopback(n.client_port) + " within " +
               std::to_string(timeout.count()) + " ms of its start; " +
               n.log_path + " ends:\n" + log_tail(id);
      return false;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

void DenginedCluster::kill(uint64_t id) {
  Node& n = node(id);
  if (n.pid <= 0) return;
  ::kill(n.pid, SIGKILL);
  while (::waitpid(n.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  unregister_child(n.pid);
  n.pid = -1;
}

bool DenginedCluster::running(uint64_t id) const { return node(id).pid > 0; }

bool DenginedCluster::check_alive(std::string* error) {
  for (Node& n : nodes_) {
    if (n.pid <= 0) continue;
    int wait_status = 0;
    if (::waitpid(n.pid, &wait_status, WNOHANG) != n.pid) continue;
    unregister_child(n.pid);
    n.pid = -1;
    *error = "node " + std::to_string(n.id) + " exited on its own with " +
             describe_wait_status(wait_status) + "; " + n.log_path +
             " ends:\n" + log_tail(n.id);
    return false;
  }
  return true;
}

client::Status DenginedCluster::status(uint64_t id,
                                       net::NodeStatus* out) const {
  client::ClientOptions options;
  options.endpoints = {loopback(node(id).client_port)};
  options.connect_timeout = milliseconds(500);
  options.request_timeout = milliseconds(1000);
  options.deadline = milliseconds(2000);
  options.max_retries = 0;
  std::unique_ptr<client::Client> c;
  client::Status s = client::Client::create(options, &c);
  if (!s.ok()) return s;
  return c->status(out);
}

std::string DenginedCluster::log_tail(uint64_t id, size_t lines) const {
  std::ifstream in(node(id).log_path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(std::move(line));
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const std::string& line : tail) out += "  " + line + "\n";
  return out;
}

}  // namespace dengine::bench
