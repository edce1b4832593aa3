// dengined: one dengine node as a standalone server. Reads its TOML
// configuration (plus DENGINE_* environment overrides), runs the node with
// the built-in KV machine and serves clients over TCP until SIGINT or
// SIGTERM, then stops cleanly (everything applied is durable).
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
    std::cout << "dengined: " << config_path << " is valid\n";
    return 0;
  }
  dengine::base::set_log_sink(log_to_stderr, nullptr, config.log_level);

  // Block the stop signals before any thread starts, so every thread
  // inherits the mask and sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

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
  sigwait(&stop_signals, &signal);
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
