// A latency histogram in the manner of HdrHistogram: values below 256 are
// counted exactly, larger ones in 128 buckets per power of two, so every
// reported percentile is within 0.8% of a recorded value, with a fixed 58 KiB
// of counts whatever the range (nanoseconds up to 2^64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dengine::bench {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void record(uint64_t value);
  void merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const;
  // The value at quantile q in [0, 1]: the upper bound of the bucket holding
  // the ceil(q * count)-th smallest sample, never above max(). 0 when empty.
  uint64_t percentile(double q) const;

 private:
  static size_t bucket_of(uint64_t value);
  static uint64_t upper_bound_of(size_t bucket);

  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace dengine::bench
