// The loop thread: owns the Raft core, takes its Ready batches one at a
// time, hands the durable part to the storage thread and finishes each once
// it is durable; ticks, peer messages and snapshot transfers arrive here.
#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "base/log.h"
#include "base/write_trace.h"
#include "net/address.h"
#include "node/node_impl.h"
#include "raft/conf_change.h"
#include "sm/kv_command.h"
#include "sm/session.h"

namespace dengine::node {
namespace {

Node::Impl* impl_of(uv_handle_t* handle) {
  return static_cast<Node::Impl*>(handle->loop->data);
}

}  // namespace

int Node::Impl::start_loop(std::string* error) {
  net::TransportConfig config;
  config.node_id = options.id;
  config.cluster_id = options.cluster_id;
  net::HostPort listen;
  net::parse_address(options.listen_address, true, &listen);
  config.listen_host = listen.host;
  config.listen_port = listen.port;
  config.tls = tls;
  for (const auto& [id, address] : addresses.all()) {
    net::HostPort hp;
    if (id == options.id || !net::parse_address(address, false, &hp).empty()) {
      continue;
    }
    config.peers.push_back({id, hp.host, hp.port});
  }
  transport = std::make_unique<net::Transport>(
      config,
      [this](raft::Message m) {
        trace_message(m, /*stepped=*/false);
        post([this, m = std::move(m)] {
          trace_message(m, /*stepped=*/true);
          raft->step(m);
        });
      },
      [this](raft::NodeId id) {
        post([this, id] { raft->report_unreachable(id); });
      });
  snapshot_transfer = std::make_unique<net::SnapshotTransfer>(
      net::SnapshotTransferConfig{}, transport.get(), snapshots.get(),
      [this](raft::NodeId to, bool ok) {
        base::log_line(ok ? DENGINE_LOG_INFO : DENGINE_LOG_WARN,
                       "node " + std::to_string(options.id) +
                           ": snapshot to node " + std::to_string(to) +
                           (ok ? " installed" : " failed"));
        post([this, to, ok] { raft->report_snapshot(to, ok); });
      },
      [this](raft::Message install,
             std::unique_ptr<storage::StagedSnapshot> snapshot) {
        base::log_line(DENGINE_LOG_INFO,
                       "node " + std::to_string(options.id) +
                           ": received snapshot " +
                           std::to_string(snapshot->info().meta.index) +
                           " from node " + std::to_string(install.from));
        // Dropped with the task if the loop has closed.
        post([this, install = std::move(install),
              staged = std::shared_ptr<storage::StagedSnapshot>(
                  std::move(snapshot))] {
          received_snapshots[staged->info().meta.index] = staged;
          raft->step(install);
        });
      });
  if (std::string e = transport->start(); !e.empty()) {
    *error = "cannot listen for peers on " + options.listen_address + ": " + e;
    return DENGINE_ERR_IO;
  }
  storage_thread.start();

  uv_loop_init(&loop);
  loop.data = this;
  uv_async_init(&loop, &wakeup, [](uv_async_t* h) {
    impl_of(reinterpret_cast<uv_handle_t*>(h))->drain_inbox();
  });
  uv_timer_init(&loop, &ticker);
  // After a pause (SIGSTOP, a VM freeze, a long GC in the host) the leader's
  // lease must have run out by the time it serves anything; beyond a few
  // election timeouts more ticks change nothing.
  tick_clock.emplace(options.tick_interval, Clock::now(),
                     4 * static_cast<int64_t>(options.election_ticks));
  arm_ticker();
  {
    std::lock_guard lock(inbox_mutex);
    inbox_closed = false;
  }
  loop_thread = std::thread([this] {
    loop_thread_id = std::this_thread::get_id();
    uv_run(&loop, UV_RUN_DEFAULT);
  });
  loop_started = true;
  post([this] {
    publish_status();
    drive();
  });
  return DENGINE_OK;
}

bool Node::Impl::post(std::function<void()> task) {
  // Sending under the lock: close_loop() closes the handle only after
  // marking the inbox closed under it.
  std::lock_guard lock(inbox_mutex);
  if (inbox_closed) return false;
  inbox.push_back(std::move(task));
  uv_async_send(&wakeup);
  return true;
}

void Node::Impl::advance_clock() {
  // One core tick per tick interval of the monotonic clock that passed, not
  // per timer callback (see tick_clock.h).
  const int64_t due = tick_clock->advance(Clock::now());
  for (int64_t i = 0; i < due; ++i) raft->tick();
}

void Node::Impl::arm_ticker() {
  // A one-shot timer for the next grid point; uv_now() may lag behind the
  // clock by the loop's last wait, so it is brought up to date first.
  uv_update_time(&loop);
  uv_timer_start(
      &ticker,
      [](uv_timer_t* h) {
        impl_of(reinterpret_cast<uv_handle_t*>(h))->on_tick();
      },
      tick_clock->ms_until_next(Clock::now()), 0);
}

void Node::Impl::drain_inbox() {
  if (!failed && !shutting_down) advance_clock();
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(inbox_mutex);
    tasks.swap(inbox);
  }
  for (auto& task : tasks) task();
  drive();
}

