// `dengine watch`, the command-line client's watch, run as a process against
// real dengined processes: the exact lines it prints for puts, deletes,
// prefixes and replays from a revision, in text and in JSON; how a
// refused or impossible start and bad usage exit; a clean exit on
// SIGTERM; and a watch that keeps going, each event once and in order,
// across a kill -9 of the node it reads from. Also `dengine metrics`.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster_harness.h"

namespace dengine::cluster_test {
namespace {

// One run of the dengine CLI, its stdout and stderr read through pipes by a
// thread each and kept as lines for the test thread to look at.
class CliProcess {
 public:
  explicit CliProcess(std::vector<std::string> args) {
    args.insert(args.begin(), DENGINE_CLI_PATH);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe: " << std::strerror(errno);
      return;
    }
    // As Cluster::start: only async-signal-safe calls after fork.
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(126);
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err[1], STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    if (pid_ < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      ::close(out[0]);
      ::close(err[0]);
      return;
    }
    readers_.emplace_back([this, fd = out[0]] { read_lines(fd, &out_); });
    readers_.emplace_back([this, fd = err[0]] { read_lines(fd, &err_); });
  }

  ~CliProcess() {
    if (pid_ > 0 && exit_status_ < 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (std::thread& t : readers_) t.join();
  }
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  std::vector<std::string> out() const {
    std::lock_guard lock(mu_);
    return out_;
  }
  std::string err() const {
    std::lock_guard lock(mu_);
    std::string all;
    for (const std::string& line : err_) all += line + "\n";
    return all;
  }
  bool wait_for_out_lines(size_t count, std::chrono::milliseconds timeout) {
    return eventually([&] { return out().size() >= count; }, timeout);
  }
  bool wait_for_err(const std::string& text,
                    std::chrono::milliseconds timeout) {
    return eventually([&] { return err().find(text) != std::string::npos; },
                      timeout);
  }
  // Once the CLI says so, its watch runs: a write from now on is seen.
  bool wait_until_watching() {
    return wait_for_err("dengine: watching from revision", 30s);
  }

  void signal(int sig) { ::kill(pid_, sig); }
  // The exit status, once it exited; -1 if it did not within `timeout`, or
  // was killed by a signal.
  int wait_exit(std::chrono::milliseconds timeout = 30s) {
    if (exit_status_ >= 0) return exit_status_;
    int wait_status = 0;
    const bool exited = eventually(
        [&] { return ::waitpid(pid_, &wait_status, WNOHANG) == pid_; },
        timeout);
    if (!exited) return -1;
    exit_status_ = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 256;
    for (std::thread& t : readers_) t.join();
    readers_.clear();
    return exit_status_ == 256 ? -1 : exit_status_;
  }

 private:
  void read_lines(int fd, std::vector<std::string>* lines) {
    std::string partial;
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      partial.append(buffer, static_cast<size_t>(n));
      std::lock_guard lock(mu_);
      for (size_t end; (end = partial.find('\n')) != std::string::npos;) {
        lines->push_back(partial.substr(0, end));
        partial.erase(0, end + 1);
      }
    }
    if (!partial.empty()) {
      std::lock_guard lock(mu_);
      lines->push_back(partial + "<no newline>");
    }
    ::close(fd);
  }

