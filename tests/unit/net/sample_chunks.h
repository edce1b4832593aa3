// Valid snapshot chunks, one of each kind (and a failed ack): the round-trip
// and mutation cases of the chunk codec tests and the seeds of its fuzz
// corpus.
#pragma once

#include <string>
#include <vector>

#include "net/snapshot_transfer.h"

namespace dengine::net::testing {

inline std::vector<SnapshotChunk> sample_chunks() {
  SnapshotChunk offer;
  offer.kind = ChunkKind::kOffer;
  offer.stream_id = 7;
  offer.install.type = raft::MessageType::kInstallSnapshot;
  offer.install.from = 1;
  offer.install.to = 2;
  offer.install.term = 3;
  offer.install.snapshot = raft::Snapshot{{10, 3, {{1, 2, 3}, {}}}, ""};
  offer.sha256 = std::string(64, 'a');
  offer.files = {{"a", 3}, {"dir/b", 0}, {"dir/c", 5}};
  offer.total = 8;
  SnapshotChunk data;
  data.kind = ChunkKind::kData;
  data.stream_id = 7;
  data.offset = 3;
  data.data = "abcde";
  SnapshotChunk progress;
  progress.kind = ChunkKind::kAck;
  progress.stream_id = 7;
  progress.offset = 5;
  SnapshotChunk failed = progress;
  failed.status = AckStatus::kFailed;
  failed.reason = "disk full";
  return {offer, data, progress, failed};
}

}  // namespace dengine::net::testing
