// A histogram of observations (durations in seconds, batch sizes) over
// fixed buckets, as Prometheus histograms count them: bucket i counts the
// observations <= upper_bounds[i], and one more bucket counts the rest.
// observe() is lock-free and safe from any thread; snapshot() may run
// beside it (its count, sum and buckets may then be a few observations
// apart, never torn).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace dengine::base {

struct HistogramSnapshot {
  std::vector<double> upper_bounds;  // ascending
  // Observations per bucket (not cumulative): upper_bounds.size() + 1, the
  // last one for values above every bound.
  std::vector<uint64_t> counts;
  uint64_t count = 0;  // every observation
  double sum = 0;      // of every observation
};

class Histogram {
 public:
  // `upper_bounds` must be ascending and not empty.
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(double value);
  HistogramSnapshot snapshot() const;

  // `count` bounds: start, start * factor, start * factor^2, ...
  static std::vector<double> exponential(double start, double factor,
                                         int count);

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

}  // namespace dengine::base
