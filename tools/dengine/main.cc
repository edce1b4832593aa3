// dengine: the command-line client of a dengined cluster. It finds the
// leader among the endpoints, follows redirects and retries within one
// session, so a retried write applies once.
//
// Exit status: 0 success; 1 the answer is "no" (key not found, compare-and-
// swap did not swap); 2 bad usage; 3 the cluster refused or could not be
// reached.
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

namespace {

using dengine::client::Client;
using dengine::client::ClientOptions;
using dengine::client::Status;
using dengine::net::ReadConsistency;

constexpr int kNo = 1;
constexpr int kFailed = 3;

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

void print_status(const dengine::net::NodeStatus& s) {
  std::cout << "node:           " << s.node_id << "\n"
            << "role:           " << s.role << "\n"
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dengine: command-line client of a dengine cluster"};
  app.require_subcommand(1);
  std::string endpoints = "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003";
  if (const char* env = std::getenv("DENGINE_ENDPOINTS")) endpoints = env;
  uint32_t timeout_ms = 5000;
  app.add_option("-e,--endpoints", endpoints,
                 "comma-separated host:port of the servers' client listeners "
                 "(default: $DENGINE_ENDPOINTS, else 127.0.0.1:8001-8003)");
  app.add_option("-t,--timeout", timeout_ms,
                 "milliseconds a command may take, retries included");

  std::string key, value, expected, prefix, address;
  std::string consistency = "default";
  uint64_t ttl_ms = 0, node_id = 0;
  uint32_t limit = 100;
  bool absent = false, learner = false;

  auto* put = app.add_subcommand("put", "set a key");
  put->add_option("key", key)->required();
  put->add_option("value", value)->required();
  put->add_option("--ttl", ttl_ms, "expire after this many milliseconds");
  auto* get = app.add_subcommand("get", "print a key's value");
  get->add_option("key", key)->required();
  get->add_option("--consistency", consistency,
                  "linearizable, lease or eventual (default: the server's)")
      ->check(CLI::IsMember({"default", "linearizable", "lease", "eventual"}));
  auto* del = app.add_subcommand("delete", "remove a key");
  del->add_option("key", key)->required();
  auto* cas = app.add_subcommand(
      "cas",
      "set KEY to VALUE if it holds EXPECTED (or, with --absent, if "
      "it does not exist)");
  cas->add_option("key", key)->required();
  cas->add_option("expected", expected);
  cas->add_option("value", value)->required();
  cas->add_flag("--absent", absent, "swap only if the key does not exist");
  auto* scan = app.add_subcommand("scan", "list keys starting with PREFIX");
  scan->add_option("prefix", prefix);
  scan->add_option("--limit", limit, "at most this many keys");
  scan->add_option("--consistency", consistency)
      ->check(CLI::IsMember({"default", "linearizable", "lease", "eventual"}));
  auto* status =
      app.add_subcommand("status", "the leader's view of the cluster");
  auto* members = app.add_subcommand("members", "the cluster's members");
  auto* transfer = app.add_subcommand(
      "transfer-leader",
      "hand leadership to NODE (default: the most caught-up)");
  transfer->add_option("node", node_id);
  auto* add = app.add_subcommand(
      "add-node",
      "add NODE at ADDRESS (its peer host:port) as a learner, then "
      "promote it to voter once it has caught up");
  add->add_option("node", node_id)->required();
  add->add_option("address", address)->required();
  add->add_flag("--learner", learner, "leave it a learner");
  auto* remove =
      app.add_subcommand("remove-node", "remove NODE from the cluster");
  remove->add_option("node", node_id)->required();
  auto* snapshot =
      app.add_subcommand("snapshot", "take a snapshot on the leader");
  CLI11_PARSE(app, argc, argv);

  if (cas->parsed() && !absent && cas->count("expected") == 0) {
    std::cerr << "dengine: cas needs EXPECTED, or --absent\n";
    return 2;
  }
  ClientOptions options;
  options.endpoints = dengine::net::split_address_list(endpoints);
  options.deadline = std::chrono::milliseconds(timeout_ms);
  options.max_retries = 1 << 20;  // the deadline bounds a command
  options.request_timeout =
      std::min(options.deadline, std::chrono::milliseconds(5000));
  std::unique_ptr<Client> client;
  if (Status s = Client::create(options, &client); !s.ok()) {
    std::cerr << "dengine: " << s.message << "\n";
    return 2;
  }

  if (put->parsed()) {
    return report(ttl_ms > 0
                      ? client->put_with_ttl(key, value,
                                             std::chrono::milliseconds(ttl_ms))
                      : client->put(key, value));
  }
  if (get->parsed()) {
    std::optional<std::string> found;
    if (Status s = client->get(key, &found, parse_consistency(consistency));
        !s.ok()) {
      return report(s);
    }
    if (!found) {
      std::cerr << "dengine: " << key << ": not found\n";
      return kNo;
    }
    std::cout << *found << "\n";
    return 0;
  }
  if (del->parsed()) {
    bool existed = false;
    if (Status s = client->erase(key, &existed); !s.ok()) return report(s);
    if (!existed) std::cerr << "dengine: " << key << " did not exist\n";
    return 0;
  }
  if (cas->parsed()) {
    bool swapped = false;
    std::optional<std::string> current;
    std::optional<std::string_view> want;
    if (!absent) want = expected;
    if (Status s =
            client->compare_and_swap(key, want, value, &swapped, &current);
        !s.ok()) {
      return report(s);
    }
    if (!swapped) {
      std::cerr << "dengine: not swapped; " << key << " is "
                << (current ? "\"" + *current + "\"" : "absent") << "\n";
      return kNo;
    }
    return 0;
  }
  if (scan->parsed()) {
    dengine::client::ScanResult result;
    if (Status s = client->scan_prefix(prefix, limit, &result,
                                       parse_consistency(consistency));
        !s.ok()) {
      return report(s);
    }
    for (const auto& [k, v] : result.entries)
      std::cout << k << "\t" << v << "\n";
    if (result.more) std::cerr << "dengine: more keys match (raise --limit)\n";
    return 0;
  }
  if (status->parsed()) {
    dengine::net::NodeStatus s;
    if (Status st = client->status(&s); !st.ok()) return report(st);
    print_status(s);
    std::cout << "members:\n";
    print_members(s.members);
    return 0;
  }
  if (members->parsed()) {
    std::vector<dengine::net::Member> list;
    if (Status s = client->members(&list); !s.ok()) return report(s);
    print_members(list);
    return 0;
  }
  if (transfer->parsed()) {
    if (Status s = client->transfer_leader(node_id); !s.ok()) return report(s);
    dengine::net::NodeStatus s;
    if (client->status(&s).ok()) std::cout << "leader: " << s.leader_id << "\n";
    return 0;
  }
  if (add->parsed()) {
    if (Status s = client->add_learner(node_id, address); !s.ok()) {
      return report(s);
    }
    if (learner) return 0;
    // A learner is promoted only once it has caught up: retry while busy.
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(timeout_ms);
    for (;;) {
      Status s = client->promote(node_id);
      if (s.code != DENGINE_ERR_BUSY ||
          std::chrono::steady_clock::now() >= until) {
        return report(s);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (remove->parsed()) return report(client->remove_node(node_id));
  if (snapshot->parsed()) {
    uint64_t index = 0;
    if (Status s = client->snapshot(&index); !s.ok()) return report(s);
    std::cout << "snapshot at index " << index << "\n";
    return 0;
  }
  return 2;
}
