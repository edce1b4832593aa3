// MEMBERS: [format 1][count 4]{[id 8][length 4][address]}*[CRC32C of the
// above 4], integers little-endian.
#include "node/address_book.h"

#include "base/byte_codec.h"
#include "base/crc32c.h"
#include "storage/atomic_file.h"

namespace dengine::node {
namespace {

constexpr uint8_t kFormat = 1;
constexpr char kFileName[] = "MEMBERS";
constexpr size_t kMaxFileBytes = 1 << 20;

std::string encode(const std::map<raft::NodeId, std::string>& addresses) {
  std::string out(1, static_cast<char>(kFormat));
  base::append_fixed(&out, addresses.size(), 4);
  for (const auto& [id, address] : addresses) {
    base::append_fixed(&out, id, 8);
    base::append_fixed(&out, address.size(), 4);
    out += address;
  }
  base::append_fixed(&out, base::crc32c(out), 4);
  return out;
}

storage::Status decode(const std::string& path, std::string_view data,
                       std::map<raft::NodeId, std::string>* out) {
  const auto corrupt = [&](const std::string& what) {
    return storage::Status::corruption(what + " in " + path);
  };
  if (data.size() < 1 + 4 + 4) return corrupt("truncated address book");
  const std::string_view body = data.substr(0, data.size() - 4);
  if (base::decode_fixed(data.data() + body.size(), 4) != base::crc32c(body)) {
    return corrupt("bad checksum");
  }
  if (static_cast<uint8_t>(body[0]) != kFormat) {
    return corrupt("unknown format version");
  }
  size_t pos = 1;
  const uint64_t count = base::decode_fixed(body.data() + pos, 4);
  pos += 4;
  for (uint64_t i = 0; i < count; ++i) {
    if (body.size() - pos < 12) return corrupt("truncated entry");
    const raft::NodeId id = base::decode_fixed(body.data() + pos, 8);
    const uint64_t length = base::decode_fixed(body.data() + pos + 8, 4);
    pos += 12;
    if (body.size() - pos < length) return corrupt("truncated address");
    (*out)[id] = std::string(body.substr(pos, length));
    pos += length;
  }
  if (pos != body.size()) return corrupt("trailing bytes");
  return storage::Status::ok();
}

}  // namespace

storage::Status AddressBook::open(storage::FileSystem* fs,
                                  const std::string& dir) {
  std::lock_guard lock(mutex_);
  fs_ = fs;
  dir_ = dir;
  const std::string path = dir + "/" + kFileName;
  if (!fs->exists(path)) return storage::Status::ok();
  std::string data;
  storage::Status s = storage::read_file(fs, path, kMaxFileBytes, &data);
  if (!s) return s;
  return decode(path, data, &addresses_);
}

storage::Status AddressBook::set(raft::NodeId id, const std::string& address,
                                 bool* changed) {
  std::lock_guard lock(mutex_);
  auto it = addresses_.find(id);
  *changed = it == addresses_.end() || it->second != address;
  if (!*changed) return storage::Status::ok();
  addresses_[id] = address;
  return storage::replace_file(fs_, dir_, kFileName, encode(addresses_));
}

std::string AddressBook::get(raft::NodeId id) const {
  std::lock_guard lock(mutex_);
  auto it = addresses_.find(id);
  return it == addresses_.end() ? std::string() : it->second;
}

std::map<raft::NodeId, std::string> AddressBook::all() const {
  std::lock_guard lock(mutex_);
  return addresses_;
}

}  // namespace dengine::node
