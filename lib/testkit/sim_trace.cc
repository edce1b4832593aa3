#include "testkit/sim_trace.h"

#include <cstdio>

namespace dengine::testkit {

SimTrace::SimTrace(std::ostream* out, size_t keep) : out_(out), keep_(keep) {}

void SimTrace::add(int64_t time_us, const std::string& line) {
  char stamp[32];
  std::snprintf(stamp, sizeof(stamp), "[%8.3fms] ",
                static_cast<double>(time_us) / 1000.0);
  std::string stamped = stamp + line;
  if (out_ != nullptr) *out_ << stamped << '\n';
  if (keep_ == 0) return;
  if (lines_.size() == keep_) lines_.pop_front();
  lines_.push_back(std::move(stamped));
}

std::string SimTrace::tail() const {
  std::string out;
  for (const std::string& line : lines_) {
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace dengine::testkit
