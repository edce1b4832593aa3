// dengine-bench: throughput and latency of a dengine cluster under a
// closed-loop key-value workload, either in-process (--mode embedded: a
// cluster of Nodes on loopback, clients calling the leader's API) or over
// TCP (--mode standalone: lib/client against running dengined servers).
// Embedded, --watchers N also registers N watches on a node for the run,
// and --breakdown times each write's stages on the leader and the followers
// (base/write_trace.h) to show where its time goes.
// --workload failover instead starts its own dengined processes, keeps
// writers busy, and kills the leader again and again, measuring how long
// writes stop each time (failover.h).
//
// Before the workload it measures the limits of the machine (limits.h: one
// small fdatasync where the data lives, one loopback round trip; --no-limits
// skips that) and reports each figure also as a ratio to them.
// docs/benchmarks.md has the numbers of one machine and the commands.
//
// Exit status: 0 every op succeeded; 1 some ops failed (the report says how
// many and the first error; failover: a write failed with a definite error,
// unknown outcomes do not count); 2 bad usage; 3 the cluster could not be
// set up (or the limits not measured); 4 every op succeeded but a watch
// ended early (the report says how); 5 failover: the cluster did not recover
// from a kill (the report says which and why, and where the logs are).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "base/write_trace.h"
#include "closed_loop.h"
#include "embedded_cluster.h"
#include "failover.h"
#include "limits.h"
#include "net/address.h"
#include "report.h"
#include "settings.h"
#include "standalone_target.h"
#include "watchers.h"
#include "workload.h"

namespace {

using namespace dengine::bench;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int kSomeOpsFailed = 1;
constexpr int kBadUsage = 2;
constexpr int kSetupFailed = 3;
constexpr int kWatchEndedEarly = 4;
constexpr int kNotRecovered = 5;
// Clients that preload the keys of a read workload: enough to fill the
// pipeline whatever --clients is.
constexpr size_t kPreloadClients = 32;
constexpr milliseconds kLeaderWait{30000};
// --breakdown traces the entries below this index (80 bytes each).
constexpr size_t kTracedEntries = size_t{1} << 19;
constexpr size_t kFailoverClients = 4;

// The dengined of this build: <build>/tools/dengined/dengined beside
// <build>/tools/bench/dengine-bench.
std::string default_dengined() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "dengined";
  return (self.parent_path() / ".." / "dengined" / "dengined")
      .lexically_normal()
      .string();
}

// Measures the limits where the data will live: --data-dir, or a new
// temporary directory (removed after) on the file system the cluster's
// temporary directory will be on.
bool measure(const Settings& s, Limits* limits, std::string* error) {
  if (!s.data_dir.empty()) return measure_limits(s.data_dir, limits, error);
  std::string dir =
      (fs::temp_directory_path() / "dengine-bench-limits-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) {
    *error = "cannot create a directory like " + dir;
    return false;
  }
  const bool ok = measure_limits(dir, limits, error);
  limits->dir = fs::temp_directory_path().string();
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  return ok;
}

LoopOptions loop_options(const Settings& s, const std::string& label) {
  LoopOptions options;
  options.clients = s.clients;
  options.ops = s.ops;
  options.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(s.duration_s));
  if (!s.quiet) options.progress_label = label;
  return options;
}

// Puts every key once, so reads find values. False, with *error, if any
// put failed.
bool preload(Target& target, const KeyValueSource& kv, const Settings& s,
             std::string* error) {
  LoopOptions options = loop_options(s, "preload");
  options.clients = kPreloadClients;
  options.ops = kv.keys();
  const LoopResult r = run_closed_loop(target, preload_ops(kv), options);
  if (r.errors > 0) {
    *error = "preload: " + std::to_string(r.errors) + " puts failed, " +
             r.first_error;
    return false;
  }
  return true;
}

