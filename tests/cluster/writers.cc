#include "writers.h"

#include <gtest/gtest.h>

#include <utility>

namespace dengine::cluster_test {

Writer::Writer(const Cluster& cluster, std::string prefix)
    : client_(cluster.client()),
      prefix_(std::move(prefix)),
      thread_([this] { run(); }) {}

Writer::~Writer() { stop(); }

void Writer::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Writer::run() {
  for (uint64_t i = 0; !stopping_; ++i) {
    const std::string key = prefix_ + std::to_string(i);
    const std::string value = "value of " + key;
    if (client::Status s = client_->put(key, value); s.ok()) {
      acked_.emplace(key, value);
      ++acknowledged_;
    } else {
      ++failed_;
      std::lock_guard lock(mu_);
      last_error_ = s.message;
    }
  }
}

size_t acknowledged(const std::vector<std::unique_ptr<Writer>>& writers) {
  size_t total = 0;
  for (const auto& w : writers) total += w->acknowledged();
  return total;
}

void expect_progress(const std::vector<std::unique_ptr<Writer>>& writers,
                     size_t more, const std::string& when) {
  const size_t target = acknowledged(writers) + more;
  EXPECT_TRUE(eventually([&] { return acknowledged(writers) >= target; }, 60s))
      << "writes stalled " << when << " at " << acknowledged(writers)
      << " acknowledged";
}

std::map<std::string, std::string> merge(
    const std::vector<std::unique_ptr<Writer>>& writers) {
  std::map<std::string, std::string> all;
  for (const auto& w : writers)
    all.insert(w->acked().begin(), w->acked().end());
  return all;
}

}  // namespace dengine::cluster_test
