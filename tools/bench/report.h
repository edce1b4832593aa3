// What dengine-bench prints after a run: a text report, or one JSON object
// (--json), of the workload's figures, the limits they were measured
// against, and their ratios to those limits.
#pragma once

#include <optional>
#include <vector>

#include "base/write_trace.h"
#include "closed_loop.h"
#include "failover.h"
#include "limits.h"
#include "settings.h"
#include "watchers.h"

namespace dengine::bench {

struct Report {
  std::optional<Limits> limits;  // unless --no-limits
  LoopResult loop;               // every workload but failover
  WatchReport watches;           // embedded with --watchers
  FailoverResult failover;       // --workload failover
  // Embedded with --breakdown: where the writes' time went.
  std::vector<dengine::base::write_trace::Span> breakdown;
};

void print_text(const Settings& s, const Report& report);
void print_json(const Settings& s, const Report& report);

}  // namespace dengine::bench
