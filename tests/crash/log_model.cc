#include "log_model.h"

namespace dengine::crash {

void apply(const LogOperation& op, LogModel* log) {
  switch (op.kind) {
    case LogOperation::Kind::kAppend:
      if (op.entry.index <= log->last()) {
        log->entries.resize(op.entry.index - log->first);
      }
      log->entries.push_back(op.entry);
      break;
    case LogOperation::Kind::kTruncate:
      if (op.index <= log->last()) log->entries.resize(op.index - log->first);
      break;
    case LogOperation::Kind::kPurge:
      if (op.index < log->first) break;  // purged already
      // A purge that outruns entries lost in the crash leaves an empty log
      // after the purge point.
      if (op.index >= log->last()) {
        log->entries.clear();
      } else if (op.index >= log->first) {
        log->entries.erase(
            log->entries.begin(),
            log->entries.begin() +
                static_cast<ptrdiff_t>(op.index - log->first + 1));
      }
      log->first = op.index + 1;
      log->purge_term = op.term;
      break;
    case LogOperation::Kind::kReset:
      log->entries.clear();
      log->first = op.index + 1;
      log->purge_term = op.term;
      break;
  }
}

bool crash_may_leave(const LogModel& synced,
                     const std::vector<LogOperation>& since,
                     const LogModel& recovered) {
  LogModel prefix = synced;
  for (size_t kept = 0;; ++kept) {
    LogModel candidate = prefix;
    for (size_t k = kept; k < since.size(); ++k) {
      if (since[k].durable_at_once()) apply(since[k], &candidate);
    }
    if (candidate == recovered) return true;
    if (kept == since.size()) return false;
    apply(since[kept], &prefix);
  }
}

std::string describe(const LogModel& log) {
  std::string out = "first " + std::to_string(log.first) + " (purge term " +
                    std::to_string(log.purge_term) + ") last " +
                    std::to_string(log.last()) + ", terms:";
  for (const raft::Entry& entry : log.entries) {
    out += " " + std::to_string(entry.term);
  }
  return out;
}

}  // namespace dengine::crash