  pid_t pid_ = -1;
  int exit_status_ = -1;  // 256: killed by a signal
  mutable std::mutex mu_;
  std::vector<std::string> out_, err_;
  std::vector<std::thread> readers_;  // last: they use the rest
};

std::string endpoints(const Cluster& cluster, std::vector<uint64_t> ids) {
  std::string out;
  for (uint64_t id : ids) {
    out += (out.empty() ? "" : ",") + cluster.client_address(id);
  }
  return out;
}

std::string endpoints(const Cluster& cluster) {
  return endpoints(cluster, cluster.ids());
}

// A put or delete through the client; returns the entry's index, the
// revision of its event (0 after a test failure).
uint64_t write(client::Client& c, net::ClientOp op, const std::string& key,
               const std::string& value = "") {
  net::ClientRequest q;
  q.op = op;
  q.key = key;
  q.value = value;
  net::ClientResponse r;
  const client::Status s = c.call(std::move(q), &r);
  EXPECT_TRUE(s.ok()) << key << ": " << s.message;
  EXPECT_EQ(r.status, DENGINE_OK) << key << ": " << r.message;
  return s.ok() && r.status == DENGINE_OK ? r.index : 0;
}

uint64_t put(client::Client& c, const std::string& key,
             const std::string& value) {
  return write(c, net::ClientOp::kPut, key, value);
}

uint64_t erase(client::Client& c, const std::string& key) {
  return write(c, net::ClientOp::kDelete, key);
}

std::string rev(uint64_t revision) { return std::to_string(revision); }

TEST(ClusterCliTest, WatchPrintsOneLinePerEventAndStopsOnSigterm) {
  Cluster cluster;
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  auto c = cluster.client();

  CliProcess cli({"--endpoints", endpoints(cluster), "watch", "user/1"});
  ASSERT_TRUE(cli.wait_until_watching()) << cli.err();
  const uint64_t put1 = put(*c, "user/1", "alice");
  put(*c, "user/2", "not watched");
  put(*c, "user/10", "not watched either: not a prefix watch");
  const uint64_t put2 = put(*c, "user/1", "a \"quoted\"\\ line\n\t\x01\xff");
  const uint64_t put3 = put(*c, "user/1", "");
  const uint64_t deleted = erase(*c, "user/1");
  const std::vector<std::string> expected = {
      rev(put1) + " PUT \"user/1\" \"alice\"",
      rev(put2) +
          " PUT \"user/1\" \"a \\\"quoted\\\"\\\\ line\\n\\t\\x01\\xff\"",
      rev(put3) + " PUT \"user/1\" \"\"",
      rev(deleted) + " DELETE \"user/1\"",
  };
  ASSERT_TRUE(cli.wait_for_out_lines(expected.size(), 30s)) << cli.err();

  cli.signal(SIGTERM);
  EXPECT_EQ(cli.wait_exit(), 0) << cli.err();
  EXPECT_EQ(cli.out(), expected);
  const std::string err = cli.err();
  std::smatch match;
  ASSERT_TRUE(std::regex_search(
      err, match, std::regex("dengine: stopped; resume with --from (\\d+)")))
      << err;
  EXPECT_GT(std::stoull(match[1]), deleted);
}

TEST(ClusterCliTest, WatchReplaysAPrefixFromARevisionAsTextAndJson) {
  Cluster cluster;
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  auto c = cluster.client();

  const uint64_t first = put(*c, "user/a", "1");
  put(*c, "other", "outside the prefix");
  const uint64_t again = put(*c, "user/a", "caf\xc3\xa9 \"2\"\n");
  const uint64_t binary = put(*c, "user/\xff", std::string("\0\x1f", 2));
  const uint64_t deleted = erase(*c, "user/a");

  // Each from `first` (the past replayed), and one line more: a write after
  // the start.
  CliProcess text({"--endpoints", endpoints(cluster), "watch", "--prefix",
                   "user/", "--from", rev(first)});
  CliProcess json({"--endpoints", endpoints(cluster), "watch", "--prefix",
                   "user/", "--from", rev(first), "--json"});
  ASSERT_TRUE(text.wait_until_watching()) << text.err();
  ASSERT_TRUE(json.wait_until_watching()) << json.err();
  const uint64_t later = put(*c, "user/b", "new");

  const std::vector<std::string> expected_text = {
      rev(first) + " PUT \"user/a\" \"1\"",
      rev(again) + " PUT \"user/a\" \"caf\\xc3\\xa9 \\\"2\\\"\\n\"",
      rev(binary) + " PUT \"user/\\xff\" \"\\x00\\x1f\"",
      rev(deleted) + " DELETE \"user/a\"",
      rev(later) + " PUT \"user/b\" \"new\"",
  };
  const std::vector<std::string> expected_json = {
      "{\"revision\":" + rev(first) +
          ",\"type\":\"put\",\"key\":\"user/a\",\"value\":\"1\"}",
      "{\"revision\":" + rev(again) +
          ",\"type\":\"put\",\"key\":\"user/a\",\"value\":\"caf\xc3\xa9 "
          "\\\"2\\\"\\u000a\",\"prev_value\":\"1\"}",
      "{\"revision\":" + rev(binary) +
          ",\"type\":\"put\",\"key_base64\":\"dXNlci//\",\"value\":"
          "\"\\u0000\\u001f\"}",
      "{\"revision\":" + rev(deleted) +
          ",\"type\":\"delete\",\"key\":\"user/a\",\"prev_value\":\"caf\xc3\xa9"
          " \\\"2\\\"\\u000a\"}",
      "{\"revision\":" + rev(later) +
          ",\"type\":\"put\",\"key\":\"user/b\",\"value\":\"new\"}",
  };
  ASSERT_TRUE(text.wait_for_out_lines(expected_text.size(), 30s)) << text.err();
  ASSERT_TRUE(json.wait_for_out_lines(expected_json.size(), 30s)) << json.err();
  text.signal(SIGINT);
  json.signal(SIGTERM);
  EXPECT_EQ(text.wait_exit(), 0) << text.err();
  EXPECT_EQ(json.wait_exit(), 0) << json.err();
  EXPECT_EQ(text.out(), expected_text);
  EXPECT_EQ(json.out(), expected_json);

  // Each line is a JSON object on its own, whose strings decode to the
  // bytes written.
  const std::vector<std::string> lines = json.out();
  ASSERT_EQ(lines.size(), expected_json.size());
  const nlohmann::json overwrite = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(overwrite.at("revision").get<uint64_t>(), again);
  EXPECT_EQ(overwrite.at("value").get<std::string>(), "caf\xc3\xa9 \"2\"\n");
  EXPECT_EQ(overwrite.at("prev_value").get<std::string>(), "1");
  const nlohmann::json raw = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(raw.at("value").get<std::string>(), std::string("\0\x1f", 2));
  EXPECT_FALSE(raw.contains("key"));
  for (const std::string& line : lines) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  }
}

