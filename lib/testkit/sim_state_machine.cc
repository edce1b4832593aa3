#include "testkit/sim_state_machine.h"

namespace dengine::testkit {

namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t fnv1a(uint64_t hash, std::string_view bytes) {
  for (const char c : bytes) {
    hash ^= static_cast<uint8_t>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

uint64_t fnv1a_word(uint64_t hash, uint64_t word) {
  for (int i = 0; i < 8; ++i) {
    hash ^= (word >> (8 * i)) & 0xff;
    hash *= kFnvPrime;
  }
  return hash;
}

void put_word(std::string* out, uint64_t word) {
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<char>(word >> (8 * i)));
}

uint64_t get_word(std::string_view in) {
  uint64_t word = 0;
  for (int i = 0; i < 8; ++i) {
    word |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  }
  return word;
}

}  // namespace

uint64_t entry_digest(const raft::Entry& entry) {
  return fnv1a(fnv1a_word(kFnvOffset, static_cast<uint64_t>(entry.type)),
               entry.data);
}

void SimStateMachine::apply(const raft::Entry& entry) {
  uint64_t hash = fnv1a_word(kFnvOffset, hash_);
  hash = fnv1a_word(hash, entry.index);
  hash = fnv1a_word(hash, entry.term);
  hash_ = fnv1a_word(hash, entry_digest(entry));
  applied_ = entry.index;
}

std::string SimStateMachine::serialize() const {
  std::string data;
  put_word(&data, applied_);
  put_word(&data, hash_);
  return data;
}

bool SimStateMachine::restore(std::string_view data) {
  if (data.size() != 16) return false;
  applied_ = get_word(data);
  hash_ = get_word(data.substr(8));
  return true;
}

void SimStateMachine::reset() {
  applied_ = 0;
  hash_ = 0;
}

}  // namespace dengine::testkit
