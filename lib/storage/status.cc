#include "storage/status.h"

#include <cstring>

#include "dengine.h"

namespace dengine::storage {

const char* to_string(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kIo:
      return "I/O error";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kCompacted:
      return "compacted";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kClosed:
      return "closed";
  }
  return "unknown";
}

int to_dengine_code(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return DENGINE_OK;
    case StatusCode::kNotFound:
      return DENGINE_ERR_NOT_FOUND;
    case StatusCode::kCorruption:
      return DENGINE_ERR_CORRUPTION;
    case StatusCode::kIo:
      return DENGINE_ERR_IO;
    case StatusCode::kInvalidArgument:
      return DENGINE_ERR_INVALID_ARGUMENT;
    case StatusCode::kClosed:
      return DENGINE_ERR_SHUTTING_DOWN;
    case StatusCode::kCompacted:
    case StatusCode::kUnavailable:
      break;
  }
  return DENGINE_ERR_INTERNAL;
}

Status Status::io_errno(const std::string& what, const std::string& path,
                        int err) {
  return io(what + " " + path + ": " + std::strerror(err));
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(storage::to_string(code_)) + ": " + message_;
}

}  // namespace dengine::storage
