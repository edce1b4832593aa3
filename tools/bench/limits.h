// The physical limits a run is measured against, taken before its workload:
// what one durable small append costs on the disk that holds the data, and
// what one round trip over loopback TCP costs. A replicated write cannot be
// faster than one fdatasync plus one round trip (the leader's and a
// follower's appends run in parallel), so dividing a run's figures by these
// makes runs on different machines, or on a busy one, comparable.
#pragma once

#include <cstdint>
#include <string>

namespace dengine::bench {

struct Limits {
  std::string dir;  // where the fdatasync was measured
  uint32_t fdatasync_samples = 0;
  double fdatasync_p50_us = 0;
  double fdatasync_p99_us = 0;
  uint32_t round_trips = 0;
  double loopback_rtt_p50_us = 0;
};

// Measures the limits: kFdatasyncSamples appends of 300 bytes at the end of
// a preallocated file in `dir` (made if missing), each followed by
// fdatasync, as the WAL appends; then 2,000 round trips of a 64-byte
// message between two threads over 127.0.0.1 with TCP_NODELAY. The file is
// removed afterwards. False, with *error, if a system call failed.
bool measure_limits(const std::string& dir, Limits* out, std::string* error);

// A run's figures divided by the limits (0 where a figure is missing).
struct LimitRatios {
  // Latency p50 / (fdatasync p50 + loopback RTT p50): how many times the
  // cheapest possible replicated write a request took at the median.
  double latency_p50_over_limit = 0;
  // Latency p99 / p50: how long the tail is, in medians.
  double latency_p99_over_p50 = 0;
  // Write ops/s × fdatasync p50 (in seconds): writes completed per
  // fdatasync interval, i.e. how many entries one sync carries on average
  // (above 1 only through group commit).
  double writes_per_fdatasync = 0;
};

// `writes_per_s` is 0 for a workload without writes.
LimitRatios limit_ratios(const Limits& limits, double latency_p50_us,
                         double latency_p99_us, double writes_per_s);

}  // namespace dengine::bench
