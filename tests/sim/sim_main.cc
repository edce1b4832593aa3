// dengine-sim: runs the deterministic cluster simulator for one seed or a range
// of seeds. Exit code 0 when every seed passes, 1 on the first violation (after
// printing the command that replays it), 2 on a usage error.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "testkit/sim_runner.h"

namespace {

using dengine::testkit::FaultMode;
using dengine::testkit::SimOptions;

constexpr const char* kUsage = R"(usage: dengine-sim [options]
  --seed N          run one seed (default 1)
  --seeds A-B       run every seed from A to B inclusive
  --faults MODE     none|loss|partition|crash|membership|transfer|mixed|
                    learners
                    (default mixed)
  --nodes N         initial voters, 1 to 7 (default 3)
  --duration MS     virtual milliseconds of faults before the heal
                    (default 20000)
  --verbose         print the event trace of every seed
  --help            this text
)";

bool parse_u64(std::string_view text, uint64_t* out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

int usage_error(const std::string& message) {
  std::cerr << "dengine-sim: " << message << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  SimOptions options;
  uint64_t first = 1;
  uint64_t last = 1;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    const std::string_view value = has_value ? argv[i + 1] : "";
    uint64_t number = 0;
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--verbose") {
      verbose = true;
      continue;
    } else if (!has_value) {
      return usage_error("missing value after " + std::string(arg));
    } else if (arg == "--seed") {
      if (!parse_u64(value, &first)) return usage_error("bad --seed");
      last = first;
    } else if (arg == "--seeds") {
      const size_t dash = value.find('-');
      if (dash == std::string_view::npos ||
          !parse_u64(value.substr(0, dash), &first) ||
          !parse_u64(value.substr(dash + 1), &last) || last < first) {
        return usage_error("bad --seeds (want A-B with A <= B)");
      }
    } else if (arg == "--faults") {
      if (!dengine::testkit::parse_fault_mode(value, &options.faults)) {
        return usage_error("unknown fault mode " + std::string(value));
      }
    } else if (arg == "--nodes") {
      if (!parse_u64(value, &number) || number < 1 || number > 7) {
        return usage_error("--nodes must be 1 to 7");
      }
      options.nodes = static_cast<int>(number);
    } else if (arg == "--duration") {
      if (!parse_u64(value, &number) || number == 0) {
        return usage_error("bad --duration");
      }
      options.duration_ms = static_cast<int64_t>(number);
    } else {
      return usage_error("unknown option " + std::string(arg));
    }
    ++i;
  }

  const auto started = std::chrono::steady_clock::now();
  dengine::testkit::SimStats totals;
  uint64_t runs = 0;
  int64_t worst_recovery_us = 0;
  for (uint64_t seed = first;; ++seed) {
    options.seed = seed;
    dengine::testkit::SimTrace trace(&std::cout, 0);
    const dengine::testkit::SimResult result =
        dengine::testkit::run_simulation(options, verbose ? &trace : nullptr);
    if (!result.ok) {
      std::cout << std::flush;
      std::cerr << dengine::testkit::failure_report(argv[0], options, result);
      return 1;
    }
    ++runs;
    totals.add(result.stats);
    worst_recovery_us = std::max(worst_recovery_us, result.recovery_us);
    if (verbose) {
      std::cout << "seed " << seed << " ok, recovered "
                << result.recovery_us / 1000.0 << " ms after the heal\n"
                << result.nodes;
    }
    if (last > first && runs % 10000 == 0) {
      std::cerr << "dengine-sim: " << runs << " seeds ok (last " << seed
                << ")\n";
    }
    if (seed == last) break;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  std::printf(
      "%llu seed(s) ok, faults %s, %.1fs; leaders %llu, applied %llu, "
      "acknowledged writes %llu, reads %llu, snapshots %llu/%llu "
      "(created/installed), crashes %llu (%llu in-flight disk writes "
      "lost), membership changes %llu, transfers %llu, messages %llu (%llu "
      "dropped); slowest "
      "recovery %.1f ms\n",
      static_cast<unsigned long long>(runs), to_string(options.faults), seconds,
      static_cast<unsigned long long>(totals.leaders_elected),
      static_cast<unsigned long long>(totals.entries_applied),
      static_cast<unsigned long long>(totals.proposals_acknowledged),
      static_cast<unsigned long long>(totals.reads_confirmed),
      static_cast<unsigned long long>(totals.snapshots_created),
      static_cast<unsigned long long>(totals.snapshots_installed),
      static_cast<unsigned long long>(totals.crashes),
      static_cast<unsigned long long>(totals.writes_lost),
      static_cast<unsigned long long>(totals.conf_changes_applied),
      static_cast<unsigned long long>(totals.transfers),
      static_cast<unsigned long long>(totals.messages_sent),
      static_cast<unsigned long long>(totals.messages_dropped),
      worst_recovery_us / 1000.0);
  return 0;
}
