// Node: start (opening storage, machine, handler, core, transport), stop,
// and the public methods, which hand their work to the loop thread.
#include "node/node.h"

#include <signal.h>

#include <filesystem>

#include "base/log.h"
#include "net/address.h"
#include "node/blocking.h"
#include "node/node_impl.h"
#include "sm/kv_command.h"
#include "sm/kv_machine.h"
#include "storage/hard_state_store.h"
#include "storage/rocksdb_log_store.h"
#include "storage/wal_log_store.h"

namespace dengine::node {

Reply error_reply(int status, std::string message) {
  Reply reply;
  reply.status = status;
  reply.message = std::move(message);
  return reply;
}

// ---------------------------------------------------------------------------
// Start and stop

namespace {

// libuv writes to sockets with write(2), which raises SIGPIPE when the peer
// has gone; by default that kills the process. A node ignores it (the write
// then fails with EPIPE and only that connection closes) unless the host
// installed a handler of its own.
void ignore_sigpipe() {
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 &&
      current.sa_handler == SIG_DFL) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, nullptr);
  }
}

}  // namespace

int Node::start(NodeOptions options, std::unique_ptr<Node>* out,
                std::string* error) {
  if (std::string e = options.validate(); !e.empty()) {
    *error = "bad node options: " + e;
    return DENGINE_ERR_INVALID_ARGUMENT;
  }
  ignore_sigpipe();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (impl->options.tls.enabled()) {
    std::shared_ptr<const net::TlsContext> context;
    if (std::string e =
            net::TlsContext::load(impl->options.tls.files, &context);
        !e.empty()) {
      *error = "bad node options: " + e;
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    impl->tls = std::make_shared<net::TlsCredentials>(std::move(context));
  }
  if (int rc = impl->open(error); rc != DENGINE_OK) {
    impl->stop();
    return rc;
  }
  if (int rc = impl->start_loop(error); rc != DENGINE_OK) {
    impl->stop();
    return rc;
  }
  std::unique_ptr<Node> node(new Node(std::move(impl)));
  Impl& started = *node->impl_;
  if (!started.options.client_address.empty()) {
    ClientServerOptions server_options;
    server_options.listen_address = started.options.client_address;
    server_options.client_addresses = started.options.client_addresses;
    server_options.client_addresses[started.options.id] =
        started.options.client_address;
    server_options.tls = started.tls;
    server_options.access.require_client_cert =
        started.options.tls.require_client_cert;
    server_options.access.admin_identities =
        started.options.tls.admin_identities;
    started.client_server =
        std::make_unique<ClientServer>(node.get(), server_options);
    if (std::string e = started.client_server->start(); !e.empty()) {
      *error = e;
      node->stop();
      return DENGINE_ERR_IO;
    }
  }
  base::log_line(DENGINE_LOG_INFO,
                 "node " + std::to_string(started.options.id) +
                     " started, peers " + "on port " +
                     std::to_string(started.transport->port()) +
                     (started.client_server
                          ? ", clients on port " +
                                std::to_string(started.client_server->port())
                          : ""));
  *out = std::move(node);
  return DENGINE_OK;
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

int Node::reload_tls(std::string* error) {
  if (impl_->tls == nullptr) {
    *error =
        "the node was started without TLS (no tls_cert_file, "
        "tls_key_file, tls_ca_file)";
    return DENGINE_ERR_UNSUPPORTED;
  }
  if (std::string e = impl_->tls->reload(impl_->options.tls.files);
      !e.empty()) {
    *error = e + "; the certificates in use are kept";
    return DENGINE_ERR_INVALID_ARGUMENT;
  }
  base::log_line(DENGINE_LOG_INFO, "node " + std::to_string(impl_->options.id) +
                                       ": reloaded the TLS certificates (" +
                                       impl_->options.tls.files.cert_file +
                                       "); new connections use them");
  return DENGINE_OK;
}

Node::~Node() {
  const char* thread = impl_->internal_thread();
  if (thread == nullptr) {
    impl_->stop();
    return;
  }
  base::log_line(DENGINE_LOG_WARN,
                 "node " + std::to_string(impl_->options.id) +
                     " closed on its " + thread +
                     " thread (from a callback): it stops in the background");
  set_leader_change_callback(nullptr);
  // The client server calls this Node, which is gone once this returns: it
  // stops here, unless this is its own thread, where it cannot be joined and
  // the node is left running (its memory kept) rather than freed under it.
  if (impl_->client_server) {
    if (impl_->client_server->on_this_thread()) {
      base::log_line(DENGINE_LOG_ERROR,
                     "node " + std::to_string(impl_->options.id) +
                         " closed on its client server thread: left running");
      (void)impl_.release();
      return;
    }
    impl_->client_server->stop();
  }
  std::thread([impl = std::move(impl_)] { impl->stop(); }).detach();
}

int Node::stop(std::string* error) {
  if (const char* thread = impl_->internal_thread()) {
    const std::string message =
        std::string("stop called on the node's ") + thread +
        " thread (from a callback), where it would wait for itself; call it "
        "from another thread";
    base::log_line(
        DENGINE_LOG_WARN,
        "node " + std::to_string(impl_->options.id) + ": " + message);
    if (error != nullptr) *error = message;
    return DENGINE_ERR_INVALID_ARGUMENT;
  }
  const int rc = impl_->stop();
  if (rc != DENGINE_OK && error != nullptr) *error = status().fatal_message;
  return rc;
}

const char* Node::Impl::internal_thread() const {
  if (std::this_thread::get_id() == loop_thread_id) return "loop";
  if (storage_thread.on_this_thread()) return "storage";
  if (handler && handler->on_apply_thread()) return "apply";
  if (watches && watches->on_delivery_thread()) return "watch";
  if (client_server && client_server->on_this_thread()) return "client server";
  return nullptr;
}

int Node::Impl::open_machine(std::string* error) {
  if (options.machine.has_value()) {
    machine = *options.machine;
    return DENGINE_OK;
  }
  owns_machine = true;
  return sm::open_kv_machine(options.data_dir + "/machine", options.kv_backend,
                             &machine, error);
}

int Node::Impl::open(std::string* error) {
  const std::string& dir = options.data_dir;
  storage::FileSystem* fs = storage::posix_file_system();
  const auto failed = [&](const std::string& what, const storage::Status& s) {
    *error = what + ": " + s.to_string();
    return storage::to_dengine_code(s);
  };
  if (storage::Status s = fs->create_dirs(dir); !s) {
    return failed("cannot create data_dir " + dir, s);
  }
  if (storage::Status s = addresses.open(fs, dir); !s) {
    return failed("cannot read the address book", s);
  }
  for (const Member& peer : options.peers) {
    bool changed = false;
    if (storage::Status s = addresses.set(peer.id, peer.address, &changed);
        !s) {
      return failed("cannot write the address book", s);
    }
  }

  std::unique_ptr<storage::LogStore> log;
  std::unique_ptr<storage::HardStateStore> hard_state;
  storage::Status s;
  if (options.log_backend == LogBackend::kWal) {
    s = storage::open_wal_log_store(fs, storage::WalOptions{dir + "/log"},
                                    &log);
    if (s)
      s = storage::open_file_hard_state_store(fs, dir + "/log", &hard_state);
  } else {
    s = storage::open_rocksdb_stores(storage::RocksDbLogOptions{dir + "/log"},
                                     &log, &hard_state);
  }
  if (!s) return failed("cannot open the log", s);
  if (s = storage::SnapshotStore::open(dir + "/snapshots",
                                       options.snapshots_kept, &snapshots);
      !s) {
    return failed("cannot open the snapshot store", s);
  }
  storage::SnapshotInfo latest;
  s = snapshots->latest(&latest);
  if (!s && s.code() != storage::StatusCode::kNotFound) {
    return failed("cannot read the latest snapshot", s);
  }
  if (s = storage::DurableStorage::open(std::move(log), std::move(hard_state),
                                        s ? latest.meta : raft::SnapshotMeta{},
                                        &storage);
      !s) {
    return failed("cannot recover the log", s);
  }

  if (int rc = open_machine(error); rc != DENGINE_OK) return rc;
  sm::StateMachineHandlerOptions handler_options;
  handler_options.snapshot_policy = options.snapshot_policy;
  handler_options.snapshots = snapshots.get();
  handler_options.apply_seconds = &counters.apply_seconds;
  handler_options.on_snapshot_taken = [this](const storage::SnapshotInfo& info,
                                             double seconds) {
    ++counters.snapshots;
    counters.snapshot_bytes += info.bytes;
    counters.snapshot_seconds.observe(seconds);
    storage_thread.post([this, meta = info.meta] {
      if (storage::Status s = storage->compact(meta); !s) {
        post([this, s] {
          fatal(storage::to_dengine_code(s),
                "cannot compact the log: " + s.to_string());
        });
      }
    });
  };
  handler_options.on_fatal = [this](int code, const std::string& message) {
    post([this, code, message] { fatal(code, message); });
  };
  if (int rc = start_watches(&handler_options, error); rc != DENGINE_OK) {
    return rc;
  }
  handler = std::make_unique<sm::StateMachineHandler>(
      machine, std::move(handler_options));
  if (int rc = handler->start(error); rc != DENGINE_OK) return rc;
  restore_watch_history(handler->last_applied());

  raft_config.id = options.id;
  raft_config.election_tick = options.election_ticks;
  raft_config.heartbeat_tick = options.heartbeat_ticks;
  raft_config.max_entry_bytes = options.max_entry_bytes;
  raft_config.applied = handler->replay_from();
  raft_config.bootstrap_voters = options.initial_voters;
  raft_config.seed = options.id ^ static_cast<uint64_t>(
                                      Clock::now().time_since_epoch().count());
  raft = raft::Raft::create(raft_config, storage.get(), error);
  if (raft == nullptr) return DENGINE_ERR_INVALID_ARGUMENT;
  return DENGINE_OK;
}

// The watch hub and its history on disk, fed by the handler from the apply
// thread: each chunk's events go to the file (before a built-in machine's
// durable write), then to the hub.
int Node::Impl::start_watches(sm::StateMachineHandlerOptions* handler_options,
                              std::string* error) {
  watches = std::make_shared<watch::Hub>(options.watch_history);
  if (int rc = watch::HistoryLog::open(options.data_dir + "/watch",
                                       options.watch_history, &history_log,
                                       &restored_history, error);
      rc != DENGINE_OK) {
    *error = "cannot open the watch history: " + *error;
    return rc;
  }
  handler_options->on_events_recorded =
      [this](const std::vector<watch::Event>& events, uint64_t covered_to) {
        history_log->append(events, covered_to);
      };
  handler_options->on_events = [this](std::vector<watch::Event> events,
                                      uint64_t covered_to) {
    watches->publish(std::move(events), covered_to);
  };
  handler_options->on_events_reset = [this](uint64_t index) {
    restored_history = {};
    history_log->reset(index);
    watches->reset(index);
  };
  return DENGINE_OK;
}

// The history the files kept continues if it covers what the machine
// applied: exactly, or beyond it (a crash between a chunk's record and the
// machine's write, or a machine that recovers from its last snapshot: the
// entries after `applied` apply again and report their events again, so the
// history is cut back to `applied`). Otherwise (a new node, files lost, a
// power loss that cut them, an application machine that persisted a chunk
// whose record was lost) it starts again after `applied`.
void Node::Impl::restore_watch_history(uint64_t applied) {
  watch::HistoryLog::Restored restored = std::move(restored_history);
  restored_history = {};
  if (restored.found && restored.covered_to >= applied &&
      restored.available_from <= applied + 1) {
    if (restored.covered_to > applied) {
      std::erase_if(restored.events, [&](const watch::Event& e) {
        return e.revision > applied;
      });
      base::log_line(
          DENGINE_LOG_INFO,
          "watch history covers up to " + std::to_string(restored.covered_to) +
              " and the machine applied up to " + std::to_string(applied) +
              ": it is cut back there, and the entries after it "
              "report their events again");
      history_log->reset(restored.available_from - 1);
      history_log->append(restored.events, applied);
    }
    watches->reset(restored.available_from - 1);
    watches->publish(std::move(restored.events), applied);
    return;
  }
  if (restored.found) {
    base::log_line(DENGINE_LOG_INFO, "watch history covers up to " +
                                         std::to_string(restored.covered_to) +
                                         " but the machine applied up to " +
                                         std::to_string(applied) +
                                         ": it starts again there");
  }
  history_log->reset(applied);
  watches->reset(applied);
}

void Node::Impl::learn_address(raft::NodeId id, const std::string& address) {
  if (id == options.id || address.empty()) return;
  net::HostPort hp;
  if (!net::parse_address(address, false, &hp).empty()) return;
  bool changed = false;
  if (storage::Status s = addresses.set(id, address, &changed); !s) {
    base::log_line(DENGINE_LOG_WARN, "cannot persist the address of node " +
                                         std::to_string(id) + ": " +
                                         s.to_string());
  }
  if (changed && transport != nullptr) {
    transport->add_peer(net::PeerAddress{id, hp.host, hp.port});
  }
}

int Node::Impl::stop() {
  std::lock_guard stop_lock(stop_mutex);
  if (stopped) return stop_status;
  stopped = true;
  stopping = true;
  // Clients and peers first: nothing new arrives. Then the loop finishes the
  // Ready in flight and exits; the storage thread drains; the handler applies
  // what was queued and stops the machine.
  if (client_server) client_server->stop();
  if (transport) transport->stop();
  if (loop_started) {
    post([this] {
      shutting_down = true;
      close_loop();
    });
    loop_thread.join();
    uv_loop_close(&loop);
  }
  storage_thread.stop();
  int status = DENGINE_OK;
  std::string message;
  if (failed) status = DENGINE_ERR_INTERNAL;
  {
    std::lock_guard lock(status_mutex);
    if (this->status.fatal_status != DENGINE_OK) {
      status = this->status.fatal_status;
      message = this->status.fatal_message;
    }
  }
  {
    std::unique_lock lock(machine_mutex);
    machine_closed = true;
  }
  if (handler) {
    const int rc = handler->stop();
    if (status == DENGINE_OK) status = rc;
  }
  if (watches) watches->stop("the node is stopping");
  if (storage) {
    if (storage::Status s = storage->close(); !s && status == DENGINE_OK) {
      status = storage::to_dengine_code(s);
    }
  }
  if (owns_machine) sm::close_kv_machine(&machine);
  stop_status = status;
  base::log_line(DENGINE_LOG_INFO,
                 "node " + std::to_string(options.id) + " stopped");
  return status;
}

// ---------------------------------------------------------------------------
// Public methods: each posts its work to the loop thread.

void Node::propose_async(std::string data, const Session* session,
                         std::chrono::milliseconds timeout, Callback done) {
  auto pending = std::make_shared<Pending>(
      [counters = &impl_->counters, done = std::move(done)](Reply reply) {
        counters->count_proposal(reply.status);
        done(std::move(reply));
      });
  if (data.size() > impl_->options.max_entry_bytes) {
    pending->finish(
        error_reply(DENGINE_ERR_INVALID_ARGUMENT,
                    "proposal of " + std::to_string(data.size()) +
                        " bytes is larger than max_entry_bytes (" +
                        std::to_string(impl_->options.max_entry_bytes) + ")"));
    return;
  }
  if (session != nullptr && session->seq == 0) {
    pending->finish(error_reply(DENGINE_ERR_INVALID_ARGUMENT,
                                "a session's seq starts at 1"));
    return;
  }
  if (impl_->owns_machine) sm::stamp_command(&data, wall_clock_ms());
  std::string entry =
      session == nullptr
          ? sm::wrap_plain(data)
          : sm::wrap_session(
                {session->client_id, session->seq, session->acked_seq}, data);
  impl_->submit(pending, timeout,
                [impl = impl_.get(), entry = std::move(entry)](
                    const std::shared_ptr<Pending>& p) mutable {
                  impl->propose_entry(p, std::move(entry));
                });
}

Reply Node::propose(std::string data, const Session* session,
                    std::chrono::milliseconds timeout) {
  return wait_for<Reply>([&](Callback done) {
    propose_async(std::move(data), session, timeout, std::move(done));
  });
}

void Node::open_session_async(std::chrono::milliseconds timeout,
                              Callback done) {
  impl_->submit(std::make_shared<Pending>(std::move(done)), timeout,
                [impl = impl_.get()](const std::shared_ptr<Pending>& p) {
                  impl->propose_entry(p, sm::wrap_register());
                });
}

Reply Node::open_session(std::chrono::milliseconds timeout) {
  return wait_for<Reply>(
      [&](Callback done) { open_session_async(timeout, std::move(done)); });
}

void Node::read_async(std::string query, ReadConsistency consistency,
                      std::chrono::milliseconds timeout, Callback done) {
  auto pending = std::make_shared<Pending>(std::move(done));
  if (consistency == ReadConsistency::kEventual) {
    if (impl_->stopping) {
      pending->finish(
          error_reply(DENGINE_ERR_SHUTTING_DOWN, "the node is stopping"));
    } else {
      pending->finish(impl_->read_machine(query));
    }
    return;
  }
  const raft::ReadMode mode = consistency == ReadConsistency::kLease
                                  ? raft::ReadMode::kLease
                                  : raft::ReadMode::kReadIndex;
  impl_->submit(pending, timeout,
                [impl = impl_.get(), query = std::move(query),
                 mode](const std::shared_ptr<Pending>& p) mutable {
                  impl->start_read(p, std::move(query), mode);
                });
}

Reply Node::read(std::string query, ReadConsistency consistency,
                 std::chrono::milliseconds timeout) {
  return wait_for<Reply>([&](Callback done) {
    read_async(std::move(query), consistency, timeout, std::move(done));
  });
}

void Node::add_learner_async(raft::NodeId id, std::string address,
                             std::chrono::milliseconds timeout, Callback done) {
  auto pending = std::make_shared<Pending>(std::move(done));
  net::HostPort hp;
  if (std::string e = net::parse_address(address, false, &hp); !e.empty()) {
    pending->finish(error_reply(DENGINE_ERR_INVALID_ARGUMENT, e));
    return;
  }
  raft::ConfChange change{raft::ConfChangeType::kAddLearner, id, address};
  impl_->submit(
      pending, timeout,
      [impl = impl_.get(), change](const std::shared_ptr<Pending>& p) {
        impl->change_membership(p, change);
      });
}

void Node::promote_async(raft::NodeId id, std::chrono::milliseconds timeout,
                         Callback done) {
  raft::ConfChange change{raft::ConfChangeType::kPromoteLearner, id, ""};
  impl_->submit(
      std::make_shared<Pending>(std::move(done)), timeout,
      [impl = impl_.get(), change](const std::shared_ptr<Pending>& p) {
        impl->change_membership(p, change);
      });
}

void Node::remove_node_async(raft::NodeId id, std::chrono::milliseconds timeout,
                             Callback done) {
  raft::ConfChange change{raft::ConfChangeType::kRemoveNode, id, ""};
  impl_->submit(
      std::make_shared<Pending>(std::move(done)), timeout,
      [impl = impl_.get(), change](const std::shared_ptr<Pending>& p) {
        impl->change_membership(p, change);
      });
}

void Node::transfer_leadership_async(raft::NodeId to,
                                     std::chrono::milliseconds timeout,
                                     Callback done) {
  impl_->submit(
      std::make_shared<Pending>(std::move(done)), timeout,
      [impl = impl_.get(), to](const std::shared_ptr<Pending>& p) {
        raft::NodeId target = to;
        if (target == raft::kNoNode) {
          // The most caught-up other voter.
          raft::Index best = 0;
          for (const raft::PeerStatus& peer : impl->raft->status().peers) {
            if (peer.id != impl->options.id && peer.voter &&
                peer.progress.match >= best) {
              best = peer.progress.match;
              target = peer.id;
            }
          }
        }
        raft::Result result = impl->raft->transfer_leadership(target);
        if (!result.ok()) {
          p->finish(impl->reply_for(result));
          return;
        }
        impl->transfers.push_back({target, p});
      });
}

void Node::snapshot_async(std::chrono::milliseconds timeout, Callback done) {
  auto pending = std::make_shared<Pending>(std::move(done));
  impl_->submit(pending, timeout,
                [impl = impl_.get()](const std::shared_ptr<Pending>& p) {
                  impl->handler->request_snapshot(
                      [impl, p](int status, const std::string& message,
                                const storage::SnapshotInfo& info) {
                        Reply reply = error_reply(status, message);
                        reply.index = info.meta.index;
                        // The log compaction was queued on the storage thread
                        // before this runs (on_snapshot_taken): answer after
                        // it, so a snapshot that completed has also compacted
                        // the log.
                        if (status != DENGINE_OK ||
                            !impl->storage_thread.post(
                                [p, reply] { p->finish(reply); })) {
                          p->finish(std::move(reply));
                        }
                      });
                });
}

NodeStatus Node::status() const {
  NodeStatus status;
  {
    std::lock_guard lock(impl_->status_mutex);
    status = impl_->status;
  }
  // Applied and snapshot indexes are read live; every index the loop
  // published is at least as new as what they reflect.
  status.applied_index = impl_->handler->last_applied();
  status.snapshot_index = impl_->storage->snapshot().meta.index;
  // The handler records a fatal apply error before it fails the waiting
  // requests, so a request that failed on it already sees it here.
  if (status.fatal_status == DENGINE_OK) {
    status.fatal_status = impl_->handler->fatal_status(&status.fatal_message);
  }
  return status;
}

void Node::set_leader_change_callback(LeaderChangeCallback callback) {
  // On the loop thread no call of the callback is running, unless this is
  // one (which holds the lock already).
  if (std::this_thread::get_id() == impl_->loop_thread_id) {
    impl_->on_leader_change = std::move(callback);
    return;
  }
  std::lock_guard lock(impl_->leader_callback_mutex);
  impl_->on_leader_change = std::move(callback);
}

uint16_t Node::peer_port() const { return impl_->transport->port(); }

uint16_t Node::client_port() const {
  return impl_->client_server ? impl_->client_server->port() : 0;
}

bool Node::has_kv_machine() const { return impl_->owns_machine; }

std::shared_ptr<watch::Hub> Node::watches() const { return impl_->watches; }

ReadConsistency Node::default_read() const {
  return impl_->options.default_read;
}

bool Node::read_consistency_of(int dengine_read, ReadConsistency* out) const {
  switch (dengine_read) {
    case DENGINE_READ_DEFAULT:
      *out = default_read();
      return true;
    case DENGINE_READ_LINEARIZABLE:
      *out = ReadConsistency::kLinearizable;
      return true;
    case DENGINE_READ_LEASE:
      *out = ReadConsistency::kLease;
      return true;
    case DENGINE_READ_EVENTUAL:
      *out = ReadConsistency::kEventual;
      return true;
    default:
      return false;
  }
}

}  // namespace dengine::node
