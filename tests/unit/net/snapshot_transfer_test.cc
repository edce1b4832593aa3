// SnapshotTransfer: snapshots stream between two real transports on
// loopback, arrive byte for byte, staged (out of the store's latest until the
// node commits them), resume or fail cleanly when connections drop, and never
// let a bad chunk or a bad checksum reach the store.
#include "net/snapshot_transfer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "../storage/scratch_dir.h"
#include "loopback.h"
#include "net/frame.h"
#include "net/hello.h"
#include "net/message_codec.h"
#include "sample_chunks.h"

namespace dengine::net {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using storage::ScratchDir;
using storage::SnapshotInfo;
using storage::StagedSnapshot;
using testing::PortReservation;
using testing::RawClient;
using testing::sample_chunks;

constexpr uint64_t kCluster = 91;
constexpr auto kDeadline = std::chrono::seconds(20);

using Files = std::map<std::string, std::string>;  // name -> contents

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

void write_file(const fs::path& path, const std::string& data) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Files read_tree(const std::string& dir) {
  Files files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files[entry.path().lexically_relative(dir).generic_string()] =
          read_file(entry.path());
    }
  }
  return files;
}

raft::Message install_message(const SnapshotInfo& info, raft::NodeId from,
                              raft::NodeId to) {
  raft::Message m;
  m.type = raft::MessageType::kInstallSnapshot;
  m.from = from;
  m.to = to;
  m.term = info.meta.term;
  m.snapshot = raft::Snapshot{info.meta, ""};
  return m;
}

// What a node's transfer and transport report, with waits on it.
class Events {
 public:
  struct Record {
    std::vector<std::pair<raft::NodeId, bool>> sent;
    std::vector<std::pair<raft::Message, std::shared_ptr<StagedSnapshot>>>
        received;
    std::vector<raft::Message> messages;
  };

  void sent(raft::NodeId to, bool ok) {
    std::lock_guard lock(mu_);
    record_.sent.emplace_back(to, ok);
    cv_.notify_all();
  }
  void received(raft::Message install,
                std::unique_ptr<StagedSnapshot> snapshot) {
    std::lock_guard lock(mu_);
    record_.received.emplace_back(std::move(install), std::move(snapshot));
    cv_.notify_all();
  }
  // What a node does with snapshots its core refuses.
  void drop_received() {
    std::lock_guard lock(mu_);
    record_.received.clear();
  }
  void message(raft::Message m) {
    std::lock_guard lock(mu_);
    record_.messages.push_back(std::move(m));
    cv_.notify_all();
  }
  bool wait(const std::function<bool(const Record&)>& pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return pred(record_); });
  }
  Record record() {
    std::lock_guard lock(mu_);
    return record_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  Record record_;
};

// Sits between a transport and its SnapshotTransfer: passes bulk frames on
// until `hold_after` data chunks went through, then keeps every frame until
// released. Stops a transfer midway without blocking the loop thread.
class Gate : public BulkChannel {
 public:
  Gate(Transport* transport, BulkChannel* inner, int hold_after,
       milliseconds tick)
      : transport_(transport), inner_(inner), hold_after_(hold_after) {
    transport->set_bulk_channel(this, tick);
  }

  void on_bulk_frame(raft::NodeId from, std::string payload) override {
    {
      std::lock_guard lock(mu_);
      if (holding_) {
        held_.emplace_back(from, std::move(payload));
        cv_.notify_all();
        return;
      }
      if (!payload.empty() &&
          payload[0] == static_cast<char>(ChunkKind::kData) &&
          ++data_passed_ == hold_after_) {
        holding_ = true;
        cv_.notify_all();
      }
    }
    inner_->on_bulk_frame(from, std::move(payload));
  }
  void on_bulk_sent(raft::NodeId to, bool ok) override {
    inner_->on_bulk_sent(to, ok);
  }
  void on_tick() override { inner_->on_tick(); }