// Sets up the target(s) of the chosen mode, and the watches, and runs the
// workload. Returns false with *error if the setup failed.
bool run(const Settings& s, Report* report, std::string* error) {
  const KeyValueSource kv(s.key_size, s.value_size, s.keys);
  const OpSource ops = workload_ops(kv, s.workload, s.read_percent);
  const milliseconds timeout(s.timeout_ms);

  if (s.mode == "standalone") {
    const size_t connections = reads_keys(s.workload)
                                   ? std::max(s.clients, kPreloadClients)
                                   : s.clients;
    std::shared_ptr<const dengine::net::TlsContext> tls;
    if (!s.tls_ca_file.empty()) {
      const dengine::net::TlsOptions files{
          s.tls_cert_file, s.tls_key_file, s.tls_ca_file,
          dengine::net::TlsVersion::k1_3, dengine::net::TlsVersion::k1_3};
      *error = dengine::net::validate(files, /*cert_required=*/false);
      if (error->empty()) *error = dengine::net::TlsContext::load(files, &tls);
      if (!error->empty()) return false;
    }
    std::unique_ptr<StandaloneTarget> target =
        StandaloneTarget::connect(dengine::net::split_address_list(s.endpoints),
                                  connections, timeout, tls, error);
    if (!target) return false;
    if (reads_keys(s.workload) && !preload(*target, kv, s, error)) return false;
    report->loop = run_closed_loop(*target, ops, loop_options(s, "run"));
    return true;
  }

  EmbeddedClusterOptions options;
  options.nodes = s.nodes;
  options.data_dir = s.data_dir;
  options.log_backend = s.log_backend == "rocksdb"
                            ? dengine::node::LogBackend::kRocksDb
                            : dengine::node::LogBackend::kWal;
  options.snapshot_policy.entries = s.snapshot_entries;
  // Before any node runs (write_trace.h); left on until the process ends.
  if (s.breakdown) dengine::base::write_trace::enable(kTracedEntries);
  std::unique_ptr<EmbeddedCluster> cluster =
      EmbeddedCluster::start(options, error);
  if (!cluster) return false;
  dengine::node::Node* leader = cluster->wait_for_leader(kLeaderWait, error);
  if (leader == nullptr) return false;
  if (reads_keys(s.workload)) {
    EmbeddedTarget async_target(*leader, false, timeout);
    if (!preload(async_target, kv, s, error)) return false;
  }
  std::unique_ptr<Watchers> watchers;
  if (s.watchers > 0) {
    dengine::node::Node* watched =
        s.watch_on == "leader" ? leader : cluster->other_than(*leader);
    watchers = Watchers::start(
        watched->watches(), s.watchers,
        s.watch_keys == "idle" ? WatchKeys::kIdle : WatchKeys::kAll,
        kv.common_prefix(), error);
    if (!watchers) return false;
  }
  EmbeddedTarget target(*leader, embedded_driver(s) == "threads", timeout);
  report->loop = run_closed_loop(target, ops, loop_options(s, "run"));
  if (s.breakdown) report->breakdown = dengine::base::write_trace::summarize();
  // Before the cluster stops: its nodes' stop would end the watches too.
  if (watchers) report->watches = watchers->finish(report->loop.seconds);
  return true;
}

// Runs --workload failover. False, with *error, if the cluster could not
// be set up.
bool run_failover_workload(const Settings& s, Report* report,
                           std::string* error) {
  FailoverOptions options;
  options.cluster.dengined = s.dengined;
  options.cluster.nodes = s.nodes;
  options.cluster.dir = s.data_dir;
  options.cluster.raft_lines = s.raft_lines;
  options.cluster.storage_lines = s.storage_lines;
  options.clients = s.clients;
  options.kills = s.kills;
  options.key_size = s.key_size;
  options.value_size = s.value_size;
  options.keys = s.keys;
  options.write_timeout = milliseconds(s.timeout_ms);
  options.progress = !s.quiet;
  return run_failover(options, &report->failover, error);
}

// The options of failover, turned into the TOML lines of its nodes. False,
// with *error, when one is malformed.
bool failover_lines(const CLI::App& app,
                    const std::vector<std::string>& raft_options, Settings* s,
                    std::string* error) {
  for (const std::string& option : raft_options) {
    std::string line;
    if (!raft_option_line(option, &line, error)) return false;
    s->raft_lines.push_back(line);
  }
  // Only what was asked for: the rest stays dengined's default.
  if (app.count("--log-backend") > 0) {
    s->storage_lines.push_back("log_backend = \"" + s->log_backend + "\"");
  }
  if (app.count("--snapshot-entries") > 0) {
    s->storage_lines.push_back("snapshot_entries = " +
                               std::to_string(s->snapshot_entries));
  }
  return true;
}

