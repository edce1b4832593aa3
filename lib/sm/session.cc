#include "sm/session.h"

#include <algorithm>

#include "base/byte_codec.h"
#include "base/crc32c.h"

namespace dengine::sm {

namespace {

constexpr uint8_t kTableVersion = 1;
constexpr size_t kHeaderBytes = 3 * 8;

storage::Status bad_table(const std::string& what) {
  return storage::Status::corruption("session table: " + what);
}

}  // namespace

std::string wrap_plain(std::string_view payload) {
  std::string out;
  out.reserve(1 + payload.size());
  out.push_back(static_cast<char>(EnvelopeFormat::kPlain));
  out.append(payload);
  return out;
}

std::string wrap_session(const SessionHeader& header,
                         std::string_view payload) {
  std::string out;
  out.reserve(1 + kHeaderBytes + payload.size());
  base::ByteWriter w(&out);
  w.u8(static_cast<uint8_t>(EnvelopeFormat::kSession));
  w.u64(header.client_id);
  w.u64(header.seq);
  w.u64(header.acked_seq);
  out.append(payload);
  return out;
}

std::string wrap_register() {
  return std::string(1, static_cast<char>(EnvelopeFormat::kRegister));
}

storage::Status decode_envelope(std::string_view data, Envelope* out) {
  base::ByteReader r(data);
  uint8_t format = 0;
  if (!r.u8(&format)) {
    return storage::Status::corruption("envelope: empty entry data");
  }
  Envelope e;
  switch (format) {
    case static_cast<uint8_t>(EnvelopeFormat::kPlain):
      e.format = EnvelopeFormat::kPlain;
      break;
    case static_cast<uint8_t>(EnvelopeFormat::kSession):
      e.format = EnvelopeFormat::kSession;
      if (!r.u64(&e.session.client_id) || !r.u64(&e.session.seq) ||
          !r.u64(&e.session.acked_seq)) {
        return storage::Status::corruption(
            "envelope: session header truncated (" +
            std::to_string(data.size()) + " bytes)");
      }
      if (e.session.seq == 0) {
        return storage::Status::invalid_argument(
            "envelope: session sequence number 0 (they start at 1)");
      }
      if (e.session.acked_seq >= e.session.seq) {
        return storage::Status::invalid_argument(
            "envelope: acknowledged sequence number " +
            std::to_string(e.session.acked_seq) + " is not below seq " +
            std::to_string(e.session.seq));
      }
      break;
    case static_cast<uint8_t>(EnvelopeFormat::kRegister):
      e.format = EnvelopeFormat::kRegister;
      if (!r.at_end()) {
        return storage::Status::corruption(
            "envelope: " + std::to_string(r.remaining()) +
            " bytes after a register entry's format byte");
      }
      break;
    default:
      return storage::Status::corruption("envelope: unknown format " +
                                         std::to_string(format));
  }
  e.payload = data.substr(data.size() - r.remaining());
  *out = e;
  return storage::Status::ok();
}

SessionTable::Client* SessionTable::client_for(raft::Index index,
                                               const SessionHeader& header,
                                               std::string* reason) {
  auto it = clients_.find(header.client_id);
  if (it == clients_.end()) {
    *reason = "session " + std::to_string(header.client_id) +
              " unknown: it expired (evicted from the session table) or was "
              "never opened; open a new session";
    return nullptr;
  }
  by_activity_.erase({it->second.last_index, header.client_id});
  it->second.last_index = index;
  by_activity_.emplace(index, header.client_id);
  return &it->second;
}

uint64_t SessionTable::register_client(raft::Index index) {
  index_ = index;
  // Log indexes are never reused: only a table from before registrations,
  // whose ids clients chose, can already hold this one.
  if (auto held = clients_.find(index); held != clients_.end()) {
    by_activity_.erase({held->second.last_index, index});
    clients_.erase(held);
  } else if (clients_.size() >= kMaxClients) {
    auto least_active = by_activity_.begin();
    clients_.erase(least_active->second);
    by_activity_.erase(least_active);
  }
  Client client;
  client.last_index = index;
  clients_.emplace(index, std::move(client));
  by_activity_.emplace(index, index);
  return index;
}

SessionDecision SessionTable::admit(raft::Index index,
                                    const SessionHeader& header) {
  index_ = index;
  SessionDecision decision;
  Client* client = client_for(index, header, &decision.reason);
  if (client == nullptr) {
    decision.verdict = SessionDecision::Verdict::kExpired;
    return decision;
  }
  decision.verdict = SessionDecision::Verdict::kRejected;

  if (header.acked_seq > client->acked_seq) {
    client->acked_seq = header.acked_seq;
    client->results.erase(client->results.begin(),
                          client->results.upper_bound(header.acked_seq));
  }
  if (auto it = client->results.find(header.seq); it != client->results.end()) {
    decision.verdict = SessionDecision::Verdict::kDuplicate;
    decision.applied_at = it->second.index;
    decision.result = it->second.result;
    return decision;
  }
  if (header.seq <= client->acked_seq || header.seq <= client->floor) {
    decision.reason = "sequence number " + std::to_string(header.seq) +
                      " of client " + std::to_string(header.client_id) +
                      " already acknowledged or too old (outcome unknown)";
    return decision;
  }
  client->results.emplace(header.seq, Remembered{index, SessionResult{}});
  if (client->results.size() > kMaxResultsPerClient) {
    auto lowest = client->results.begin();
    client->floor = lowest->first;
    client->results.erase(lowest);
  }
  decision.verdict = SessionDecision::Verdict::kApply;
  return decision;
}

void SessionTable::set_result(const SessionHeader& header,
                              SessionResult result) {
  auto client = clients_.find(header.client_id);
  if (client == clients_.end()) return;
  auto it = client->second.results.find(header.seq);
  if (it != client->second.results.end()) it->second.result = std::move(result);
}

std::string SessionTable::encode() const {
  std::string out;
  base::ByteWriter w(&out);
  w.u8(kTableVersion);
  w.u64(index_);
  w.u32(static_cast<uint32_t>(clients_.size()));
  for (const auto& [id, client] : clients_) {
    w.u64(id);
    w.u64(client.acked_seq);
    w.u64(client.floor);
    w.u64(client.last_index);
    w.u32(static_cast<uint32_t>(client.results.size()));
    for (const auto& [seq, remembered] : client.results) {
      w.u64(seq);
      w.u64(remembered.index);
      w.u8(remembered.result.known ? 1 : 0);
      w.u32(static_cast<uint32_t>(remembered.result.status));
      w.bytes(remembered.result.data);
    }
  }
  w.u32(base::crc32c(out));
  return out;
}

storage::Status SessionTable::decode(std::string_view data, SessionTable* out) {
  if (data.size() < 4) return bad_table("truncated");
  const std::string_view body = data.substr(0, data.size() - 4);
  const uint32_t crc =
      static_cast<uint32_t>(base::decode_fixed(data.data() + body.size(), 4));
  if (base::crc32c(body) != crc) return bad_table("checksum mismatch");

  base::ByteReader r(body);
  uint8_t version = 0;
  SessionTable table;
  uint32_t client_count = 0;
  if (!r.u8(&version)) return bad_table("truncated");
  if (version != kTableVersion) {
    return bad_table("unknown version " + std::to_string(version));
  }
  if (!r.u64(&table.index_) || !r.u32(&client_count)) {
    return bad_table("truncated");
  }
  if (client_count > kMaxClients) {
    return bad_table(std::to_string(client_count) + " clients, over the limit");
  }
  for (uint32_t c = 0; c < client_count; ++c) {
    uint64_t id = 0;
    Client client;
    uint32_t result_count = 0;
    if (!r.u64(&id) || !r.u64(&client.acked_seq) || !r.u64(&client.floor) ||
        !r.u64(&client.last_index) || !r.u32(&result_count)) {
      return bad_table("truncated");
    }
    if (!table.clients_.empty() && id <= table.clients_.rbegin()->first) {
      return bad_table("client ids out of order");
    }
    if (client.last_index > table.index_ ||
        !table.by_activity_.emplace(client.last_index, id).second) {
      return bad_table("bad activity index of client " + std::to_string(id));
    }
    if (result_count > kMaxResultsPerClient) {
      return bad_table(std::to_string(result_count) +
                       " results, over the limit");
    }
    uint64_t previous = std::max(client.acked_seq, client.floor);
    for (uint32_t i = 0; i < result_count; ++i) {
      uint64_t seq = 0;
      Remembered remembered;
      uint8_t known = 0;
      uint32_t status = 0;
      std::string_view bytes;
      if (!r.u64(&seq) || !r.u64(&remembered.index) || !r.u8(&known) ||
          !r.u32(&status) || !r.bytes(&bytes)) {
        return bad_table("truncated");
      }
      if (seq <= previous || known > 1 || remembered.index > table.index_) {
        return bad_table("bad result of client " + std::to_string(id));
      }
      previous = seq;
      remembered.result.known = known == 1;
      remembered.result.status = static_cast<int32_t>(status);
      remembered.result.data.assign(bytes);
      client.results.emplace(seq, std::move(remembered));
    }
    table.clients_.emplace_hint(table.clients_.end(), id, std::move(client));
  }
  if (!r.at_end()) return bad_table("trailing bytes");
  *out = std::move(table);
  return storage::Status::ok();
}

}  // namespace dengine::sm
