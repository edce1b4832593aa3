// Clusters of dengined processes with mutual TLS (issue 14): who is let in
// and who is not, between nodes and from clients, and certificate rotation
// by SIGHUP while clients write. The cluster suites also run whole over TLS
// (ClusterOverTls in CMakeLists.txt); these are the cases only TLS has.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cluster_harness.h"
#include "writers.h"

namespace dengine::cluster_test {
namespace {

using client::Client;
using client::Status;

ClusterOptions tls_cluster() {
  ClusterOptions options;
  options.tls = true;
  return options;
}

std::unique_ptr<Client> make_client(const client::ClientOptions& options) {
  std::unique_ptr<Client> out;
  const Status s = Client::create(options, &out);
  EXPECT_TRUE(s.ok()) << s.message;
  return out;
}

// A client of node `id` alone that gives up after one attempt, to see why
// it is refused.
client::ClientOptions one_attempt(const Cluster& cluster, uint64_t id,
                                  std::shared_ptr<const net::TlsContext> tls) {
  client::ClientOptions options = cluster.client_options({id});
  options.tls = std::move(tls);
  options.max_retries = 0;
  options.deadline = 10s;
  return options;
}

std::shared_ptr<const net::TlsContext> load(const net::TlsOptions& files,
                                            bool check_own_cert = true) {
  std::shared_ptr<const net::TlsContext> context;
  const std::string error =
      check_own_cert
          ? net::TlsContext::load(files, &context)
          : net::TlsContext::load_unchecked_for_testing(files, &context);
  EXPECT_EQ(error, "");
  return context;
}

net::TlsOptions files_of(const testkit::CertFiles& cert,
                         const std::string& ca_file) {
  return net::TlsOptions{cert.cert_file, cert.key_file, ca_file,
                         net::TlsVersion::k1_3, net::TlsVersion::k1_3};
}

// Runs `command` through the shell; its exit status and output (both
// streams).
int run(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) {
    output->append(buffer, n);
  }
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void copy_file(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to,
                             std::filesystem::copy_options::overwrite_existing);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ClusterTlsTest, ClientsNeedAValidCertificateAndAdminOperationsAnAdmin) {
  Cluster cluster(tls_cluster());
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  auto admin = cluster.client();
  ASSERT_TRUE(admin->put("greeting", "hello").ok());

  // A valid certificate that is not an admin's: reads and writes, but no
  // admin operation.
  auto app = make_client(cluster.client_options({}, "app"));
  const Status put = app->put("from-app", "yes");
  EXPECT_TRUE(put.ok()) << put.message;
  const Status removed = app->remove_node(3);
  EXPECT_EQ(removed.code, DENGINE_ERR_PERMISSION_DENIED) << removed.message;
  EXPECT_NE(removed.message.find("\"app\""), std::string::npos)
      << removed.message;
  const Status transferred = app->transfer_leader(2);
  EXPECT_EQ(transferred.code, DENGINE_ERR_PERMISSION_DENIED)
      << transferred.message;
  uint64_t snapshot_index = 0;
  const Status snapshot = app->snapshot(&snapshot_index);
  EXPECT_EQ(snapshot.code, DENGINE_ERR_PERMISSION_DENIED) << snapshot.message;
  net::NodeStatus status;
  ASSERT_TRUE(admin->status(&status).ok());
  EXPECT_EQ(status.members.size(), 3u) << "a refused remove removed a node";

  // Refused at the handshake, each with its reason and at once.
  const std::string ca = cluster.ca().ca_file();
  struct Refused {
    const char* who;
    std::shared_ptr<const net::TlsContext> tls;
    const char* reason;  // in the message
  };
  testkit::TestCertificateAuthority other(cluster.tls_dir(), "other-ca");
  const std::vector<Refused> refused = {
      {"a plaintext client", nullptr, "TLS"},
      {"a client without a certificate",
       load(net::TlsOptions{"", "", ca, net::TlsVersion::k1_3,
                            net::TlsVersion::k1_3}),
       "certificate"},
      {"a client of another CA",
       load(files_of(other.issue_client("stranger"), other.ca_file())),
       "certificate"},
      {"a client with an expired certificate",
       load(files_of(
                cluster.ca().issue("client-expired", {"expired", {}, -30, -1}),
                ca),
            /*check_own_cert=*/false),
       "expired"},
  };
  for (const Refused& r : refused) {
    auto c = make_client(one_attempt(cluster, 1, r.tls));
    const Status s = c->put("intruder", "no");
    EXPECT_FALSE(s.ok()) << r.who << " could write";
    EXPECT_NE(s.code, DENGINE_ERR_TIMEOUT) << r.who << ": " << s.message;
    EXPECT_NE(s.message.find(r.reason), std::string::npos)
        << r.who << ": " << s.message;
  }

  // Nothing refused touched the cluster.
  ASSERT_TRUE(admin->put("after", "still serving").ok());
  std::optional<std::string> value;
  ASSERT_TRUE(
      admin->get("intruder", &value, net::ReadConsistency::kLinearizable).ok());
  EXPECT_FALSE(value.has_value());
  cluster.check_alive();
}

TEST(ClusterTlsTest, ANodePresentingAnotherNodesCertificateIsShutOut) {
  Cluster cluster(tls_cluster());
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  auto c = cluster.client({1, 2});
  ASSERT_TRUE(c->put("before", "1").ok());

  // Node 3 restarts with node 2's certificate: its peers refuse it both
  // ways (it claims to be 3), so it learns nothing more.
  cluster.stop(3);
  const std::string dir = cluster.tls_dir();
  cluster.use_certificate(3, {dir + "/node-2.crt", dir + "/node-2.key"});
  cluster.start(3);
  net::NodeStatus before;
  ASSERT_TRUE(cluster.status(3, &before).ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(c->put("while-3-is-out-" + std::to_string(i), "x").ok());
  }
  EXPECT_TRUE(eventually([&] {
    return cluster.log_contains(1, "certificate of node 2") ||
           cluster.log_contains(2, "certificate of node 2");
  })) << cluster.log_tail(1)
      << cluster.log_tail(2);
  net::NodeStatus after;
  ASSERT_TRUE(cluster.status(3, &after).ok());
  EXPECT_LT(after.applied_index, before.applied_index + 50)
      << "node 3 replicated with another node's certificate";

  // With its own certificate again it catches up: the refusal was the
  // certificate.
  cluster.stop(3);
  cluster.use_certificate(3, {dir + "/node-3.crt", dir + "/node-3.key"});
  cluster.start(3);
  net::NodeStatus leader_view;
  ASSERT_TRUE(c->status(&leader_view).ok());
  EXPECT_TRUE(cluster.wait_for_applied(3, leader_view.commit_index));
  cluster.check_alive();
}

TEST(ClusterTlsTest, BadNodeCertificatesStopTheCheckAndTheStart) {
  Cluster cluster(tls_cluster());
  const std::string dir = cluster.tls_dir();
  const testkit::CertFiles expired = cluster.ca().issue(
      "node-1-expired", {"node-1", {"URI:dengine:node:1"}, -30, -1});
  const testkit::CertFiles other = cluster.ca().issue_node(2);
  struct Case {
    const char* what;
    std::string tls_toml;
    const char* reason;
  };
  const std::string ca = "ca_file = \"" + cluster.ca().ca_file() + "\"\n";
  const std::vector<Case> cases = {
      {"an expired certificate",
       "cert_file = \"" + expired.cert_file + "\"\nkey_file = \"" +
           expired.key_file + "\"\n" + ca,
       "expired"},
      {"a key of another certificate",
       "cert_file = \"" + dir + "/node-1.crt\"\nkey_file = \"" +
           other.key_file + "\"\n" + ca,
       "does not match"},
      {"a missing file",
       "cert_file = \"" + dir + "/nowhere.crt\"\nkey_file = \"" + dir +
           "/node-1.key\"\n" + ca,
       "nowhere.crt"},
      {"half a setup", ca, "tls_cert_file"},
  };
  for (const Case& c : cases) {
    const std::string path = dir + "/bad.toml";
    std::ofstream(path) << "[node]\nid = 1\ndata_dir = \"" << dir
                        << "/bad-data\"\npeer_address = \"127.0.0.1:1\"\n"
                        << "client_address = \"127.0.0.1:2\"\n\n[tls]\n"
                        << c.tls_toml;
    std::string output;
    EXPECT_EQ(run(std::string(DENGINED_PATH) + " --check -c " + path, &output),
              2)
        << c.what << ": " << output;
    EXPECT_NE(output.find(c.reason), std::string::npos)
        << c.what << ": " << output;
    output.clear();
    EXPECT_NE(run(std::string(DENGINED_PATH) + " -c " + path, &output), 0)
        << c.what << " started: " << output;
    EXPECT_NE(output.find(c.reason), std::string::npos)
        << c.what << ": " << output;
  }
}

TEST(ClusterTlsTest, RotatingCertificatesBySighupUnderWritesFailsNoWrite) {
  Cluster cluster(tls_cluster());
  // The nodes move to a new CA below; clients trust both from the start.
  const std::string dir = cluster.tls_dir();
  const std::string new_dir = dir + "/new";
  std::filesystem::create_directories(new_dir);
  testkit::TestCertificateAuthority new_ca(new_dir, "new-ca");
  const std::string both = dir + "/both-cas.crt";
  std::ofstream(both) << read_file(cluster.ca().ca_file())
                      << read_file(new_ca.ca_file());
  cluster.set_client_ca_file(both);
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);
  std::vector<std::unique_ptr<Writer>> writers;
  for (int i = 0; i < 2; ++i) {
    writers.push_back(
        std::make_unique<Writer>(cluster, "w" + std::to_string(i) + "-"));
  }
  expect_progress(writers, 200, "before the rotation");

