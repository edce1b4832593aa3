// dengine_results_set, dengine_events_publish and dengine_read_result_set: a
// state machine's answers and events, copied into the handler's vectors
// (lib/sm/apply_results.h).
#include <string>

#include "capi/errors.h"
#include "dengine.h"
#include "sm/apply_results.h"

using dengine::capi::fail;
using dengine::capi::guarded;

extern "C" {

int dengine_results_set(dengine_results* results, size_t i, int32_t status,
                        const void* data, size_t len) {
  return guarded("dengine_results_set", [&] {
    if (results == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_results_set: results is NULL");
    }
    if (i >= results->entries.size()) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_results_set: entry " + std::to_string(i) +
                      " is out of range: the chunk has " +
                      std::to_string(results->entries.size()) + " entries");
    }
    if (data == nullptr && len > 0) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_results_set: data is NULL but len is " +
                      std::to_string(len));
    }
    auto* bytes = static_cast<const uint8_t*>(data);
    dengine_results::Entry& entry = results->entries[i];
    entry.status = status;
    entry.data.assign(bytes, bytes + len);
    return static_cast<int>(DENGINE_OK);
  });
}

int dengine_events_publish(dengine_results* results, size_t i,
                           const void* topic, size_t topic_len,
                           const void* data, size_t len) {
  constexpr const char* kFunction = "dengine_events_publish";
  return guarded(kFunction, [&] {
    if (results == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(kFunction) + ": results is NULL");
    }
    if (i >= results->indices.size()) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(kFunction) + ": entry " + std::to_string(i) +
                      " is out of range: the chunk has " +
                      std::to_string(results->indices.size()) + " entries");
    }
    if (topic == nullptr || topic_len == 0) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(kFunction) + ": the topic is empty");
    }
    if (data == nullptr && len > 0) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(kFunction) + ": data is NULL but len is " +
                      std::to_string(len));
    }
    const uint64_t revision = results->indices[i];
    if (!results->events.empty() &&
        results->events.back().revision > revision) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(kFunction) + ": an event of entry " +
                      std::to_string(i) +
                      " after one of a later entry: publish in entry order");
    }
    dengine::watch::Event& event = results->events.emplace_back();
    event.revision = revision;
    event.type = dengine::watch::EventType::kUser;
    event.key.assign(static_cast<const char*>(topic), topic_len);
    if (len > 0) event.value.assign(static_cast<const char*>(data), len);
    return static_cast<int>(DENGINE_OK);
  });
}

int dengine_read_result_set(dengine_read_result* result, const void* data,
                            size_t len) {
  return guarded("dengine_read_result_set", [&] {
    if (result == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_read_result_set: result is NULL");
    }
    if (data == nullptr && len > 0) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_read_result_set: data is NULL but len is " +
                      std::to_string(len));
    }
    auto* bytes = static_cast<const uint8_t*>(data);
    result->data.assign(bytes, bytes + len);
    return static_cast<int>(DENGINE_OK);
  });
}

}  // extern "C"