  // Waits until the gate holds and pred(held frames) is true.
  bool wait_holding(
      const std::function<bool(
          const std::vector<std::pair<raft::NodeId, std::string>>&)>& pred =
          nullptr) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline,
                        [&] { return holding_ && (!pred || pred(held_)); });
  }
  // Hands the held frames on, in order, on the loop thread; passes all
  // frames from then on.
  void release() {
    transport_->post([this] {
      std::vector<std::pair<raft::NodeId, std::string>> held;
      {
        std::lock_guard lock(mu_);
        held.swap(held_);
        holding_ = false;
        hold_after_ = -1;
      }
      for (auto& [from, payload] : held) {
        inner_->on_bulk_frame(from, std::move(payload));
      }
    });
  }

 private:
  Transport* const transport_;
  BulkChannel* const inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int hold_after_;
  int data_passed_ = 0;
  bool holding_ = false;
  std::vector<std::pair<raft::NodeId, std::string>> held_;
};

SnapshotTransferConfig small_chunks() {
  SnapshotTransferConfig config;
  config.chunk_bytes = 16u << 10;
  config.window_chunks = 2;
  return config;
}

// A node: snapshot store, transport and transfer, knowing one peer.
class Node {
 public:
  Node(raft::NodeId id, uint16_t port, raft::NodeId peer, uint16_t peer_port,
       const std::string& store_dir, SnapshotTransferConfig config,
       int hold_after = 0) {
    EXPECT_TRUE(storage::SnapshotStore::open(store_dir, 2, &store).is_ok());
    TransportConfig tc;
    tc.node_id = id;
    tc.cluster_id = kCluster;
    tc.listen_port = port;
    tc.peers = {{peer, "127.0.0.1", peer_port}};
    tc.reconnect_initial = milliseconds(5);
    tc.reconnect_max = milliseconds(50);
    transport = std::make_unique<Transport>(
        tc, [this](raft::Message m) { events.message(std::move(m)); }, nullptr);
    transfer = std::make_unique<SnapshotTransfer>(
        config, transport.get(), store.get(),
        [this](raft::NodeId to, bool ok) { events.sent(to, ok); },
        [this](raft::Message install,
               std::unique_ptr<StagedSnapshot> snapshot) {
          events.received(std::move(install), std::move(snapshot));
        });
    if (hold_after > 0) {
      gate = std::make_unique<Gate>(transport.get(), transfer.get(), hold_after,
                                    config.stall_timeout / 4);
    }
    EXPECT_EQ(transport->start(), "");
  }
  ~Node() { transport->stop(); }

  // Commits a snapshot holding `files` into this node's store.
  SnapshotInfo take(raft::Index index, raft::Term term, const Files& files) {
    std::unique_ptr<storage::SnapshotWriter> writer;
    EXPECT_TRUE(store->begin({index, term, {{1, 2}, {}}}, &writer).is_ok());
    for (const auto& [name, data] : files) {
      write_file(fs::path(writer->data_dir()) / name, data);
    }
    SnapshotInfo info;
    const storage::Status s = writer->commit("", &info);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return info;
  }

  Events events;
  std::unique_ptr<storage::SnapshotStore> store;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<SnapshotTransfer> transfer;
  std::unique_ptr<Gate> gate;
};

Files sample_files() {
  return {
      {"big.bin", random_bytes((100u << 10) + 123, 1)},  // 7 chunks of 16 KiB
      {"empty", ""},
      {"nested/deeper/leaf.txt", "leaf"},
      {"small", "small"},
  };
}

bool sent_one(const Events::Record& r) { return !r.sent.empty(); }

// The sender's snapshot arrived whole at the receiver, with its message,
// staged: the receiver's store shows it only once it is committed.
void expect_delivered(Node& receiver, const SnapshotInfo& info,
                      const raft::Message& install, const Files& files) {
  ASSERT_TRUE(receiver.events.wait(
      [](const Events::Record& r) { return !r.received.empty(); }));
  const Events::Record got = receiver.events.record();
  ASSERT_EQ(got.received.size(), 1u);
  const auto& [message, staged] = got.received[0];
  EXPECT_EQ(message, install);
  const SnapshotInfo& received = staged->info();
  EXPECT_EQ(received.meta, info.meta);
  EXPECT_EQ(received.sha256, info.sha256);
  EXPECT_EQ(received.bytes, info.bytes);
  EXPECT_EQ(read_tree(received.data_dir), files);
  SnapshotInfo latest;
  EXPECT_EQ(receiver.store->latest(&latest).code(),
            storage::StatusCode::kNotFound);

  SnapshotInfo committed;
  ASSERT_TRUE(staged->commit(&committed).is_ok());
  EXPECT_EQ(read_tree(committed.data_dir), files);
  ASSERT_TRUE(receiver.store->latest(&latest).is_ok());
  EXPECT_EQ(latest.meta, info.meta);
  EXPECT_EQ(latest.sha256, info.sha256);
  EXPECT_EQ(latest.data_dir, committed.data_dir);
}

