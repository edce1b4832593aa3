// dengine.Config and dengine.Node's C side: dengine_config_* and
// dengine_node_* / dengine_kv_*, every blocking call with the GIL released.
//
// A node handle may be used from many Python threads while another closes
// it: each call holds a shared lock on the handle while it runs (taken
// after the GIL is released), close() stops the node first (so blocked
// calls return) and then takes the lock exclusively to free it. A watch
// (watch.h) outlives its node's handle: closing the node ends it.
#include <pybind11/stl.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "events.h"
#include "machine.h"
#include "watch.h"

namespace dengine_py {
namespace {

void check(int status) {
  if (status != DENGINE_OK) raise_last_error(status);
}

class ConfigHandle {
 public:
  ConfigHandle() { check(dengine_config_new(&config_)); }
  ~ConfigHandle() { dengine_config_free(config_); }
  ConfigHandle(const ConfigHandle&) = delete;
  ConfigHandle& operator=(const ConfigHandle&) = delete;

  dengine_config* get() const { return config_; }

 private:
  dengine_config* config_ = nullptr;
};

// The outcome of one call: its status, its reply, and why it failed.
struct Outcome {
  int status = DENGINE_OK;
  Reply reply;
  std::string error;
};

// Bytes a dengine_kv_encode_* call allocated.
struct Encoded {
  Encoded() = default;
  ~Encoded() { dengine_free(data); }
  Encoded(const Encoded&) = delete;
  Encoded& operator=(const Encoded&) = delete;

  uint8_t* data = nullptr;
  size_t len = 0;
};

// Waits for the completion of an _async call, for the blocking forms that
// the C API does not give a reply (membership, transfer, snapshot).
struct Waiter {
  std::mutex mutex;
  std::condition_variable done;
  bool finished = false;
  int status = DENGINE_OK;
  Reply reply;

  static void complete(void* ctx, int status, const dengine_reply* reply) {
    auto* self = static_cast<Waiter*>(ctx);
    {
      std::lock_guard lock(self->mutex);
      self->status = status;
      if (reply != nullptr) self->reply = copy_reply(*reply);
      self->finished = true;
    }
    self->done.notify_one();
  }

  void wait() {
    std::unique_lock lock(mutex);
    done.wait(lock, [&] { return finished; });
  }
};

class NodeHandle {
 public:
  // Starts a node; `machine` is a Machine adapter, or None for the built-in
  // KV machine. The adapter is kept until the node is closed.
  NodeHandle(ConfigHandle& config, py::object machine)
      : machine_(std::move(machine)) {
    if (!machine_.is_none()) {
      const auto& adapter = machine_.cast<const MachineAdapter&>();
      check(dengine_config_set_state_machine(config.get(), &adapter.vtable()));
    }
    int status;
    std::string error;
    {
      py::gil_scoped_release release;  // start calls the machine
      status = dengine_node_start(config.get(), &node_);
      if (status != DENGINE_OK) error = dengine_last_error();
    }
    if (status != DENGINE_OK) raise_status(status, error);
  }

  ~NodeHandle() { close(); }
  NodeHandle(const NodeHandle&) = delete;
  NodeHandle& operator=(const NodeHandle&) = delete;

  Reply propose(py::handle data, TimeoutMs timeout_ms) {
    const std::string bytes = copy_bytes(data, "a proposal");
    return check_reply(call([&](dengine_node* node, Outcome* out) {
      dengine_reply reply;
      out->status = dengine_node_propose(node, bytes.data(), bytes.size(),
                                         nullptr, timeout_ms, &reply);
      out->reply = copy_reply(reply);
      dengine_reply_free(&reply);
    }));
  }

