#include "base/write_trace.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>

namespace dengine::base::write_trace {
namespace {

using Marks = std::array<std::atomic<int64_t>, kStageCount>;

std::atomic<bool> on{false};
std::unique_ptr<Marks[]> marks;
size_t slots = 0;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Span span(Stage from, Stage to) {
  std::vector<double> gaps;
  for (size_t i = 0; i < slots; ++i) {
    const int64_t a = marks[i][from].load(std::memory_order_relaxed);
    const int64_t b = marks[i][to].load(std::memory_order_relaxed);
    if (a != 0 && b != 0) gaps.push_back(static_cast<double>(b - a) / 1000.0);
  }
  Span out{from, to};
  out.samples = gaps.size();
  if (gaps.empty()) return out;
  std::sort(gaps.begin(), gaps.end());
  out.p50_us = gaps[gaps.size() / 2];
  out.p90_us = gaps[gaps.size() * 9 / 10];
  double sum = 0;
  for (double g : gaps) sum += g;
  out.mean_us = sum / static_cast<double>(gaps.size());
  return out;
}

}  // namespace

const char* stage_name(Stage stage) {
  static constexpr std::array<const char*, kStageCount> kNames = {
      "proposed",         "leader persisted",   "follower arrived",
      "follower stepped", "follower persisted", "ack arrived",
      "ack stepped",      "committed",          "apply started",
      "applied"};
  return stage < kStageCount ? kNames[stage] : "?";
}

void enable(size_t capacity) {
  marks = std::make_unique<Marks[]>(capacity);
  for (size_t i = 0; i < capacity; ++i) {
    for (auto& m : marks[i]) m.store(0, std::memory_order_relaxed);
  }
  slots = capacity;
  on.store(true, std::memory_order_release);
}

void disable() {
  on.store(false, std::memory_order_release);
  marks.reset();
  slots = 0;
}

bool enabled() { return on.load(std::memory_order_relaxed); }

void mark(Stage stage, uint64_t index) {
  if (!on.load(std::memory_order_acquire) || index >= slots) return;
  mark_at(stage, index, now_ns());
}

void mark_at(Stage stage, uint64_t index, int64_t ns) {
  if (!on.load(std::memory_order_acquire) || index >= slots) return;
  int64_t expected = 0;
  marks[index][stage].compare_exchange_strong(expected, ns,
                                              std::memory_order_relaxed);
}

std::vector<Span> summarize() {
  std::vector<Span> out;
  if (slots == 0) return out;
  out.push_back(span(kProposed, kLeaderPersisted));
  out.push_back(span(kProposed, kFollowerArrived));
  for (int s = kFollowerArrived; s + 1 < kStageCount; ++s) {
    out.push_back(span(static_cast<Stage>(s), static_cast<Stage>(s + 1)));
  }
  out.push_back(span(kProposed, kApplied));
  return out;
}

}  // namespace dengine::base::write_trace
