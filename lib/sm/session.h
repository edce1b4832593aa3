// Client sessions: exactly-once writes (Raft thesis §6.3). The node wraps
// the data of every normal entry it proposes in an envelope; the
// state-machine handler strips it before the machine sees the entry, and
// uses the session header, when there is one, to apply each (client id,
// sequence number) at most once.
//
// Envelope, the first byte saying which:
//   0 (plain)     payload
//   1 (session)   client_id u64, seq u64, acked_seq u64 (little-endian),
//                 payload
//   2 (register)  nothing else: opens a session
// seq >= 1 and acked_seq < seq: the client holds the replies of all its
// seqs <= acked_seq, so their results can be forgotten, and it cannot hold
// the reply of the request it is sending.
//
// A client opens its session through the log before its first write: the
// client id is the log index of its register entry, so ids are unique and
// only ever grow, and a session entry of an id the table does not hold is
// known not to be new. (Were a client to choose its own id, the table could
// not tell a new client from one it evicted, whose retry would then apply
// a second time.) A register entry whose reply is lost and which is
// retried opens a second session; the first one is never used and is
// evicted in time.
//
// The session table decides what an entry does. It depends only on the
// entries it was fed and the table it started from (a snapshot's), never on
// time or on the node, so every replica decides alike. Per client it keeps
// acked_seq (the highest seen), the seqs applied above it with their
// results, and a floor: at most kMaxResultsPerClient results are kept, and
// evicting the lowest raises the floor to it. At most kMaxClients clients
// are kept; registering one more evicts the client whose last entry has
// the lowest index. A register entry at index i creates client i. An entry
// of client c with sequence s:
//   - c unknown: rejected as expired. It was evicted (and s may have
//     applied before), or never registered; the client must open a new
//     session.
//   - s remembered: a duplicate, not applied; its proposer gets the first
//     application's result.
//   - s <= acked_seq or s <= floor: rejected, not applied: the result is
//     forgotten and whether it applied is unknown.
//   - otherwise: applied, and its result remembered.
// Every entry of a known client raises its acked_seq and marks it active.
// A rejection never applies anything, so no seq ever applies twice.
//
// Encoding (snapshots): version u8 = 1, index u64, client count u32, then
// per client in id order: id, acked_seq, floor, last_index (u64 each),
// result count u32, and per result in seq order: seq u64, index u64,
// known u8, status u32, data (u32 length + bytes); then a CRC-32C (u32) of
// everything before it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "raft/types.h"
#include "storage/status.h"

namespace dengine::sm {

enum class EnvelopeFormat : uint8_t { kPlain = 0, kSession = 1, kRegister = 2 };

struct SessionHeader {
  uint64_t client_id = 0;
  uint64_t seq = 0;        // >= 1
  uint64_t acked_seq = 0;  // < seq
};

struct Envelope {
  EnvelopeFormat format = EnvelopeFormat::kPlain;
  SessionHeader session;     // kSession only
  std::string_view payload;  // a view into the decoded data; kRegister: empty
};

std::string wrap_plain(std::string_view payload);
std::string wrap_session(const SessionHeader& header, std::string_view payload);
std::string wrap_register();
// Fails with kCorruption (truncated, unknown format, bytes after a register
// byte) or kInvalidArgument (seq 0, acked_seq >= seq).
storage::Status decode_envelope(std::string_view data, Envelope* out);

// What an applied session entry answered.
struct SessionResult {
  bool known = false;  // false: applied, but its result was not recorded
  int32_t status = 0;  // what the machine set (dengine_results_set)
  std::string data;

  bool operator==(const SessionResult&) const = default;
};

// How a session entry is handled.
struct SessionDecision {
  // kRejected: the seq is forgotten (outcome unknown); kExpired: the client
  // is not in the table. Neither is applied.
  enum class Verdict { kApply, kDuplicate, kRejected, kExpired };
  Verdict verdict = Verdict::kApply;
  // kDuplicate: the index of the entry that applied the seq, and its result
  // (which is not yet known if that entry is still being applied).
  raft::Index applied_at = 0;
  SessionResult result;
  std::string reason;  // kRejected, kExpired: why, for the proposer
};

class SessionTable {
 public:
  static constexpr size_t kMaxResultsPerClient = 1'000;
  static constexpr size_t kMaxClients = 10'000;

  // An empty table reflecting the log up to `index`.
  explicit SessionTable(raft::Index index = 0) : index_(index) {}

  // The last log index the table reflects: the next entry fed must be
  // index() + 1.
  raft::Index index() const { return index_; }

  // Decides the session entry at `index` (see the rules above) and records
  // it. A kApply entry is remembered with an unknown result until
  // set_result.
  SessionDecision admit(raft::Index index, const SessionHeader& header);
  // The register entry at `index`: opens the session of client `index`
  // (evicting the least recently active client if the table is full) and
  // returns that id.
  uint64_t register_client(raft::Index index);
  // An entry without a session header: it only moves index().
  void pass(raft::Index index) { index_ = index; }
  // Records the result of an entry admitted with kApply, if the table still
  // remembers its seq.
  void set_result(const SessionHeader& header, SessionResult result);

  std::string encode() const;
  // Bounds-checked; kCorruption on a bad checksum, version or structure.
  static storage::Status decode(std::string_view data, SessionTable* out);

 private:
  struct Remembered {
    raft::Index index = 0;  // the entry that applied it
    SessionResult result;
  };
  struct Client {
    uint64_t acked_seq = 0;
    uint64_t floor = 0;                      // seqs <= floor were evicted
    raft::Index last_index = 0;              // its latest entry
    std::map<uint64_t, Remembered> results;  // seq > max(acked_seq, floor)
  };

  // The client of `header`, marked active at `index`; nullptr (and
  // *reason set) if the table does not hold it.
  Client* client_for(raft::Index index, const SessionHeader& header,
                     std::string* reason);

  raft::Index index_ = 0;
  std::map<uint64_t, Client> clients_;  // by id: the encoding's order
  // (last_index, id) of every client: the least active comes first.
  std::set<std::pair<raft::Index, uint64_t>> by_activity_;
};

}  // namespace dengine::sm
