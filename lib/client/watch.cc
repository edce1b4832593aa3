#include "client/watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "base/log.h"
#include "net/address.h"
#include "net/client_codec.h"
#include "net/frame.h"

namespace dengine::client {

namespace {

constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

// Set on a watch thread: the state it runs, so cancel() knows it is called
// from one of its callbacks.
thread_local const void* running_watch = nullptr;

// A callback's exception, as text; nullopt when it returned.
template <typename Callback>
std::optional<std::string> call_guarded(const Callback& callback) {
  try {
    callback();
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string(e.what());
  } catch (...) {
    return std::string("an exception that is not a std::exception");
  }
}

net::ClientRequest request_of(const WatchSpec& spec) {
  net::ClientRequest request;
  request.op = net::ClientOp::kWatch;
  request.stream = spec.stream;
  request.key = spec.key;
  request.is_prefix = spec.is_prefix;
  request.start_revision = spec.start_revision;
  request.max_lag = spec.max_lag;
  return request;
}

}  // namespace

struct Watch::State {
  State(ClientOptions o, WatchSpec spec, EventFn e, EndFn n, int fd)
      : options(std::move(o)),
        request(request_of(spec)),
        on_event(std::move(e)),
        on_end(std::move(n)),
        wake_fd(fd),
        rng(std::random_device()()),
        resume(spec.start_revision) {}
  ~State() { close(wake_fd); }

  // How trying servers to start the watch ended, when not with a start.
  struct Refusal {
    int status = DENGINE_OK;
    std::string message;
  };

  // Tries servers, from the current endpoint, until one starts the watch
  // from `resume`: OK, the stream on `connection`. A server's refusal:
  // OK too, with *refusal set. Otherwise the last error, once `max_retries`
  // further attempts were made or `deadline` passed, or
  // DENGINE_ERR_CANCELLED. `pause`: back off (and move to the next
  // endpoint) before the first attempt too. *backoffs counts the backoffs
  // in a row, for their growth. With a deadline (the start), it also gives
  // up once every endpoint in a row has failed TLS, as client calls do; a
  // running watch keeps trying (its servers' certificates may be fixed).
  Status open_stream(Clock::time_point deadline, int64_t max_retries,
                     bool pause, int* backoffs,
                     std::optional<Refusal>* refusal);
  // One connection to the current endpoint and its answer to the watch.
  // *retry: the error is worth another attempt elsewhere.
  Status attempt(Clock::time_point deadline, bool* retry,
                 std::optional<Refusal>* refusal);
  // The next response of this watch's request on `connection`, skipping
  // those of other requests; a connection-wide error (request id 0) counts
  // as this request's.
  Status read_response(Clock::time_point deadline,
                       net::ClientResponse* response);
  // Runs the watch on its thread, from the stream start() opened, until it
  // ends; returns how.
  watch::WatchEnd follow();
  // Hands a batch to on_event; how the watch ended if it did meanwhile.
  std::optional<watch::WatchEnd> deliver(const net::ClientResponse& batch);
  // Sleeps for the next backoff, never past `deadline`; false when woken.
  bool back_off(int backoffs, Clock::time_point deadline);
  void move_to_next_endpoint();
  // How stop() asked the watch to end.
  watch::WatchEnd cancelled_end() const {
    std::lock_guard lock(end_mu);
    return {end_status, end_message, resume.load()};
  }
  void advance(uint64_t revision) {
    if (revision > resume.load()) resume.store(revision);
  }

  const ClientOptions options;
  net::ClientRequest request;  // start_revision set per attempt
  const EventFn on_event;
  const EndFn on_end;
  const int wake_fd;  // an eventfd: readable once cancelled

  // start(), then the watch thread.
  std::mt19937_64 rng;  // backoff jitter
  size_t endpoint_index = 0;
  std::unique_ptr<Connection> connection;

  // Written by the watch thread only (start() before it); read anywhere.
  std::atomic<uint64_t> resume;
  std::atomic<bool> cancelled{false};
  // Set by the first stop(), before `cancelled`.
  mutable std::mutex end_mu;
  int end_status = DENGINE_ERR_CANCELLED;
  std::string end_message;
};

Status Watch::start(ClientOptions options, WatchSpec spec, EventFn on_event,
                    EndFn on_end, std::unique_ptr<Watch>* out) {
  out->reset();
  if (std::string error = options.validate(); !error.empty()) {
    return Status::error(DENGINE_ERR_INVALID_ARGUMENT,
                         "client options: " + error);
  }
  if (!on_event || !on_end) {
    return Status::error(DENGINE_ERR_INVALID_ARGUMENT,
                         "watch: on_event and on_end must be set");
  }
  if (std::string error = net::validate_client_request(request_of(spec));
      !error.empty()) {
    return Status::error(DENGINE_ERR_INVALID_ARGUMENT, error);
  }
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    return Status::error(
        DENGINE_ERR_IO, std::string("watch: eventfd: ") + std::strerror(errno));
  }
  auto state =
      std::make_shared<State>(std::move(options), std::move(spec),
                              std::move(on_event), std::move(on_end), wake_fd);
  int backoffs = 0;
  std::optional<State::Refusal> refusal;
  Status status = state->open_stream(Clock::now() + state->options.deadline,
                                     state->options.max_retries,
                                     /*pause=*/false, &backoffs, &refusal);
  if (!status.ok()) return status;
  if (refusal) return Status::error(refusal->status, refusal->message);
  std::unique_ptr<Watch> watch(new Watch(state));
  watch->thread_ = std::thread([state] {
    running_watch = state.get();
    watch::WatchEnd end = state->follow();
    // The server ends its side of the watch when the connection closes.
    state->connection.reset();
    if (std::optional<std::string> threw =
            call_guarded([&] { state->on_end(end); })) {
      base::log_line(DENGINE_LOG_WARN, "client watch: on_end threw: " + *threw);
    }
  });
  *out = std::move(watch);
  return {};
}

