#include "capi/errors.h"

#include <exception>
#include <new>
#include <stdexcept>
#include <system_error>

#include "base/log.h"
#include "dengine.h"

namespace dengine::capi {
namespace {

// Valid until the next failure on the same thread, as the header promises.
thread_local std::string last_error;

}  // namespace

int fail(int code, const std::string& detail) noexcept {
  try {
    last_error = detail;
  } catch (...) {
    // Out of memory for the message itself: the code still tells the story.
    last_error.clear();
  }
  return code;
}

int fail_request(int code, const char* function, const std::string& message,
                 uint64_t leader_id, const std::string& leader_address) {
  if (code == DENGINE_OK) return DENGINE_OK;
  std::string detail = std::string(function) + ": " + message;
  if (code == DENGINE_ERR_NOT_LEADER && leader_id != 0) {
    detail += " (leader: node " + std::to_string(leader_id) +
              (leader_address.empty() ? "" : " at " + leader_address) + ")";
  }
  return fail(code, detail);
}

int fail_with_current_exception(const char* function) noexcept {
  const std::string where = std::string(function) + ": ";
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return fail(DENGINE_ERR_INTERNAL, where + "out of memory");
  } catch (const std::length_error& e) {
    return fail(DENGINE_ERR_INVALID_ARGUMENT, where + e.what());
  } catch (const std::system_error& e) {
    return fail(DENGINE_ERR_IO, where + e.what());
  } catch (const std::exception& e) {
    // Anything else escaping the C++ core is a bug: say so in the log too.
    int code = fail(DENGINE_ERR_INTERNAL, where + e.what());
    base::log_line(DENGINE_LOG_ERROR, dengine_last_error());
    return code;
  } catch (...) {
    int code = fail(DENGINE_ERR_INTERNAL, where + "unknown exception");
    base::log_line(DENGINE_LOG_ERROR, dengine_last_error());
    return code;
  }
}

}  // namespace dengine::capi

extern "C" {

const char* dengine_strerror(int code) {
  switch (code) {
    case DENGINE_OK:
      return "ok";
    case DENGINE_ERR_INVALID_ARGUMENT:
      return "invalid argument";
    case DENGINE_ERR_NOT_LEADER:
      return "not leader";
    case DENGINE_ERR_TIMEOUT:
      return "timeout";
    case DENGINE_ERR_SHUTTING_DOWN:
      return "shutting down";
    case DENGINE_ERR_CORRUPTION:
      return "corruption";
    case DENGINE_ERR_IO:
      return "i/o error";
    case DENGINE_ERR_NOT_FOUND:
      return "not found";
    case DENGINE_ERR_UNSUPPORTED:
      return "unsupported";
    case DENGINE_ERR_BUSY:
      return "busy";
    case DENGINE_ERR_STATE_MACHINE:
      return "state machine error";
    case DENGINE_ERR_INTERNAL:
      return "internal error";
    case DENGINE_ERR_SESSION_EXPIRED:
      return "session expired";
    case DENGINE_ERR_COMPACTED:
      return "revision compacted";
    case DENGINE_ERR_WATCH_OVERFLOW:
      return "watch overflow";
    case DENGINE_ERR_CANCELLED:
      return "cancelled";
    case DENGINE_ERR_PERMISSION_DENIED:
      return "permission denied";
    default:
      return "unknown error";
  }
}

const char* dengine_err_name(int code) {
  switch (code) {
#define DENGINE_NAME(c) \
  case c:               \
    return #c;
    DENGINE_NAME(DENGINE_OK)
    DENGINE_NAME(DENGINE_ERR_INVALID_ARGUMENT)
    DENGINE_NAME(DENGINE_ERR_NOT_LEADER)
    DENGINE_NAME(DENGINE_ERR_TIMEOUT)
    DENGINE_NAME(DENGINE_ERR_SHUTTING_DOWN)
    DENGINE_NAME(DENGINE_ERR_CORRUPTION)
    DENGINE_NAME(DENGINE_ERR_IO)
    DENGINE_NAME(DENGINE_ERR_NOT_FOUND)
    DENGINE_NAME(DENGINE_ERR_UNSUPPORTED)
    DENGINE_NAME(DENGINE_ERR_BUSY)
    DENGINE_NAME(DENGINE_ERR_STATE_MACHINE)
    DENGINE_NAME(DENGINE_ERR_INTERNAL)
    DENGINE_NAME(DENGINE_ERR_SESSION_EXPIRED)
    DENGINE_NAME(DENGINE_ERR_COMPACTED)
    DENGINE_NAME(DENGINE_ERR_WATCH_OVERFLOW)
    DENGINE_NAME(DENGINE_ERR_CANCELLED)
    DENGINE_NAME(DENGINE_ERR_PERMISSION_DENIED)
#undef DENGINE_NAME
    default:
      return "DENGINE_ERR_UNKNOWN";
  }
}

const char* dengine_last_error(void) {
  return dengine::capi::last_error.c_str();
}

}  // extern "C"