void Node::Impl::on_tick() {
  if (failed || shutting_down) return;
  advance_clock();
  arm_ticker();
  const Clock::time_point now = Clock::now();
  expire_deadlines(now);
  maybe_tick_kv_clock(now);
  drive();
  publish_status();
}

void Node::Impl::drive() {
  if (failed) return;
  if (storage::Status s = storage->read_error(); !s) {
    fatal(storage::to_dengine_code(s), "cannot read the log: " + s.to_string());
    return;
  }
  while (!persisting && !failed && !shutting_down && raft->has_ready()) {
    handle_ready(raft->ready());
  }
}

void Node::Impl::handle_ready(raft::Ready ready) {
  if (ready.soft_state.has_value()) on_soft_state(*ready.soft_state);
  observe_entries(ready.entries);
  // The leader's appends need nothing durable: they travel while its own
  // disk write runs.
  send_messages(ready.messages);
  auto shared = std::make_shared<raft::Ready>(std::move(ready));
  if (!shared->snapshot.has_value() && shared->entries.empty() &&
      !shared->must_sync) {
    // Nothing to make durable: at most a new commit index, which Raft keeps
    // volatile (storage/raft_storage.h). Finished here, without the round
    // trip through the storage thread a disk write needs: on the leader
    // this is the Ready that hands the committed entries to the apply thread.
    if (shared->hard_state.has_value()) {
      storage->note_volatile(*shared->hard_state);
    }
    finish_ready(shared, storage::Status::ok(), {});
    return;
  }
  std::shared_ptr<storage::StagedSnapshot> snapshot;
  if (shared->snapshot.has_value()) {
    snapshot = take_received_snapshot(shared->snapshot->meta);
    if (snapshot == nullptr) return;
  }
  persisting = true;
  const bool leader = soft_state.role == raft::Role::kLeader;
  storage_thread.post([this, shared, snapshot, leader] {
    auto installed = std::make_shared<storage::SnapshotInfo>();
    storage::Status s = persist_ready(*shared, snapshot.get(), installed.get());
    if (s && base::write_trace::enabled()) {
      for (const raft::Entry& e : shared->entries) {
        base::write_trace::mark(leader ? base::write_trace::kLeaderPersisted
                                       : base::write_trace::kFollowerPersisted,
                                e.index);
      }
    }
    if (s) send_after_persist(shared->messages_after_persist);
    post([this, shared, s, installed] {
      persisting = false;
      finish_ready(shared, s, *installed);
      if (shutting_down) {
        close_loop();
      } else {
        drive();
      }
    });
  });
}

