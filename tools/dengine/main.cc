// dengine: the command-line client of a dengined cluster. It finds the
// leader among the endpoints, follows redirects and retries within one
// session, so a retried write applies once.
//
// Exit status: 0 success (for `watch`: stopped by SIGINT or SIGTERM); 1 the
// answer is "no" (key not found, compare-and-swap did not swap); 2 bad
// usage; 3 the cluster refused or could not be reached, or a watch ended by
// itself.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "net/address.h"
#include "net/tls_context.h"
#include "watch_command.h"

namespace {

using dengine::client::Client;
using dengine::client::ClientOptions;
using dengine::client::Status;
using dengine::net::ReadConsistency;

constexpr int kNo = 1;
constexpr int kUsage = 2;
constexpr int kFailed = 3;

// Everything the command line can say; CLI11 fills it while parsing.
struct Args {
  std::string endpoints = "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003";
  uint32_t timeout_ms = 5000;
  std::string key, value, expected, prefix, address;
  std::string consistency = "default";
  uint64_t ttl_ms = 0, node_id = 0;
  uint32_t limit = 100;
  bool absent = false, learner = false;
  dengine::cli::WatchArgs watch;
  // TLS (docs/operations.md, "TLS"): on when tls_ca_file is given.
  std::string tls_ca_file, tls_cert_file, tls_key_file, tls_server_name;
};

// A subcommand and what runs it; returns the exit status.
struct Command {
  CLI::App* sub;
  int (*run)(Client& client, const Args& args);
};

int report(const Status& status) {
  if (status.ok()) return 0;
  std::cerr << "dengine: " << dengine_strerror(status.code) << ": "
            << status.message;
  if (status.leader_id != 0) {
    std::cerr << " (leader: node " << status.leader_id;
    if (!status.leader_address.empty())
      std::cerr << " at " << status.leader_address;
    std::cerr << ")";
  }
  std::cerr << "\n";
  return kFailed;
}

ReadConsistency parse_consistency(const std::string& name) {
  if (name == "lease") return ReadConsistency::kLease;
  if (name == "eventual") return ReadConsistency::kEventual;
  if (name == "linearizable") return ReadConsistency::kLinearizable;
  return ReadConsistency::kDefault;
}

// The names `dengine status` prints, as the Go binding's Role.String does.
const char* role_name(dengine::raft::Role role) {
  switch (role) {
    case dengine::raft::Role::kFollower:
      return "follower";
    case dengine::raft::Role::kPreCandidate:
      return "pre-candidate";
    case dengine::raft::Role::kCandidate:
      return "candidate";
    case dengine::raft::Role::kLeader:
      return "leader";
  }
  return "unknown";
}

void print_status(const dengine::net::NodeStatus& s) {
  std::cout << "node:           " << s.node_id << "\n"
            << "role:           " << role_name(s.role) << "\n"
            << "term:           " << s.term << "\n"
            << "leader:         " << s.leader_id
            << (s.leader_address.empty() ? "" : " (" + s.leader_address + ")")
            << "\n"
            << "commit index:   " << s.commit_index << "\n"
            << "applied index:  " << s.applied_index << "\n"
            << "last log index: " << s.last_log_index << "\n"
            << "snapshot index: " << s.snapshot_index << "\n";
}

void print_members(const std::vector<dengine::net::Member>& members) {
  for (const auto& m : members) {
    std::cout << m.id << "\t" << (m.voter ? "voter" : "learner") << "\t"
              << m.address << "\n";
  }
}

// ---------------------------------------------------------------------------
// The commands

int run_put(Client& client, const Args& a) {
  if (a.ttl_ms > 0) {
    return report(client.put_with_ttl(a.key, a.value,
                                      std::chrono::milliseconds(a.ttl_ms)));
  }
  return report(client.put(a.key, a.value));
}

int run_get(Client& client, const Args& a) {
  std::optional<std::string> found;
  if (Status s = client.get(a.key, &found, parse_consistency(a.consistency));
      !s.ok()) {
    return report(s);
  }
  if (!found) {
    std::cerr << "dengine: " << a.key << ": not found\n";
    return kNo;
  }
  std::cout << *found << "\n";
  return 0;
}

int run_delete(Client& client, const Args& a) {
  bool existed = false;
  if (Status s = client.erase(a.key, &existed); !s.ok()) return report(s);
  if (!existed) std::cerr << "dengine: " << a.key << " did not exist\n";
  return 0;
}

int run_cas(Client& client, const Args& a) {
  bool swapped = false;
  std::optional<std::string> current;
  std::optional<std::string_view> want;
  if (!a.absent) want = a.expected;
  if (Status s =
          client.compare_and_swap(a.key, want, a.value, &swapped, &current);
      !s.ok()) {
    return report(s);
  }
  if (!swapped) {
    std::cerr << "dengine: not swapped; " << a.key << " is "
              << (current ? "\"" + *current + "\"" : "absent") << "\n";
    return kNo;
  }
  return 0;
}

int run_scan(Client& client, const Args& a) {
  dengine::client::ScanResult result;
  if (Status s = client.scan_prefix(a.prefix, a.limit, &result,
                                    parse_consistency(a.consistency));
      !s.ok()) {
    return report(s);
  }
  for (const auto& [k, v] : result.entries) std::cout << k << "\t" << v << "\n";
  if (result.more) std::cerr << "dengine: more keys match (raise --limit)\n";
  return 0;
}

int run_status(Client& client, const Args&) {
  dengine::net::NodeStatus s;
  if (Status st = client.status(&s); !st.ok()) return report(st);
  print_status(s);
  std::cout << "members:\n";
  print_members(s.members);
  return 0;
}

int run_metrics(Client& client, const Args&) {
  std::string text;
  if (Status s = client.metrics(&text); !s.ok()) return report(s);
  std::cout << text;
  return 0;
}

int run_members(Client& client, const Args&) {
  std::vector<dengine::net::Member> list;
  if (Status s = client.members(&list); !s.ok()) return report(s);
  print_members(list);
  return 0;
}

int run_transfer_leader(Client& client, const Args& a) {
  if (Status s = client.transfer_leader(a.node_id); !s.ok()) return report(s);
  dengine::net::NodeStatus s;
  if (client.status(&s).ok()) std::cout << "leader: " << s.leader_id << "\n";
  return 0;
}

int run_add_node(Client& client, const Args& a) {
  if (Status s = client.add_learner(a.node_id, a.address); !s.ok()) {
    return report(s);
  }
  if (a.learner) return 0;
  // A learner is promoted only once it has caught up: retry while busy.
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(a.timeout_ms);
  for (;;) {
    Status s = client.promote(a.node_id);
    if (s.code != DENGINE_ERR_BUSY ||
        std::chrono::steady_clock::now() >= until) {
      return report(s);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int run_remove_node(Client& client, const Args& a) {
  return report(client.remove_node(a.node_id));
}

int run_snapshot(Client& client, const Args&) {
  uint64_t index = 0;
  if (Status s = client.snapshot(&index); !s.ok()) return report(s);
  std::cout << "snapshot at index " << index << "\n";
  return 0;
}

int run_watch(Client& client, const Args& a) {
  return dengine::cli::run_watch(client.options(), a.watch);
}

// ---------------------------------------------------------------------------
// The command line

void add_global_options(CLI::App& app, Args& a) {
  if (const char* env = std::getenv("DENGINE_ENDPOINTS")) a.endpoints = env;
  app.add_option("-e,--endpoints", a.endpoints,
                 "comma-separated host:port of the servers' client listeners "
                 "(default: $DENGINE_ENDPOINTS, else 127.0.0.1:8001-8003)");
  app.add_option("-t,--timeout", a.timeout_ms,
                 "milliseconds a command may take, retries included");
  const std::pair<const char*, std::string*> tls_variables[] = {
      {"DENGINE_CLIENT_TLS_CA_FILE", &a.tls_ca_file},
      {"DENGINE_CLIENT_TLS_CERT_FILE", &a.tls_cert_file},
      {"DENGINE_CLIENT_TLS_KEY_FILE", &a.tls_key_file},
      {"DENGINE_CLIENT_TLS_SERVER_NAME", &a.tls_server_name}};
  for (const auto& [name, field] : tls_variables) {
    if (const char* env = std::getenv(name)) *field = env;
  }
  app.add_option("--tls-ca-file", a.tls_ca_file,
                 "speak TLS; the servers' certificates must chain to this PEM "
                 "CA bundle (default: $DENGINE_CLIENT_TLS_CA_FILE)");
  app.add_option("--tls-cert-file", a.tls_cert_file,
                 "this client's PEM certificate, for servers that require one "
                 "(default: $DENGINE_CLIENT_TLS_CERT_FILE)");
  app.add_option(
      "--tls-key-file", a.tls_key_file,
      "the key of --tls-cert-file (default: $DENGINE_CLIENT_TLS_KEY_FILE)");
  app.add_option("--tls-server-name", a.tls_server_name,
                 "the name the servers' certificates must carry (default: "
                 "each endpoint's host; $DENGINE_CLIENT_TLS_SERVER_NAME)");
}

void add_kv_commands(CLI::App& app, Args& a, std::vector<Command>* commands) {
  auto* put = app.add_subcommand("put", "set a key");
  put->add_option("key", a.key)->required();
  put->add_option("value", a.value)->required();
  put->add_option("--ttl", a.ttl_ms, "expire after this many milliseconds");
  auto* get = app.add_subcommand("get", "print a key's value");
  get->add_option("key", a.key)->required();
  get->add_option("--consistency", a.consistency,
                  "linearizable, lease or eventual (default: the server's)")
      ->check(CLI::IsMember({"default", "linearizable", "lease", "eventual"}));
  auto* del = app.add_subcommand("delete", "remove a key");
  del->add_option("key", a.key)->required();
  auto* cas = app.add_subcommand(
      "cas",
      "set KEY to VALUE if it holds EXPECTED (or, with --absent, if "
      "it does not exist)");
  cas->add_option("key", a.key)->required();
  cas->add_option("expected", a.expected);
  cas->add_option("value", a.value)->required();
  cas->add_flag("--absent", a.absent, "swap only if the key does not exist");
  auto* scan = app.add_subcommand("scan", "list keys starting with PREFIX");
  scan->add_option("prefix", a.prefix);
  scan->add_option("--limit", a.limit, "at most this many keys");
  scan->add_option("--consistency", a.consistency)
      ->check(CLI::IsMember({"default", "linearizable", "lease", "eventual"}));
  auto* watch = dengine::cli::add_watch_command(app, a.watch);
  commands->insert(commands->end(), {{put, run_put},
                                     {get, run_get},
                                     {del, run_delete},
                                     {cas, run_cas},
                                     {scan, run_scan},
                                     {watch, run_watch}});
}

void add_cluster_commands(CLI::App& app, Args& a,
                          std::vector<Command>* commands) {
  auto* status =
      app.add_subcommand("status", "the leader's view of the cluster");
  auto* members = app.add_subcommand("members", "the cluster's members");
  auto* transfer = app.add_subcommand(
      "transfer-leader",
      "hand leadership to NODE (default: the most caught-up)");
  transfer->add_option("node", a.node_id);
  auto* add = app.add_subcommand(
      "add-node",
      "add NODE at ADDRESS (its peer host:port) as a learner, then "
      "promote it to voter once it has caught up");
  add->add_option("node", a.node_id)->required();
  add->add_option("address", a.address)->required();
  add->add_flag("--learner", a.learner, "leave it a learner");
  auto* remove =
      app.add_subcommand("remove-node", "remove NODE from the cluster");
  remove->add_option("node", a.node_id)->required();
  auto* snapshot =
      app.add_subcommand("snapshot", "take a snapshot on the leader");
  auto* metrics = app.add_subcommand(
      "metrics",
      "print a node's metrics in the Prometheus text format (the node "
      "--endpoints names first; with several, the leader's once found)");
  commands->insert(commands->end(), {{status, run_status},
                                     {metrics, run_metrics},
                                     {members, run_members},
                                     {transfer, run_transfer_leader},
                                     {add, run_add_node},
                                     {remove, run_remove_node},
                                     {snapshot, run_snapshot}});
}

// What CLI11 cannot check by itself; prints the problem.
bool usage_ok(const CLI::App& app, const Args& a) {
  const CLI::App* cas = app.get_subcommand("cas");
  if (cas->parsed() && !a.absent && cas->count("expected") == 0) {
    std::cerr << "dengine: cas needs EXPECTED, or --absent\n";
    return false;
  }
  const CLI::App* watch = app.get_subcommand("watch");
  return !watch->parsed() || dengine::cli::watch_usage_ok(*watch, a.watch);
}

// The client every command uses; nullptr (and the problem printed) if the
// options are unusable.
std::unique_ptr<Client> connect(const Args& a) {
  ClientOptions options;
  options.endpoints = dengine::net::split_address_list(a.endpoints);
  options.deadline = std::chrono::milliseconds(a.timeout_ms);
  options.max_retries = 1 << 20;  // the deadline bounds a command
  options.request_timeout =
      std::min(options.deadline, std::chrono::milliseconds(5000));
  if (!a.tls_ca_file.empty() || !a.tls_cert_file.empty() ||
      !a.tls_key_file.empty()) {
    const dengine::net::TlsOptions files{
        a.tls_cert_file, a.tls_key_file, a.tls_ca_file,
        dengine::net::TlsVersion::k1_2, dengine::net::TlsVersion::k1_3};
    std::string e = dengine::net::validate(files, /*cert_required=*/false);
    if (e.empty()) e = dengine::net::TlsContext::load(files, &options.tls);
    if (!e.empty()) {
      std::cerr << "dengine: " << e << "\n";
      return nullptr;
    }
    options.tls_server_name = a.tls_server_name;
  }
  std::unique_ptr<Client> client;
  if (Status s = Client::create(options, &client); !s.ok()) {
    std::cerr << "dengine: " << s.message << "\n";
    return nullptr;
  }
  return client;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dengine: command-line client of a dengine cluster"};
  app.require_subcommand(1);
  Args args;
  std::vector<Command> commands;
  add_global_options(app, args);
  add_kv_commands(app, args, &commands);
  add_cluster_commands(app, args, &commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and the like exit 0; a parse error is bad usage.
    return app.exit(e) == 0 ? 0 : kUsage;
  }

  if (!usage_ok(app, args)) return kUsage;
  std::unique_ptr<Client> client = connect(args);
  if (client == nullptr) return kUsage;
  for (const Command& command : commands) {
    if (command.sub->parsed()) return command.run(*client, args);
  }
  return kUsage;
}
