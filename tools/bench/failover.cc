#include "failover.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <thread>

#include "client/client.h"
#include "dengine.h"
#include "node/options.h"
#include "workload.h"

namespace dengine::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kStartTimeout{30000};
// A kill the cluster has not recovered from by then ends the run.
constexpr milliseconds kRecoverTimeout{60000};
constexpr milliseconds kPoll{20};
// A restarted node has caught up once it has applied up to this many
// entries below the leader's commit index (writes go on meanwhile).
constexpr uint64_t kCatchUpSlack = 100;

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// Whether a failed write may have been applied (lib/client/client.h).
bool outcome_unknown(int status) {
  return status == DENGINE_ERR_TIMEOUT || status == DENGINE_ERR_IO ||
         status == DENGINE_ERR_SESSION_EXPIRED;
}

// The first write acknowledged after a kill. Only a write that started
// once the killed process was gone counts: a write in flight at the kill
// may have been committed before it, its answer still on the way.
class AckWatch {
 public:
  void acknowledged(Clock::time_point started, Clock::time_point acked) {
    std::lock_guard lock(mu_);
    if (!since_ || started < *since_) return;
    if (!first_ || acked < *first_) first_ = acked;
    changed_.notify_all();
  }
  void watch_from(Clock::time_point since) {
    std::lock_guard lock(mu_);
    since_ = since;
    first_.reset();
  }
  // The first acknowledgement since watch_from(), or nullopt at `deadline`.
  std::optional<Clock::time_point> wait(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    changed_.wait_until(lock, deadline, [&] { return first_.has_value(); });
    since_.reset();
    return first_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::optional<Clock::time_point> since_;
  std::optional<Clock::time_point> first_;
};

// The writers: each puts random keys through its own Client, against every
// node, until stopped.
class Writers {
 public:
  Writers(const FailoverOptions& options, std::vector<std::string> endpoints)
      : kv_(options.key_size, options.value_size, options.keys) {
    client_options_.endpoints = std::move(endpoints);
    client_options_.connect_timeout = milliseconds(500);
    client_options_.request_timeout =
        std::min(options.write_timeout, milliseconds(2000));
    client_options_.deadline = options.write_timeout;
    client_options_.max_retries = 100000;  // the deadline bounds a write
    client_options_.backoff_initial = milliseconds(10);
    client_options_.backoff_max = milliseconds(100);
    started_ = Clock::now();
    for (size_t i = 0; i < options.clients; ++i) {
      threads_.emplace_back([this, i] { write(i); });
    }
  }
  ~Writers() { stop(); }

  AckWatch& acks() { return acks_; }
  // Waits for one acknowledged write; false at `deadline`.
  bool wait_first(Clock::time_point deadline) {
    acks_.watch_from(started_);
    return acks_.wait(deadline).has_value();
  }

  void stop() {
    stopping_.store(true);
    for (std::thread& t : threads_) t.join();
    if (!threads_.empty()) stopped_ = Clock::now();
    threads_.clear();
  }

  void add_to(FailoverResult* result) {
    std::lock_guard lock(mu_);
    result->writes_ok = ok_;
    result->writes_unknown = unknown_;
    result->writes_failed = failed_;
    result->first_error = first_error_;
    result->seconds = ms_between(started_, stopped_) / 1000.0;
  }

 private:
  void write(size_t index) {
    std::unique_ptr<client::Client> c;
    client::Status status = client::Client::create(client_options_, &c);
    if (!status.ok()) {
      count(status);
      return;
    }
    std::mt19937_64 rng(0x9e3779b97f4a7c15ull * (index + 1));
    std::uniform_int_distribution<uint64_t> key(0, kv_.keys() - 1);
    while (!stopping_.load()) {
      const std::string k = kv_.key(key(rng));
      const std::string_view value = kv_.random_value(rng);
      const Clock::time_point started = Clock::now();
      status = c->put(k, value);
      if (status.ok()) acks_.acknowledged(started, Clock::now());
      count(status);
    }
  }