  // A bad file is refused and the old certificates stay in use.
  const std::string node1_cert = read_file(dir + "/node-1.crt");
  std::ofstream(dir + "/node-1.crt") << "not a certificate\n";
  cluster.reload_tls(1);
  EXPECT_TRUE(eventually([&] {
    return cluster.log_contains(1, "TLS not reloaded");
  })) << cluster.log_tail(1);
  std::ofstream(dir + "/node-1.crt") << node1_cert;
  expect_progress(writers, 100, "after a refused reload");

  // Every node trusts both CAs, then presents a certificate of the new one,
  // each step by SIGHUP while the writers write.
  copy_file(both, cluster.ca().ca_file());
  for (uint64_t id : cluster.ids()) cluster.reload_tls(id);
  expect_progress(writers, 100, "after trusting both CAs");
  for (uint64_t id : cluster.ids()) {
    const testkit::CertFiles issued = new_ca.issue_node(id);
    const std::string stem = dir + "/node-" + std::to_string(id);
    copy_file(issued.cert_file, stem + ".crt");
    copy_file(issued.key_file, stem + ".key");
    cluster.reload_tls(id);
  }
  for (uint64_t id : cluster.ids()) {
    EXPECT_TRUE(eventually([&] {
      return cluster.log_contains(id, "reloaded the TLS certificates");
    })) << cluster.log_tail(id);
  }
  expect_progress(writers, 200, "after the new certificates");

  // New connections get the new certificates: a client that trusts only
  // the new CA reaches every node.
  const testkit::CertFiles admin = new_ca.issue_client("admin");
  for (uint64_t id : cluster.ids()) {
    auto c = make_client(
        one_attempt(cluster, id, load(files_of(admin, new_ca.ca_file()))));
    net::NodeStatus status;
    const Status s = c->status(&status);
    EXPECT_TRUE(s.ok()) << "node " << id << ": " << s.message;
  }
  for (auto& w : writers) w->stop();
  for (const auto& w : writers) {
    EXPECT_EQ(w->failed(), 0u) << w->last_error();
  }

  // And between peers: a node killed and restarted opens every connection
  // anew, with the new certificates, and catches up.
  auto c = cluster.client();
  cluster.kill(3);
  ASSERT_TRUE(c->put("while-3-was-down", "yes").ok());
  cluster.start(3);
  net::NodeStatus leader_view;
  ASSERT_TRUE(c->status(&leader_view).ok());
  EXPECT_TRUE(cluster.wait_for_applied(3, leader_view.commit_index));
  cluster.check_alive();
}

}  // namespace
}  // namespace dengine::cluster_test
