#include "storage/status.h"

#include <cstring>

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

Status Status::io_errno(const std::string& what, const std::string& path,
                        int err) {
  return io(what + " " + path + ": " + std::strerror(err));
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(storage::to_string(code_)) + ": " + message_;
}

}  // namespace dengine::storage
