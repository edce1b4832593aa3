// One-line, stable text forms of the core's values, for protocol traces in
// scenario tests, simulator failure reports and debug logs.
#pragma once

#include <string>
#include <vector>

#include "raft/types.h"

namespace dengine::raft {

// "1/5 EntryNormal \"put x\"" (term/index type data)
std::string describe(const Entry& entry);
std::string describe(const std::vector<Entry>& entries);
// "1->2 Append term=3 log_term=2 index=5 commit=4 entries=[...]"; only the
// fields meaningful for the type are shown.
std::string describe(const Message& message);
std::string describe(const HardState& hard_state);
std::string describe(const ConfState& conf);
std::string describe(const SoftState& soft_state);
// Multi-line: every non-empty part of the Ready.
std::string describe(const Ready& ready);

}  // namespace dengine::raft
