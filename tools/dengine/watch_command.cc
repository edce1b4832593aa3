#include "watch_command.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "client/watch.h"
#include "event_format.h"

namespace dengine::cli {

namespace {

constexpr int kFailed = 3;

// What wakes the main thread, one byte each, through a pipe: a signal
// handler may write to a pipe and do little else.
constexpr char kSignalled = 's';
constexpr char kEnded = 'e';
int wake_write_fd = -1;

void on_signal(int) {
  const int saved_errno = errno;
  [[maybe_unused]] const ssize_t n = ::write(wake_write_fd, &kSignalled, 1);
  errno = saved_errno;
}

void set_signal_handlers(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

// What the watch thread leaves for the main thread.
struct Outcome {
  std::mutex mu;
  std::optional<watch::WatchEnd> end;
  std::string output_error;  // writing stdout failed: why
};

client::WatchSpec spec_of(const WatchArgs& args) {
  client::WatchSpec spec;
  if (args.cluster) {
    spec.stream = watch::Stream::kCluster;
  } else {
    spec.key = args.key;
    spec.is_prefix = args.prefix;
  }
  spec.start_revision = args.from;
  return spec;
}

// One line, flushed, so that a reader of a pipe sees each event at once.
// Throws on a write error, which ends the watch.
void print_line(std::string line, Outcome* outcome) {
  line.push_back('\n');
  if (std::fwrite(line.data(), 1, line.size(), stdout) == line.size() &&
      std::fflush(stdout) == 0) {
    return;
  }
  std::string error = std::string("writing stdout: ") + std::strerror(errno);
  {
    std::lock_guard lock(outcome->mu);
    outcome->output_error = error;
  }
  throw std::runtime_error(error);
}

}  // namespace

CLI::App* add_watch_command(CLI::App& app, WatchArgs& a) {
  auto* watch = app.add_subcommand(
      "watch",
      "print each change of KEY (with --prefix: of every key starting with "
      "KEY) as it happens, one line each, until interrupted");
  watch->add_option("key", a.key,
                    "the key, or with --prefix the prefix (\"\": every key)");
  watch->add_flag("--prefix", a.prefix, "watch every key starting with KEY");
  watch->add_option("--from", a.from,
                    "print every change from this revision on, past ones "
                    "included (default: only changes from now)");
  watch->add_flag("--json", a.json, "one JSON object per line");
  watch->add_flag("--cluster", a.cluster,
                  "watch membership changes and leader elections instead "
                  "of keys");
  return watch;
}

bool watch_usage_ok(const CLI::App& watch, const WatchArgs& a) {
  const bool key_given = watch.count("key") > 0;
  if (a.cluster && (key_given || a.prefix)) {
    std::fprintf(stderr, "dengine: watch --cluster takes no KEY or --prefix\n");
    return false;
  }
  if (!a.cluster && !key_given) {
    std::fprintf(stderr, "dengine: watch needs KEY (or --cluster)\n");
    return false;
  }
  if (!a.cluster && !a.prefix && a.key.empty()) {
    std::fprintf(stderr,
                 "dengine: watch: the key is empty (--prefix \"\" watches "
                 "every key)\n");
    return false;
  }
  return true;
}

int run_watch(const client::ClientOptions& options, const WatchArgs& args) {
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "dengine: pipe: %s\n", std::strerror(errno));
    return kFailed;
  }
  wake_write_fd = wake[1];
  Outcome outcome;
  auto on_event = [&](const watch::Event& event) {
    print_line(args.json ? format_json(event) : format_text(event), &outcome);
  };
  auto on_end = [&](const watch::WatchEnd& end) {
    {
      std::lock_guard lock(outcome.mu);
      outcome.end = end;
    }
    [[maybe_unused]] const ssize_t n = ::write(wake[1], &kEnded, 1);
  };
  std::unique_ptr<client::Watch> watch;
  // Until the watch runs, SIGINT and SIGTERM keep their default action:
  // there is nothing to end cleanly yet.
  if (client::Status s = client::Watch::start(options, spec_of(args), on_event,
                                              on_end, &watch);
      !s.ok()) {
    std::fprintf(stderr, "dengine: cannot start the watch: %s: %s\n",
                 dengine_strerror(s.code), s.message.c_str());
    ::close(wake[0]);
    ::close(wake[1]);
    return kFailed;
  }
  set_signal_handlers(on_signal);
  std::fprintf(stderr, "dengine: watching from revision %llu\n",
               static_cast<unsigned long long>(watch->next_revision()));

  char why = 0;
  for (;;) {
    // EINTR: a signal's handler ran, and wrote its byte: read it.
    const ssize_t n = ::read(wake[0], &why, 1);
    if (n == 1 || (n < 0 && errno != EINTR)) break;
  }
  const bool interrupted = why == kSignalled;
  watch.reset();  // cancels it if it is still running; on_end has run
  set_signal_handlers(SIG_DFL);
  ::close(wake[0]);
  ::close(wake[1]);

  std::lock_guard lock(outcome.mu);
  const watch::WatchEnd& end = *outcome.end;
  if (!outcome.output_error.empty()) {
    std::fprintf(stderr, "dengine: %s\n", outcome.output_error.c_str());
    return kFailed;
  }
  const auto resume = static_cast<unsigned long long>(end.next_revision);
  if (interrupted && end.status == DENGINE_ERR_CANCELLED) {
    std::fprintf(stderr, "dengine: stopped; resume with --from %llu\n", resume);
    return 0;
  }
  std::fprintf(stderr,
               "dengine: the watch ended: %s: %s; resume with --from "
               "%llu\n",
               dengine_strerror(end.status), end.message.c_str(), resume);
  return kFailed;
}

}  // namespace dengine::cli
