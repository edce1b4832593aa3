#include "sm/kv_apply.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace dengine::sm {

using storage::Status;

namespace {

uint64_t expiry_of(uint64_t now_ms, uint64_t ttl_ms) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  return ttl_ms > max - now_ms ? max : now_ms + ttl_ms;
}

}  // namespace

int64_t KvChunkApplier::key_count_delta() const {
  int64_t delta = 0;
  for (const auto& [key, change] : changes_) {
    delta += (change.value ? 1 : 0) - (change.base ? 1 : 0);
  }
  return delta;
}

Status KvChunkApplier::get(std::string_view key,
                           std::optional<StoredValue>* out) {
  auto it = changes_.find(key);
  if (it != changes_.end()) {
    *out = it->second.value;
    return Status::ok();
  }
  return base_->get(key, out);
}

Status KvChunkApplier::set(std::string_view key,
                           std::optional<StoredValue> value) {
  auto it = changes_.find(key);
  if (it == changes_.end()) {
    Change change;
    if (Status s = base_->get(key, &change.base); !s) return s;
    it = changes_.emplace(std::string(key), std::move(change)).first;
  }
  if (value && value->expire_at_ms != 0) {
    pending_expiries_.emplace(value->expire_at_ms, it->first);
  }
  it->second.value = std::move(value);
  return Status::ok();
}

void KvChunkApplier::emit(watch::EventType type, std::string_view key,
                          std::string value,
                          const std::optional<StoredValue>& before) {
  if (events_ == nullptr) return;
  watch::Event& event = events_->emplace_back();
  event.revision = revision_;
  event.type = type;
  event.key = key;
  event.value = std::move(value);
  if (before) event.prev_value = before->value;
}

Status KvChunkApplier::advance_clock(uint64_t timestamp_ms) {
  clock_ms_ = std::max(clock_ms_, timestamp_ms);
  if (clock_ms_ == swept_ms_) return Status::ok();
  std::vector<std::string> candidates;
  if (Status s = base_->expiring_keys(swept_ms_, clock_ms_, &candidates); !s) {
    return s;
  }
  swept_ms_ = clock_ms_;
  while (!pending_expiries_.empty() &&
         pending_expiries_.begin()->first <= clock_ms_) {
    candidates.push_back(pending_expiries_.begin()->second);
    pending_expiries_.erase(pending_expiries_.begin());
  }
  // A candidate may since have been overwritten or deleted: check its value.
  for (const std::string& key : candidates) {
    std::optional<StoredValue> current;
    if (Status s = get(key, &current); !s) return s;
    if (current && current->expire_at_ms != 0 &&
        current->expire_at_ms <= clock_ms_) {
      emit(watch::EventType::kExpire, key, {}, current);
      if (Status s = set(key, std::nullopt); !s) return s;
    }
  }
  return Status::ok();
}

Status KvChunkApplier::apply(std::string_view data, KvResult* result) {
  *result = KvResult();
  KvCommand command;
  if (!decode_command(data, &command)) {
    result->code = KvResultCode::kBadCommand;
    return Status::ok();
  }
  if (Status s = advance_clock(command.timestamp_ms); !s) return s;
  if (command.type == KvCommandType::kTick) return Status::ok();

  std::optional<StoredValue> current;
  if (Status s = get(command.key, &current); !s) return s;
  switch (command.type) {
    case KvCommandType::kPut:
    case KvCommandType::kPutWithTtl: {
      result->found = current.has_value();
      StoredValue value{std::move(command.value), 0};
      if (command.type == KvCommandType::kPutWithTtl) {
        value.expire_at_ms = expiry_of(clock_ms_, command.ttl_ms);
      }
      emit(watch::EventType::kPut, command.key, value.value, current);
      return set(command.key, std::move(value));
    }
    case KvCommandType::kDelete:
      result->found = current.has_value();
      if (!current) return Status::ok();
      emit(watch::EventType::kDelete, command.key, {}, current);
      return set(command.key, std::nullopt);
    case KvCommandType::kCompareAndSwap: {
      const bool matches = command.expect_absent
                               ? !current
                               : current && current->value == command.expected;
      if (!matches) {
        result->code = KvResultCode::kCasFailed;
        result->found = current.has_value();
        if (current) result->value = current->value;
        return Status::ok();
      }
      result->found = true;
      result->value = command.value;
      emit(watch::EventType::kPut, command.key, command.value, current);
      return set(command.key, StoredValue{std::move(command.value), 0});
    }
    case KvCommandType::kTick:
      break;
  }
  return Status::ok();
}

Status KvChunkApplier::apply_entries(
    const dengine_entry* entries, size_t count, uint64_t last_applied,
    std::vector<std::optional<KvResult>>* results) {
  results->assign(count, std::nullopt);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t index = entries[i].index;
    if ((i > 0 && index != entries[i - 1].index + 1) ||
        (i == 0 && index > last_applied + 1)) {
      return Status::invalid_argument(
          "entries out of order: index " + std::to_string(index) +
          " after last applied " +
          std::to_string(i > 0 ? entries[i - 1].index : last_applied));
    }
    if (entries[i].kind != DENGINE_ENTRY_NORMAL) continue;
    KvResult& result = (*results)[i].emplace();
    if (index <= last_applied) {
      result.code = KvResultCode::kAlreadyApplied;
      continue;
    }
    std::string_view data(reinterpret_cast<const char*>(entries[i].data),
                          entries[i].data ? entries[i].len : 0);
    revision_ = index;
    if (Status s = apply(data, &result); !s) return s;
  }
  return Status::ok();
}

}  // namespace dengine::sm
