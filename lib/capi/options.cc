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

}  // namespace dengine::capi
