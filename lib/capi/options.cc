#include "capi/options.h"

#include "sm/versioned_struct.h"

namespace dengine::capi {

static_assert(node::kDefaultRequestTimeout.count() ==
                  DENGINE_DEFAULT_TIMEOUT_MS,
              "the header's default timeout is the node layer's");

std::string read_write_options(const dengine_write_options* in,
                               WriteOptions* out) {
  *out = WriteOptions{};
  if (in == nullptr) return "";
  dengine_write_options o;
  std::string error =
      sm::read_versioned("options", in, DENGINE_WRITE_OPTIONS_VERSION, &o);
  if (!error.empty()) return error;
  if ((o.flags & ~DENGINE_REQUEST_KV) != 0) {
    return "options->flags has bits other than DENGINE_REQUEST_KV";
  }
  out->kv = (o.flags & DENGINE_REQUEST_KV) != 0;
  if (o.session != nullptr) {
    out->has_session = true;
    out->session = {o.session->client_id, o.session->seq, o.session->acked_seq};
  }
  out->timeout = std::chrono::milliseconds(o.timeout_ms);
  return "";
}

std::string read_read_options(const dengine_read_options* in,
                              ReadOptions* out) {
  *out = ReadOptions{};
  if (in == nullptr) return "";
  dengine_read_options o;
  std::string error =
      sm::read_versioned("options", in, DENGINE_READ_OPTIONS_VERSION, &o);
  if (!error.empty()) return error;
  if ((o.flags & ~DENGINE_REQUEST_KV) != 0) {
    return "options->flags has bits other than DENGINE_REQUEST_KV";
  }
  out->kv = (o.flags & DENGINE_REQUEST_KV) != 0;
  out->consistency = o.consistency;
  out->timeout = std::chrono::milliseconds(o.timeout_ms);
  return "";
}

std::string read_watch_options(const dengine_watch_options* in,
                               watch::WatchOptions* out) {
  *out = watch::WatchOptions{};
  out->filter.prefix = true;  // NULL: every key
  if (in == nullptr) return "";
  dengine_watch_options o;
  std::string error =
      sm::read_versioned("options", in, DENGINE_WATCH_OPTIONS_VERSION, &o);
  if (!error.empty()) return error;
  switch (o.stream) {
    case DENGINE_WATCH_KV:
      out->filter.stream = watch::Stream::kKv;
      break;
    case DENGINE_WATCH_TOPIC:
      out->filter.stream = watch::Stream::kTopic;
      break;
    case DENGINE_WATCH_CLUSTER:
      out->filter.stream = watch::Stream::kCluster;
      break;
    default:
      return "options->stream must be a DENGINE_WATCH_*, got " +
             std::to_string(o.stream);
  }
  if ((o.flags & ~DENGINE_WATCH_PREFIX) != 0) {
    return "options->flags has bits other than DENGINE_WATCH_PREFIX";
  }
  out->filter.prefix = (o.flags & DENGINE_WATCH_PREFIX) != 0;
  if (o.key == nullptr && o.key_len > 0) {
    return "options->key is NULL but key_len is not 0";
  }
  if (o.key_len > 0) {
    out->filter.key.assign(static_cast<const char*>(o.key), o.key_len);
  }
  out->start_revision = o.start_revision;
  if (o.max_lag != 0) out->max_lag = o.max_lag;
  return "";
}

}  // namespace dengine::capi