  void propose_async(py::handle data, TimeoutMs timeout_ms, uint64_t token) {
    const std::string bytes = copy_bytes(data, "a proposal");
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status =
          dengine_node_propose_async(node, bytes.data(), bytes.size(), nullptr,
                                     timeout_ms, &on_done, token_ctx(token));
    }));
  }

  Reply read(py::handle query, int consistency, TimeoutMs timeout_ms) {
    const std::string bytes = copy_bytes(query, "a query");
    return check_reply(call([&](dengine_node* node, Outcome* out) {
      dengine_reply reply;
      out->status = dengine_node_read(node, bytes.data(), bytes.size(),
                                      consistency, timeout_ms, &reply);
      out->reply = copy_reply(reply);
      dengine_reply_free(&reply);
    }));
  }

  void read_async(py::handle query, int consistency, TimeoutMs timeout_ms,
                  uint64_t token) {
    const std::string bytes = copy_bytes(query, "a query");
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status =
          dengine_node_read_async(node, bytes.data(), bytes.size(), consistency,
                                  timeout_ms, &on_done, token_ctx(token));
    }));
  }

  void add_learner(uint64_t id, const std::string& address,
                   TimeoutMs timeout_ms) {
    wait_for("add_learner",
             [&](dengine_node* node, dengine_done_fn done, void* ctx) {
               return dengine_node_add_learner_async(node, id, address.c_str(),
                                                     timeout_ms, done, ctx);
             });
  }

  void promote(uint64_t id, TimeoutMs timeout_ms) {
    wait_for(
        "promote", [&](dengine_node* node, dengine_done_fn done, void* ctx) {
          return dengine_node_promote_async(node, id, timeout_ms, done, ctx);
        });
  }

  void remove(uint64_t id, TimeoutMs timeout_ms) {
    wait_for(
        "remove", [&](dengine_node* node, dengine_done_fn done, void* ctx) {
          return dengine_node_remove_async(node, id, timeout_ms, done, ctx);
        });
  }

  void transfer_leadership(uint64_t to, TimeoutMs timeout_ms) {
    wait_for("transfer_leadership",
             [&](dengine_node* node, dengine_done_fn done, void* ctx) {
               return dengine_node_transfer_leadership_async(
                   node, to, timeout_ms, done, ctx);
             });
  }

  uint64_t snapshot(TimeoutMs timeout_ms) {
    return wait_for("snapshot",
                    [&](dengine_node* node, dengine_done_fn done, void* ctx) {
                      return dengine_node_snapshot_async(node, timeout_ms, done,
                                                         ctx);
                    })
        .index;
  }

  py::dict status() {
    dengine_status s{};
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status = dengine_node_status(node, &s);
    }));
    py::dict out = status_to_dict(s);
    dengine_status_free(&s);
    return out;
  }

  // (samples, text): a snapshot of the node's metrics as metric_samples,
  // and its Prometheus text.
  py::tuple metrics() {
    std::unique_ptr<dengine_metrics, decltype(&dengine_metrics_free)> snapshot(
        nullptr, &dengine_metrics_free);
    std::unique_ptr<char, decltype(&dengine_free)> text(nullptr, &dengine_free);
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      dengine_metrics* taken = nullptr;
      out->status = dengine_node_metrics(node, &taken);
      snapshot.reset(taken);
      if (out->status != DENGINE_OK) return;
      char* formatted = nullptr;
      out->status = dengine_metrics_text(taken, &formatted);
      text.reset(formatted);
    }));
    return py::make_tuple(metric_samples(*snapshot), std::string(text.get()));
  }

  // Reads the node's TLS files again (dengine_node_reload_tls).
  void reload_tls() {
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status = dengine_node_reload_tls(node);
    }));
  }

  // Leader changes go to the Python handler `token`; None stops them.
  void set_leader_token(std::optional<uint64_t> token) {
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status =
          token ? dengine_node_set_leader_callback(node, &on_leader_change,
                                                   token_ctx(*token))
                : dengine_node_set_leader_callback(node, nullptr, nullptr);
    }));
  }

  void put(py::handle key, py::handle value, TimeoutMs timeout_ms) {
    const std::string k = copy_bytes(key, "a key");
    const std::string v = copy_bytes(value, "a value");
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status = dengine_kv_put(node, k.data(), k.size(), v.data(), v.size(),
                                   nullptr, timeout_ms);
    }));
  }

  void put_ttl(py::handle key, py::handle value, uint64_t ttl_ms,
               TimeoutMs timeout_ms) {
    const std::string k = copy_bytes(key, "a key");
    const std::string v = copy_bytes(value, "a value");
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status = dengine_kv_put_ttl(node, k.data(), k.size(), v.data(),
                                       v.size(), ttl_ms, nullptr, timeout_ms);
    }));
  }

  bool remove_key(py::handle key, TimeoutMs timeout_ms) {
    const std::string k = copy_bytes(key, "a key");
    int existed = 0;
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status = dengine_kv_delete(node, k.data(), k.size(), nullptr,
                                      timeout_ms, &existed);
    }));
    return existed != 0;
  }

  bool cas(py::handle key, py::handle expected, py::handle value,
           TimeoutMs timeout_ms) {
    const std::string k = copy_bytes(key, "a key");
    const bool absent = expected.is_none();
    const std::string e =
        absent ? std::string() : copy_bytes(expected, "expected");
    const std::string v = copy_bytes(value, "a value");
    int swapped = 0;
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status = dengine_kv_cas(
          node, k.data(), k.size(), absent ? nullptr : e.data(), e.size(),
          v.data(), v.size(), nullptr, timeout_ms, &swapped);
    }));
    return swapped != 0;
  }

  py::object get(py::handle key, int consistency, TimeoutMs timeout_ms) {
    const std::string k = copy_bytes(key, "a key");
    uint8_t* value = nullptr;
    size_t value_len = 0;
    Outcome outcome = call([&](dengine_node* node, Outcome* out) {
      out->status = dengine_kv_get(node, k.data(), k.size(), consistency,
                                   timeout_ms, &value, &value_len);
    });
    if (outcome.status == DENGINE_ERR_NOT_FOUND) return py::none();
    check_outcome(outcome);
    py::bytes out(reinterpret_cast<const char*>(value), value_len);
    dengine_free(value);
    return out;
  }

  // get's value (None: absent) and the revision it reflects: through the
  // KV codec and dengine_node_read_opts, whose reply, unlike
  // dengine_kv_get's, carries the revision.
  py::tuple get_with_revision(py::handle key, int consistency,
                              TimeoutMs timeout_ms) {
    const std::string k = copy_bytes(key, "a key");
    Encoded query;
    check(dengine_kv_encode_get(k.data(), k.size(), &query.data, &query.len));
    dengine_kv_items items{};
    const uint64_t revision = kv_read(query, consistency, timeout_ms, &items);
    py::object value = found_values(items)[0];
    dengine_kv_items_free(&items);
    return py::make_tuple(value, revision);
  }

  py::object get_multi(const py::list& keys, int consistency,
                       TimeoutMs timeout_ms) {
    const KeyList list(keys);
    dengine_kv_items items{};
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status = dengine_kv_get_multi(node, list.pointers.data(),
                                         list.lengths.data(), list.owned.size(),
                                         consistency, timeout_ms, &items);
    }));
    py::object out = found_values(items);
    dengine_kv_items_free(&items);
    return out;
  }

  // (items, more, revision): as get_with_revision, through the codec.
  py::tuple scan_prefix(py::handle prefix, uint32_t limit, int consistency,
                        TimeoutMs timeout_ms) {
    const std::string p = copy_bytes(prefix, "a prefix");
    Encoded query;
    check(dengine_kv_encode_scan_prefix(p.data(), p.size(), limit, &query.data,
                                        &query.len));
    dengine_kv_items items{};
    const uint64_t revision = kv_read(query, consistency, timeout_ms, &items);
    py::tuple out =
        py::make_tuple(key_values(items), items.more != 0, revision);
    dengine_kv_items_free(&items);
    return out;
  }

  // A watch of `stream` (DENGINE_WATCH_*) selecting `key` (a key, prefix or
  // topic; unused by the cluster stream).
  std::unique_ptr<Watch> watch(int stream, bool prefix, py::handle key,
                               uint64_t start_revision, uint64_t max_lag,
                               size_t max_pending) {
    const std::string k = copy_bytes(key, "a key");
    const dengine_watch_options options =
        watch_options(stream, prefix, k, start_revision, max_lag);
    auto watch = std::make_unique<Watch>(max_pending);
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status = watch->start(node, options);
    }));
    return watch;
  }

  // (oldest, next): the revisions a new watch can start from.
  py::tuple watch_range() {
    uint64_t oldest = 0;
    uint64_t next = 0;
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status = dengine_node_watch_range(node, &oldest, &next);
    }));
    return py::make_tuple(oldest, next);
  }

  // Stops serving and stops the machine; raises the error that stopped the
  // node, if one did.
  void stop() {
    check_outcome(call([&](dengine_node* node, Outcome* out) {
      out->status = dengine_node_stop(node);
    }));
  }

  // Stops (if needed) and frees the node, then releases the machine.
  // Idempotent; never raises.
  void close() {
    {
      py::gil_scoped_release release;
      {
        std::shared_lock lock(mutex_);
        if (node_ != nullptr) dengine_node_stop(node_);
      }
      std::unique_lock lock(mutex_);
      dengine_node_close(node_);
      node_ = nullptr;
    }
    machine_ = py::none();
  }

 private:
  // Runs `body(node, &outcome)` with the GIL released and the handle held;
  // the error message is taken on the calling thread.
  template <typename Body>
  Outcome call(Body&& body) {
    Outcome out;
    py::gil_scoped_release release;
    std::shared_lock lock(mutex_);
    if (node_ == nullptr) {
      out.status = DENGINE_ERR_SHUTTING_DOWN;
      out.error = "shutting down: the node is closed";
      return out;
    }
    body(node_, &out);
    if (out.status != DENGINE_OK) {
      if (out.error.empty()) out.error = dengine_last_error();
      if (out.status == DENGINE_ERR_NOT_LEADER && out.reply.leader_id == 0) {
        // The KV helpers report no leader: take it from the status.
        dengine_status s{};
        if (dengine_node_status(node_, &s) == DENGINE_OK) {
          out.reply.leader_id = s.leader_id;
          out.reply.leader_address = s.leader_address;
          dengine_status_free(&s);
        }
      }
    }
    return out;
  }

  // Reads the encoded KV `query` into *items (free with
  // dengine_kv_items_free); returns the revision the answer reflects.
  uint64_t kv_read(const Encoded& query, int consistency, TimeoutMs timeout_ms,
                   dengine_kv_items* items) {
    Outcome outcome = call([&](dengine_node* node, Outcome* out) {
      dengine_read_options options{};
      options.version = DENGINE_READ_OPTIONS_VERSION;
      options.struct_size = sizeof options;
      options.consistency = consistency;
      options.timeout_ms = timeout_ms;
      options.flags = DENGINE_REQUEST_KV;
      dengine_reply reply;
      out->status =
          dengine_node_read_opts(node, query.data, query.len, &options, &reply);
      out->reply = copy_reply(reply);
      dengine_reply_free(&reply);
    });
    check_outcome(outcome);
    const std::string& answer = outcome.reply.data;
    check(dengine_kv_decode_read(query.data, query.len, answer.data(),
                                 answer.size(), items));
    return outcome.reply.index;
  }

  // Runs an _async call to completion with the GIL released.
  template <typename Start>
  Reply wait_for(const char* function, Start&& start) {
    Outcome outcome = call([&](dengine_node* node, Outcome* out) {
      Waiter waiter;
      out->status = start(node, &Waiter::complete, &waiter);
      if (out->status != DENGINE_OK) return;  // done is not called
      waiter.wait();
      out->status = waiter.status;
      out->reply = std::move(waiter.reply);
      if (out->status != DENGINE_OK) {
        // Failed on a dengine thread: this thread's last error is not it.
        out->error =
            std::string(dengine_strerror(out->status)) + ": dengine_node_" +
            function +
            (out->reply.message.empty() ? "" : ": " + out->reply.message);
      }
    });
    return check_reply(std::move(outcome));
  }

  static void check_outcome(const Outcome& outcome) {
    if (outcome.status == DENGINE_OK) return;
    raise_status(outcome.status, outcome.error, outcome.reply.leader_id,
                 outcome.reply.leader_address);
  }

  static Reply check_reply(Outcome outcome) {
    check_outcome(outcome);
    return std::move(outcome.reply);
  }

  std::shared_mutex mutex_;
  dengine_node* node_ = nullptr;
  py::object machine_;
};

}  // namespace

