// Weak stand-ins for dengine_results_set and dengine_read_result_set, so the
// KV machine tests link without the C ABI library; when lib/capi/results.cc
// is linked in, its definitions win. Same types (sm/apply_results.h).
#include <cstdint>

#include "dengine.h"
#include "sm/apply_results.h"

extern "C" {

__attribute__((weak)) int dengine_results_set(dengine_results* results,
                                              size_t i, int32_t status,
                                              const void* data, size_t len) {
  if (results == nullptr || i >= results->entries.size()) {
    return DENGINE_ERR_INVALID_ARGUMENT;
  }
  auto* bytes = static_cast<const uint8_t*>(data);
  results->entries[i].status = status;
  results->entries[i].data.assign(bytes, bytes + len);
  return DENGINE_OK;
}

__attribute__((weak)) int dengine_read_result_set(dengine_read_result* result,
                                                  const void* data,
                                                  size_t len) {
  if (result == nullptr) return DENGINE_ERR_INVALID_ARGUMENT;
  auto* bytes = static_cast<const uint8_t*>(data);
  result->data.assign(bytes, bytes + len);
  return DENGINE_OK;
}

}  // extern "C"