TEST(SnapshotTransfer, DeliversAMultiFileSnapshotByteForByte) {
  ScratchDir dir;
  PortReservation pa, pb;
  Node a(1, pa.port(), 2, pb.port(), dir.path() + "/a", small_chunks());
  Node b(2, pb.port(), 1, pa.port(), dir.path() + "/b", small_chunks());
  const Files files = sample_files();
  const SnapshotInfo info = a.take(10, 3, files);
  const raft::Message install = install_message(info, 1, 2);

  ASSERT_TRUE(a.transfer->send(2, info, install));
  ASSERT_TRUE(a.events.wait(sent_one));
  EXPECT_EQ(a.events.record().sent,
            (std::vector<std::pair<raft::NodeId, bool>>{{2, true}}));
  expect_delivered(b, info, install, files);

  const SnapshotTransferStats sender = a.transfer->stats();
  EXPECT_EQ(sender.streams_started, 1u);
  EXPECT_EQ(sender.streams_succeeded, 1u);
  EXPECT_EQ(sender.bytes_sent, info.bytes);
  const SnapshotTransferStats receiver = b.transfer->stats();
  EXPECT_EQ(receiver.transfers_received, 1u);
  EXPECT_EQ(receiver.bytes_received, info.bytes);
  EXPECT_EQ(receiver.chunks_rejected, 0u);
  EXPECT_EQ(receiver.last_error, "");
}

TEST(SnapshotTransfer, DeliversASnapshotOfEmptyFilesOnly) {
  ScratchDir dir;
  PortReservation pa, pb;
  Node a(1, pa.port(), 2, pb.port(), dir.path() + "/a", small_chunks());
  Node b(2, pb.port(), 1, pa.port(), dir.path() + "/b", small_chunks());
  const Files files = {{"a", ""}, {"b/c", ""}};
  const SnapshotInfo info = a.take(4, 1, files);
  const raft::Message install = install_message(info, 1, 2);
  ASSERT_TRUE(a.transfer->send(2, info, install));
  ASSERT_TRUE(a.events.wait(sent_one));
  EXPECT_TRUE(a.events.record().sent[0].second);
  expect_delivered(b, info, install, files);
}

TEST(SnapshotTransfer, AReceivedSnapshotTheNodeDropsLeavesNothing) {
  ScratchDir dir;
  PortReservation pa, pb;
  Node a(1, pa.port(), 2, pb.port(), dir.path() + "/a", small_chunks());
  Node b(2, pb.port(), 1, pa.port(), dir.path() + "/b", small_chunks());
  const SnapshotInfo info = a.take(10, 3, sample_files());
  ASSERT_TRUE(a.transfer->send(2, info, install_message(info, 1, 2)));
  ASSERT_TRUE(a.events.wait(sent_one));
  EXPECT_TRUE(a.events.record().sent[0].second);
  ASSERT_TRUE(b.events.wait(
      [](const Events::Record& r) { return !r.received.empty(); }));
  std::vector<SnapshotInfo> stored;
  ASSERT_TRUE(b.store->list(&stored).is_ok());
  EXPECT_TRUE(stored.empty());

  b.events.drop_received();
  EXPECT_TRUE(fs::is_empty(dir.path() + "/b"));
}

TEST(SnapshotTransfer, SendNeedsARunningTransport) {
  ScratchDir dir;
  PortReservation pa;
  Node a(1, pa.port(), 2, 1, dir.path() + "/a", small_chunks());
  const SnapshotInfo info = a.take(4, 1, {{"f", "x"}});
  a.transport->stop();
  EXPECT_FALSE(a.transfer->send(2, info, install_message(info, 1, 2)));
}

