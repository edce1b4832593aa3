// The simulator's only source of randomness: a small seeded generator
// (xoshiro256**) whose output is the same on every platform and standard
// library, so a seed replays exactly anywhere.
#pragma once

#include <cstdint>
#include <vector>

namespace dengine::testkit {

class SimRandom {
 public:
  explicit SimRandom(uint64_t seed);

  uint64_t next();
  // Uniform in [0, bound); bound must be positive.
  uint64_t below(uint64_t bound);
  // Uniform in [lo, hi].
  int64_t between(int64_t lo, int64_t hi);
  // True with probability `p` (0 <= p <= 1).
  bool chance(double p);

  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }

 private:
  uint64_t state_[4];
};

// Mixes values into a well-spread 64-bit seed (splitmix64 finalizer).
uint64_t mix_seed(uint64_t a, uint64_t b);

}  // namespace dengine::testkit