// What is wrong with the combination of options, or "".
std::string check_usage(const CLI::App& app, const Settings& s) {
  const auto given = [&](const char* option) { return app.count(option) > 0; };
  if (std::string e = KeyValueSource::check(s.key_size, s.value_size, s.keys);
      !e.empty()) {
    return e;
  }
  if (s.failover()) {
    for (const char* option :
         {"--mode", "--ops", "--duration", "--endpoints", "--watchers",
          "--tls-ca-file", "--tls-cert-file", "--tls-key-file", "--driver"}) {
      if (given(option)) {
        return std::string(option) +
               " does not apply to --workload failover (it starts its own "
               "dengined cluster and runs until --kills are done)";
      }
    }
    if (s.nodes < 3) return "--workload failover needs --nodes 3 or more";
    return "";
  }
  for (const char* option : {"--kills", "--dengined", "--raft-option"}) {
    if (given(option)) {
      return std::string(option) + " needs --workload failover";
    }
  }
  if (s.mode == "standalone" &&
      dengine::net::split_address_list(s.endpoints).empty()) {
    return "--endpoints names no server";
  }
  if (s.watchers > 0 && s.mode != "embedded") {
    return "--watchers needs --mode embedded";
  }
  if (s.breakdown && s.mode != "embedded") {
    return "--breakdown needs --mode embedded (one process sees every node)";
  }
  if (s.watchers > 0 && s.watch_on == "follower" && s.nodes == 1) {
    return "--watch-on follower needs --nodes 2 or more";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dengine-bench: closed-loop throughput and latency of a dengine "
      "cluster, measured against the machine's limits (one small fdatasync, "
      "one loopback round trip); or, with --workload failover, how long a "
      "dengined cluster stops acknowledging writes when its leader is "
      "killed"};
  Settings s;
  s.dengined = default_dengined();
  std::vector<std::string> raft_options;
  app.add_option("--mode", s.mode,
                 "embedded: an in-process cluster; standalone: dengined "
                 "servers at --endpoints")
      ->check(CLI::IsMember({"embedded", "standalone"}))
      ->capture_default_str();
  app.add_option("--workload", s.workload_name,
                 "what each client sends; failover: puts to a dengined "
                 "cluster it starts, whose leader it kills --kills times")
      ->check(CLI::IsMember({"write", "read-linearizable", "read-lease",
                             "read-eventual", "mixed", "failover"}))
      ->capture_default_str();
  app.add_option("--clients", s.clients,
                 "concurrent clients, one request outstanding each "
                 "(default 1; failover: 4)")
      ->check(CLI::Range(1, 100000));
  auto* ops = app.add_option("--ops", s.ops, "total ops over all clients")
                  ->check(CLI::PositiveNumber);
  app.add_option("--duration", s.duration_s, "seconds to run (without --ops)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->excludes(ops);
  app.add_option("--key-size", s.key_size, "bytes per key")
      ->capture_default_str();
  app.add_option("--value-size", s.value_size, "bytes per value")
      ->capture_default_str();
  app.add_option("--keys", s.keys,
                 "distinct keys, chosen uniformly; read workloads write "
                 "each once first")
      ->capture_default_str();
  app.add_option("--read-percent", s.read_percent,
                 "mixed: the share of linearizable reads")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--timeout-ms", s.timeout_ms,
                 "time limit of one op (failover: of one write, its retries "
                 "included)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--json", s.json, "print the result as one JSON object");
  app.add_flag("--quiet", s.quiet, "no progress lines on stderr");
  bool no_limits = false;
  app.add_flag("--no-limits", no_limits,
               "do not measure the limits (fdatasync, loopback round trip) "
               "before the workload, nor report ratios to them");
  app.add_option("--nodes", s.nodes, "embedded and failover: cluster size")
      ->check(CLI::Range(1, 9))
      ->capture_default_str();
  app.add_option("--data-dir", s.data_dir,
                 "embedded and failover: where nodes store data, and where "
                 "the fdatasync limit is measured (default: a new "
                 "temporary directory, removed after)");
  app.add_option("--log-backend", s.log_backend,
                 "embedded and failover: the Raft log store")
      ->check(CLI::IsMember({"wal", "rocksdb"}))
      ->capture_default_str();
  app.add_option("--snapshot-entries", s.snapshot_entries,
                 "embedded and failover: entries applied between automatic "
                 "snapshots (0: only the 64 MiB threshold)")
      ->capture_default_str();
  app.add_option("--driver", s.driver,
                 "embedded: async API with completions, or a thread per "
                 "client on the blocking API (auto: threads only for "
                 "read-eventual, which completes inside the call)")
      ->check(CLI::IsMember({"auto", "async", "threads"}))
      ->capture_default_str();
  app.add_option("--watchers", s.watchers,
                 "embedded: watches registered on one node before the "
                 "workload, each counting the events it is delivered")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_flag("--breakdown", s.breakdown,
               "embedded: time each write's stages on the leader and the "
               "followers (proposed, persisted, sent, acknowledged, "
               "committed, applied) and report where the time goes");
  app.add_option("--watch-on", s.watch_on,
                 "embedded: the node of the watches: the leader the clients "
                 "write to, or a follower")
      ->check(CLI::IsMember({"leader", "follower"}))
      ->capture_default_str();
  app.add_option("--watch-keys", s.watch_keys,
                 "embedded: what each watch asks for: idle, a key of its own "
                 "that is never written (idle/<i>); all, the prefix every "
                 "workload key has (each write is an event for every watch)")
      ->check(CLI::IsMember({"idle", "all"}))
      ->capture_default_str();
  app.add_option("--endpoints", s.endpoints,
                 "standalone: the servers' client addresses, comma-separated")
      ->capture_default_str();
  app.add_option("--tls-ca-file", s.tls_ca_file,
                 "standalone: speak TLS; the servers' certificates must chain "
                 "to this PEM CA bundle");
  app.add_option("--tls-cert-file", s.tls_cert_file,
                 "standalone: this client's PEM certificate, for servers that "
                 "require one");
  app.add_option("--tls-key-file", s.tls_key_file,
                 "standalone: the key of --tls-cert-file");
  app.add_option("--kills", s.kills,
                 "failover: how many times to kill the leader")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--dengined", s.dengined,
                 "failover: the server binary (default: the dengined of "
                 "this build)")
      ->capture_default_str();
  app.add_option("--raft-option", raft_options,
                 "failover: key=value, a line for the [raft] section of "
                 "every node's config, e.g. tick_ms=10 (repeatable; the "
                 "value is TOML: default_read=\"lease\"). Without it the "
                 "nodes run dengined's defaults");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kBadUsage;  // --help is a ParseError too
  }

  s.limits = !no_limits;
  std::string error;
  if (s.failover()) {
    if (app.count("--clients") == 0) s.clients = kFailoverClients;
    if (!failover_lines(app, raft_options, &s, &error)) {
      std::cerr << "dengine-bench: " << error << "\n";
      return kBadUsage;
    }
  } else {
    s.workload = *parse_workload(s.workload_name);
  }
  if (std::string e = check_usage(app, s); !e.empty()) {
    std::cerr << "dengine-bench: " << e << "\n";
    return kBadUsage;
  }

  Report report;
  if (s.limits) {
    if (!s.quiet) std::cerr << "limits: measuring fdatasync and loopback\n";
    Limits limits;
    if (!measure(s, &limits, &error)) {
      std::cerr << "dengine-bench: " << error << "\n";
      return kSetupFailed;
    }
    report.limits = limits;
  }
  const bool ran = s.failover() ? run_failover_workload(s, &report, &error)
                                : run(s, &report, &error);
  if (!ran) {
    std::cerr << "dengine-bench: " << error << "\n";
    return kSetupFailed;
  }
  if (s.json) {
    print_json(s, report);
  } else {
    print_text(s, report);
  }
  if (s.failover()) {
    if (!report.failover.failure.empty()) return kNotRecovered;
    return report.failover.writes_failed > 0 ? kSomeOpsFailed : 0;
  }
  if (report.loop.errors > 0) return kSomeOpsFailed;
  return report.watches.ended_early.empty() ? 0 : kWatchEndedEarly;
}
