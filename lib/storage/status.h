// The result of a storage operation: a code and, when not ok, a message that
// names the file, the index or the record involved.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace dengine::storage {

enum class StatusCode : uint8_t {
  kOk,
  kNotFound,
  kCorruption,       // a checksum or format check failed: data is damaged
  kIo,               // the operating system refused (errno in the message)
  kInvalidArgument,  // the caller broke a documented precondition
  kCompacted,        // the index was purged behind a snapshot
  kUnavailable,      // the index is past the last entry
  kClosed,           // the store was closed
};

const char* to_string(StatusCode code);

class Status;
// The DENGINE_* code (include/dengine.h) a status becomes at the engine's
// surface: the one mapping every layer above storage uses. kCompacted and
// kUnavailable never escape storage's callers, so they map to
// DENGINE_ERR_INTERNAL.
int to_dengine_code(const Status& status);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return {}; }
  static Status error(StatusCode code, std::string message) {
    return Status(code, std::move(message));
  }
  static Status not_found(std::string m) {
    return error(StatusCode::kNotFound, std::move(m));
  }
  static Status corruption(std::string m) {
    return error(StatusCode::kCorruption, std::move(m));
  }
  static Status io(std::string m) {
    return error(StatusCode::kIo, std::move(m));
  }
  static Status invalid_argument(std::string m) {
    return error(StatusCode::kInvalidArgument, std::move(m));
  }
  // An I/O error from errno, e.g. io_errno("fdatasync", path, errno).
  static Status io_errno(const std::string& what, const std::string& path,
                         int err);

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corruption: bad checksum in wal-00000001.log at offset 4096"
  std::string to_string() const;

 private:
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace dengine::storage
