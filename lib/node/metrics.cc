#include "node/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dengine::node {
namespace {

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// A sample value as Prometheus writes it: integers without a fraction, and
// +Inf, -Inf and NaN by name.
std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.9g", value);
  }
  return buffer;
}

// Label values escape backslash, double quote and newline; HELP text
// escapes backslash and newline.
std::string escape(const std::string& text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string label_set(
    const std::vector<std::pair<std::string, std::string>>& labels,
    const std::string& extra_name = "", const std::string& extra_value = "") {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  const auto add = [&](const std::string& name, const std::string& value) {
    if (!first) out += ",";
    first = false;
    out += name + "=\"" + escape(value, true) + "\"";
  };
  for (const auto& [name, value] : labels) add(name, value);
  if (!extra_name.empty()) add(extra_name, extra_value);
  return out + "}";
}

void format_histogram(const std::string& name, const MetricSample& sample,
                      std::string* out) {
  const base::HistogramSnapshot& h = sample.histogram;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    const std::string le = i < h.upper_bounds.size()
                               ? format_value(h.upper_bounds[i])
                               : std::string("+Inf");
    *out += name + "_bucket" + label_set(sample.labels, "le", le) + " " +
            std::to_string(cumulative) + "\n";
  }
  const std::string labels = label_set(sample.labels);
  *out += name + "_sum" + labels + " " + format_value(h.sum) + "\n";
  *out += name + "_count" + labels + " " + std::to_string(h.count) + "\n";
}

// The label value of a proposal's status.
const char* status_label(size_t slot) {
  static constexpr const char* kNames[] = {"ok",
                                           "invalid_argument",
                                           "not_leader",
                                           "timeout",
                                           "shutting_down",
                                           "corruption",
                                           "io",
                                           "not_found",
                                           "unsupported",
                                           "busy",
                                           "state_machine",
                                           "internal",
                                           "session_expired",
                                           "compacted",
                                           "watch_overflow",
                                           "cancelled",
                                           "permission_denied"};
  return slot < std::size(kNames) ? kNames[slot] : "other";
}

std::vector<double> seconds_buckets() {
  // 50 µs to about 13 s: an fsync, a loopback round trip and a slow disk
  // all land in a bucket of their own.
  return base::Histogram::exponential(50e-6, 2, 19);
}

}  // namespace

const MetricFamily* find_family(const Metrics& metrics,
                                const std::string& name) {
  for (const MetricFamily& family : metrics) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

std::string format_prometheus(const Metrics& metrics) {
  std::string out;
  for (const MetricFamily& family : metrics) {
    out += "# HELP " + family.name + " " + escape(family.help, false) + "\n";
    out += "# TYPE " + family.name + " " + type_name(family.type) + "\n";
    for (const MetricSample& sample : family.samples) {
      if (family.type == MetricType::kHistogram) {
        format_histogram(family.name, sample, &out);
      } else {
        out += family.name + label_set(sample.labels) + " " +
               format_value(sample.value) + "\n";
      }
    }
  }
  return out;
}

NodeCounters::NodeCounters()
    : commit_seconds(seconds_buckets()),
      apply_seconds(seconds_buckets()),
      persist_seconds(seconds_buckets()),
      persist_entries(base::Histogram::exponential(1, 2, 13)),
      snapshot_seconds(base::Histogram::exponential(1e-3, 2, 18)) {}

std::vector<std::pair<std::string, uint64_t>>
NodeCounters::proposals_by_status() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t slot = 0; slot < kStatusSlots; ++slot) {
    const uint64_t n = proposals[slot].load(std::memory_order_relaxed);
    if (n == 0 && slot != 0) continue;
    const std::string label = status_label(slot);
    // Codes this version has no name for share "other".
    if (!out.empty() && out.back().first == label) {
      out.back().second += n;
    } else {
      out.emplace_back(label, n);
    }
  }
  return out;
}

void NodeCounters::count_proposal(int status) {
  const size_t slot =
      status <= 0 ? std::min(static_cast<size_t>(-static_cast<int64_t>(status)),
                             kStatusSlots - 1)
                  : kStatusSlots - 1;
  proposals[slot].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace dengine::node
