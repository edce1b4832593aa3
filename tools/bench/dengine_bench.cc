// dengine-bench: throughput and latency of a dengine cluster under a
// closed-loop key-value workload, either in-process (--mode embedded: a
// cluster of Nodes on loopback, clients calling the leader's API) or over
// TCP (--mode standalone: lib/client against running dengined servers).
// Embedded, --watchers N also registers N watches on a node for the run.
// docs/benchmarks.md has the numbers of one machine and the commands.
//
// Exit status: 0 every op succeeded; 1 some ops failed (the report says how
// many and the first error); 2 bad usage; 3 the cluster could not be set up;
// 4 every op succeeded but a watch ended early (the report says how).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "closed_loop.h"
#include "embedded_cluster.h"
#include "net/address.h"
#include "standalone_target.h"
#include "watchers.h"
#include "workload.h"

namespace {

using namespace dengine::bench;
using std::chrono::milliseconds;

constexpr int kSomeOpsFailed = 1;
constexpr int kBadUsage = 2;
constexpr int kSetupFailed = 3;
constexpr int kWatchEndedEarly = 4;
// Clients that preload the keys of a read workload: enough to fill the
// pipeline whatever --clients is.
constexpr size_t kPreloadClients = 32;
constexpr milliseconds kLeaderWait{30000};

struct Report {
  LoopResult loop;
  WatchReport watches;  // embedded with --watchers
};

struct Settings {
  std::string mode = "embedded";
  std::string workload_name = "write";
  Workload workload = Workload::kWrite;
  size_t clients = 1;
  uint64_t ops = 0;
  double duration_s = 10;
  size_t key_size = 8;
  size_t value_size = 256;
  uint64_t keys = 10000;
  int read_percent = 50;
  int timeout_ms = 10000;
  bool json = false;
  bool quiet = false;
  // embedded
  int nodes = 3;
  std::string data_dir;
  std::string log_backend = "wal";
  std::string driver = "auto";
  uint64_t snapshot_entries = dengine::sm::SnapshotPolicy{}.entries;
  size_t watchers = 0;
  std::string watch_on = "leader";
  std::string watch_keys = "all";
  // standalone
  std::string endpoints = "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003";
  std::string tls_ca_file, tls_cert_file, tls_key_file;
};

// Which driver runs embedded clients: an eventual read completes inside
// the call, on the caller's thread, so the async API gives it no
// concurrency and its clients need threads of their own.
std::string embedded_driver(const Settings& s) {
  if (s.driver != "auto") return s.driver;
  return s.workload == Workload::kReadEventual ? "threads" : "async";
}

double micros(uint64_t nanos) { return static_cast<double>(nanos) / 1000.0; }

std::string describe(const Settings& s) {
  std::ostringstream out;
  out << "mode " << s.mode;
  if (s.mode == "embedded") {
    out << " (" << s.nodes << (s.nodes == 1 ? " node, " : " nodes, ")
        << s.log_backend << " log, " << embedded_driver(s) << " driver";
    if (s.watchers > 0) {
      out << ", " << s.watchers << (s.watchers == 1 ? " watch" : " watches")
          << " (" << s.watch_keys << " keys) on the " << s.watch_on;
    }
    out << ")";
  } else {
    out << " (" << s.endpoints << ")";
  }
  out << ", workload " << s.workload_name;
  if (s.workload == Workload::kMixed)
    out << " (" << s.read_percent << "% reads)";
  out << ", " << s.clients << (s.clients == 1 ? " client" : " clients")
      << ", key " << s.key_size << " B, value " << s.value_size << " B, "
      << s.keys << " keys, ";
  if (s.ops > 0) {
    out << s.ops << " ops";
  } else {
    out << s.duration_s << " s";
  }
  return out.str();
}

// Each status the watches that ended early ended with, and the first of
// them to end.
void print_watch_text(const WatchReport& w) {
  std::printf("watches      %zu, %llu events delivered, %.0f events/s\n",
              w.watches, static_cast<unsigned long long>(w.events),
              w.events_per_s);
  if (w.ended_early.empty()) {
    std::printf("ended early  none\n");
    return;
  }
  std::printf("ended early  %zu of %zu watches\n", w.ended_early_count(),
              w.watches);
  for (const WatchEndGroup& g : w.ended_early) {
    std::printf("  %zu %s, first watch %zu after %.2f s: %s\n", g.watches,
                dengine_strerror(g.status), g.first_watch, g.first_after_s,
                g.first_message.c_str());
  }
}

void print_text(const Settings& s, const Report& report) {
  const LoopResult& r = report.loop;
  const LatencyHistogram& h = r.latency;
  const auto ms = [](uint64_t nanos) { return micros(nanos) / 1000.0; };
  std::printf("dengine-bench: %s\n", describe(s).c_str());
  std::printf("ops          %llu ok, %llu failed in %.2f s\n",
              static_cast<unsigned long long>(r.ok),
              static_cast<unsigned long long>(r.errors), r.seconds);
  if (r.errors > 0) std::printf("first error  %s\n", r.first_error.c_str());
  std::printf("throughput   %.0f ops/s\n",
              r.seconds > 0 ? static_cast<double>(r.ok) / r.seconds : 0.0);
  std::printf(
      "latency ms   p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
      ms(h.percentile(0.50)), ms(h.percentile(0.99)), ms(h.percentile(0.999)),
      ms(h.max()), h.mean() / 1e6);
  if (s.watchers > 0) print_watch_text(report.watches);
}

void print_json(const Settings& s, const Report& report) {
  const LoopResult& r = report.loop;
  const LatencyHistogram& h = r.latency;
  nlohmann::json out = {
      {"mode", s.mode},
      {"workload", s.workload_name},
      {"clients", s.clients},
      {"key_size", s.key_size},
      {"value_size", s.value_size},
      {"keys", s.keys},
      {"ok", r.ok},
      {"errors", r.errors},
      {"seconds", r.seconds},
      {"throughput_ops_per_s",
       r.seconds > 0 ? static_cast<double>(r.ok) / r.seconds : 0.0},
      {"latency_us",
       {{"p50", micros(h.percentile(0.50))},
        {"p99", micros(h.percentile(0.99))},
        {"p999", micros(h.percentile(0.999))},
        {"max", micros(h.max())},
        {"mean", h.mean() / 1000.0}}},
  };
  if (s.mode == "embedded") {
    out["nodes"] = s.nodes;
    out["log_backend"] = s.log_backend;
    out["driver"] = embedded_driver(s);
    out["snapshot_entries"] = s.snapshot_entries;
    out["watchers"] = s.watchers;
  } else {
    out["endpoints"] = dengine::net::split_address_list(s.endpoints);
  }
  if (s.watchers > 0) {
    const WatchReport& w = report.watches;
    out["watch_on"] = s.watch_on;
    out["watch_keys"] = s.watch_keys;
    out["watch_events"] = w.events;
    out["watch_events_per_s"] = w.events_per_s;
    out["watch_ended_early"] = w.ended_early_count();
    nlohmann::json ends = nlohmann::json::array();
    for (const WatchEndGroup& g : w.ended_early) {
      ends.push_back({{"status", g.status},
                      {"error", dengine_strerror(g.status)},
                      {"watches", g.watches},
                      {"first_watch", g.first_watch},
                      {"first_after_s", g.first_after_s},
                      {"first_message", g.first_message}});
    }
    out["watch_ends"] = ends;
  }
  if (s.workload == Workload::kMixed) out["read_percent"] = s.read_percent;
  if (r.errors > 0) out["first_error"] = r.first_error;
  std::cout << out.dump() << "\n";
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
  // Before the cluster stops: its nodes' stop would end the watches too.
  if (watchers) report->watches = watchers->finish(report->loop.seconds);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dengine-bench: closed-loop throughput and latency of a dengine "
      "cluster"};
  Settings s;
  app.add_option("--mode", s.mode,
                 "embedded: an in-process cluster; standalone: dengined "
                 "servers at --endpoints")
      ->check(CLI::IsMember({"embedded", "standalone"}))
      ->capture_default_str();
  app.add_option("--workload", s.workload_name, "what each client sends")
      ->check(CLI::IsMember({"write", "read-linearizable", "read-lease",
                             "read-eventual", "mixed"}))
      ->capture_default_str();
  app.add_option("--clients", s.clients,
                 "concurrent clients, one request outstanding each")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
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
  app.add_option("--timeout-ms", s.timeout_ms, "time limit of one op")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--json", s.json, "print the result as one JSON object");
  app.add_flag("--quiet", s.quiet, "no progress lines on stderr");
  app.add_option("--nodes", s.nodes, "embedded: cluster size")
      ->check(CLI::Range(1, 9))
      ->capture_default_str();
  app.add_option("--data-dir", s.data_dir,
                 "embedded: where nodes store data (default: a new "
                 "temporary directory, removed after)");
  app.add_option("--log-backend", s.log_backend, "embedded: the Raft log store")
      ->check(CLI::IsMember({"wal", "rocksdb"}))
      ->capture_default_str();
  app.add_option("--snapshot-entries", s.snapshot_entries,
                 "embedded: entries applied between automatic snapshots (0: "
                 "only the 64 MiB threshold)")
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kBadUsage;  // --help is a ParseError too
  }

  s.workload = *parse_workload(s.workload_name);
  if (std::string e = KeyValueSource::check(s.key_size, s.value_size, s.keys);
      !e.empty()) {
    std::cerr << "dengine-bench: " << e << "\n";
    return kBadUsage;
  }
  if (s.mode == "standalone" &&
      dengine::net::split_address_list(s.endpoints).empty()) {
    std::cerr << "dengine-bench: --endpoints names no server\n";
    return kBadUsage;
  }
  if (s.watchers > 0 && s.mode != "embedded") {
    std::cerr << "dengine-bench: --watchers needs --mode embedded\n";
    return kBadUsage;
  }
  if (s.watchers > 0 && s.watch_on == "follower" && s.nodes == 1) {
    std::cerr << "dengine-bench: --watch-on follower needs --nodes 2 or "
                 "more\n";
    return kBadUsage;
  }

  Report report;
  std::string error;
  if (!run(s, &report, &error)) {
    std::cerr << "dengine-bench: " << error << "\n";
    return kSetupFailed;
  }
  if (s.json) {
    print_json(s, report);
  } else {
    print_text(s, report);
  }
  if (report.loop.errors > 0) return kSomeOpsFailed;
  return report.watches.ended_early.empty() ? 0 : kWatchEndedEarly;
}
