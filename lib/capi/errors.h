// The one place C++ errors become C status codes (include/dengine.h). Every
// exported function runs its body through guarded(), so no exception crosses
// the C ABI, and every failure records the calling thread's last-error
// message, which dengine_last_error() returns.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

namespace dengine::capi {

// Records `detail` as this thread's last error and returns `code`, e.g.
// fail(DENGINE_ERR_INVALID_ARGUMENT, "dengine_results_set: results is NULL").
// The message does not repeat the code's name (dengine_err_name does).
int fail(int code, const std::string& detail) noexcept;

// fail() for a request that ended in `code` with `message`, naming the
// function and, for DENGINE_ERR_NOT_LEADER, the leader when known. OK is
// returned as it is.
int fail_request(int code, const char* function, const std::string& message,
                 uint64_t leader_id, const std::string& leader_address);

// Maps the exception being handled to a status code and records its message;
// call only from a catch block. `function` names the exported function.
int fail_with_current_exception(const char* function) noexcept;

// Runs `body` (returning an int status, or void) so that nothing it throws
// escapes: a throw becomes a status code (or, for void, a logged error).
template <typename Body>
auto guarded(const char* function, Body&& body) noexcept {
  using Result = std::invoke_result_t<Body>;
  try {
    return body();
  } catch (...) {
    int code = fail_with_current_exception(function);
    if constexpr (std::is_void_v<Result>) {
      (void)code;
    } else {
      return code;
    }
  }
}

}  // namespace dengine::capi