// Storage thread, once the Ready is durable: acknowledgements and votes leave
// from here, not a loop wake-up later (the transport is thread-safe). Their
// order is kept: the Ready's other messages left before its disk write, and
// the next Ready's cannot exist before the loop finishes this one. A
// snapshot to send (a new leader's, in the Ready that makes its term
// durable) is left to the loop, with every message after it.
void Node::Impl::send_after_persist(std::vector<raft::Message>& messages) {
  const auto snapshot = std::find_if(
      messages.begin(), messages.end(), [](const raft::Message& m) {
        return m.type == raft::MessageType::kInstallSnapshot;
      });
  for (auto it = messages.begin(); it != snapshot; ++it) transport->send(*it);
  messages.erase(messages.begin(), snapshot);
}

// The write-path trace's marks of a peer message: appends as the follower
// reads and steps them, acknowledgements as the leader does (transport thread,
// then the loop).
void Node::Impl::trace_message(const raft::Message& m, bool stepped) {
  namespace trace = base::write_trace;
  if (!trace::enabled()) return;
  if (m.type == raft::MessageType::kAppend) {
    for (const raft::Entry& e : m.entries) {
      trace::mark(stepped ? trace::kFollowerStepped : trace::kFollowerArrived,
                  e.index);
    }
  } else if (m.type == raft::MessageType::kAppendResponse && !m.reject) {
    trace::mark(stepped ? trace::kAckStepped : trace::kAckArrived, m.index);
  }
}

// The staged snapshot the core installs, out of received_snapshots with every
// older one: the core never goes back to those.
std::shared_ptr<storage::StagedSnapshot> Node::Impl::take_received_snapshot(
    const raft::SnapshotMeta& meta) {
  const auto it = received_snapshots.find(meta.index);
  if (it == received_snapshots.end() || it->second->info().meta != meta) {
    fatal(DENGINE_ERR_INTERNAL, "the core took snapshot " +
                                    std::to_string(meta.index) +
                                    " that was never received");
    return nullptr;
  }
  std::shared_ptr<storage::StagedSnapshot> taken = std::move(it->second);
  received_snapshots.erase(received_snapshots.begin(), std::next(it));
  return taken;
}

// The snapshot becomes the store's latest, durably, before the log is reset
// to start after it. A crash in between leaves a log DurableStorage::open()
// brings in line with the store's latest snapshot; the other way round, the
// log would start after a snapshot the store does not have.
storage::Status Node::Impl::persist_ready(const raft::Ready& ready,
                                          storage::StagedSnapshot* snapshot,
                                          storage::SnapshotInfo* installed) {
  if (snapshot != nullptr) {
    if (storage::Status s = snapshot->commit(installed); !s) return s;
  }
  if (ready.entries.empty() && !ready.hard_state.has_value()) {
    return storage->persist(ready);
  }
  const Clock::time_point began = Clock::now();
  storage::Status s = storage->persist(ready);
  const std::chrono::duration<double> took = Clock::now() - began;
  counters.persist_seconds.observe(took.count());
  counters.persist_entries.observe(static_cast<double>(ready.entries.size()));
  return s;
}

void Node::Impl::finish_ready(std::shared_ptr<raft::Ready> ready,
                              storage::Status persisted,
                              const storage::SnapshotInfo& installed) {
  if (!persisted) {
    fatal(storage::to_dengine_code(persisted),
          "cannot persist the log: " + persisted.to_string());
    return;
  }
  send_messages(ready->messages_after_persist);
  raft->advance(*ready);
  observe_commits(ready->committed_entries);
  // Published before the entries reach the apply thread, so a status never
  // shows an applied index past its commit index.
  publish_status();
  if (ready->snapshot.has_value()) handler->install(installed, nullptr);
  if (!ready->committed_entries.empty()) {
    if (base::write_trace::enabled()) {
      for (const raft::Entry& e : ready->committed_entries) {
        base::write_trace::mark(base::write_trace::kCommitted, e.index);
      }
    }
    handler->apply(std::move(ready->committed_entries));
  }
  serve_read_states(ready->read_states);
  fail_reads(ready->failed_reads);
}

