#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "dengine.h"
#include "net/address.h"

namespace dengine::bench {
namespace {

using nlohmann::json;

double micros(uint64_t nanos) { return static_cast<double>(nanos) / 1000.0; }

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string describe(const Settings& s) {
  std::ostringstream out;
  if (s.failover()) {
    out << "workload failover (3 dengined processes, " << s.dengined << ", "
        << (s.raft_lines.empty() ? "default raft settings"
                                 : "raft: " + join(s.raft_lines));
    if (!s.storage_lines.empty()) out << ", storage: " << join(s.storage_lines);
    out << "), " << s.clients << (s.clients == 1 ? " writer" : " writers")
        << ", key " << s.key_size << " B, value " << s.value_size << " B, "
        << s.keys << " keys, " << s.kills << " kills";
    return out.str();
  }
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

double throughput(const LoopResult& r) {
  return r.seconds > 0 ? static_cast<double>(r.ok) / r.seconds : 0.0;
}

// The ratios of a loop workload's figures to the limits; writes per
// fdatasync only for the write workload (every op a put).
LimitRatios ratios(const Settings& s, const LoopResult& r,
                   const Limits& limits) {
  const LatencyHistogram& h = r.latency;
  return limit_ratios(limits, micros(h.percentile(0.50)),
                      micros(h.percentile(0.99)),
                      s.workload == Workload::kWrite ? throughput(r) : 0.0);
}

// The q-quantile of `values` by nearest rank (0 when empty).
double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank =
      static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

std::vector<double> gaps_ms(const FailoverResult& f) {
  std::vector<double> gaps;
  for (const KillRecord& k : f.kills) gaps.push_back(k.gap_ms);
  return gaps;
}

// How many kills took each number of elections.
std::map<uint64_t, int> elections_histogram(const FailoverResult& f) {
  std::map<uint64_t, int> out;
  for (const KillRecord& k : f.kills) ++out[k.elections()];
  return out;
}

void print_limits_text(const Limits& l) {
  std::printf(
      "limits: fdatasync p50 %.0f µs p99 %.0f µs, loopback round trip p50 "
      "%.0f µs\n",
      l.fdatasync_p50_us, l.fdatasync_p99_us, l.loopback_rtt_p50_us);
}

// Each status the watches that ended early ended with, and the first of
// them to end.
// One line per span of the write path: the leader's own disk write (beside
// the round trip), then each step of the round trip to the first follower
// and back, then the whole.
void print_breakdown_text(
    const std::vector<dengine::base::write_trace::Span>& spans) {
  using dengine::base::write_trace::stage_name;
  std::printf("breakdown    per write, µs: p50 / p90 / mean (samples)\n");
  for (const auto& x : spans) {
    const std::string name =
        std::string(stage_name(x.from)) + " -> " + stage_name(x.to);
    std::printf("  %-42s %8.1f %8.1f %8.1f  (%llu)\n", name.c_str(), x.p50_us,
                x.p90_us, x.mean_us,
                static_cast<unsigned long long>(x.samples));
  }
}

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

void print_loop_text(const Settings& s, const Report& report) {
  const LoopResult& r = report.loop;
  const LatencyHistogram& h = r.latency;
  const auto ms = [](uint64_t nanos) { return micros(nanos) / 1000.0; };
  std::printf("ops          %llu ok, %llu failed in %.2f s\n",
              static_cast<unsigned long long>(r.ok),
              static_cast<unsigned long long>(r.errors), r.seconds);
  if (r.errors > 0) std::printf("first error  %s\n", r.first_error.c_str());
  std::printf("throughput   %.0f ops/s\n", throughput(r));
  std::printf(
      "latency ms   p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
      ms(h.percentile(0.50)), ms(h.percentile(0.99)), ms(h.percentile(0.999)),
      ms(h.max()), h.mean() / 1e6);
  if (report.limits) {
    const LimitRatios x = ratios(s, r, *report.limits);
    std::printf(
        "vs limits    p50 / (fdatasync p50 + loopback RTT p50) %.2f, "
        "p99 / p50 %.2f",
        x.latency_p50_over_limit, x.latency_p99_over_p50);
    if (s.workload == Workload::kWrite) {
      std::printf(", writes per fdatasync %.2f", x.writes_per_fdatasync);
    }
    std::printf("\n");
  }
  if (s.watchers > 0) print_watch_text(report.watches);
  if (!report.breakdown.empty()) print_breakdown_text(report.breakdown);
}

void print_failover_text(const Settings& s, const Report& report) {
  const FailoverResult& f = report.failover;
  const std::vector<double> gaps = gaps_ms(f);
  std::printf("kills        %zu of %d\n", f.kills.size(), s.kills);
  std::printf("kill to next write ms  p50 %.1f  p99 %.1f  max %.1f\n",
              quantile(gaps, 0.50), quantile(gaps, 0.99), quantile(gaps, 1.0));
  const double timeout_ms = election_timeout_ms(s.raft_lines);
  std::printf("vs limits    p50 / election timeout (%.0f ms) %.2f\n",
              timeout_ms, quantile(gaps, 0.50) / timeout_ms);
  std::printf("elections    ");
  for (const auto& [elections, kills] : elections_histogram(f)) {
    std::printf("%llu: %d kill%s  ", static_cast<unsigned long long>(elections),
                kills, kills == 1 ? "" : "s");
  }
  std::printf("(terms from the killed leader's to the new one's)\n");
  std::printf(
      "writes       %llu ok (%.0f/s), %llu failed with unknown outcome, %llu "
      "failed\n",
      static_cast<unsigned long long>(f.writes_ok),
      f.seconds > 0 ? static_cast<double>(f.writes_ok) / f.seconds : 0.0,
      static_cast<unsigned long long>(f.writes_unknown),
      static_cast<unsigned long long>(f.writes_failed));
  if (!f.first_error.empty()) {
    std::printf("first error  %s\n", f.first_error.c_str());
  }
  std::printf(
      "per kill     leader term -> leader term, elections, gap ms, "
      "catch-up s\n");
  for (size_t i = 0; i < f.kills.size(); ++i) {
    const KillRecord& k = f.kills[i];
    std::printf("  %3zu        %llu %4llu -> %llu %4llu  %llu  %8.1f  %5.1f\n",
                i + 1, static_cast<unsigned long long>(k.node),
                static_cast<unsigned long long>(k.term_before),
                static_cast<unsigned long long>(k.new_leader),
                static_cast<unsigned long long>(k.term_after),
                static_cast<unsigned long long>(k.elections()), k.gap_ms,
                k.catch_up_s);
  }
  if (!f.failure.empty()) {
    std::printf("failure      %s\n", f.failure.c_str());
    std::printf("logs in      %s\n", f.kept_dir.c_str());
  }
}

json limits_json(const Limits& l) {
  return {{"dir", l.dir},
          {"fdatasync_samples", l.fdatasync_samples},
          {"fdatasync_p50_us", l.fdatasync_p50_us},
          {"fdatasync_p99_us", l.fdatasync_p99_us},
          {"round_trips", l.round_trips},
          {"loopback_rtt_p50_us", l.loopback_rtt_p50_us}};
}

void add_loop_json(const Settings& s, const Report& report, json* out) {
  const LoopResult& r = report.loop;
  const LatencyHistogram& h = r.latency;
  json& o = *out;
  o["mode"] = s.mode;
  o["ok"] = r.ok;
  o["errors"] = r.errors;
  o["seconds"] = r.seconds;
  o["throughput_ops_per_s"] = throughput(r);
  o["latency_us"] = {{"p50", micros(h.percentile(0.50))},
                     {"p99", micros(h.percentile(0.99))},
                     {"p999", micros(h.percentile(0.999))},
                     {"max", micros(h.max())},
                     {"mean", h.mean() / 1000.0}};
  if (report.limits) {
    const LimitRatios x = ratios(s, r, *report.limits);
    o["ratios"] = {{"latency_p50_over_limit", x.latency_p50_over_limit},
                   {"latency_p99_over_p50", x.latency_p99_over_p50}};
    if (s.workload == Workload::kWrite) {
      o["ratios"]["writes_per_fdatasync"] = x.writes_per_fdatasync;
    }
  }
  if (s.mode == "embedded") {
    o["nodes"] = s.nodes;
    o["log_backend"] = s.log_backend;
    o["driver"] = embedded_driver(s);
    o["snapshot_entries"] = s.snapshot_entries;
    o["watchers"] = s.watchers;
  } else {
    o["endpoints"] = dengine::net::split_address_list(s.endpoints);
  }
  if (s.watchers > 0) {
    const WatchReport& w = report.watches;
    o["watch_on"] = s.watch_on;
    o["watch_keys"] = s.watch_keys;
    o["watch_events"] = w.events;
    o["watch_events_per_s"] = w.events_per_s;
    o["watch_ended_early"] = w.ended_early_count();
    json ends = json::array();
    for (const WatchEndGroup& g : w.ended_early) {
      ends.push_back({{"status", g.status},
                      {"error", dengine_strerror(g.status)},
                      {"watches", g.watches},
                      {"first_watch", g.first_watch},
                      {"first_after_s", g.first_after_s},
                      {"first_message", g.first_message}});
    }
    o["watch_ends"] = ends;
  }
  if (!report.breakdown.empty()) {
    json spans = json::array();
    for (const dengine::base::write_trace::Span& x : report.breakdown) {
      spans.push_back({{"from", dengine::base::write_trace::stage_name(x.from)},
                       {"to", dengine::base::write_trace::stage_name(x.to)},
                       {"samples", x.samples},
                       {"p50_us", x.p50_us},
                       {"p90_us", x.p90_us},
                       {"mean_us", x.mean_us}});
    }
    o["breakdown"] = spans;
  }
  if (s.workload == Workload::kMixed) o["read_percent"] = s.read_percent;
  if (r.errors > 0) o["first_error"] = r.first_error;
}

void add_failover_json(const Settings& s, const Report& report, json* out) {
  const FailoverResult& f = report.failover;
  const std::vector<double> gaps = gaps_ms(f);
  const double timeout_ms = election_timeout_ms(s.raft_lines);
  json& o = *out;
  o["dengined"] = s.dengined;
  o["raft_options"] = s.raft_lines;
  o["storage_options"] = s.storage_lines;
  o["kills_requested"] = s.kills;
  o["kills"] = f.kills.size();
  o["kill_to_write_ms"] = {{"p50", quantile(gaps, 0.50)},
                           {"p99", quantile(gaps, 0.99)},
                           {"max", quantile(gaps, 1.0)}};
  o["election_timeout_ms"] = timeout_ms;
  o["ratios"] = {{"kill_to_write_p50_over_election_timeout",
                  quantile(gaps, 0.50) / timeout_ms}};
  json histogram = json::object();
  for (const auto& [elections, kills] : elections_histogram(f)) {
    histogram[std::to_string(elections)] = kills;
  }
  o["kills_by_elections"] = histogram;
  json per_kill = json::array();
  for (const KillRecord& k : f.kills) {
    per_kill.push_back({{"killed", k.node},
                        {"term_before", k.term_before},
                        {"new_leader", k.new_leader},
                        {"term_after", k.term_after},
                        {"elections", k.elections()},
                        {"gap_ms", k.gap_ms},
                        {"catch_up_s", k.catch_up_s}});
  }
  o["per_kill"] = per_kill;
  o["writes_ok"] = f.writes_ok;
  o["writes_failed_unknown_outcome"] = f.writes_unknown;
  o["writes_failed"] = f.writes_failed;
  o["seconds"] = f.seconds;
  if (!f.first_error.empty()) o["first_error"] = f.first_error;
  if (!f.failure.empty()) {
    o["failure"] = f.failure;
    o["kept_dir"] = f.kept_dir;
  }
}

}  // namespace

void print_text(const Settings& s, const Report& report) {
  std::printf("dengine-bench: %s\n", describe(s).c_str());
  if (report.limits) print_limits_text(*report.limits);
  if (s.failover()) {
    print_failover_text(s, report);
  } else {
    print_loop_text(s, report);
  }
}

void print_json(const Settings& s, const Report& report) {
  json out = {
      {"workload", s.workload_name},
      {"clients", s.clients},
      {"key_size", s.key_size},
      {"value_size", s.value_size},
      {"keys", s.keys},
  };
  if (report.limits) out["limits"] = limits_json(*report.limits);
  if (s.failover()) {
    add_failover_json(s, report, &out);
  } else {
    add_loop_json(s, report, &out);
  }
  std::cout << out.dump() << "\n";
}

}  // namespace dengine::bench
