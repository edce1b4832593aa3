// `dengine watch`: streams a key's, a prefix's or the cluster's events to
// stdout, one line each (event_format.h), until SIGINT or SIGTERM (exit 0)
// or until the watch ends by itself (exit 3, with the revision to resume
// from on stderr). The watch rides out servers going away: it reconnects to
// the next endpoint and resumes where it was, without repeating or missing
// an event.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "client/client.h"

namespace dengine::cli {

struct WatchArgs {
  std::string key;  // the key, or with `prefix` the prefix
  bool prefix = false;
  bool cluster = false;  // the membership and leader stream instead
  uint64_t from = 0;     // 0: from now
  bool json = false;
};

// Adds the subcommand, which fills `args`.
CLI::App* add_watch_command(CLI::App& app, WatchArgs& args);
// What CLI11 cannot check by itself; prints the problem.
bool watch_usage_ok(const CLI::App& watch, const WatchArgs& args);
// Runs the watch on the servers of `options` (whose deadline bounds its
// start); returns the exit status.
int run_watch(const client::ClientOptions& options, const WatchArgs& args);

}  // namespace dengine::cli
