// dengine_node_metrics and dengine_metrics_*: a node::Metrics snapshot laid
// out as dengine_metric samples that point into it.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capi/errors.h"
#include "capi/handles.h"
#include "capi/memory.h"
#include "node/metrics.h"

using dengine::capi::fail;
using dengine::capi::guarded;
using dengine::capi::valid;

struct dengine_metrics {
  dengine::node::Metrics families;
  // Cumulative bucket counts of each histogram sample, in sample order.
  std::vector<std::vector<uint64_t>> cumulative;
  std::vector<dengine_metric> samples;
};

namespace {

int metric_type(dengine::node::MetricType type) {
  switch (type) {
    case dengine::node::MetricType::kCounter:
      return DENGINE_METRIC_COUNTER;
    case dengine::node::MetricType::kGauge:
      return DENGINE_METRIC_GAUGE;
    case dengine::node::MetricType::kHistogram:
      return DENGINE_METRIC_HISTOGRAM;
  }
  return DENGINE_METRIC_GAUGE;
}

// Points the samples into `m->families`, which must not change afterwards.
void lay_out(dengine_metrics* m) {
  size_t total = 0;
  for (const auto& family : m->families) total += family.samples.size();
  m->samples.reserve(total);
  m->cumulative.reserve(total);
  static const char kEmpty[] = "";
  for (const auto& family : m->families) {
    for (const auto& sample : family.samples) {
      dengine_metric out{};
      out.name = family.name.c_str();
      out.help = family.help.c_str();
      out.type = metric_type(family.type);
      out.label_name = kEmpty;
      out.label_value = kEmpty;
      if (!sample.labels.empty()) {
        out.label_name = sample.labels.front().first.c_str();
        out.label_value = sample.labels.front().second.c_str();
      }
      out.value = sample.value;
      if (family.type == dengine::node::MetricType::kHistogram) {
        const auto& h = sample.histogram;
        std::vector<uint64_t>& buckets = m->cumulative.emplace_back();
        uint64_t running = 0;
        for (size_t i = 0; i < h.upper_bounds.size(); ++i) {
          running += h.counts[i];
          buckets.push_back(running);
        }
        out.value = h.sum;
        out.count = h.count;
        out.bucket_count = h.upper_bounds.size();
        out.upper_bounds = h.upper_bounds.data();
        out.bucket_counts = buckets.data();
      }
      m->samples.push_back(out);
    }
  }
}

}  // namespace

int dengine_node_metrics(dengine_node* node, dengine_metrics** out) {
  return guarded("dengine_node_metrics", [&]() -> int {
    if (!valid(node, "dengine_node_metrics")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (out == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_node_metrics: out is NULL");
    }
    auto metrics = std::make_unique<dengine_metrics>();
    metrics->families = node->node->metrics();
    lay_out(metrics.get());
    *out = metrics.release();
    return DENGINE_OK;
  });
}

void dengine_metrics_free(dengine_metrics* metrics) { delete metrics; }

size_t dengine_metrics_count(const dengine_metrics* metrics) {
  return metrics == nullptr ? 0 : metrics->samples.size();
}

const dengine_metric* dengine_metrics_at(const dengine_metrics* metrics,
                                         size_t i) {
  if (metrics == nullptr || i >= metrics->samples.size()) return nullptr;
  return &metrics->samples[i];
}

const dengine_metric* dengine_metrics_find(const dengine_metrics* metrics,
                                           const char* name,
                                           const char* label_value) {
  if (metrics == nullptr || name == nullptr) return nullptr;
  for (const dengine_metric& sample : metrics->samples) {
    if (std::strcmp(sample.name, name) != 0) continue;
    if (label_value == nullptr ||
        std::strcmp(sample.label_value, label_value) == 0) {
      return &sample;
    }
  }
  return nullptr;
}

int dengine_metrics_text(const dengine_metrics* metrics, char** out) {
  return guarded("dengine_metrics_text", [&]() -> int {
    if (metrics == nullptr || out == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_metrics_text: metrics or out is NULL");
    }
    *out = dengine::capi::malloc_string(
        dengine::node::format_prometheus(metrics->families));
    return DENGINE_OK;
  });
}