TEST(ClusterCliTest, WatchFromACompactedRevisionExitsNamingTheOldest) {
  ClusterOptions options;
  options.storage_toml = "watch_history_events = 3";
  Cluster cluster(options);
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  auto c = cluster.client();
  const uint64_t first = put(*c, "k", "0");
  uint64_t last = first;
  for (int i = 1; i < 6; ++i) last = put(*c, "k", std::to_string(i));
  // Every node's history is past `first`, whichever one the CLI asks.
  for (uint64_t id : cluster.ids()) {
    ASSERT_TRUE(cluster.wait_for_applied(id, last));
  }

  CliProcess compacted(
      {"--endpoints", endpoints(cluster), "watch", "k", "--from", rev(first)});
  EXPECT_EQ(compacted.wait_exit(), 3) << compacted.err();
  EXPECT_TRUE(compacted.out().empty());
  const std::string err = compacted.err();
  std::smatch match;
  ASSERT_TRUE(std::regex_search(
      err, match,
      std::regex("dengine: cannot start the watch: revision compacted: .*"
                 "the oldest revision [0-9.:]+ keeps is (\\d+)\n")))
      << err;
  const uint64_t oldest = std::stoull(match[1]);
  EXPECT_GT(oldest, first);
  EXPECT_LE(oldest, last);

  // From the oldest revision named, the watch starts, and replays the rest.
  CliProcess resumed(
      {"--endpoints", endpoints(cluster), "watch", "k", "--from", rev(oldest)});
  ASSERT_TRUE(resumed.wait_for_out_lines(1, 30s)) << resumed.err();
  EXPECT_TRUE(resumed.wait_for_err(
      "dengine: watching from revision " + rev(oldest) + "\n", 30s))
      << resumed.err();
  resumed.signal(SIGTERM);
  EXPECT_EQ(resumed.wait_exit(), 0) << resumed.err();
}

