#include "embedded_cluster.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>
#include <utility>

#include "node/kv.h"

namespace dengine::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A loopback port no one listens on right now (the kernel's choice for a
// bind to port 0). Another process may take it before the node binds it;
// the node then fails to start with a clear error.
bool free_port(uint16_t* port, std::string* error) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    *error = "socket() failed";
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok =
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) {
    *error = "no free loopback port";
    return false;
  }
  *port = ntohs(addr.sin_port);
  return true;
}

bool make_temp_dir(fs::path* out, std::string* error) {
  std::string pattern =
      (fs::temp_directory_path() / "dengine-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    *error = "cannot create a directory like " + pattern;
    return false;
  }
  *out = pattern;
  return true;
}

}  // namespace

std::unique_ptr<EmbeddedCluster> EmbeddedCluster::start(
    const EmbeddedClusterOptions& options, std::string* error) {
  std::unique_ptr<EmbeddedCluster> cluster(new EmbeddedCluster());
  if (options.data_dir.empty()) {
    if (!make_temp_dir(&cluster->data_dir_, error)) return nullptr;
    cluster->remove_data_dir_ = true;
  } else {
    cluster->data_dir_ = options.data_dir;
  }

  std::vector<node::Member> members;
  for (int i = 1; i <= options.nodes; ++i) {
    uint16_t port = 0;
    if (!free_port(&port, error)) return nullptr;
    members.push_back({static_cast<raft::NodeId>(i),
                       "127.0.0.1:" + std::to_string(port), true});
  }
  for (const node::Member& self : members) {
    node::NodeOptions node_options;
    node_options.id = self.id;
    node_options.data_dir =
        (cluster->data_dir_ / ("node" + std::to_string(self.id))).string();
    node_options.listen_address = self.address;
    node_options.log_backend = options.log_backend;
    node_options.snapshot_policy = options.snapshot_policy;
    for (const node::Member& member : members) {
      node_options.initial_voters.push_back(member.id);
      if (member.id != self.id) node_options.peers.push_back(member);
    }
    std::unique_ptr<node::Node> node;
    std::string node_error;
    if (node::Node::start(std::move(node_options), &node, &node_error) !=
        DENGINE_OK) {
      *error = "node " + std::to_string(self.id) + ": " + node_error;
      return nullptr;
    }
    cluster->nodes_.push_back(std::move(node));
  }
  return cluster;
}

EmbeddedCluster::~EmbeddedCluster() {
  nodes_.clear();
  if (remove_data_dir_) {
    std::error_code ignored;
    fs::remove_all(data_dir_, ignored);
  }
}

node::Node* EmbeddedCluster::wait_for_leader(std::chrono::milliseconds limit,
                                             std::string* error) {
  const Clock::time_point deadline = Clock::now() + limit;
  std::string last_error = "no leader elected";
  while (Clock::now() < deadline) {
    for (const auto& node : nodes_) {
      if (node->status().role != raft::Role::kLeader) continue;
      // A new leader accepts writes once its term's no-op commits.
      const node::KvWriteReply reply =
          node::kv_write(*node, sm::KvCommand::put("dengine-bench", ""),
                         nullptr, std::chrono::milliseconds(2000));
      if (reply.reply.status == DENGINE_OK) return node.get();
      last_error = reply.reply.message;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *error = last_error;
  return nullptr;
}

node::Node* EmbeddedCluster::other_than(const node::Node& node) const {
  for (const auto& other : nodes_) {
    if (other.get() != &node) return other.get();
  }
  return nullptr;
}

void EmbeddedTarget::run_op(size_t, const Op& op, OpDone done) {
  const auto outcome_of = [](const node::Reply& reply) {
    return OpOutcome{reply.status, reply.message};
  };
  if (op.kind == Op::Kind::kPut) {
    sm::KvCommand put = sm::KvCommand::put(op.key, std::string(op.value));
    if (blocking_) {
      done(outcome_of(
          node::kv_write(node_, std::move(put), nullptr, timeout_).reply));
    } else {
      node::kv_write_async(node_, std::move(put), nullptr, timeout_,
                           [done = std::move(done),
                            outcome_of](const node::KvWriteReply& reply) {
                             done(outcome_of(reply.reply));
                           });
    }
    return;
  }
  const sm::KvRead get = sm::KvRead::get(op.key);
  if (blocking_) {
    done(outcome_of(node::kv_read(node_, get, op.consistency, timeout_).reply));
  } else {
    node::kv_read_async(
        node_, get, op.consistency, timeout_,
        [done = std::move(done), outcome_of](const node::KvReadReply& reply) {
          done(outcome_of(reply.reply));
        });
  }
}

}  // namespace dengine::bench
