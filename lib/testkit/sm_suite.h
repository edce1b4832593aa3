// The conformance and performance suites for any dengine_state_machine
// (include/dengine.h), driven through a dengine_sm_builder so they work with
// any command format. C code reaches them through dengine_sm_conformance_run
// and dengine_sm_performance_run (lib/capi/testkit.cc).
//
// The stream the suite applies is the one a Raft log would commit: index 1,
// and every 50th index after it, is a new leader's no-op (term 1 + (index -
// 1) / 50); every other index i carries the builder's command number i. A
// case compares a machine's state with a reference machine that applied the
// same prefix of the stream once, in one chunk. Snapshots handed to
// install_snapshot come straight from generate_snapshot, so their metadata
// carries an all-zero sha256: the suite does not package snapshots.
#pragma once

#include <string>
#include <vector>

#include "dengine.h"

namespace dengine::testkit {

// Reads the caller's `builder` (any version up to the current one) into
// *out, or says why `builder` and `dir` cannot be used: NULL pointers, a
// version or size dengine does not know, missing required callbacks,
// non-NULL reserved slots, or a `dir` that is not an existing directory.
std::string read_sm_suite_input(const dengine_sm_builder* builder,
                                const char* dir, dengine_sm_builder* out);

struct SmCaseOutcome {
  std::string name;     // e.g. "redelivery_after_crash"
  std::string failure;  // "" when the case passed
};

// Runs every functional case, each in the fresh subdirectory dir/<name>
// (replacing any earlier run's). Never throws for a misbehaving machine: that
// is a failed case.
std::vector<SmCaseOutcome> run_sm_conformance(const dengine_sm_builder& builder,
                                              const std::string& dir);

// "ok <name>" or "FAIL <name>: <why>", one line per case.
std::string format_sm_report(const std::vector<SmCaseOutcome>& outcomes);

struct SmPerformance {
  double seconds_100 = 0;   // applying 100 entries, chunks of 10, flushed
  double seconds_1000 = 0;  // the same with 1,000 entries
  std::string failure;      // a failed callback or a missed limit; "" if none
  std::string report;       // the times and the verdict, for people
};

// Times 100 and 1,000 entries in fresh machines under dir/perf_100 and
// dir/perf_1000. Limits: 100 entries under 1 s, 1,000 under 30x the time of
// 100 (about 10x is expected; 100x would mean quadratic work).
SmPerformance run_sm_performance(const dengine_sm_builder& builder,
                                 const std::string& dir);

}  // namespace dengine::testkit