// No cluster: what the CLI refuses before it asks any server.
TEST(ClusterCliTest, WatchUsageErrorsExit2AndAnUnreachableClusterExits3) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"watch"},
           {"watch", ""},
           {"watch", "--cluster", "k"},
           {"watch", "--cluster", "--prefix"},
           {"watch", "k", "--from", "minus one"},
           {"watch", "k", "--no-such-flag"},
       }) {
    CliProcess cli(args);
    EXPECT_EQ(cli.wait_exit(), 2) << args.back() << ": " << cli.err();
    EXPECT_NE(cli.err(), "") << args.back();
    EXPECT_TRUE(cli.out().empty()) << args.back();
  }

  // Nothing listens on port 1 of loopback.
  CliProcess unreachable(
      {"--endpoints", "127.0.0.1:1", "--timeout", "300", "watch", "k"});
  EXPECT_EQ(unreachable.wait_exit(), 3) << unreachable.err();
  EXPECT_NE(unreachable.err().find("dengine: cannot start the watch: "),
            std::string::npos)
      << unreachable.err();
  EXPECT_TRUE(unreachable.out().empty());
}

// `dengine metrics` prints the named node's metrics in the Prometheus
// text format.
TEST(ClusterCliTest, MetricsPrintsTheNamedNodesMetrics) {
  Cluster cluster;
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  for (uint64_t id : cluster.ids()) {
    CliProcess cli({"--endpoints", cluster.client_address(id), "metrics"});
    ASSERT_EQ(cli.wait_exit(), 0) << cli.err();
    const std::vector<std::string> lines = cli.out();
    EXPECT_NE(std::find(lines.begin(), lines.end(),
                        "# TYPE dengine_commit_index gauge"),
              lines.end());
    EXPECT_NE(std::find(lines.begin(), lines.end(),
                        "dengine_node_id " + std::to_string(id)),
              lines.end())
        << "node " << id;
  }
}

