// Closing an accepted connection on its libuv loop so that what was already
// written (with TLS, the alert that says why it is refused) reaches the
// peer first, shared by the peer transport and the client listener.
#pragma once

#include <uv.h>

namespace dengine::net {

// `Conn` is heap-allocated and owns `uv_tcp_t tcp` (whose data is the
// connection) and `uv_shutdown_t shutdown_req`; it is deleted once the
// handle is closed. With `flush_first` and writes still queued, reading
// stops and a shutdown waits for the writes before the close; otherwise the
// connection closes at once. Loop thread only.
template <typename Conn>
void close_after_writes(Conn* conn, bool flush_first) {
  const auto close = [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); };
  auto* stream = reinterpret_cast<uv_stream_t*>(&conn->tcp);
  if (flush_first && uv_is_writable(stream) &&
      uv_stream_get_write_queue_size(stream) > 0) {
    uv_read_stop(stream);
    conn->shutdown_req.data = conn;
    if (uv_shutdown(&conn->shutdown_req, stream, [](uv_shutdown_t* req, int) {
          auto* c = static_cast<Conn*>(req->data);
          uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
                   [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
        }) == 0) {
      return;
    }
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp), close);
}

}  // namespace dengine::net
