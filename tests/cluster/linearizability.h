// A linearizability checker for histories of key-value registers with put,
// get and compare-and-swap (history.h). Each key is an independent register,
// initially absent, and linearizability is compositional, so every key is
// checked on its own.
//
// The search is Wing & Gong's, with Lowe's memoization, as in porcupine:
// walk the calls in time order, linearize one whose effect the register
// allows, backtrack at the first return of an operation not yet linearized,
// and never revisit a (set of linearized operations, register value) pair.
// An operation with an unknown outcome returns after everything else, so it
// may take effect at any point after its call, or (equivalently, for what
// the others observed) at the very end.
#pragma once

#include <string>
#include <vector>

#include "history.h"

namespace dengine::cluster_test {

struct LinearizabilityResult {
  bool linearizable = true;
  // When not: the key, the longest linearizable order found, and the
  // operations none of which could come next.
  std::string explanation;
};

LinearizabilityResult check_linearizable(const std::vector<Operation>& history);

}  // namespace dengine::cluster_test