Watch::Watch(std::shared_ptr<State> state) : state_(std::move(state)) {}

Watch::~Watch() {
  if (running_watch == state_.get()) {
    cancel();
    std::lock_guard<std::mutex> lock(join_mutex_);
    if (thread_.joinable()) thread_.detach();
    return;
  }
  cancel();
}

void Watch::cancel() { stop(DENGINE_ERR_CANCELLED, "the watch was cancelled"); }

void Watch::stop(int status, std::string message) {
  bool first = false;
  {
    std::lock_guard lock(state_->end_mu);
    if (!state_->cancelled.load()) {
      state_->end_status = status;
      state_->end_message = std::move(message);
      first = !state_->cancelled.exchange(true);
    }
  }
  if (first) {
    const uint64_t one = 1;
    // An eventfd's counter cannot overflow from one write: it cannot fail.
    [[maybe_unused]] const ssize_t n = write(state_->wake_fd, &one, sizeof one);
  }
  if (running_watch == state_.get()) return;
  std::lock_guard<std::mutex> lock(join_mutex_);
  if (thread_.joinable()) thread_.join();
}

uint64_t Watch::next_revision() const { return state_->resume.load(); }

Status Watch::State::open_stream(Clock::time_point deadline,
                                 int64_t max_retries, bool pause, int* backoffs,
                                 std::optional<Refusal>* refusal) {
  Status last;
  int64_t attempts = 0;
  size_t tls_failures = 0;  // attempts in a row whose TLS failed
  for (;; pause = true) {
    if (attempts > max_retries) break;
    if (pause) {
      // Growth stops at backoff_max: so does the count.
      const int backoff = *backoffs;
      *backoffs = std::min(backoff + 1, 20);
      if (!back_off(backoff, deadline)) {
        return Status::error(DENGINE_ERR_CANCELLED, "the watch was cancelled");
      }
      move_to_next_endpoint();
    }
    if (attempts > 0 && Clock::now() >= deadline) break;
    ++attempts;
    bool retry = false;
    last = attempt(deadline, &retry, refusal);
    if (last.ok() || !retry) return last;
    tls_failures = last.tls_failed ? tls_failures + 1 : 0;
    if (deadline != kNoDeadline && tls_failures >= options.endpoints.size()) {
      break;
    }
    base::log_line(DENGINE_LOG_INFO,
                   "client watch: " + last.message + "; trying again");
  }
  last.message = "gave up after " + std::to_string(attempts) +
                 (attempts == 1 ? " attempt: " : " attempts: ") + last.message;
  return last;
}

Status Watch::State::attempt(Clock::time_point deadline, bool* retry,
                             std::optional<Refusal>* refusal) {
  *retry = false;
  refusal->reset();
  connection.reset();
  const std::string& target = options.endpoints[endpoint_index];
  net::HostPort endpoint;
  if (std::string error =
          net::parse_address(target, /*allow_any_port=*/false, &endpoint);
      !error.empty()) {
    return Status::error(DENGINE_ERR_INVALID_ARGUMENT, error);
  }
  const TlsTarget tls{options.tls, options.tls_server_name};
  Status status = Connection::open(
      endpoint, std::min(deadline, Clock::now() + options.connect_timeout),
      options.max_response_bytes, &connection, wake_fd, &tls);
  net::ClientResponse response;
  if (status.ok()) {
    ++request.request_id;
    request.start_revision = resume.load();
    const Clock::time_point answer_deadline =
        std::min(deadline, Clock::now() + options.request_timeout);
    status =
        connection->send(net::encode_frame(net::FrameType::kClientRequest,
                                           net::encode_client_request(request)),
                         answer_deadline);
    if (status.ok()) status = read_response(answer_deadline, &response);
  }
  if (status.ok() && response.status == DENGINE_OK &&
      (!response.more || !response.events.empty())) {
    status = Status::error(DENGINE_ERR_CORRUPTION,
                           target + " answered a watch without its start");
  }
  if (!status.ok()) {
    connection.reset();
    *retry = status.code != DENGINE_ERR_CANCELLED;
    return status;
  }
  switch (response.status) {
    case DENGINE_OK:  // the start: its index is the first revision
      advance(response.index);
      return {};
    case DENGINE_ERR_SHUTTING_DOWN:
      connection.reset();
      *retry = true;
      return Status::error(response.status, target + ": " + response.message);
    case DENGINE_ERR_COMPACTED:
      response.message += "; the oldest revision " + target + " keeps is " +
                          std::to_string(response.index);
      break;
    default:
      break;
  }
  connection.reset();
  *refusal = Refusal{response.status, std::move(response.message)};
  return {};
}