void register_node(py::module_& m) {
  // One method per dengine_config_* setter, plus load_toml: the schema and
  // every rule live in the library.
  py::class_<ConfigHandle>(m, "Config")
      .def(py::init<>())
      .def(
          "load_toml",
          [](ConfigHandle& c, const std::string& path,
             std::optional<std::string> env_prefix) {
            check(dengine_config_load_toml(
                c.get(), path.c_str(),
                env_prefix ? env_prefix->c_str() : nullptr));
          },
          py::arg("path"), py::arg("env_prefix") = py::none())
      .def_property_readonly(
          "node_id",
          [](const ConfigHandle& c) { return dengine_config_node_id(c.get()); })
      .def("set_node_id",
           [](ConfigHandle& c, uint64_t id) {
             check(dengine_config_set_node_id(c.get(), id));
           })
      .def("set_cluster_id",
           [](ConfigHandle& c, uint64_t id) {
             check(dengine_config_set_cluster_id(c.get(), id));
           })
      .def("set_data_dir",
           [](ConfigHandle& c, const std::string& dir) {
             check(dengine_config_set_data_dir(c.get(), dir.c_str()));
           })
      .def("set_peer_address",
           [](ConfigHandle& c, const std::string& address) {
             check(dengine_config_set_peer_address(c.get(), address.c_str()));
           })
      .def("add_peer",
           [](ConfigHandle& c, uint64_t id, const std::string& address) {
             check(dengine_config_add_peer(c.get(), id, address.c_str()));
           })
      .def("set_client_address",
           [](ConfigHandle& c, const std::string& address) {
             check(dengine_config_set_client_address(c.get(), address.c_str()));
           })
      .def("add_peer_client_address",
           [](ConfigHandle& c, uint64_t id, const std::string& address) {
             check(dengine_config_add_peer_client_address(c.get(), id,
                                                          address.c_str()));
           })
      .def("set_initial_voters",
           [](ConfigHandle& c, const std::vector<uint64_t>& ids) {
             check(dengine_config_set_initial_voters(c.get(), ids.data(),
                                                     ids.size()));
           })
      .def("set_log_backend",
           [](ConfigHandle& c, int backend) {
             check(dengine_config_set_log_backend(c.get(), backend));
           })
      .def("set_kv_backend",
           [](ConfigHandle& c, int backend) {
             check(dengine_config_set_kv_backend(c.get(), backend));
           })
      .def("set_tick_ms",
           [](ConfigHandle& c, uint32_t tick_ms) {
             check(dengine_config_set_tick_ms(c.get(), tick_ms));
           })
      .def("set_election_ticks",
           [](ConfigHandle& c, uint32_t ticks) {
             check(dengine_config_set_election_ticks(c.get(), ticks));
           })
      .def("set_heartbeat_ticks",
           [](ConfigHandle& c, uint32_t ticks) {
             check(dengine_config_set_heartbeat_ticks(c.get(), ticks));
           })
      .def("set_default_read",
           [](ConfigHandle& c, int consistency) {
             check(dengine_config_set_default_read(c.get(), consistency));
           })
      .def("set_snapshot_entries",
           [](ConfigHandle& c, uint64_t entries) {
             check(dengine_config_set_snapshot_entries(c.get(), entries));
           })
      .def("set_snapshot_bytes",
           [](ConfigHandle& c, uint64_t bytes) {
             check(dengine_config_set_snapshot_bytes(c.get(), bytes));
           })
      .def("set_snapshots_kept",
           [](ConfigHandle& c, uint32_t count) {
             check(dengine_config_set_snapshots_kept(c.get(), count));
           })
      .def("set_max_entry_bytes",
           [](ConfigHandle& c, uint64_t bytes) {
             check(dengine_config_set_max_entry_bytes(c.get(), bytes));
           })
      .def("set_watch_history_events",
           [](ConfigHandle& c, uint64_t count) {
             check(dengine_config_set_watch_history_events(c.get(), count));
           })
      .def("set_watch_history_bytes",
           [](ConfigHandle& c, uint64_t bytes) {
             check(dengine_config_set_watch_history_bytes(c.get(), bytes));
           })
      .def("set_tls_cert_file",
           [](ConfigHandle& c, const std::string& path) {
             check(dengine_config_set_tls_cert_file(c.get(), path.c_str()));
           })
      .def("set_tls_key_file",
           [](ConfigHandle& c, const std::string& path) {
             check(dengine_config_set_tls_key_file(c.get(), path.c_str()));
           })
      .def("set_tls_ca_file",
           [](ConfigHandle& c, const std::string& path) {
             check(dengine_config_set_tls_ca_file(c.get(), path.c_str()));
           })
      .def(
          "set_tls_min_version",
          [](ConfigHandle& c, const std::string& version) {
            check(dengine_config_set_tls_min_version(c.get(), version.c_str()));
          })
      .def("set_tls_require_client_cert",
           [](ConfigHandle& c, bool require) {
             check(dengine_config_set_tls_require_client_cert(c.get(),
                                                              require ? 1 : 0));
           })
      .def("add_tls_admin_identity", [](ConfigHandle& c,
                                        const std::string& identity) {
        check(dengine_config_add_tls_admin_identity(c.get(), identity.c_str()));
      });

  py::class_<NodeHandle>(m, "Node")
      .def(py::init<ConfigHandle&, py::object>(), py::arg("config"),
           py::arg("machine"))
      .def("propose", &NodeHandle::propose)
      .def("propose_async", &NodeHandle::propose_async)
      .def("read", &NodeHandle::read)
      .def("read_async", &NodeHandle::read_async)
      .def("add_learner", &NodeHandle::add_learner)
      .def("promote", &NodeHandle::promote)
      .def("remove", &NodeHandle::remove)
      .def("transfer_leadership", &NodeHandle::transfer_leadership)
      .def("snapshot", &NodeHandle::snapshot)
      .def("status", &NodeHandle::status)
      .def("metrics", &NodeHandle::metrics)
      .def("reload_tls", &NodeHandle::reload_tls)
      .def("set_leader_token", &NodeHandle::set_leader_token)
      .def("put", &NodeHandle::put)
      .def("put_ttl", &NodeHandle::put_ttl)
      .def("delete", &NodeHandle::remove_key)
      .def("cas", &NodeHandle::cas)
      .def("get", &NodeHandle::get)
      .def("get_with_revision", &NodeHandle::get_with_revision)
      .def("get_multi", &NodeHandle::get_multi)
      .def("scan_prefix", &NodeHandle::scan_prefix)
      .def("watch", &NodeHandle::watch)
      .def("watch_range", &NodeHandle::watch_range)
      .def("stop", &NodeHandle::stop)
      .def("close", &NodeHandle::close);
}

}  // namespace dengine_py
