#include "linearizability.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <unordered_set>
#include <utility>

namespace dengine::cluster_test {

namespace {

// Register values interned as small integers; kAbsent: no value.
constexpr int kAbsent = -1;

struct Step {
  OpKind kind = OpKind::kGet;
  bool known = true;
  int expected = kAbsent;
  int value = kAbsent;
  int output = kAbsent;
  bool swapped = false;
};

// The register's value after `op` runs on `state`, or nullopt when `op`
// cannot run there (its recorded result says otherwise).
std::optional<int> apply(const Step& op, int state) {
  switch (op.kind) {
    case OpKind::kPut:
      return op.value;
    case OpKind::kGet:
      if (op.known && op.output != state) return std::nullopt;
      return state;
    case OpKind::kCompareAndSwap: {
      const bool match = state == op.expected;
      const int next = match ? op.value : state;
      if (op.known && (op.swapped != match || op.output != next)) {
        return std::nullopt;
      }
      return next;
    }
  }
  return std::nullopt;
}

class Bitset {
 public:
  explicit Bitset(size_t bits) : words_((bits + 63) / 64) {}
  void set(size_t bit) { words_[bit / 64] |= uint64_t{1} << (bit % 64); }
  void clear(size_t bit) { words_[bit / 64] &= ~(uint64_t{1} << (bit % 64)); }
  bool test(size_t bit) const { return words_[bit / 64] >> (bit % 64) & 1; }
  size_t hash() const {
    size_t h = 0;
    for (uint64_t w : words_) h = h * 1099511628211u ^ std::hash<uint64_t>{}(w);
    return h;
  }
  bool operator==(const Bitset&) const = default;

 private:
  std::vector<uint64_t> words_;
};

// A configuration of the search already explored.
struct Visited {
  Bitset linearized;
  int state;
  bool operator==(const Visited&) const = default;
};

struct VisitedHash {
  size_t operator()(const Visited& v) const {
    return v.linearized.hash() * 31 + std::hash<int>{}(v.state);
  }
};

// A call or return event in the doubly linked list of events still to be
// linearized; node 0 is the head. `match` links a call and its return.
struct Event {
  size_t op = 0;
  bool call = false;
  int prev = -1;
  int next = -1;
  int match = -1;
};

class KeyChecker {
 public:
  KeyChecker(std::string key, std::vector<const Operation*> ops)
      : key_(std::move(key)), ops_(std::move(ops)) {
    std::map<std::string, int> ids;
    const auto intern = [&ids](const Value& value) {
      if (!value) return kAbsent;
      return ids.emplace(*value, static_cast<int>(ids.size())).first->second;
    };
    for (const Operation* op : ops_) {
      steps_.push_back(Step{op->kind, op->known, intern(op->expected),
                            intern(op->value), intern(op->output),
                            op->swapped});
    }
    build_events();
  }

  LinearizabilityResult check() {
    std::vector<std::pair<int, int>> stack;  // (call event, state before it)
    std::unordered_set<Visited, VisitedHash> visited;
    Bitset linearized(ops_.size());
    int state = kAbsent;
    int entry = events_[0].next;
    while (events_[0].next != -1) {
      const Event& e = events_[entry];
      if (e.call) {
        if (std::optional<int> next = apply(steps_[e.op], state)) {
          Bitset grown = linearized;
          grown.set(e.op);
          if (visited.insert(Visited{grown, *next}).second) {
            stack.emplace_back(entry, state);
            state = *next;
            linearized = std::move(grown);
            lift(entry);
            if (stack.size() > longest_.size()) {
              longest_.clear();
              for (const auto& [call, before] : stack) {
                longest_.push_back(events_[call].op);
              }
            }
            entry = events_[0].next;
            continue;
          }
        }
        entry = e.next;
      } else {
        // An operation returned before being linearized: undo the last
        // choice and try the call after it.
        if (stack.empty()) return failure();
        const auto [call, before] = stack.back();
        stack.pop_back();
        state = before;
        linearized.clear(events_[call].op);
        unlift(call);
        entry = events_[call].next;
      }
    }
    return {};
  }

