#include "testkit/sim_random.h"

namespace dengine::testkit {

namespace {

uint64_t splitmix64(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

SimRandom::SimRandom(uint64_t seed) {
  for (uint64_t& word : state_) word = splitmix64(&seed);
}

uint64_t SimRandom::next() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

uint64_t SimRandom::below(uint64_t bound) {
  // Lemire's multiply-shift: unbiased enough for a simulator and portable.
  return static_cast<uint64_t>(
      (static_cast<unsigned __int128>(next()) * bound) >> 64);
}

int64_t SimRandom::between(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
}

bool SimRandom::chance(double p) {
  return static_cast<double>(next() >> 11) * 0x1.0p-53 < p;
}

uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ull);
  return splitmix64(&x);
}

}  // namespace dengine::testkit
