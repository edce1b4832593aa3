// dengine.Client's C side: dengine_client_*, every call with the GIL
// released. As for nodes, each call holds a shared lock on the handle and
// close() takes it exclusively, so closing from one thread while another
// calls is safe. A watch (watch.h) outlives the handle: closing the client
// ends it with DENGINE_ERR_SHUTTING_DOWN.
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.h"
#include "watch.h"

namespace dengine_py {
namespace {

// (ca_file, cert_file, key_file, server_name, min_version); None for the
// optional ones.
using TlsFiles =
    std::tuple<std::string, std::optional<std::string>,
               std::optional<std::string>, std::optional<std::string>,
               std::optional<std::string>>;

const char* c_str_or_null(const std::optional<std::string>& s) {
  return s ? s->c_str() : nullptr;
}

class ClientHandle {
 public:
  ClientHandle(const std::string& endpoints, TimeoutMs timeout_ms,
               const std::optional<TlsFiles>& tls) {
    int status;
    if (!tls) {
      status = dengine_client_open(endpoints.c_str(), timeout_ms, &client_);
    } else {
      dengine_client_tls options{};
      options.version = DENGINE_CLIENT_TLS_VERSION;
      options.struct_size = sizeof options;
      options.ca_file = std::get<0>(*tls).c_str();
      options.cert_file = c_str_or_null(std::get<1>(*tls));
      options.key_file = c_str_or_null(std::get<2>(*tls));
      options.server_name = c_str_or_null(std::get<3>(*tls));
      options.min_version = c_str_or_null(std::get<4>(*tls));
      status = dengine_client_open_tls(endpoints.c_str(), timeout_ms, &options,
                                       &client_);
    }
    if (status != DENGINE_OK) raise_last_error(status);
  }

  ~ClientHandle() { close(); }
  ClientHandle(const ClientHandle&) = delete;
  ClientHandle& operator=(const ClientHandle&) = delete;

  void put(py::handle key, py::handle value) {
    const std::string k = copy_bytes(key, "a key");
    const std::string v = copy_bytes(value, "a value");
    call([&](dengine_client* c) {
      return dengine_client_put(c, k.data(), k.size(), v.data(), v.size());
    });
  }

  void put_ttl(py::handle key, py::handle value, uint64_t ttl_ms) {
    const std::string k = copy_bytes(key, "a key");
    const std::string v = copy_bytes(value, "a value");
    call([&](dengine_client* c) {
      return dengine_client_put_ttl(c, k.data(), k.size(), v.data(), v.size(),
                                    ttl_ms);
    });
  }

  bool remove_key(py::handle key) {
    const std::string k = copy_bytes(key, "a key");
    int existed = 0;
    call([&](dengine_client* c) {
      return dengine_client_delete(c, k.data(), k.size(), &existed);
    });
    return existed != 0;
  }

  bool cas(py::handle key, py::handle expected, py::handle value) {
    const std::string k = copy_bytes(key, "a key");
    const bool absent = expected.is_none();
    const std::string e =
        absent ? std::string() : copy_bytes(expected, "expected");
    const std::string v = copy_bytes(value, "a value");
    int swapped = 0;
    call([&](dengine_client* c) {
      return dengine_client_cas(c, k.data(), k.size(),
                                absent ? nullptr : e.data(), e.size(), v.data(),
                                v.size(), &swapped);
    });
    return swapped != 0;
  }

  py::object get(py::handle key, int consistency) {
    const std::string k = copy_bytes(key, "a key");
    uint8_t* value = nullptr;
    size_t value_len = 0;
    const bool found = call(
        [&](dengine_client* c) {
          return dengine_client_get(c, k.data(), k.size(), consistency, &value,
                                    &value_len);
        },
        DENGINE_ERR_NOT_FOUND);
    if (!found) return py::none();
    py::bytes out(reinterpret_cast<const char*>(value), value_len);
    dengine_free(value);
    return out;
  }

  py::list get_multi(const py::list& keys, int consistency) {
    const KeyList list(keys);
    dengine_kv_items items{};
    call([&](dengine_client* c) {
      return dengine_client_get_multi(c, list.pointers.data(),
                                      list.lengths.data(), list.owned.size(),
                                      consistency, &items);
    });
    py::list out = found_values(items);
    dengine_kv_items_free(&items);
    return out;
  }

  py::tuple scan_prefix(py::handle prefix, uint32_t limit, int consistency) {
    const std::string p = copy_bytes(prefix, "a prefix");
    dengine_kv_items items{};
    call([&](dengine_client* c) {
      return dengine_client_scan_prefix(c, p.data(), p.size(), limit,
                                        consistency, &items);
    });
    py::tuple out = py::make_tuple(key_values(items), items.more != 0);
    dengine_kv_items_free(&items);
    return out;
  }

