#include "limits.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "latency_histogram.h"

namespace dengine::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kFdatasyncSamples = 200;
constexpr uint32_t kFdatasyncWarmup = 10;
// About a WAL record of a put with an 8-byte key and a 256-byte value.
constexpr size_t kAppendBytes = 300;
constexpr uint32_t kRoundTrips = 2000;
constexpr uint32_t kRoundTripWarmup = 100;
constexpr size_t kMessageBytes = 64;

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

uint64_t nanos_since(Clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start)
          .count());
}

double micros(uint64_t nanos) { return static_cast<double>(nanos) / 1000.0; }

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Unlinks a file when it goes out of scope (not at once: an open file
// without a name might sync differently).
struct RemovedAtExit {
  std::string path;
  ~RemovedAtExit() { ::unlink(path.c_str()); }
};

bool measure_fdatasync(const std::string& dir, Limits* out,
                       std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *error = "create " + dir + ": " + ec.message();
    return false;
  }
  const std::string path = dir + "/dengine-bench-limits.tmp";
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    *error = errno_text("open " + path);
    return false;
  }
  const RemovedAtExit removed{path};
  const uint32_t appends = kFdatasyncWarmup + kFdatasyncSamples;
  const auto size = static_cast<off_t>(appends * kAppendBytes);
  // As the WAL: the segment's space is allocated, and durable, before any
  // record is written into it. Where fallocate is unsupported the appends
  // grow the file instead, which costs what the disk charges for that.
  if (::fallocate(fd.get(), 0, 0, size) != 0 && errno != EOPNOTSUPP) {
    *error = errno_text("fallocate " + path);
    return false;
  }
  if (::fdatasync(fd.get()) != 0) {
    *error = errno_text("fdatasync " + path);
    return false;
  }
  const std::string record(kAppendBytes, 'r');
  LatencyHistogram histogram;
  for (uint32_t i = 0; i < appends; ++i) {
    const Clock::time_point start = Clock::now();
    const auto offset = static_cast<off_t>(i * kAppendBytes);
    if (::pwrite(fd.get(), record.data(), record.size(), offset) !=
        static_cast<ssize_t>(record.size())) {
      *error = errno_text("pwrite " + path);
      return false;
    }
    if (::fdatasync(fd.get()) != 0) {
      *error = errno_text("fdatasync " + path);
      return false;
    }
    if (i >= kFdatasyncWarmup) histogram.record(nanos_since(start));
  }
  out->dir = dir;
  out->fdatasync_samples = kFdatasyncSamples;
  out->fdatasync_p50_us = micros(histogram.percentile(0.50));
  out->fdatasync_p99_us = micros(histogram.percentile(0.99));
  return true;
}

bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool receive_all(int fd, char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::recv(fd, data, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void set_no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool measure_round_trip(Limits* out, std::string* error) {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener.get() < 0 ||
      ::bind(listener.get(), reinterpret_cast<sockaddr*>(&address),
             sizeof address) != 0 ||
      ::listen(listener.get(), 1) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address),
                    &length) != 0) {
    *error = errno_text("loopback listener");
    return false;
  }
  Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (client.get() < 0 ||
      ::connect(client.get(), reinterpret_cast<sockaddr*>(&address),
                sizeof address) != 0) {
    *error = errno_text("loopback connect");
    return false;
  }
  Fd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (server.get() < 0) {
    *error = errno_text("loopback accept");
    return false;
  }
  set_no_delay(client.get());
  set_no_delay(server.get());

  // The echo side ends when the client side closes or a call fails.
  std::thread echo([fd = server.get()] {
    char buffer[kMessageBytes];
    while (receive_all(fd, buffer, sizeof buffer) &&
           send_all(fd, buffer, sizeof buffer)) {
    }
  });
  char message[kMessageBytes];
  std::memset(message, 'p', sizeof message);
  LatencyHistogram histogram;
  bool ok = true;
  for (uint32_t i = 0; ok && i < kRoundTripWarmup + kRoundTrips; ++i) {
    const Clock::time_point start = Clock::now();
    ok = send_all(client.get(), message, sizeof message) &&
         receive_all(client.get(), message, sizeof message);
    if (i >= kRoundTripWarmup) histogram.record(nanos_since(start));
  }
  if (!ok) *error = errno_text("loopback round trip");
  ::shutdown(client.get(), SHUT_RDWR);
  echo.join();
  if (!ok) return false;
  out->round_trips = kRoundTrips;
  out->loopback_rtt_p50_us = micros(histogram.percentile(0.50));
  return true;
}

}  // namespace

bool measure_limits(const std::string& dir, Limits* out, std::string* error) {
  if (!measure_fdatasync(dir, out, error)) {
    *error = "measuring the fdatasync limit: " + *error;
    return false;
  }
  if (!measure_round_trip(out, error)) {
    *error = "measuring the loopback limit: " + *error;
    return false;
  }
  return true;
}

LimitRatios limit_ratios(const Limits& limits, double latency_p50_us,
                         double latency_p99_us, double writes_per_s) {
  LimitRatios r;
  const double floor_us = limits.fdatasync_p50_us + limits.loopback_rtt_p50_us;
  if (floor_us > 0) r.latency_p50_over_limit = latency_p50_us / floor_us;
  if (latency_p50_us > 0)
    r.latency_p99_over_p50 = latency_p99_us / latency_p50_us;
  r.writes_per_fdatasync = writes_per_s * limits.fdatasync_p50_us / 1e6;
  return r;
}

}  // namespace dengine::bench
