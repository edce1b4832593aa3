#include "sm/kv_command.h"

#include "base/byte_codec.h"

namespace dengine::sm {

using base::ByteReader;
using base::ByteWriter;

using storage::Status;

namespace {

Status malformed(const char* what) {
  return Status::invalid_argument(std::string("malformed KV ") + what);
}

// Reads the version byte and the type byte common to every message.
bool read_header(ByteReader* in, uint8_t* type) {
  uint8_t version = 0;
  return in->u8(&version) && version == kKvFormatVersion && in->u8(type);
}

bool read_string(ByteReader* in, std::string* out) {
  std::string_view v;
  if (!in->bytes(&v)) return false;
  out->assign(v);
  return true;
}

}  // namespace

KvCommand KvCommand::put(std::string key, std::string value) {
  KvCommand c;
  c.type = KvCommandType::kPut;
  c.key = std::move(key);
  c.value = std::move(value);
  return c;
}

KvCommand KvCommand::put_with_ttl(std::string key, std::string value,
                                  uint64_t ttl_ms) {
  KvCommand c = put(std::move(key), std::move(value));
  c.type = KvCommandType::kPutWithTtl;
  c.ttl_ms = ttl_ms;
  return c;
}

KvCommand KvCommand::erase(std::string key) {
  KvCommand c;
  c.type = KvCommandType::kDelete;
  c.key = std::move(key);
  return c;
}

KvCommand KvCommand::compare_and_swap(std::string key,
                                      std::optional<std::string> expected,
                                      std::string value) {
  KvCommand c = put(std::move(key), std::move(value));
  c.type = KvCommandType::kCompareAndSwap;
  c.expect_absent = !expected.has_value();
  if (expected) c.expected = std::move(*expected);
  return c;
}

KvCommand KvCommand::create_if_absent(std::string key, std::string value) {
  return compare_and_swap(std::move(key), std::nullopt, std::move(value));
}

KvCommand KvCommand::tick(uint64_t now_ms) {
  KvCommand c;
  c.type = KvCommandType::kTick;
  c.timestamp_ms = now_ms;
  return c;
}

KvCommand KvCommand::at(uint64_t ms) && {
  timestamp_ms = ms;
  return std::move(*this);
}

void stamp_command(std::string* encoded, uint64_t now_ms) {
  // version byte, type byte, then the timestamp (encode_command).
  constexpr size_t kTimestampOffset = 2;
  if (encoded->size() < kTimestampOffset + 8 ||
      static_cast<uint8_t>((*encoded)[0]) != kKvFormatVersion) {
    return;
  }
  std::string stamp;
  ByteWriter(&stamp).u64(now_ms);
  encoded->replace(kTimestampOffset, stamp.size(), stamp);
}

std::string encode_command(const KvCommand& c) {
  std::string out;
  ByteWriter w(&out);
  w.u8(kKvFormatVersion);
  w.u8(static_cast<uint8_t>(c.type));
  w.u64(c.timestamp_ms);
  switch (c.type) {
    case KvCommandType::kPut:
      w.bytes(c.key);
      w.bytes(c.value);
      break;
    case KvCommandType::kPutWithTtl:
      w.bytes(c.key);
      w.bytes(c.value);
      w.u64(c.ttl_ms);
      break;
    case KvCommandType::kDelete:
      w.bytes(c.key);
      break;
    case KvCommandType::kCompareAndSwap:
      w.bytes(c.key);
      w.u8(c.expect_absent ? 0 : 1);
      if (!c.expect_absent) w.bytes(c.expected);
      w.bytes(c.value);
      break;
    case KvCommandType::kTick:
      break;
  }
  return out;
}

Status decode_command(std::string_view data, KvCommand* out) {
  ByteReader in(data);
  KvCommand c;
  uint8_t type = 0;
  if (!read_header(&in, &type) || !in.u64(&c.timestamp_ms)) {
    return malformed("command header");
  }
  c.type = static_cast<KvCommandType>(type);
  bool ok = true;
  switch (c.type) {
    case KvCommandType::kPut:
      ok = read_string(&in, &c.key) && read_string(&in, &c.value);
      break;
    case KvCommandType::kPutWithTtl:
      ok = read_string(&in, &c.key) && read_string(&in, &c.value) &&
           in.u64(&c.ttl_ms) && c.ttl_ms > 0;
      break;
    case KvCommandType::kDelete:
      ok = read_string(&in, &c.key);
      break;
    case KvCommandType::kCompareAndSwap: {
      uint8_t expect = 0;
      ok = read_string(&in, &c.key) && in.u8(&expect) && expect <= 1;
      c.expect_absent = expect == 0;
      if (ok && !c.expect_absent) ok = read_string(&in, &c.expected);
      ok = ok && read_string(&in, &c.value);
      break;
    }
    case KvCommandType::kTick:
      break;
    default:
      return malformed("command type");
  }
  if (!ok || !in.at_end()) return malformed("command body");
  if (c.type != KvCommandType::kTick && c.key.empty()) {
    return malformed("command: empty key");
  }
  *out = std::move(c);
  return Status::ok();
}

std::string encode_result(const KvResult& r) {
  std::string out;
  ByteWriter w(&out);
  w.u8(kKvFormatVersion);
  w.u8(static_cast<uint8_t>(r.code));
  w.u8(r.found ? 1 : 0);
  w.bytes(r.value);
  return out;
}

Status decode_result(std::string_view data, KvResult* out) {
  ByteReader in(data);
  uint8_t code = 0;
  uint8_t found = 0;
  KvResult r;
  if (!read_header(&in, &code) || code > 3 || !in.u8(&found) || found > 1 ||
      !read_string(&in, &r.value) || !in.at_end()) {
    return malformed("result");
  }
  r.code = static_cast<KvResultCode>(code);
  r.found = found == 1;
  *out = std::move(r);
  return Status::ok();
}

Status outcome_of(const KvResult& result, KvWriteOutcome* out) {
  if (result.code == KvResultCode::kBadCommand) {
    return Status::invalid_argument(
        "the KV machine refused the command as malformed");
  }
  out->applied = result.code != KvResultCode::kCasFailed;
  out->existed = result.found;
  return Status::ok();
}

Status decode_write_outcome(std::string_view data, KvWriteOutcome* out) {
  KvResult result;
  if (Status s = decode_result(data, &result); !s) {
    return Status::corruption("not a KV write result: " + s.message());
  }
  return outcome_of(result, out);
}

Status decode_read_with_answer(std::string_view query, std::string_view answer,
                               KvRead* read, KvReadAnswer* out) {
  if (Status s = decode_read(query, read); !s) return s;
  if (Status s = decode_read_answer(read->type, answer, out); !s) {
    return Status::corruption("not the answer to that KV query: " +
                              s.message());
  }
  return Status::ok();
}

KvRead KvRead::get(std::string key) {
  KvRead r;
  r.type = KvReadType::kGet;
  r.keys.push_back(std::move(key));
  return r;
}

KvRead KvRead::get_multi(std::vector<std::string> keys) {
  KvRead r;
  r.type = KvReadType::kGetMulti;
  r.keys = std::move(keys);
  return r;
}

KvRead KvRead::scan_prefix(std::string prefix, uint32_t limit) {
  KvRead r;
  r.type = KvReadType::kScanPrefix;
  r.prefix = std::move(prefix);
  r.limit = limit;
  return r;
}

std::string encode_read(const KvRead& r) {
  std::string out;
  ByteWriter w(&out);
  w.u8(kKvFormatVersion);
  w.u8(static_cast<uint8_t>(r.type));
  switch (r.type) {
    case KvReadType::kGet:
      w.bytes(r.keys.empty() ? std::string_view() : r.keys[0]);
      break;
    case KvReadType::kGetMulti:
      w.u32(static_cast<uint32_t>(r.keys.size()));
      for (const std::string& key : r.keys) w.bytes(key);
      break;
    case KvReadType::kScanPrefix:
      w.bytes(r.prefix);
      w.u32(r.limit);
      break;
  }
  return out;
}

Status decode_read(std::string_view data, KvRead* out) {
  ByteReader in(data);
  KvRead r;
  uint8_t type = 0;
  if (!read_header(&in, &type)) return malformed("read header");
  r.type = static_cast<KvReadType>(type);
  bool ok = true;
  switch (r.type) {
    case KvReadType::kGet:
      r.keys.emplace_back();
      ok = read_string(&in, &r.keys[0]) && !r.keys[0].empty();
      break;
    case KvReadType::kGetMulti: {
      uint32_t count = 0;
      // Each key takes at least its 4-byte length: a count the input cannot
      // hold is refused before anything is allocated for it.
      ok = in.u32(&count) && count > 0 && count <= in.remaining() / 4;
      for (uint32_t i = 0; ok && i < count; ++i) {
        r.keys.emplace_back();
        ok = read_string(&in, &r.keys.back()) && !r.keys.back().empty();
      }
      break;
    }
    case KvReadType::kScanPrefix:
      ok = read_string(&in, &r.prefix) && in.u32(&r.limit) && r.limit > 0;
      break;
    default:
      return malformed("read type");
  }
  if (!ok || !in.at_end()) return malformed("read body");
  *out = std::move(r);
  return Status::ok();
}

std::string encode_read_answer(KvReadType type, const KvReadAnswer& a) {
  std::string out;
  ByteWriter w(&out);
  w.u8(kKvFormatVersion);
  w.u8(static_cast<uint8_t>(type));
  auto value = [&w](const std::optional<std::string>& v) {
    w.u8(v ? 1 : 0);
    if (v) w.bytes(*v);
  };
  switch (type) {
    case KvReadType::kGet:
      value(a.values.empty() ? std::nullopt : a.values[0]);
      break;
    case KvReadType::kGetMulti:
      w.u32(static_cast<uint32_t>(a.values.size()));
      for (const auto& v : a.values) value(v);
      break;
    case KvReadType::kScanPrefix:
      w.u32(static_cast<uint32_t>(a.entries.size()));
      for (const auto& [k, v] : a.entries) {
        w.bytes(k);
        w.bytes(v);
      }
      w.u8(a.more ? 1 : 0);
      break;
  }
  return out;
}

Status decode_read_answer(KvReadType type, std::string_view data,
                          KvReadAnswer* out) {
  ByteReader in(data);
  KvReadAnswer a;
  uint8_t answered_type = 0;
  if (!read_header(&in, &answered_type) ||
      answered_type != static_cast<uint8_t>(type)) {
    return malformed("read answer header");
  }
  auto value = [&in](std::optional<std::string>* v) {
    uint8_t found = 0;
    if (!in.u8(&found) || found > 1) return false;
    if (found == 0) return true;
    v->emplace();
    return read_string(&in, &**v);
  };
  bool ok = true;
  uint32_t count = 1;
  switch (type) {
    case KvReadType::kGetMulti:
      ok = in.u32(&count) && count <= in.remaining();
      [[fallthrough]];
    case KvReadType::kGet:
      for (uint32_t i = 0; ok && i < count; ++i) {
        a.values.emplace_back();
        ok = value(&a.values.back());
      }
      break;
    case KvReadType::kScanPrefix: {
      uint8_t more = 0;
      ok = in.u32(&count) && count <= in.remaining() / 8;
      for (uint32_t i = 0; ok && i < count; ++i) {
        a.entries.emplace_back();
        ok = read_string(&in, &a.entries.back().first) &&
             read_string(&in, &a.entries.back().second);
      }
      ok = ok && in.u8(&more) && more <= 1;
      a.more = more == 1;
      break;
    }
    default:
      return malformed("read answer type");
  }
  if (!ok || !in.at_end()) return malformed("read answer body");
  *out = std::move(a);
  return Status::ok();
}

}  // namespace dengine::sm