TEST(SnapshotTransfer, RaftMessagesFlowWhileATransferIsUnderWay) {
  ScratchDir dir;
  PortReservation pa, pb;
  SnapshotTransferConfig config = small_chunks();
  config.window_chunks = 4;
  Node a(1, pa.port(), 2, pb.port(), dir.path() + "/a", config);
  Node b(2, pb.port(), 1, pa.port(), dir.path() + "/b", config,
         /*hold_after=*/2);
  const Files files = {{"big", random_bytes(1u << 20, 2)}};
  const SnapshotInfo info = a.take(20, 4, files);
  const raft::Message install = install_message(info, 1, 2);
  ASSERT_TRUE(a.transfer->send(2, info, install));
  // The receiver holds chunks back: the transfer cannot finish meanwhile.
  ASSERT_TRUE(b.gate->wait_holding());

  constexpr size_t kHeartbeats = 50;
  for (uint64_t i = 1; i <= kHeartbeats; ++i) {
    raft::Message heartbeat;
    heartbeat.type = raft::MessageType::kHeartbeat;
    heartbeat.term = 4;
    heartbeat.commit = i;
    heartbeat.from = 1;
    heartbeat.to = 2;
    a.transport->send(heartbeat);
    heartbeat.type = raft::MessageType::kHeartbeatResponse;
    heartbeat.from = 2;
    heartbeat.to = 1;
    b.transport->send(heartbeat);
  }
  const auto all_heartbeats = [](const Events::Record& r) {
    return r.messages.size() == kHeartbeats;
  };
  ASSERT_TRUE(b.events.wait(all_heartbeats));
  ASSERT_TRUE(a.events.wait(all_heartbeats));
  EXPECT_TRUE(a.events.record().sent.empty());
  EXPECT_TRUE(b.events.record().received.empty());

  b.gate->release();
  ASSERT_TRUE(a.events.wait(sent_one));
  EXPECT_TRUE(a.events.record().sent[0].second);
  expect_delivered(b, info, install, files);
}

TEST(SnapshotTransfer, ChecksumMismatchFailsAndCommitsNothing) {
  ScratchDir dir;
  PortReservation pa, pb;
  Node a(1, pa.port(), 2, pb.port(), dir.path() + "/a", small_chunks());
  Node b(2, pb.port(), 1, pa.port(), dir.path() + "/b", small_chunks());
  Files files = sample_files();
  const SnapshotInfo info = a.take(10, 3, files);
  // Damage the sender's copy after its checksum was taken.
  files["big.bin"][5000] ^= 0x20;
  write_file(fs::path(info.data_dir) / "big.bin", files["big.bin"]);

  ASSERT_TRUE(a.transfer->send(2, info, install_message(info, 1, 2)));
  ASSERT_TRUE(a.events.wait(sent_one));
  EXPECT_EQ(a.events.record().sent,
            (std::vector<std::pair<raft::NodeId, bool>>{{2, false}}));
  EXPECT_NE(a.transfer->stats().last_error.find("checksum"), std::string::npos)
      << a.transfer->stats().last_error;
  const SnapshotTransferStats receiver = b.transfer->stats();
  EXPECT_EQ(receiver.transfers_aborted, 1u);
  EXPECT_EQ(receiver.transfers_received, 0u);
  EXPECT_TRUE(b.events.record().received.empty());
  std::vector<SnapshotInfo> stored;
  ASSERT_TRUE(b.store->list(&stored).is_ok());
  EXPECT_TRUE(stored.empty());
  EXPECT_TRUE(fs::is_empty(dir.path() + "/b"));  // no leftover either
}

bool holds_an_offer(
    const std::vector<std::pair<raft::NodeId, std::string>>& held) {
  for (const auto& [from, payload] : held) {
    if (payload[0] == static_cast<char>(ChunkKind::kOffer)) return true;
  }
  return false;
}

