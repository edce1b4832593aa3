#include "sm/session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/byte_codec.h"
#include "base/crc32c.h"

namespace dengine::sm {
namespace {

using Verdict = SessionDecision::Verdict;

SessionHeader header(uint64_t client_id, uint64_t seq, uint64_t acked_seq = 0) {
  return SessionHeader{client_id, seq, acked_seq};
}

// Feeds entries to a table one index after another, as the handler does.
class Feeder {
 public:
  // A register entry: returns the new client's id.
  uint64_t open() { return table.register_client(table.index() + 1); }
  SessionDecision admit(const SessionHeader& h) {
    return table.admit(table.index() + 1, h);
  }
  // Admits and, when applied, records the result the handler would.
  SessionDecision apply(const SessionHeader& h, int32_t status = 0,
                        std::string data = "") {
    SessionDecision d = admit(h);
    if (d.verdict == Verdict::kApply) {
      table.set_result(h, SessionResult{true, status, std::move(data)});
    }
    return d;
  }
  SessionTable table;
};

TEST(EnvelopeTest, PlainRoundTrip) {
  for (std::string_view payload : {std::string_view(""), std::string_view("x"),
                                   std::string_view("\0\1\0", 3)}) {
    const std::string data = wrap_plain(payload);
    Envelope e;
    ASSERT_TRUE(decode_envelope(data, &e).is_ok());
    EXPECT_EQ(e.format, EnvelopeFormat::kPlain);
    EXPECT_EQ(e.payload, payload);
    EXPECT_EQ(e.payload.data(), data.data() + 1);  // a view, not a copy
  }
}

TEST(EnvelopeTest, SessionRoundTrip) {
  const SessionHeader h{0xfedcba9876543210ull, 42, 41};
  const std::string payload("put\0k", 5);
  const std::string data = wrap_session(h, payload);
  EXPECT_EQ(data.size(), 1 + 24 + payload.size());
  Envelope e;
  ASSERT_TRUE(decode_envelope(data, &e).is_ok());
  EXPECT_EQ(e.format, EnvelopeFormat::kSession);
  EXPECT_EQ(e.session.client_id, h.client_id);
  EXPECT_EQ(e.session.seq, 42u);
  EXPECT_EQ(e.session.acked_seq, 41u);
  EXPECT_EQ(e.payload, payload);

  ASSERT_TRUE(decode_envelope(wrap_session(h, ""), &e).is_ok());
  EXPECT_TRUE(e.payload.empty());
}

TEST(EnvelopeTest, RegisterRoundTrip) {
  const std::string data = wrap_register();
  EXPECT_EQ(data, std::string(1, '\x02'));
  Envelope e;
  ASSERT_TRUE(decode_envelope(data, &e).is_ok());
  EXPECT_EQ(e.format, EnvelopeFormat::kRegister);
  EXPECT_TRUE(e.payload.empty());
}

TEST(EnvelopeTest, MalformedEnvelopesAreRefused) {
  Envelope e;
  EXPECT_EQ(decode_envelope("", &e).code(), storage::StatusCode::kCorruption);
  EXPECT_EQ(decode_envelope("\x03payload", &e).code(),
            storage::StatusCode::kCorruption);
  // A register entry has nothing after its format byte.
  EXPECT_EQ(decode_envelope("\x02x", &e).code(),
            storage::StatusCode::kCorruption);
  EXPECT_EQ(decode_envelope("\xffpayload", &e).code(),
            storage::StatusCode::kCorruption);
  // Every cut through the session header.
  const std::string full = wrap_session(header(1, 2, 1), "");
  for (size_t n = 1; n < full.size(); ++n) {
    storage::Status s = decode_envelope(full.substr(0, n), &e);
    EXPECT_EQ(s.code(), storage::StatusCode::kCorruption) << n;
    EXPECT_NE(s.message().find("truncated"), std::string::npos);
  }
  EXPECT_EQ(decode_envelope(wrap_session(header(1, 0, 0), "p"), &e).code(),
            storage::StatusCode::kInvalidArgument);
  EXPECT_EQ(decode_envelope(wrap_session(header(1, 5, 5), "p"), &e).code(),
            storage::StatusCode::kInvalidArgument);
  EXPECT_EQ(decode_envelope(wrap_session(header(1, 5, 9), "p"), &e).code(),
            storage::StatusCode::kInvalidArgument);
}

TEST(SessionTableTest, ARegistrationOpensTheClientWhoseIdIsItsIndex) {
  Feeder f;
  f.table.pass(4);
  EXPECT_EQ(f.open(), 5u);
  EXPECT_EQ(f.table.index(), 5u);
  EXPECT_EQ(f.apply(header(5, 1)).verdict, Verdict::kApply);
  // Ids only grow, as the log does.
  EXPECT_EQ(f.open(), 7u);
  EXPECT_EQ(f.apply(header(7, 1)).verdict, Verdict::kApply);
}

TEST(SessionTableTest, AClientNeverRegisteredIsRejectedAsExpired) {
  Feeder f;
  const uint64_t opened = f.open();
  for (const SessionHeader& h :
       {header(9, 1), header(9, 5, 3), header(opened + 1, 1)}) {
    SessionDecision d = f.admit(h);
    EXPECT_EQ(d.verdict, Verdict::kExpired) << h.client_id;
    EXPECT_NE(d.reason.find("session " + std::to_string(h.client_id) +
                            " unknown: it expired (evicted from the session "
                            "table) or was never opened; open a new session"),
              std::string::npos)
        << d.reason;
  }
  // Nothing was recorded for them: a retry is refused again.
  EXPECT_EQ(f.admit(header(9, 1)).verdict, Verdict::kExpired);
  EXPECT_EQ(f.table.index(), 5u);
}

TEST(SessionTableTest, ARetryIsADuplicateWithTheFirstResult) {
  Feeder f;
  const uint64_t a = f.open();
  SessionDecision first = f.apply(header(a, 1), 3, "ok");
  EXPECT_EQ(first.verdict, Verdict::kApply);
  SessionDecision retry = f.admit(header(a, 1));
  EXPECT_EQ(retry.verdict, Verdict::kDuplicate);
  EXPECT_EQ(retry.applied_at, 2u);
  EXPECT_EQ(retry.result, (SessionResult{true, 3, "ok"}));
  EXPECT_EQ(f.table.index(), 3u);
  // Another client's seq 1 is its own.
  const uint64_t b = f.open();
  EXPECT_EQ(f.admit(header(b, 1)).verdict, Verdict::kApply);
}

TEST(SessionTableTest, ADuplicateOfAnEntryNotYetCompletedHasAnUnknownResult) {
  Feeder f;
  const uint64_t a = f.open();
  ASSERT_EQ(f.admit(header(a, 1)).verdict, Verdict::kApply);
  SessionDecision retry = f.admit(header(a, 1));
  EXPECT_EQ(retry.verdict, Verdict::kDuplicate);
  EXPECT_EQ(retry.applied_at, 2u);
  EXPECT_FALSE(retry.result.known);
}

TEST(SessionTableTest, AcknowledgedSeqsAreForgottenAndRefused) {
  Feeder f;
  const uint64_t c = f.open();
  ASSERT_EQ(f.apply(header(c, 1)).verdict, Verdict::kApply);
  ASSERT_EQ(f.apply(header(c, 2)).verdict, Verdict::kApply);
  ASSERT_EQ(f.apply(header(c, 3, 1)).verdict, Verdict::kApply);
  SessionDecision old = f.admit(header(c, 1));
  EXPECT_EQ(old.verdict, Verdict::kRejected);
  EXPECT_NE(old.reason.find("already acknowledged or too old"),
            std::string::npos)
      << old.reason;
  // acked_seq never goes back: 2 is still remembered, 1 is not.
  EXPECT_EQ(f.admit(header(c, 2, 0)).verdict, Verdict::kDuplicate);
  EXPECT_EQ(f.admit(header(c, 1, 0)).verdict, Verdict::kRejected);
  // A seq never seen but already acknowledged is refused as well: it may
  // have applied and been forgotten.
  ASSERT_EQ(f.apply(header(c, 9, 8)).verdict, Verdict::kApply);
  EXPECT_EQ(f.admit(header(c, 5, 0)).verdict, Verdict::kRejected);
}

TEST(SessionTableTest, ThePerClientLimitRaisesAFloor) {
  Feeder f;
  const uint64_t c = f.open();
  const uint64_t limit = SessionTable::kMaxResultsPerClient;
  for (uint64_t seq = 1; seq <= limit + 1; ++seq) {
    ASSERT_EQ(f.apply(header(c, seq), 0, std::to_string(seq)).verdict,
              Verdict::kApply);
  }
  // Seq 1 was evicted: below the floor, it is too old, never re-applied.
  EXPECT_EQ(f.admit(header(c, 1)).verdict, Verdict::kRejected);
  SessionDecision two = f.admit(header(c, 2));
  EXPECT_EQ(two.verdict, Verdict::kDuplicate);
  EXPECT_EQ(two.result.data, "2");
  EXPECT_EQ(f.apply(header(c, limit + 2)).verdict, Verdict::kApply);
  EXPECT_EQ(f.admit(header(c, 2)).verdict, Verdict::kRejected);
  EXPECT_EQ(f.admit(header(c, 3)).verdict, Verdict::kDuplicate);
}

// Registers kMaxClients clients that each write once, so that every client
// registered before them is evicted.
void crowd_out(Feeder* f) {
  for (size_t i = 0; i < SessionTable::kMaxClients; ++i) {
    const uint64_t other = f->open();
    ASSERT_EQ(f->apply(header(other, 1)).verdict, Verdict::kApply);
  }
}

TEST(SessionTableTest, TheClientLimitEvictsTheLeastRecentlyActive) {
  Feeder f;
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < SessionTable::kMaxClients; ++i) {
    ids.push_back(f.open());
    ASSERT_EQ(f.apply(header(ids.back(), 1)).verdict, Verdict::kApply);
  }
  // The first client is active again (a duplicate counts), so the second
  // is now the least recently active and makes room for a new one.
  ASSERT_EQ(f.admit(header(ids[0], 1)).verdict, Verdict::kDuplicate);
  const uint64_t newest = f.open();
  ASSERT_EQ(f.apply(header(newest, 1)).verdict, Verdict::kApply);
  SessionDecision evicted = f.admit(header(ids[1], 2, 1));
  EXPECT_EQ(evicted.verdict, Verdict::kExpired);
  EXPECT_NE(evicted.reason.find("expired"), std::string::npos);
  EXPECT_EQ(f.admit(header(ids[0], 1)).verdict, Verdict::kDuplicate);
  EXPECT_EQ(f.admit(header(ids[2], 1)).verdict, Verdict::kDuplicate);
  // A registration counts as activity too: an unused session outlives
  // older ones.
  const uint64_t idle = f.open();
  EXPECT_EQ(f.admit(header(ids[3], 2, 1)).verdict, Verdict::kExpired);
  EXPECT_EQ(f.apply(header(idle, 1)).verdict, Verdict::kApply);
}

// The bug registrations fix: a client whose first write applied but whose
// reply was lost, evicted before its retry, must not have it applied again.
TEST(SessionTableTest, AnEvictedClientsRetryOfItsFirstWriteIsNotApplied) {
  Feeder f;
  const uint64_t c = f.open();
  ASSERT_EQ(f.apply(header(c, 1), 0, "first").verdict, Verdict::kApply);
  crowd_out(&f);
  SessionDecision retry = f.admit(header(c, 1));
  EXPECT_EQ(retry.verdict, Verdict::kExpired);
  EXPECT_NE(retry.reason.find("open a new session"), std::string::npos)
      << retry.reason;
  // The refusal recorded nothing: the retry is refused however often.
  EXPECT_EQ(f.admit(header(c, 1)).verdict, Verdict::kExpired);
}

TEST(SessionTableTest, AnEvictedPipeliningClientsRetriesAreNotApplied) {
  Feeder f;
  const uint64_t c = f.open();
  // Seqs 1 and 2 sent before either reply came back: both acked_seq 0.
  ASSERT_EQ(f.apply(header(c, 1)).verdict, Verdict::kApply);
  ASSERT_EQ(f.apply(header(c, 2)).verdict, Verdict::kApply);
  crowd_out(&f);
  EXPECT_EQ(f.admit(header(c, 2)).verdict, Verdict::kExpired);
  EXPECT_EQ(f.admit(header(c, 1)).verdict, Verdict::kExpired);
  EXPECT_EQ(f.admit(header(c, 3, 2)).verdict, Verdict::kExpired);
}

TEST(SessionTableTest, EntriesWithoutASessionOnlyMoveTheIndex) {
  Feeder f;
  const uint64_t c = f.open();
  ASSERT_EQ(f.apply(header(c, 1), 1, "a").verdict, Verdict::kApply);
  const std::string before = f.table.encode();
  f.table.pass(3);
  EXPECT_EQ(f.table.index(), 3u);
  SessionTable expected;
  ASSERT_TRUE(SessionTable::decode(before, &expected).is_ok());
  expected.pass(3);
  EXPECT_EQ(f.table.encode(), expected.encode());
}

TEST(SessionTableTest, EncodingRoundTripsAndDecidesAlike) {
  Feeder f;
  const uint64_t c = f.open();
  const uint64_t other = f.open();
  const uint64_t idle = f.open();  // registered, never wrote
  ASSERT_EQ(f.apply(header(c, 1), -4, std::string("\0r", 2)).verdict,
            Verdict::kApply);
  ASSERT_EQ(f.apply(header(c, 2)).verdict, Verdict::kApply);
  ASSERT_EQ(f.admit(header(c, 3, 1)).verdict, Verdict::kApply);  // unknown
  ASSERT_EQ(f.apply(header(other, 1)).verdict, Verdict::kApply);
  f.table.pass(f.table.index() + 1);
  const std::string bytes = f.table.encode();

  SessionTable copy;
  ASSERT_TRUE(SessionTable::decode(bytes, &copy).is_ok());
  EXPECT_EQ(copy.index(), f.table.index());
  EXPECT_EQ(copy.encode(), bytes);
  for (SessionTable* t : {&f.table, &copy}) {
    SessionDecision two = t->admit(t->index() + 1, header(c, 2, 1));
    EXPECT_EQ(two.verdict, Verdict::kDuplicate);
    EXPECT_EQ(two.result, (SessionResult{true, 0, ""}));
    SessionDecision three = t->admit(t->index() + 1, header(c, 3, 1));
    EXPECT_EQ(three.verdict, Verdict::kDuplicate);
    EXPECT_FALSE(three.result.known);
    EXPECT_EQ(t->admit(t->index() + 1, header(c, 1, 1)).verdict,
              Verdict::kRejected);
    EXPECT_EQ(t->admit(t->index() + 1, header(idle, 1)).verdict,
              Verdict::kApply);
    EXPECT_EQ(t->admit(t->index() + 1, header(idle + 100, 1)).verdict,
              Verdict::kExpired);
  }
  EXPECT_EQ(copy.encode(), f.table.encode());

  SessionTable empty(12);
  ASSERT_TRUE(SessionTable::decode(empty.encode(), &copy).is_ok());
  EXPECT_EQ(copy.index(), 12u);
}

// Re-seals a body with a valid checksum, to reach the structural checks.
std::string seal(std::string body) {
  base::append_fixed(&body, base::crc32c(body), 4);
  return body;
}

TEST(SessionTableTest, DamagedEncodingsAreRefused) {
  Feeder f;
  const uint64_t a = f.open();
  const uint64_t b = f.open();
  ASSERT_EQ(f.apply(header(a, 1), 0, "abc").verdict, Verdict::kApply);
  ASSERT_EQ(f.apply(header(b, 1)).verdict, Verdict::kApply);
  const std::string good = f.table.encode();
  SessionTable out;
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(SessionTable::decode(good.substr(0, n), &out).is_ok()) << n;
    std::string flipped = good;
    flipped[n] ^= 0x10;
    EXPECT_EQ(SessionTable::decode(flipped, &out).code(),
              storage::StatusCode::kCorruption)
        << n;
  }
  const std::string body = good.substr(0, good.size() - 4);
  std::string version = body;
  version[0] = 2;
  EXPECT_NE(SessionTable::decode(seal(version), &out).message().find("version"),
            std::string::npos);
  EXPECT_FALSE(SessionTable::decode(seal(body + "x"), &out).is_ok());
  // Client count claims more clients than there are bytes for.
  std::string count = body;
  count[9] = 3;
  EXPECT_FALSE(SessionTable::decode(seal(count), &out).is_ok());

  // One client with acked_seq 3 remembering `seq`: only seq > 3 can be.
  auto table_with = [](uint64_t seq) {
    std::string body;
    base::ByteWriter w(&body);
    w.u8(1);
    w.u64(5);  // index
    w.u32(1);
    w.u64(7);  // client id
    w.u64(3);  // acked_seq
    w.u64(0);  // floor
    w.u64(4);  // last_index
    w.u32(1);
    w.u64(seq);
    w.u64(4);  // applied at
    w.u8(1);
    w.u32(0);
    w.bytes("");
    return seal(body);
  };
  EXPECT_FALSE(SessionTable::decode(table_with(3), &out).is_ok());
  EXPECT_EQ(out.index(), 0u);  // untouched by the failed decodes
  ASSERT_TRUE(SessionTable::decode(table_with(4), &out).is_ok());
  EXPECT_EQ(out.index(), 5u);
}

}  // namespace
}  // namespace dengine::sm
