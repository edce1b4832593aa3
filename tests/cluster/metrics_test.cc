// dengined's /metrics and /healthz, scraped over HTTP from real processes:
// the values move as the cluster works (the commit index grows, a transfer
// counts a leader change), /healthz says whether a node has a leader, and
// what is not a scrape gets a clear HTTP error without hurting the node.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <optional>
#include <regex>
#include <string>

#include "cluster_harness.h"

namespace dengine::cluster_test {
namespace {

struct HttpAnswer {
  int code = 0;  // 0: no answer
  std::string body;
};

// Sends `request` as is to 127.0.0.1:port and reads until the server
// closes.
HttpAnswer http(uint16_t port, const std::string& request) {
  HttpAnswer answer;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return answer;
  }
  std::string all;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
    all.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  std::smatch m;
  if (!std::regex_search(all, m, std::regex("^HTTP/1\\.1 (\\d{3}) "))) {
    return answer;
  }
  answer.code = std::stoi(m[1]);
  const size_t body = all.find("\r\n\r\n");
  if (body != std::string::npos) answer.body = all.substr(body + 4);
  return answer;
}

HttpAnswer get(uint16_t port, const std::string& path) {
  return http(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

// The value of an unlabelled sample, or of `name{labels}`, in `text`.
std::optional<double> sample(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(text.substr(at + name.size() + 2));
}

TEST(ClusterMetricsTest, ScrapedValuesMoveAsTheClusterWorks) {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const HttpAnswer before = get(cluster.metrics_port(leader), "/metrics");
  ASSERT_EQ(before.code, 200);
  const auto commit_before = sample(before.body, "dengine_commit_index");
  ASSERT_TRUE(commit_before.has_value()) << before.body;
  EXPECT_EQ(sample(before.body, "dengine_is_leader"), 1);

  std::unique_ptr<client::Client> c = cluster.client();
  for (int i = 0; i < 10; ++i) {
    net::ClientRequest q;
    q.op = net::ClientOp::kPut;
    q.key = "m" + std::to_string(i);
    q.value = "v";
    net::ClientResponse r;
    ASSERT_TRUE(c->call(q, &r).ok());
  }
  const HttpAnswer after = get(cluster.metrics_port(leader), "/metrics");
  ASSERT_EQ(after.code, 200);
  EXPECT_GE(*sample(after.body, "dengine_commit_index"), *commit_before + 10);
  EXPECT_GE(*sample(after.body, "dengine_proposals_total{status=\"ok\"}"), 10);
  EXPECT_GE(*sample(after.body, "dengine_client_connections"), 1);

  // Every node knows the leader and has applied what it knows committed.
  for (uint64_t id : cluster.ids()) {
    EXPECT_TRUE(eventually([&] {
      return get(cluster.metrics_port(id), "/healthz").code == 200;
    })) << "node "
        << id << ": " << get(cluster.metrics_port(id), "/healthz").body;
  }

  // A transfer counts as a leader change on every node.
  const uint64_t target = leader == 1 ? 2 : 1;
  const auto changes =
      sample(get(cluster.metrics_port(target), "/metrics").body,
             "dengine_leader_changes_total");
  ASSERT_TRUE(changes.has_value());
  ASSERT_TRUE(c->transfer_leader(target).ok());
  EXPECT_TRUE(eventually([&] {
    const std::string text = get(cluster.metrics_port(target), "/metrics").body;
    return sample(text, "dengine_is_leader") == 1 &&
           sample(text, "dengine_leader_changes_total") > *changes;
  }));
  cluster.check_alive();
}

TEST(ClusterMetricsTest, HealthzFailsWithoutALeaderAndBadRequestsAreRefused) {
  Cluster cluster;
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  const uint16_t port = cluster.metrics_port(1);
  EXPECT_EQ(get(port, "/nowhere").code, 404);
  EXPECT_EQ(http(port, "POST /metrics HTTP/1.1\r\n\r\n").code, 405);
  EXPECT_EQ(http(port, "hello there\r\n\r\n").code, 400);
  EXPECT_EQ(http(port, std::string(20000, 'x')).code, 400);
  const HttpAnswer head = http(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.code, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(get(port, "/metrics").code, 200) << "the node still serves";

  // Alone, node 1 soon knows no leader.
  cluster.kill(2);
  cluster.kill(3);
  HttpAnswer health;
  EXPECT_TRUE(eventually([&] {
    health = get(port, "/healthz");
    return health.code == 503;
  })) << health.code
      << " " << health.body;
  EXPECT_NE(health.body.find("no leader"), std::string::npos) << health.body;
  cluster.check_alive();
}

}  // namespace
}  // namespace dengine::cluster_test