TEST(SnapshotTransfer, ResumesAfterTheConnectionDrops) {
  ScratchDir dir;
  PortReservation pa, pb;
  Node a(1, pa.port(), 2, pb.port(), dir.path() + "/a", small_chunks());
  Node b(2, pb.port(), 1, pa.port(), dir.path() + "/b", small_chunks(),
         /*hold_after=*/3);
  const Files files = {{"big", random_bytes(512u << 10, 3)}};
  const SnapshotInfo info = a.take(30, 5, files);
  const raft::Message install = install_message(info, 1, 2);
  ASSERT_TRUE(a.transfer->send(2, info, install));
  ASSERT_TRUE(b.gate->wait_holding());

  // The same address again: a closes its connection and opens a new one,
  // losing what was in flight.
  ASSERT_EQ(a.transport->add_peer({2, "127.0.0.1", pb.port()}), "");
  ASSERT_TRUE(b.gate->wait_holding(holds_an_offer));
  b.gate->release();

  ASSERT_TRUE(a.events.wait(sent_one));
  EXPECT_TRUE(a.events.record().sent[0].second);
  expect_delivered(b, info, install, files);
  EXPECT_GE(a.transfer->stats().reoffers, 1u);
  EXPECT_EQ(b.transfer->stats().transfers_resumed, 1u);
  EXPECT_EQ(b.transfer->stats().bytes_received, info.bytes);
}

TEST(SnapshotTransfer, StartsOverWhenTheReceiverRestarts) {
  ScratchDir dir;
  PortReservation pa, pb;
  Node a(1, pa.port(), 2, pb.port(), dir.path() + "/a", small_chunks());
  auto b = std::make_unique<Node>(2, pb.port(), 1, pa.port(), dir.path() + "/b",
                                  small_chunks(),
                                  /*hold_after=*/2);
  const Files files = {{"big", random_bytes(300u << 10, 4)}};
  const SnapshotInfo info = a.take(30, 5, files);
  const raft::Message install = install_message(info, 1, 2);
  ASSERT_TRUE(a.transfer->send(2, info, install));
  ASSERT_TRUE(b->gate->wait_holding());

  b.reset();  // the partial transfer dies with it
  b = std::make_unique<Node>(2, pb.port(), 1, pa.port(), dir.path() + "/b",
                             small_chunks());
  ASSERT_TRUE(a.events.wait(sent_one));
  EXPECT_TRUE(a.events.record().sent[0].second)
      << a.transfer->stats().last_error;
  expect_delivered(*b, info, install, files);
  EXPECT_EQ(b->transfer->stats().transfers_resumed, 0u);
}

TEST(SnapshotTransfer, FailsWhenTheReceiverStaysAway) {
  ScratchDir dir;
  PortReservation pa, pb;
  SnapshotTransferConfig config = small_chunks();
  config.stall_timeout = milliseconds(300);
  Node a(1, pa.port(), 2, pb.port(), dir.path() + "/a", config);
  auto b = std::make_unique<Node>(2, pb.port(), 1, pa.port(), dir.path() + "/b",
                                  config, /*hold_after=*/1);
  const SnapshotInfo info = a.take(30, 5, {{"big", random_bytes(200000, 5)}});
  ASSERT_TRUE(a.transfer->send(2, info, install_message(info, 1, 2)));
  ASSERT_TRUE(b->gate->wait_holding());
  b.reset();

  ASSERT_TRUE(a.events.wait(sent_one));
  EXPECT_EQ(a.events.record().sent,
            (std::vector<std::pair<raft::NodeId, bool>>{{2, false}}));
  EXPECT_NE(a.transfer->stats().last_error.find("stalled"), std::string::npos)
      << a.transfer->stats().last_error;
}

TEST(SnapshotTransfer, ANewerSnapshotReplacesTheStreamAndRepeatsAreNoOps) {
  ScratchDir dir;
  PortReservation pa, pb;
  Node a(1, pa.port(), 2, pb.port(), dir.path() + "/a", small_chunks());
  Node b(2, pb.port(), 1, pa.port(), dir.path() + "/b", small_chunks(),
         /*hold_after=*/1);
  const Files old_files = {{"state", random_bytes(100000, 6)}};
  const Files new_files = {{"state", random_bytes(120000, 7)}};
  const SnapshotInfo old_info = a.take(30, 5, old_files);
  const SnapshotInfo new_info = a.take(40, 5, new_files);
  ASSERT_TRUE(a.transfer->send(2, old_info, install_message(old_info, 1, 2)));
  ASSERT_TRUE(a.transfer->send(2, old_info, install_message(old_info, 1, 2)));
  ASSERT_TRUE(b.gate->wait_holding());

  const raft::Message install = install_message(new_info, 1, 2);
  ASSERT_TRUE(a.transfer->send(2, new_info, install));
  ASSERT_TRUE(a.events.wait(sent_one));
  b.gate->release();
  ASSERT_TRUE(a.events.wait(
      [](const Events::Record& r) { return r.sent.size() == 2; }));
  EXPECT_EQ(a.events.record().sent, (std::vector<std::pair<raft::NodeId, bool>>{
                                        {2, false}, {2, true}}));
  expect_delivered(b, new_info, install, new_files);
  EXPECT_EQ(a.transfer->stats().streams_started, 2u);
}

