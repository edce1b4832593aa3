#include "latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace dengine::bench {
namespace {

// Values below kExact get a bucket each; above, each power of two [2^k,
// 2^(k+1)) is split into kPerOctave buckets by its top 8 bits.
constexpr uint64_t kExact = 256;
constexpr uint64_t kPerOctave = 128;
constexpr size_t kBuckets = kExact + (64 - 8) * kPerOctave;

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

size_t LatencyHistogram::bucket_of(uint64_t value) {
  if (value < kExact) return value;
  const int shift = std::bit_width(value) - 8;  // >= 1: value >> shift is
  const uint64_t top = value >> shift;          // in [128, 256)
  return kExact + (shift - 1) * kPerOctave + (top - kPerOctave);
}

uint64_t LatencyHistogram::upper_bound_of(size_t bucket) {
  if (bucket < kExact) return bucket;
  const int shift = static_cast<int>((bucket - kExact) / kPerOctave) + 1;
  const uint64_t top = (bucket - kExact) % kPerOctave + kPerOctave;
  // For the last bucket (top + 1) << shift is 2^64, which wraps to 0: the
  // bound is then UINT64_MAX, as it should be.
  return ((top + 1) << shift) - 1;
}

void LatencyHistogram::record(uint64_t value) {
  ++counts_[bucket_of(value)];
  ++count_;
  max_ = std::max(max_, value);
  sum_ += static_cast<double>(value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0 : sum_ / static_cast<double>(count_);
}

uint64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(q, 0.0, 1.0);
  const uint64_t rank = std::max<uint64_t>(
      1,
      static_cast<uint64_t>(std::ceil(clamped * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(upper_bound_of(i), max_);
  }
  return max_;
}

}  // namespace dengine::bench
