// dengined: one dengine node as a standalone server. Reads its TOML
// configuration (plus DENGINE_* environment overrides), runs the node with
// the built-in KV machine and serves clients over TCP until SIGINT or
// SIGTERM, then stops cleanly (everything applied is durable). SIGHUP
// reloads the TLS certificates (docs/operations.md, "TLS").
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>

#include "base/log.h"
#include "dengined/config.h"
#include "dengined/metrics_server.h"
#include "net/tls_context.h"
#include "node/node.h"

namespace {

const char* level_name(int level) {
  switch (level) {
    case DENGINE_LOG_DEBUG:
      return "DEBUG";
    case DENGINE_LOG_INFO:
      return "INFO";
    case DENGINE_LOG_WARN:
      return "WARN";
    default:
      return "ERROR";
  }
}

// One line per record: time, level, message.
void log_to_stderr(void*, int level, const char* message) {
  std::timespec now{};
  std::timespec_get(&now, TIME_UTC);
  std::tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, now.tv_nsec / 1'000'000,
               level_name(level), message);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dengined: a dengine cluster node serving clients over TCP"};
  std::string config_path;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "the node's TOML configuration")
      ->required();
  app.add_flag("--check", check_only,
               "validate the configuration (and environment) and exit");
  CLI11_PARSE(app, argc, argv);

  dengine::server::ServerConfig config;
  std::string error;
  if (!dengine::server::load_config(config_path,
                                    dengine::server::process_environment(),
                                    &config, &error)) {
    std::cerr << "dengined: " << error << "\n";
    return 2;
  }
  if (check_only) {
    // The node reads the TLS files only when it starts: read them now, so
    // that a bad certificate fails the check, not the start.
    std::shared_ptr<const dengine::net::TlsContext> tls;
    if (config.node.tls.enabled()) {
      if (std::string e =
              dengine::net::TlsContext::load(config.node.tls.files, &tls);
          !e.empty()) {
        std::cerr << "dengined: " << config_path << ": " << e << "\n";
        return 2;
      }
    }
    std::cout << "dengined: " << config_path << " is valid\n";
    return 0;
  }
  dengine::base::set_log_sink(log_to_stderr, nullptr, config.log_level);

  // Block the signals waited for before any thread starts, so every thread
  // inherits the mask and sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const dengine::raft::NodeId id = config.node.id;
  std::unique_ptr<dengine::node::Node> node;
  int rc = dengine::node::Node::start(config.node, &node, &error);
  if (rc != DENGINE_OK) {
    std::cerr << "dengined: node " << id << " cannot start: " << error << "\n";
    return 1;
  }
  std::unique_ptr<dengine::server::MetricsServer> metrics;
  if (!config.metrics_address.empty()) {
    metrics = std::make_unique<dengine::server::MetricsServer>(
        node.get(), config.metrics_address);
    if (std::string e = metrics->start(); !e.empty()) {
      std::cerr << "dengined: node " << id << ": " << e << "\n";
      node->stop();
      return 1;
    }
  }
  dengine::base::log_line(
      DENGINE_LOG_INFO,
      "dengined: node " + std::to_string(id) + " serving clients on " +
          config.node.client_address + ", peers on " +
          config.node.listen_address +
          (metrics ? ", metrics on http://" + config.metrics_address : ""));

  int signal = 0;
  for (;;) {
    sigwait(&signals, &signal);
    if (signal != SIGHUP) break;
    // Certificate rotation: new connections use the files as they are now;
    // a bad file keeps the old certificates (the node logs the reload).
    std::string reload_error;
    if (node->reload_tls(&reload_error) != DENGINE_OK) {
      dengine::base::log_line(
          DENGINE_LOG_WARN,
          "dengined: SIGHUP: TLS not reloaded: " + reload_error);
    }
  }
  dengine::base::log_line(DENGINE_LOG_INFO,
                          std::string("dengined: ") + strsignal(signal) +
                              ", stopping node " + std::to_string(id));
  if (metrics) metrics->stop();
  rc = node->stop();
  if (rc != DENGINE_OK) {
    std::cerr << "dengined: node " << id
              << " stopped with an error: " << node->status().fatal_message
              << "\n";
    return 1;
  }
  return 0;
}