  void count(const client::Status& status) {
    std::lock_guard lock(mu_);
    if (status.ok()) {
      ++ok_;
      return;
    }
    ++(outcome_unknown(status.code) ? unknown_ : failed_);
    if (first_error_.empty()) {
      first_error_ =
          std::string(dengine_strerror(status.code)) + ": " + status.message;
    }
  }

  const KeyValueSource kv_;
  client::ClientOptions client_options_;
  AckWatch acks_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  Clock::time_point started_;
  Clock::time_point stopped_;

  std::mutex mu_;
  uint64_t ok_ = 0;
  uint64_t unknown_ = 0;
  uint64_t failed_ = 0;
  std::string first_error_;
};

// Waits for a running node that leads and that every running voter follows
// in its term; its id and status, or 0 with *error.
uint64_t wait_for_leader(DenginedCluster& cluster, Clock::time_point deadline,
                         net::NodeStatus* leader_status, std::string* error) {
  std::string seen;
  for (;;) {
    if (!cluster.check_alive(error)) return 0;
    std::vector<net::NodeStatus> statuses;
    seen.clear();
    for (uint64_t id : cluster.ids()) {
      if (!cluster.running(id)) continue;
      net::NodeStatus s;
      const client::Status st = cluster.status(id, &s);
      if (!st.ok()) {
        seen += " node " + std::to_string(id) + ": " + st.message + ";";
        continue;
      }
      seen += " node " + std::to_string(id) + " " + raft::to_string(s.role) +
              " term " + std::to_string(s.term) + ";";
      statuses.push_back(std::move(s));
    }
    for (const net::NodeStatus& s : statuses) {
      if (s.role != raft::Role::kLeader) continue;
      const bool followed = std::all_of(
          s.members.begin(), s.members.end(), [&](const net::Member& m) {
            if (!m.voter || !cluster.running(m.id)) return true;
            return std::any_of(statuses.begin(), statuses.end(),
                               [&](const net::NodeStatus& other) {
                                 return other.node_id == m.id &&
                                        other.leader_id == s.node_id &&
                                        other.term == s.term;
                               });
          });
      if (followed) {
        *leader_status = s;
        return s.node_id;
      }
    }
    if (Clock::now() >= deadline) {
      *error =
          "no leader followed by every running node; the nodes said:" + seen;
      return 0;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

// Waits until node `id` follows a leader and has applied close to its
// commit index.
bool wait_caught_up(DenginedCluster& cluster, uint64_t id,
                    Clock::time_point deadline, std::string* error) {
  for (;;) {
    net::NodeStatus leader;
    if (wait_for_leader(cluster, deadline, &leader, error) == 0) return false;
    net::NodeStatus s;
    const client::Status st = cluster.status(id, &s);
    if (st.ok() && s.applied_index + kCatchUpSlack >= leader.commit_index) {
      return true;
    }
    if (Clock::now() >= deadline) {
      *error = "node " + std::to_string(id) + " did not catch up: " +
               (st.ok() ? "applied " + std::to_string(s.applied_index) +
                              ", the leader's commit index " +
                              std::to_string(leader.commit_index)
                        : st.message);
      return false;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

void print_progress(int k, int kills, const KillRecord& r) {
  std::fprintf(stderr,
               "failover [kill %d/%d] leader %llu (term %llu) killed: next "
               "write after %.1f ms, leader %llu term %llu (%llu election%s); "
               "node %llu caught up in %.1f s\n",
               k, kills, static_cast<unsigned long long>(r.node),
               static_cast<unsigned long long>(r.term_before), r.gap_ms,
               static_cast<unsigned long long>(r.new_leader),
               static_cast<unsigned long long>(r.term_after),
               static_cast<unsigned long long>(r.elections()),
               r.elections() == 1 ? "" : "s",
               static_cast<unsigned long long>(r.node), r.catch_up_s);
}

// One kill: the leader, then the wait for the next write, the new leader's
// term, the restart and the catch-up. False, with *error, if the cluster
// did not recover.
bool kill_leader(DenginedCluster& cluster, Writers& writers, KillRecord* r,
                 std::string* error) {
  net::NodeStatus before;
  r->node =
      wait_for_leader(cluster, Clock::now() + kRecoverTimeout, &before, error);
  if (r->node == 0) return false;
  r->term_before = before.term;

  const Clock::time_point killed = Clock::now();
  cluster.kill(r->node);
  writers.acks().watch_from(Clock::now());
  const std::optional<Clock::time_point> acked =
      writers.acks().wait(killed + kRecoverTimeout);
  if (!acked) {
    *error = "no write was acknowledged within " +
             std::to_string(kRecoverTimeout.count()) + " ms of killing node " +
             std::to_string(r->node);
    return false;
  }
  r->gap_ms = ms_between(killed, *acked);
  net::NodeStatus after;
  r->new_leader =
      wait_for_leader(cluster, Clock::now() + kRecoverTimeout, &after, error);
  if (r->new_leader == 0) return false;
  r->term_after = after.term;

  const Clock::time_point restarted = Clock::now();
  if (!cluster.start(r->node, kStartTimeout, error)) return false;
  if (!wait_caught_up(cluster, r->node, restarted + kRecoverTimeout, error)) {
    return false;
  }
  r->catch_up_s = ms_between(restarted, Clock::now()) / 1000.0;
  return true;
}

}  // namespace

bool raft_option_line(const std::string& key_value, std::string* line,
                      std::string* error) {
  static const std::regex form(R"(\s*([A-Za-z0-9_]+)\s*=\s*(\S.*))");
  std::smatch match;
  if (!std::regex_match(key_value, match, form)) {
    *error =
        "--raft-option " + key_value + ": expected key=value, e.g. tick_ms=10";
    return false;
  }
  *line = match[1].str() + " = " + match[2].str();
  return true;
}

double election_timeout_ms(const std::vector<std::string>& raft_lines) {
  const node::NodeOptions defaults;
  double tick_ms = static_cast<double>(defaults.tick_interval.count());
  double ticks = defaults.election_ticks;
  static const std::regex number(R"((\w+) = (\d+)\s*)");
  for (const std::string& line : raft_lines) {
    std::smatch match;
    if (!std::regex_match(line, match, number)) continue;
    if (match[1] == "tick_ms") tick_ms = std::stod(match[2].str());
    if (match[1] == "election_ticks") ticks = std::stod(match[2].str());
  }
  return tick_ms * ticks;
}

bool run_failover(const FailoverOptions& options, FailoverResult* result,
                  std::string* error) {
  std::unique_ptr<DenginedCluster> cluster =
      DenginedCluster::create(options.cluster, error);
  if (!cluster) return false;
  const auto keep_logs = [&] {
    cluster->keep_dir();
    *error += "\n(the nodes' configurations, data and logs are kept in " +
              cluster->dir() + ")";
  };
  for (uint64_t id : cluster->ids()) {
    if (!cluster->start(id, kStartTimeout, error)) {
      keep_logs();
      return false;
    }
  }
  net::NodeStatus leader;
  if (wait_for_leader(*cluster, Clock::now() + kStartTimeout, &leader, error) ==
      0) {
    keep_logs();
    return false;
  }
  Writers writers(options, cluster->client_addresses());
  if (!writers.wait_first(Clock::now() + kStartTimeout)) {
    writers.stop();
    writers.add_to(result);
    *error = "no write was acknowledged within " +
             std::to_string(kStartTimeout.count()) + " ms of the start" +
             (result->first_error.empty() ? "" : ": " + result->first_error);
    keep_logs();
    return false;
  }

  for (int k = 1; k <= options.kills; ++k) {
    KillRecord record;
    std::string failure;
    if (!kill_leader(*cluster, writers, &record, &failure)) {
      result->failure = "kill " + std::to_string(k) + ": " + failure;
      cluster->keep_dir();
      result->kept_dir = cluster->dir();
      break;
    }
    result->kills.push_back(record);
    if (options.progress) print_progress(k, options.kills, record);
  }
  writers.stop();
  writers.add_to(result);
  return true;
}

}  // namespace dengine::bench
