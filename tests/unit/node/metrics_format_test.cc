// The Prometheus text format of a metrics snapshot, and the counters'
// proposal statuses.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "dengine.h"
#include "node/metrics.h"

namespace dengine::node {
namespace {

TEST(MetricsFormatTest, GaugesCountersAndLabelsAsPrometheusWritesThem) {
  Metrics m;
  m.push_back({"dengine_term", "The term.", MetricType::kGauge, {{{}, 7, {}}}});
  m.push_back(
      {"dengine_sent_total",
       "Sent.\nTwo lines, a \\ backslash.",
       MetricType::kCounter,
       {{{{"peer", "2"}}, 12, {}}, {{{"peer", "a\"b\\c\nd"}}, 0.5, {}}}});
  m.push_back({"dengine_odd",
               "Odd values.",
               MetricType::kGauge,
               {{{{"v", "nan"}}, std::nan(""), {}},
                {{{"v", "inf"}}, std::numeric_limits<double>::infinity(), {}},
                {{{"v", "big"}}, 1e20, {}}}});
  EXPECT_EQ(format_prometheus(m),
            "# HELP dengine_term The term.\n"
            "# TYPE dengine_term gauge\n"
            "dengine_term 7\n"
            "# HELP dengine_sent_total Sent.\\nTwo lines, a \\\\ backslash.\n"
            "# TYPE dengine_sent_total counter\n"
            "dengine_sent_total{peer=\"2\"} 12\n"
            "dengine_sent_total{peer=\"a\\\"b\\\\c\\nd\"} 0.5\n"
            "# HELP dengine_odd Odd values.\n"
            "# TYPE dengine_odd gauge\n"
            "dengine_odd{v=\"nan\"} NaN\n"
            "dengine_odd{v=\"inf\"} +Inf\n"
            "dengine_odd{v=\"big\"} 1e+20\n");
}

TEST(MetricsFormatTest, HistogramsHaveCumulativeBucketsSumAndCount) {
  base::Histogram h({0.001, 0.01});
  h.observe(0.0005);
  h.observe(0.005);
  h.observe(0.005);
  h.observe(2);
  Metrics m;
  m.push_back({"dengine_x_seconds",
               "X.",
               MetricType::kHistogram,
               {{{}, 0, h.snapshot()}}});
  EXPECT_EQ(format_prometheus(m),
            "# HELP dengine_x_seconds X.\n"
            "# TYPE dengine_x_seconds histogram\n"
            "dengine_x_seconds_bucket{le=\"0.001\"} 1\n"
            "dengine_x_seconds_bucket{le=\"0.01\"} 3\n"
            "dengine_x_seconds_bucket{le=\"+Inf\"} 4\n"
            "dengine_x_seconds_sum 2.0105\n"
            "dengine_x_seconds_count 4\n");
  EXPECT_NE(find_family(m, "dengine_x_seconds"), nullptr);
  EXPECT_EQ(find_family(m, "dengine_y"), nullptr);
}

TEST(MetricsFormatTest, ProposalsAreCountedByStatusName) {
  NodeCounters c;
  c.count_proposal(DENGINE_OK);
  c.count_proposal(DENGINE_OK);
  c.count_proposal(DENGINE_ERR_TIMEOUT);
  c.count_proposal(DENGINE_ERR_NOT_LEADER);
  c.count_proposal(-1000);  // codes this version does not know
  c.count_proposal(-20);
  const auto counts = c.proposals_by_status();
  ASSERT_EQ(counts.size(), 4u);
  EXPECT_EQ(counts[0], (std::pair<std::string, uint64_t>{"ok", 2}));
  EXPECT_EQ(counts[1], (std::pair<std::string, uint64_t>{"not_leader", 1}));
  EXPECT_EQ(counts[2], (std::pair<std::string, uint64_t>{"timeout", 1}));
  EXPECT_EQ(counts[3], (std::pair<std::string, uint64_t>{"other", 2}));
}

}  // namespace
}  // namespace dengine::node