TEST(SnapshotChunkCodec, RoundTripsEveryKind) {
  for (const SnapshotChunk& chunk : sample_chunks()) {
    SnapshotChunk decoded;
    ASSERT_EQ(decode_chunk(encode_chunk(chunk), &decoded), "");
    EXPECT_EQ(decoded, chunk);
  }
}

TEST(SnapshotChunkCodec, RejectsOffersNamingFilesOutsideTheSnapshot) {
  const SnapshotChunk valid = sample_chunks()[0];
  const std::vector<std::vector<SnapshotFile>> bad_lists = {
      {{"../escape", 8}},
      {{"/etc/passwd", 8}},
      {{"a/../../b", 8}},
      {{"./a", 8}},
      {{"a//b", 8}},
      {{"a/", 8}},
      {{"", 8}},
      {{std::string("a\0b", 3), 8}},
      {{"b", 4}, {"a", 4}},    // not ascending
      {{"a", 4}, {"a", 4}},    // twice
      {{"a", 4}, {"a/b", 4}},  // a file and a directory
      {{"a", 4}, {"a-", 0}, {"a/b", 4}},
      {{"a", 3}},  // sizes do not add up to total
  };
  for (const auto& files : bad_lists) {
    SnapshotChunk chunk = valid;
    chunk.files = files;
    SnapshotChunk decoded;
    EXPECT_NE(decode_chunk(encode_chunk(chunk), &decoded), "") << files[0].name;
  }
}

TEST(SnapshotChunkCodec, RejectsMalformedFields) {
  const std::vector<SnapshotChunk> samples = sample_chunks();
  std::vector<SnapshotChunk> bad;
  SnapshotChunk c = samples[0];
  c.stream_id = 0;
  bad.push_back(c);
  c = samples[0];
  c.sha256 = std::string(64, 'A');  // not lowercase hex
  bad.push_back(c);
  c = samples[0];
  c.install.type = raft::MessageType::kAppend;
  bad.push_back(c);
  c = samples[0];
  c.install.snapshot.reset();
  bad.push_back(c);
  c = samples[1];
  c.data.clear();
  bad.push_back(c);
  c = samples[1];
  c.offset = UINT64_MAX - 2;  // offset + length overflows
  bad.push_back(c);
  c = samples[2];
  c.reason = "a reason without a failure";
  bad.push_back(c);
  for (const SnapshotChunk& chunk : bad) {
    SnapshotChunk decoded;
    EXPECT_NE(decode_chunk(encode_chunk(chunk), &decoded), "");
  }
  SnapshotChunk decoded;
  EXPECT_NE(decode_chunk("", &decoded), "");
  EXPECT_NE(decode_chunk(encode_chunk(samples[2]) + "x", &decoded), "");
  std::string unknown_kind = encode_chunk(samples[2]);
  unknown_kind[0] = 4;
  EXPECT_NE(decode_chunk(unknown_kind, &decoded), "");
  std::string unknown_status = encode_chunk(samples[2]);
  unknown_status[9] = 3;
  EXPECT_NE(decode_chunk(unknown_status, &decoded), "");
}

std::string mutate(std::string bytes, std::mt19937_64* rng) {
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n)(*rng);
  };
  const int edits = 1 + static_cast<int>(pick(3));
  for (int i = 0; i < edits; ++i) {
    const size_t pos = pick(bytes.size());
    switch (pick(4)) {
      case 0:
        if (pos < bytes.size()) bytes[pos] ^= static_cast<char>(1 << pick(7));
        break;
      case 1:
        if (pos < bytes.size()) {
          bytes[pos] = static_cast<char>(pick(1) ? 0xFF : pick(255));
        }
        break;
      case 2:
        bytes.insert(pos, 1, static_cast<char>(pick(255)));
        break;
      case 3:
        bytes.erase(pos, pick(8));
        break;
      default:
        bytes.resize(pos);
        break;
    }
  }
  return bytes;
}