TEST(ClusterCliTest, SpeaksTlsWithTheTlsFlagsAndReportsRefusals) {
  ClusterOptions options;
  options.tls = true;
  Cluster cluster(options);
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  const std::string dir = cluster.tls_dir();
  cluster.client_tls("admin");  // issues client-admin.{crt,key}
  cluster.client_tls("app");
  const auto as = [&](const std::string& identity) {
    return std::vector<std::string>{
        "--endpoints",     endpoints(cluster),
        "--tls-ca-file",   cluster.ca().ca_file(),
        "--tls-cert-file", dir + "/client-" + identity + ".crt",
        "--tls-key-file",  dir + "/client-" + identity + ".key"};
  };
  const auto with = [](std::vector<std::string> args,
                       std::vector<std::string> more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  CliProcess put(with(as("app"), {"put", "greeting", "hello"}));
  EXPECT_EQ(put.wait_exit(), 0) << put.err();
  CliProcess get(with(as("app"), {"get", "greeting"}));
  EXPECT_EQ(get.wait_exit(), 0) << get.err();
  EXPECT_EQ(get.out(), std::vector<std::string>{"hello"});
  // An ordinary identity may not change the membership; an admin may.
  CliProcess remove(with(as("app"), {"remove-node", "3"}));
  EXPECT_EQ(remove.wait_exit(), 3);
  EXPECT_NE(remove.err().find("permission denied"), std::string::npos)
      << remove.err();
  CliProcess snapshot(with(as("admin"), {"snapshot"}));
  EXPECT_EQ(snapshot.wait_exit(), 0) << snapshot.err();
  // Without the flags the CLI speaks plaintext and is told why it fails.
  CliProcess plain({"--endpoints", cluster.client_address(1), "--timeout",
                    "1000", "get", "greeting"});
  EXPECT_EQ(plain.wait_exit(), 3);
  EXPECT_NE(plain.err().find("speaks TLS"), std::string::npos) << plain.err();
  // A CA file that is not there is bad usage.
  CliProcess missing({"--endpoints", cluster.client_address(1), "--tls-ca-file",
                      dir + "/none.crt", "status"});
  EXPECT_EQ(missing.wait_exit(), 2);
  EXPECT_NE(missing.err().find("none.crt"), std::string::npos) << missing.err();
}

TEST(ClusterCliTest, WatchKeepsGoingAcrossAKillOfTheNodeItReadsFrom) {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  net::NodeStatus before;
  ASSERT_TRUE(cluster.status(leader, &before).ok());
  // The leader first: the CLI's watches start on it, and it is the node
  // killed.
  std::vector<uint64_t> order = {leader};
  for (uint64_t id : cluster.ids()) {
    if (id != leader) order.push_back(id);
  }
  CliProcess keys(
      {"--endpoints", endpoints(cluster, order), "watch", "--prefix", "k/"});
  CliProcess leaders({"--endpoints", endpoints(cluster, order), "watch",
                      "--cluster", "--from", "1"});
  ASSERT_TRUE(keys.wait_until_watching()) << keys.err();
  ASSERT_TRUE(leaders.wait_until_watching()) << leaders.err();

  auto c = cluster.client();
  auto key = [](int i) {
    std::string n = std::to_string(i);
    return "k/" + std::string(3 - n.size(), '0') + n;
  };
  std::vector<std::string> acked;  // every write here is acknowledged
  auto put_key = [&](int i) {
    const client::Status s = c->put(key(i), "v" + std::to_string(i));
    ASSERT_TRUE(s.ok()) << key(i) << ": " << s.message;
    acked.push_back(key(i));
  };
  for (int i = 0; i < 20; ++i) ASSERT_NO_FATAL_FAILURE(put_key(i));
  ASSERT_TRUE(keys.wait_for_out_lines(acked.size(), 30s)) << keys.err();
  cluster.kill(leader);
  for (int i = 20; i < 60; ++i) ASSERT_NO_FATAL_FAILURE(put_key(i));
  ASSERT_TRUE(keys.wait_for_out_lines(acked.size(), 60s))
      << keys.out().size() << " lines; " << keys.err();
  const uint64_t new_leader = cluster.wait_for_leader();
  ASSERT_NE(new_leader, 0u);

  // Each acknowledged write once, in the order written, in increasing
  // revisions.
  keys.signal(SIGTERM);
  EXPECT_EQ(keys.wait_exit(), 0) << keys.err();
  const std::vector<std::string> lines = keys.out();
  ASSERT_EQ(lines.size(), acked.size());
  const std::regex put_line("^(\\d+) PUT \"(k/\\d{3})\" \"v(\\d+)\"$");
  uint64_t last_revision = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, put_line)) << lines[i];
    EXPECT_GT(std::stoull(m[1]), last_revision) << lines[i];
    last_revision = std::stoull(m[1]);
    EXPECT_EQ(m[2], acked[i]) << lines[i];
    EXPECT_EQ(std::stoul(m[3]), i) << lines[i];
  }

  // The cluster stream moved over too, and saw the election that followed.
  const std::regex leader_line("^\\d+ LEADER " + rev(new_leader) + " (\\d+)$");
  EXPECT_TRUE(eventually([&] {
    for (const std::string& line : leaders.out()) {
      std::smatch m;
      if (std::regex_match(line, m, leader_line) &&
          std::stoull(m[1]) > before.term) {
        return true;
      }
    }
    return false;
  })) << ::testing::PrintToString(leaders.out());
  leaders.signal(SIGTERM);
  EXPECT_EQ(leaders.wait_exit(), 0) << leaders.err();
}

}  // namespace
}  // namespace dengine::cluster_test
