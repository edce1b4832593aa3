#include "node/client_watches.h"

#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "dengine.h"
#include "net/frame.h"
#include "watch/hub.h"

namespace dengine::node {
namespace {

std::string response_frame(const net::ClientResponse& response) {
  return net::encode_frame(net::FrameType::kClientResponse,
                           net::encode_client_response(response));
}

std::string end_frame(uint64_t request_id, int status, std::string message,
                      uint64_t index) {
  net::ClientResponse response;
  response.request_id = request_id;
  response.status = status;
  response.message = std::move(message);
  response.index = index;
  return response_frame(response);
}

}  // namespace

// One watch relayed to one connection.
struct ClientWatches::Served {
  uint64_t id = 0;  // in served_
  uint64_t conn_id = 0;
  uint64_t request_id = 0;
  uint64_t hub_id = 0;  // set by Hub::watch before any callback runs

  // Delivery thread only: the events of the batch being delivered.
  std::vector<watch::Event> batch;

  // Under Shared::mu.
  // Encoded frames, oldest first, each with the revision to resume from
  // once it is written.
  std::deque<std::pair<std::string, uint64_t>> outbox;
  size_t outbox_bytes = 0;
  bool ended = false;     // the end frame (if any) is the outbox's last
  bool silent = false;    // the loop ends it itself: on_end queues nothing
  bool too_slow = false;  // the outbox outgrew kMaxUnsentBytes
  bool on_ready = false;  // in Shared::ready

  // Loop thread only: the index of the last frame written, where the watch
  // resumes when the loop ends it.
  uint64_t resume = 0;
};

// What the hub's callbacks share with the loop thread (see the header).
struct ClientWatches::Shared {
  std::mutex mu;
  bool open = true;  // wake-ups allowed
  std::vector<std::shared_ptr<Served>> ready;
  Wake wake;