TEST(SnapshotChunkCodec, SurvivesMutationsAndAcceptsOnlyCanonicalBytes) {
  std::vector<std::string> seeds;
  for (const SnapshotChunk& chunk : sample_chunks()) {
    seeds.push_back(encode_chunk(chunk));
  }
  std::mt19937_64 rng(4242);
  int accepted = 0;
  for (int i = 0; i < 50000; ++i) {
    const std::string input = mutate(seeds[rng() % seeds.size()], &rng);
    SnapshotChunk chunk;
    if (decode_chunk(input, &chunk).empty()) {
      ++accepted;
      ASSERT_EQ(encode_chunk(chunk), input) << "mutation " << i;
    }
  }
  EXPECT_GT(accepted, 1000);
}

TEST(SnapshotTransfer, ABadPeerCannotCrashTheReceiverOrWriteOutsideIt) {
  ScratchDir dir;
  PortReservation pa, pb;
  Node a(1, pa.port(), 2, pb.port(), dir.path() + "/a", small_chunks());
  Node b(2, pb.port(), 1, pa.port(), dir.path() + "/b", small_chunks());

  // As peer 1 on a connection of its own: mutations of valid chunks, an
  // offer escaping the snapshot directory, a chunk past the offered end.
  const std::vector<SnapshotChunk> samples = sample_chunks();
  std::vector<std::string> payloads;
  std::mt19937_64 rng(99);
  for (int i = 0; i < 2000; ++i) {
    payloads.push_back(mutate(encode_chunk(samples[rng() % 2]), &rng));
  }
  SnapshotChunk escape = samples[0];
  escape.files = {{"../../escape", 8}};
  payloads.push_back(encode_chunk(escape));
  SnapshotChunk offer = samples[0];
  offer.stream_id = 1234;
  offer.install.snapshot->meta.index = 77;
  payloads.push_back(encode_chunk(offer));
  SnapshotChunk past_end = samples[1];
  past_end.stream_id = 1234;
  past_end.offset = 6;  // 6 + 5 > 8
  payloads.push_back(encode_chunk(past_end));

  std::string stream =
      encode_frame(FrameType::kHello, encode_hello({1, kCluster}));
  for (const std::string& payload : payloads) {
    append_frame(&stream, FrameType::kSnapshotChunk, payload);
  }
  // A connection's frames are handled in order: once this message arrives,
  // every chunk before it was.
  raft::Message last;
  last.type = raft::MessageType::kHeartbeat;
  last.from = 1;
  last.to = 2;
  append_frame(&stream, FrameType::kRaftMessage, encode_message(last));
  RawClient client(pb.port());
  ASSERT_TRUE(client.connected());
  client.write_all(stream);
  ASSERT_TRUE(b.events.wait(
      [](const Events::Record& r) { return !r.messages.empty(); }));

  const SnapshotTransferStats stats = b.transfer->stats();
  EXPECT_GT(stats.chunks_rejected, 1000u);
  EXPECT_GE(stats.transfers_aborted, 1u);  // the chunk past the end
  EXPECT_EQ(stats.transfers_received, 0u);
  EXPECT_FALSE(fs::exists(dir.path() + "/escape"));
  EXPECT_FALSE(fs::exists(dir.path() + "/b/escape"));
  EXPECT_TRUE(b.events.record().received.empty());
  EXPECT_EQ(b.transport->stats().connections_rejected, 0u);

  // The real peer 1 still gets its snapshot through.
  const Files files = sample_files();
  const SnapshotInfo info = a.take(90, 6, files);
  const raft::Message install = install_message(info, 1, 2);
  ASSERT_TRUE(a.transfer->send(2, info, install));
  ASSERT_TRUE(a.events.wait(sent_one));
  EXPECT_TRUE(a.events.record().sent[0].second);
  ASSERT_TRUE(b.events.wait(
      [](const Events::Record& r) { return !r.received.empty(); }));
  EXPECT_EQ(read_tree(b.events.record().received[0].second->info().data_dir),
            files);
}

}  // namespace
}  // namespace dengine::net