// The commit latency of the leader's own proposals among `committed`.
void Node::Impl::observe_commits(const std::vector<raft::Entry>& committed) {
  if (committed.empty() || proposed_at.empty()) return;
  const raft::Index commit = committed.back().index;
  const Clock::time_point now = Clock::now();
  while (!proposed_at.empty() && proposed_at.front().first <= commit) {
    const std::chrono::duration<double> took = now - proposed_at.front().second;
    counters.commit_seconds.observe(took.count());
    proposed_at.pop_front();
  }
}

void Node::Impl::send_messages(std::vector<raft::Message>& messages) {
  for (raft::Message& m : messages) {
    if (m.type != raft::MessageType::kInstallSnapshot) {
      transport->send(m);
      continue;
    }
    // The core names the snapshot; its files travel as a stream.
    storage::SnapshotInfo info;
    storage::Status s = snapshots->latest(&info);
    if (s && m.snapshot.has_value() &&
        info.meta.index == m.snapshot->meta.index) {
      base::log_line(DENGINE_LOG_INFO, "node " + std::to_string(options.id) +
                                           ": sending snapshot " +
                                           std::to_string(info.meta.index) +
                                           " (" + std::to_string(info.bytes) +
                                           " bytes) to node " +
                                           std::to_string(m.to));
      snapshot_transfer->send(m.to, info, std::move(m));
    } else {
      raft->report_snapshot(m.to, false);
    }
  }
}

void Node::Impl::observe_entries(const std::vector<raft::Entry>& entries) {
  for (const raft::Entry& entry : entries) {
    if (entry.type != raft::EntryType::kConfChange) continue;
    std::optional<raft::ConfChangeRecord> record =
        raft::decode_conf_change(entry.data);
    if (!record) continue;
    base::log_line(
        DENGINE_LOG_INFO,
        "node " + std::to_string(options.id) + ": membership entry " +
            std::to_string(entry.index) + ": " +
            raft::to_string(record->change.type) + " node " +
            std::to_string(record->change.node) + ", now " +
            std::to_string(record->conf.voters.size()) + " voters and " +
            std::to_string(record->conf.learners.size()) + " learners");
    if (record->change.type == raft::ConfChangeType::kAddLearner) {
      learn_address(record->change.node, record->change.context);
    }
  }
}

void Node::Impl::on_soft_state(const raft::SoftState& soft) {
  if (soft.role != soft_state.role) {
    if (soft.role == raft::Role::kCandidate) ++counters.elections_started;
    if (soft.role == raft::Role::kLeader) ++counters.elections_won;
    // A new leader's entries are timed afresh; these may never commit.
    if (soft_state.role == raft::Role::kLeader) proposed_at.clear();
  }
  if (soft.leader != soft_state.leader && soft.leader != raft::kNoNode) {
    ++counters.leader_changes;
  }
  soft_state = soft;
  const raft::Term term = raft->term();
  check_transfers();
  if (soft.leader == last_reported_leader && term == last_reported_term) {
    return;
  }
  last_reported_leader = soft.leader;
  last_reported_term = term;
  base::log_line(DENGINE_LOG_INFO,
                 "node " + std::to_string(options.id) + ": term " +
                     std::to_string(term) + ", " +
                     (soft.leader == raft::kNoNode
                          ? std::string("no leader")
                          : "leader " + std::to_string(soft.leader)));
  publish_status();  // status() already names the leader the callback does
  if (soft.leader != raft::kNoNode) retry_parked_requests();
  std::lock_guard running(leader_callback_mutex);
  // A copy: the callback may replace itself while it runs.
  const LeaderChangeCallback callback = on_leader_change;
  if (callback) callback(soft.leader, term);
}

