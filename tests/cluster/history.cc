#include "history.h"

#include <cstdio>
#include <utility>

namespace dengine::cluster_test {

namespace {

std::string show(const Value& value) { return value ? *value : "(absent)"; }

}  // namespace

std::string describe(const Operation& op) {
  std::string text = "client " + std::to_string(op.client) + ": ";
  switch (op.kind) {
    case OpKind::kPut:
      text += "put(" + op.key + ", " + op.value + ")";
      break;
    case OpKind::kGet:
      text += "get(" + op.key + ")";
      if (op.known) text += " -> " + show(op.output);
      break;
    case OpKind::kCompareAndSwap:
      text += "cas(" + op.key + ", expected=" + show(op.expected) + ", " +
              op.value + ")";
      if (op.known) {
        text += std::string(op.swapped ? " -> swapped" : " -> not swapped") +
                ", " + op.key + "=" + show(op.output);
      }
      break;
  }
  const auto ms = [](int64_t ns) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", static_cast<double>(ns) / 1e6);
    return std::string(text);
  };
  text += " [" + ms(op.call_ns) + "ms, " +
          (op.known ? ms(op.return_ns) + "ms]" : "unknown]");
  return text;
}

History::History() : start_(std::chrono::steady_clock::now()) {}

int64_t History::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now() - start_)
      .count();
}

size_t History::call(Operation op) {
  std::lock_guard lock(mu_);
  op.call_ns = now_ns();
  op.known = false;
  operations_.push_back(std::move(op));
  discarded_.push_back(false);
  return operations_.size() - 1;
}

void History::returned(size_t handle, Value output, bool swapped) {
  std::lock_guard lock(mu_);
  Operation& op = operations_.at(handle);
  op.return_ns = now_ns();
  op.known = true;
  op.output = std::move(output);
  op.swapped = swapped;
}

void History::unknown(size_t handle) {
  std::lock_guard lock(mu_);
  operations_.at(handle).known = false;
}

void History::discard(size_t handle) {
  std::lock_guard lock(mu_);
  discarded_.at(handle) = true;
}

std::vector<Operation> History::operations() const {
  std::lock_guard lock(mu_);
  std::vector<Operation> kept;
  for (size_t i = 0; i < operations_.size(); ++i) {
    if (!discarded_[i]) kept.push_back(operations_[i]);
  }
  return kept;
}

}  // namespace dengine::cluster_test