 private:
  void build_events() {
    struct Stamp {
      int64_t time;
      bool is_return;  // calls first at equal times: they overlap
      size_t op;
    };
    std::vector<Stamp> stamps;
    for (size_t i = 0; i < ops_.size(); ++i) {
      stamps.push_back({ops_[i]->call_ns, false, i});
      stamps.push_back({ops_[i]->known ? ops_[i]->return_ns
                                       : std::numeric_limits<int64_t>::max(),
                        true, i});
    }
    std::stable_sort(stamps.begin(), stamps.end(),
                     [](const Stamp& a, const Stamp& b) {
                       if (a.time != b.time) return a.time < b.time;
                       return a.is_return < b.is_return;
                     });
    events_.resize(stamps.size() + 1);
    std::vector<int> call_of(ops_.size(), -1);
    for (size_t i = 0; i < stamps.size(); ++i) {
      const int node = static_cast<int>(i + 1);
      Event& e = events_[node];
      e.op = stamps[i].op;
      e.call = !stamps[i].is_return;
      e.prev = node - 1;
      e.next = i + 1 < stamps.size() ? node + 1 : -1;
      if (e.call) {
        call_of[e.op] = node;
      } else {
        e.match = call_of[e.op];
        events_[e.match].match = node;
      }
    }
    events_[0].next = stamps.empty() ? -1 : 1;
  }

  // Takes a call and its return out of the list.
  void lift(int call) {
    Event& c = events_[call];
    events_[c.prev].next = c.next;
    events_[c.next].prev = c.prev;
    Event& r = events_[c.match];
    events_[r.prev].next = r.next;
    if (r.next != -1) events_[r.next].prev = r.prev;
  }

  // Puts them back, in the reverse order.
  void unlift(int call) {
    Event& c = events_[call];
    Event& r = events_[c.match];
    events_[r.prev].next = c.match;
    if (r.next != -1) events_[r.next].prev = c.match;
    events_[c.prev].next = call;
    events_[c.next].prev = call;
  }

  LinearizabilityResult failure() const {
    std::string text = "key " + key_ + ": not linearizable (" +
                       std::to_string(ops_.size()) + " operations).\n";
    text +=
        "Longest linearizable order found: " + std::to_string(longest_.size()) +
        " operations, ending with:\n";
    const size_t shown = 8;
    for (size_t i = longest_.size() > shown ? longest_.size() - shown : 0;
         i < longest_.size(); ++i) {
      text += "  " + describe(*ops_[longest_[i]]) + "\n";
    }
    // The operations left out, earliest return first: none of the first
    // ones could come next.
    std::vector<bool> placed(ops_.size(), false);
    for (size_t op : longest_) placed[op] = true;
    std::vector<size_t> left;
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (!placed[i]) left.push_back(i);
    }
    const auto return_time = [this](size_t i) {
      return ops_[i]->known ? ops_[i]->return_ns
                            : std::numeric_limits<int64_t>::max();
    };
    std::stable_sort(left.begin(), left.end(), [&](size_t a, size_t b) {
      return return_time(a) < return_time(b);
    });
    text += "Then none of these fits:\n";
    for (size_t i = 0; i < left.size() && i < shown; ++i) {
      text += "  " + describe(*ops_[left[i]]) + "\n";
    }
    return LinearizabilityResult{false, text};
  }

  const std::string key_;
  const std::vector<const Operation*> ops_;
  std::vector<Step> steps_;
  std::vector<Event> events_;
  std::vector<size_t> longest_;  // ops, in the longest order found
};

}  // namespace

LinearizabilityResult check_linearizable(
    const std::vector<Operation>& history) {
  std::map<std::string, std::vector<const Operation*>> by_key;
  for (const Operation& op : history) by_key[op.key].push_back(&op);
  LinearizabilityResult result;
  for (auto& [key, ops] : by_key) {
    LinearizabilityResult one = KeyChecker(key, std::move(ops)).check();
    if (!one.linearizable) {
      result.linearizable = false;
      result.explanation += one.explanation;
    }
  }
  return result;
}

}  // namespace dengine::cluster_test