Status Watch::State::read_response(Clock::time_point deadline,
                                   net::ClientResponse* response) {
  for (;;) {
    net::Frame frame;
    Status status = connection->receive(&frame, deadline);
    if (!status.ok()) return status;
    if (frame.type != net::FrameType::kClientResponse) {
      return Status::error(DENGINE_ERR_CORRUPTION,
                           std::string("a ") + net::to_string(frame.type) +
                               " frame instead of a client response");
    }
    net::ClientResponse r;
    if (std::string error = net::decode_client_response(frame.payload, &r);
        !error.empty()) {
      return Status::error(DENGINE_ERR_CORRUPTION, error);
    }
    // Request id 0: the server could not read the request (it then closes
    // the connection), and this watch is the only request sent on it.
    if (r.request_id == request.request_id ||
        (r.request_id == 0 && r.status != DENGINE_OK)) {
      *response = std::move(r);
      return {};
    }
  }
}

watch::WatchEnd Watch::State::follow() {
  int backoffs = 0;  // reconnections since the last event batch
  for (;;) {
    if (cancelled.load()) return cancelled_end();
    if (!connection) {
      std::optional<Refusal> refusal;
      Status status =
          open_stream(kNoDeadline, std::numeric_limits<int64_t>::max(),
                      /*pause=*/true, &backoffs, &refusal);
      if (status.code == DENGINE_ERR_CANCELLED) return cancelled_end();
      if (!status.ok()) return {status.code, status.message, resume.load()};
      if (refusal) return {refusal->status, refusal->message, resume.load()};
      continue;
    }
    net::ClientResponse response;
    Status status = read_response(kNoDeadline, &response);
    if (status.code == DENGINE_ERR_CANCELLED) return cancelled_end();
    if (status.ok() && response.status == DENGINE_OK && !response.more) {
      status = Status::error(DENGINE_ERR_CORRUPTION,
                             "a watch response without the more flag");
    }
    if (status.ok() && response.status == DENGINE_OK) {
      if (!response.events.empty()) backoffs = 0;
      if (std::optional<watch::WatchEnd> end = deliver(response)) return *end;
      continue;
    }
    if (status.ok()) {
      advance(response.index);
      if (response.status != DENGINE_ERR_SHUTTING_DOWN) {
        return {response.status, std::move(response.message), resume.load()};
      }
      status = Status::error(response.status, response.message);
    }
    base::log_line(DENGINE_LOG_INFO, "client watch: the stream from " +
                                         options.endpoints[endpoint_index] +
                                         " ended: " + status.message +
                                         "; resuming from revision " +
                                         std::to_string(resume.load()));
    connection.reset();
  }
}

std::optional<watch::WatchEnd> Watch::State::deliver(
    const net::ClientResponse& batch) {
  for (const watch::Event& event : batch.events) {
    // Every event below this one's revision has been delivered.
    advance(event.revision);
    if (cancelled.load()) return cancelled_end();
    if (std::optional<std::string> threw =
            call_guarded([&] { on_event(event); })) {
      return watch::WatchEnd{DENGINE_ERR_CANCELLED,
                             "the watch's on_event threw: " + *threw,
                             resume.load()};
    }
  }
  advance(batch.index);
  return std::nullopt;
}

bool Watch::State::back_off(int backoffs, Clock::time_point deadline) {
  const auto initial = options.backoff_initial;
  auto delay = options.backoff_max;
  if (backoffs < 20 && initial * (int64_t{1} << backoffs) < delay) {
    delay = initial * (int64_t{1} << backoffs);
  }
  // Jitter in [delay/2, delay], as the client's calls do.
  const auto jittered =
      std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(
          delay.count() / 2, delay.count())(rng));
  const Clock::time_point until = std::min(deadline, Clock::now() + jittered);
  pollfd p{wake_fd, POLLIN, 0};
  for (;;) {
    const auto left = until - Clock::now();
    if (left <= Clock::duration::zero()) break;
    const int64_t ms = std::min<int64_t>(
        std::chrono::ceil<std::chrono::milliseconds>(left).count(),
        std::numeric_limits<int32_t>::max());
    const int ready = poll(&p, 1, static_cast<int>(ms));
    if (ready > 0) return false;
    if (ready < 0 && errno != EINTR) break;
  }
  return !cancelled.load();
}

void Watch::State::move_to_next_endpoint() {
  connection.reset();
  endpoint_index = (endpoint_index + 1) % options.endpoints.size();
}

}  // namespace dengine::client
