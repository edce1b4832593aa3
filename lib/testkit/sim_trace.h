// The simulator's event trace: every line is stamped with the virtual time.
// It either streams to an output (--verbose) or keeps only the last lines,
// which a failure report shows. Tracing never draws randomness, so a traced
// run replays exactly like an untraced one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <ostream>
#include <string>

namespace dengine::testkit {

class SimTrace {
 public:
  // Streams to `out` when it is not null, and keeps the last `keep` lines.
  SimTrace(std::ostream* out, size_t keep);

  void add(int64_t time_us, const std::string& line);
  // The kept lines, oldest first, each ending in a newline.
  std::string tail() const;

 private:
  std::ostream* out_;
  size_t keep_;
  std::deque<std::string> lines_;
};

}  // namespace dengine::testkit