  // Queues frames for `served`; called with mu held. Wakes the loop.
  void queue(Served& served, std::shared_ptr<Served> self,
             std::vector<std::pair<std::string, uint64_t>> frames) {
    for (auto& frame : frames) {
      served.outbox_bytes += frame.first.size();
      served.outbox.push_back(std::move(frame));
    }
    if (served.outbox_bytes > kMaxUnsentBytes) served.too_slow = true;
    if (!served.on_ready) {
      served.on_ready = true;
      ready.push_back(std::move(self));
      if (open) wake();
    }
  }
};

namespace {

// The event batch frames of `events` (whole revisions, in order), split
// between revisions into frames of about kFrameBytes; each carries the
// revision to resume from after it: the next frame's first revision, or
// `next_revision` for the last.
std::vector<std::pair<std::string, uint64_t>> batch_frames(
    uint64_t request_id, const std::vector<watch::Event>& events,
    uint64_t next_revision, size_t frame_bytes) {
  std::vector<std::pair<std::string, uint64_t>> frames;
  size_t first = 0;
  while (first < events.size()) {
    size_t end = first;
    size_t bytes = 0;
    while (end < events.size() &&
           (bytes < frame_bytes ||
            events[end].revision == events[end - 1].revision)) {
      bytes += watch::footprint(events[end]);
      ++end;
    }
    net::ClientResponse response;
    response.request_id = request_id;
    response.more = true;
    response.events.assign(events.begin() + first, events.begin() + end);
    response.index = end < events.size() ? events[end].revision : next_revision;
    frames.emplace_back(response_frame(response), response.index);
    first = end;
  }
  return frames;
}

}  // namespace

ClientWatches::ClientWatches(Node* node, Writer writer, Wake wake)
    : node_(node),
      writer_(std::move(writer)),
      shared_(std::make_shared<Shared>()) {
  shared_->wake = std::move(wake);
}

ClientWatches::~ClientWatches() { close(); }

void ClientWatches::open(uint64_t conn_id, const net::ClientRequest& request) {
  std::shared_ptr<watch::Hub> hub = node_->watches();
  auto served = std::make_shared<Served>();
  served->id = next_id_++;
  served->conn_id = conn_id;
  served->request_id = request.request_id;

  watch::WatchOptions options;
  options.filter.stream = request.stream;
  options.filter.key = request.key;
  options.filter.prefix = request.is_prefix;
  // "From now" is fixed here, so that the start frame can say where.
  options.start_revision = request.start_revision != 0 ? request.start_revision
                                                       : hub->covered_to() + 1;
  if (request.max_lag != 0) options.max_lag = request.max_lag;
  served->resume = options.start_revision;

  std::weak_ptr<Shared> weak_shared = shared_;
  std::weak_ptr<Served> weak_served = served;
  Served* s = served.get();  // the callbacks run only while it is in served_
  options.on_batch = [s, weak_shared, weak_served](uint64_t next_revision) {
    std::shared_ptr<Shared> shared = weak_shared.lock();
    std::shared_ptr<Served> self = weak_served.lock();
    if (!shared || !self) return;
    auto frames =
        batch_frames(s->request_id, s->batch, next_revision, kFrameBytes);
    s->batch.clear();
    std::lock_guard lock(shared->mu);
    if (s->too_slow || s->silent) return;  // the loop is ending it
    shared->queue(*s, std::move(self), std::move(frames));
  };
  auto on_event = [s](const watch::Event& event) { s->batch.push_back(event); };
  auto on_end = [s, weak_shared, weak_served](const watch::WatchEnd& end) {
    std::shared_ptr<Shared> shared = weak_shared.lock();
    std::shared_ptr<Served> self = weak_served.lock();
    if (!shared || !self) return;
    // The events before the end are whole revisions below next_revision.
    std::erase_if(s->batch, [&](const watch::Event& e) {
      return e.revision >= end.next_revision;
    });
    auto frames =
        batch_frames(s->request_id, s->batch, end.next_revision, kFrameBytes);
    s->batch.clear();
    std::lock_guard lock(shared->mu);
    s->ended = true;
    // Ended by the loop, or the loop will end it as overflowed: the batches
    // it dropped come before this end.
    if (s->silent || s->too_slow) return;
    frames.emplace_back(
        end_frame(s->request_id, end.status, end.message, end.next_revision),
        end.next_revision);
    shared->queue(*s, std::move(self), std::move(frames));
  };

  std::string error;
  uint64_t oldest = 0;
  const int rc =
      hub->watch(std::move(options), std::move(on_event), std::move(on_end),
                 &served->hub_id, &error, &oldest);
  if (rc != DENGINE_OK) {
    writer_(conn_id, end_frame(request.request_id, rc, "watch: " + error,
                               rc == DENGINE_ERR_COMPACTED ? oldest : 0));
    return;
  }
  served_[served->id] = served;
  net::ClientResponse start;
  start.request_id = request.request_id;
  start.more = true;
  start.index = served->resume;
  writer_(conn_id, response_frame(start));
}

void ClientWatches::flush() {
  std::vector<std::shared_ptr<Served>> ready;
  {
    std::lock_guard lock(shared_->mu);
    ready.swap(shared_->ready);
  }
  for (const std::shared_ptr<Served>& served : ready) {
    if (!served_.contains(served->id)) continue;  // already ended here
    std::deque<std::pair<std::string, uint64_t>> frames;
    bool ended = false;
    bool too_slow = false;
    {
      std::lock_guard lock(shared_->mu);
      served->on_ready = false;
      frames.swap(served->outbox);
      served->outbox_bytes = 0;
      ended = served->ended;
      too_slow = served->too_slow;
    }
    if (too_slow) {  // its frames are dropped: the client resumes before them
      end_overflowed(*served);
      continue;
    }
    std::optional<size_t> unsent = 0;
    for (auto& [frame, index] : frames) {
      unsent = writer_(served->conn_id, std::move(frame));
      if (!unsent) break;
      served->resume = index;
    }
    if (!unsent) {  // the connection is gone
      cancel(*served);
      served_.erase(served->id);
    } else if (ended) {
      served_.erase(served->id);
    } else if (*unsent > kMaxUnsentBytes) {
      end_overflowed(*served);
    }
  }
}

void ClientWatches::report_progress() {
  const std::shared_ptr<watch::Hub> hub = node_->watches();
  std::vector<std::pair<std::shared_ptr<Served>, uint64_t>> moved;
  for (const auto& [id, served] : served_) {
    // Asked first, then the outbox checked: a batch queued after the hub's
    // answer holds only revisions at or after it, so when nothing waits to
    // be written, every frame below it already was.
    const std::optional<uint64_t> next = hub->progress(served->hub_id);
    if (!next || *next <= served->resume) continue;
    std::lock_guard lock(shared_->mu);
    if (served->on_ready || served->ended || served->silent ||
        served->too_slow) {
      continue;
    }
    moved.emplace_back(served, *next);
  }
  for (const auto& [served, next] : moved) {
    net::ClientResponse response;
    response.request_id = served->request_id;
    response.more = true;
    response.index = next;
    if (!writer_(served->conn_id, response_frame(response))) {
      cancel(*served);
      served_.erase(served->id);
      continue;
    }
    served->resume = next;
  }
}

void ClientWatches::end_overflowed(Served& served) {
  cancel(served);
  writer_(served.conn_id,
          end_frame(served.request_id, DENGINE_ERR_WATCH_OVERFLOW,
                    "watch: the client read too slowly: more than " +
                        std::to_string(kMaxUnsentBytes >> 20) +
                        " MiB of its events waited unsent; resume from "
                        "revision " +
                        std::to_string(served.resume),
                    served.resume));
  const uint64_t id = served.id;
  served_.erase(id);  // last: it may own `served`
}

void ClientWatches::close_connection(uint64_t conn_id) {
  std::vector<uint64_t> ids;
  for (auto& [id, served] : served_) {
    if (served->conn_id == conn_id) ids.push_back(id);
  }
  for (uint64_t id : ids) {
    auto it = served_.find(id);
    if (it == served_.end()) continue;
    cancel(*it->second);
    served_.erase(it);
  }
}

void ClientWatches::close() {
  {
    std::lock_guard lock(shared_->mu);
    shared_->open = false;
  }
  // A failed write closes its connection, which calls close_connection().
  std::unordered_map<uint64_t, std::shared_ptr<Served>> served;
  served.swap(served_);
  for (auto& [id, w] : served) {
    cancel(*w);
    writer_(w->conn_id,
            end_frame(w->request_id, DENGINE_ERR_SHUTTING_DOWN,
                      "watch: the client server is stopping", w->resume));
  }
}

void ClientWatches::cancel(Served& served) {
  {
    std::lock_guard lock(shared_->mu);
    if (served.ended) return;
    served.silent = true;
  }
  // Not on the delivery thread: when it returns, no callback of the watch
  // runs any more.
  node_->watches()->cancel(served.hub_id);
}

}  // namespace dengine::node