  Reply propose(py::handle data) {
    const std::string bytes = copy_bytes(data, "a proposal");
    Reply out;
    call([&](dengine_client* c) {
      dengine_reply reply{};
      const int status =
          dengine_client_propose(c, bytes.data(), bytes.size(), &reply);
      out = copy_reply(reply);
      dengine_reply_free(&reply);
      return status;
    });
    return out;
  }

  Reply read(py::handle query, int consistency) {
    const std::string bytes = copy_bytes(query, "a query");
    Reply out;
    call([&](dengine_client* c) {
      dengine_reply reply{};
      const int status = dengine_client_read(c, bytes.data(), bytes.size(),
                                             consistency, &reply);
      out = copy_reply(reply);
      dengine_reply_free(&reply);
      return status;
    });
    return out;
  }

  py::dict status() {
    dengine_status s{};
    call([&](dengine_client* c) { return dengine_client_status(c, &s); });
    py::dict out = status_to_dict(s);
    dengine_status_free(&s);
    return out;
  }

  // The answering server's metrics, as Prometheus text.
  std::string metrics() {
    std::unique_ptr<char, decltype(&dengine_free)> text(nullptr, &dengine_free);
    call([&](dengine_client* c) {
      char* received = nullptr;
      const int status = dengine_client_metrics(c, &received);
      text.reset(received);
      return status;
    });
    return std::string(text.get());
  }

  void add_learner(uint64_t id, const std::string& address) {
    call([&](dengine_client* c) {
      return dengine_client_add_learner(c, id, address.c_str());
    });
  }

  void promote(uint64_t id) {
    call([&](dengine_client* c) { return dengine_client_promote(c, id); });
  }

  void remove(uint64_t id) {
    call([&](dengine_client* c) { return dengine_client_remove(c, id); });
  }

  void transfer_leadership(uint64_t to) {
    call([&](dengine_client* c) {
      return dengine_client_transfer_leadership(c, to);
    });
  }

  uint64_t snapshot() {
    uint64_t index = 0;
    call([&](dengine_client* c) { return dengine_client_snapshot(c, &index); });
    return index;
  }

  // A watch through the client's servers; as NodeHandle::watch.
  std::unique_ptr<Watch> watch(int stream, bool prefix, py::handle key,
                               uint64_t start_revision, uint64_t max_lag,
                               size_t max_pending) {
    const std::string k = copy_bytes(key, "a key");
    const dengine_watch_options options =
        watch_options(stream, prefix, k, start_revision, max_lag);
    auto watch = std::make_unique<Watch>(max_pending);
    call([&](dengine_client* c) { return watch->start_client(c, options); });
    return watch;
  }

  void close() {
    py::gil_scoped_release release;
    std::unique_lock lock(mutex_);
    dengine_client_close(client_);
    client_ = nullptr;
  }

 private:
  // Runs `body(client)` with the GIL released and raises what it returns,
  // except `tolerated`, for which it returns false.
  template <typename Body>
  bool call(Body&& body, int tolerated = DENGINE_OK) {
    int status;
    std::string error;
    {
      py::gil_scoped_release release;
      std::shared_lock lock(mutex_);
      if (client_ == nullptr) {
        status = DENGINE_ERR_SHUTTING_DOWN;
        error = "shutting down: the client is closed";
      } else {
        status = body(client_);
        if (status != DENGINE_OK) error = dengine_last_error();
      }
    }
    if (status == DENGINE_OK) return true;
    if (status == tolerated) return false;
    raise_status(status, error);
  }

  std::shared_mutex mutex_;
  dengine_client* client_ = nullptr;
};

}  // namespace

void register_client(py::module_& m) {
  py::class_<ClientHandle>(m, "Client")
      .def(py::init<const std::string&, TimeoutMs,
                    const std::optional<TlsFiles>&>(),
           py::arg("endpoints"), py::arg("timeout_ms"),
           py::arg("tls") = std::nullopt)
      .def("put", &ClientHandle::put)
      .def("put_ttl", &ClientHandle::put_ttl)
      .def("delete", &ClientHandle::remove_key)
      .def("cas", &ClientHandle::cas)
      .def("get", &ClientHandle::get)
      .def("get_multi", &ClientHandle::get_multi)
      .def("scan_prefix", &ClientHandle::scan_prefix)
      .def("propose", &ClientHandle::propose)
      .def("read", &ClientHandle::read)
      .def("status", &ClientHandle::status)
      .def("metrics", &ClientHandle::metrics)
      .def("add_learner", &ClientHandle::add_learner)
      .def("promote", &ClientHandle::promote)
      .def("remove", &ClientHandle::remove)
      .def("transfer_leadership", &ClientHandle::transfer_leadership)
      .def("snapshot", &ClientHandle::snapshot)
      .def("watch", &ClientHandle::watch)
      .def("close", &ClientHandle::close);
}

}  // namespace dengine_py