void Node::Impl::publish_status() {
  const raft::Status s = raft->status();
  NodeStatus fresh;
  fresh.id = options.id;
  fresh.role = s.soft_state.role;
  fresh.term = s.hard_state.term;
  fresh.leader_id = s.soft_state.leader;
  fresh.commit_index = s.hard_state.commit;
  fresh.last_log_index = s.last_index;
  fresh.snapshot_index = storage->snapshot().meta.index;
  fresh.pending_reads = reads.size();
  fresh.pending_transfers = transfers.size();
  const auto address_of = [&](raft::NodeId id) {
    if (id != options.id) return addresses.get(id);
    net::HostPort listen;
    net::parse_address(options.listen_address, true, &listen);
    return listen.host + ":" + std::to_string(transport->port());
  };
  if (fresh.leader_id != raft::kNoNode) {
    fresh.leader_address = address_of(fresh.leader_id);
  }
  for (raft::NodeId id : s.conf.voters) {
    fresh.members.push_back({id, address_of(id), true});
  }
  for (raft::NodeId id : s.conf.learners) {
    fresh.members.push_back({id, address_of(id), false});
  }
  for (const raft::PeerStatus& peer : s.peers) {
    if (peer.id != options.id) {
      fresh.replication.push_back({peer.id, peer.progress.match});
    }
  }
  std::lock_guard lock(status_mutex);
  fresh.fatal_status = status.fatal_status;
  fresh.fatal_message = status.fatal_message;
  status = std::move(fresh);
}

void Node::Impl::fatal(int code, const std::string& message) {
  if (failed) return;
  failed = true;
  base::log_line(DENGINE_LOG_ERROR, "node " + std::to_string(options.id) +
                                        " stopped serving: " + message);
  {
    std::lock_guard lock(status_mutex);
    status.fatal_status = code;
    status.fatal_message = message;
  }
  fail_all(code, message);
}

void Node::Impl::expire_deadlines(Clock::time_point now) {
  std::vector<std::shared_ptr<Pending>> expired;
  while (!deadlines.empty() && deadlines.begin()->first <= now) {
    if (auto pending = deadlines.begin()->second.lock()) {
      if (!pending->finished) expired.push_back(std::move(pending));
    }
    deadlines.erase(deadlines.begin());
  }
  if (expired.empty()) return;
  // Reads the core has not confirmed and transfers that have not happened
  // would otherwise hold their requests until the core answers (or, for a
  // transfer, forever); forget them first, so the status a woken caller
  // reads no longer counts them.
  std::unordered_set<const Pending*> gone;
  for (const auto& pending : expired) gone.insert(pending.get());
  std::erase_if(reads, [&](const auto& read) {
    return gone.count(read.second.pending.get()) > 0;
  });
  std::erase_if(transfers, [&](const PendingTransfer& transfer) {
    return gone.count(transfer.pending.get()) > 0;
  });
  publish_status();
  for (const auto& pending : expired) {
    pending->finish(error_reply(DENGINE_ERR_TIMEOUT,
                                "the deadline passed; the outcome is unknown"));
  }
}

void Node::Impl::fail_all(int code, const std::string& message) {
  for (auto& [deadline, weak] : deadlines) {
    if (auto pending = weak.lock()) {
      pending->finish(error_reply(code, message));
    }
  }
  deadlines.clear();
  reads.clear();
  transfers.clear();
  awaiting_leader.clear();
}

void Node::Impl::close_loop() {
  if (persisting) return;  // called again when the Ready in flight finishes
  {
    std::lock_guard lock(inbox_mutex);
    inbox_closed = true;
  }
  // Tasks queued before the close still run; requests among them see
  // shutting_down and fail.
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(inbox_mutex);
    tasks.swap(inbox);
  }
  for (auto& task : tasks) task();
  fail_all(DENGINE_ERR_SHUTTING_DOWN, "the node is stopping");
  // Never installed: a restart must not find them.
  received_snapshots.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&wakeup), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&ticker), nullptr);
}

void Node::Impl::maybe_tick_kv_clock(Clock::time_point now) {
  // The built-in machine expires TTL keys by the timestamps in its entries;
  // an idle leader proposes a tick so expiry does not wait for a write.
  if (!owns_machine || soft_state.role != raft::Role::kLeader ||
      !soft_state.leader_ready ||
      now - last_proposal < std::chrono::seconds(1)) {
    return;
  }
  last_proposal = now;
  raft->propose(
      sm::wrap_plain(sm::encode_command(sm::KvCommand::tick(wall_clock_ms()))));
}

}  // namespace dengine::node
