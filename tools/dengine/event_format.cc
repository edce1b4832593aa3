#include "event_format.h"

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace dengine::cli {

namespace {

using watch::Event;
using watch::EventType;

constexpr char kHex[] = "0123456789abcdef";

void append_hex_byte(unsigned char byte, std::string* out) {
  out->push_back(kHex[byte >> 4]);
  out->push_back(kHex[byte & 0xf]);
}

std::string quote_text(std::string_view bytes) {
  std::string out = "\"";
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte >= 0x20 && byte < 0x7f) {
          out.push_back(c);
        } else {
          out += "\\x";
          append_hex_byte(byte, &out);
        }
    }
  }
  out.push_back('"');
  return out;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF.
bool is_valid_utf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    size_t length = 0;
    uint32_t code_point = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
      code_point = lead & 0x1f;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      code_point = lead & 0x0f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (bytes.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(bytes[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3f);
    }
    const bool overlong = (length == 3 && code_point < 0x800) ||
                          (length == 4 && code_point < 0x10000);
    const bool surrogate = code_point >= 0xd800 && code_point <= 0xdfff;
    if (overlong || surrogate || code_point > 0x10ffff) return false;
    i += length;
  }
  return true;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t group = 0;
    for (size_t k = 0; k < 3; ++k) {
      const auto byte =
          k < n ? static_cast<unsigned char>(bytes[i + k]) : uint8_t{0};
      group = (group << 8) | byte;
    }
    for (size_t k = 0; k < 4; ++k) {
      out.push_back(k <= n ? kAlphabet[(group >> (18 - 6 * k)) & 0x3f] : '=');
    }
  }
  return out;
}

// A JSON string of bytes known to be valid UTF-8.
std::string json_string(std::string_view utf8) {
  std::string out = "\"";
  for (const char c : utf8) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20) {
      out += "\\u00";
      append_hex_byte(byte, &out);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// Builds one JSON object, fields in the order they are added.
class JsonObject {
 public:
  JsonObject& number(std::string_view name, uint64_t value) {
    return field(name, std::to_string(value));
  }
  JsonObject& text(std::string_view name, std::string_view value) {
    return field(name, json_string(value));
  }
  // `name` if the bytes are UTF-8, else `name`_base64.
  JsonObject& bytes(std::string_view name, std::string_view value) {
    if (is_valid_utf8(value)) return field(name, json_string(value));
    return field(std::string(name) + "_base64", "\"" + base64(value) + "\"");
  }
  std::string str() const { return out_ + "}"; }

 private:
  JsonObject& field(std::string_view name, const std::string& json) {
    out_ += out_.size() == 1 ? "\"" : ",\"";
    out_ += name;
    out_ += "\":";
    out_ += json;
    return *this;
  }

  std::string out_ = "{";
};

}  // namespace

std::string format_text(const Event& e) {
  std::string line = std::to_string(e.revision);
  switch (e.type) {
    case EventType::kPut:
      return line + " PUT " + quote_text(e.key) + " " + quote_text(e.value);
    case EventType::kDelete:
      return line + " DELETE " + quote_text(e.key);
    case EventType::kExpire:
      return line + " EXPIRE " + quote_text(e.key);
    case EventType::kUser:
      return line + " USER " + quote_text(e.key) + " " + quote_text(e.value);
    case EventType::kMemberAdded:
      return line + " MEMBER_ADDED " + std::to_string(e.node_id) + " " +
             quote_text(e.address);
    case EventType::kMemberPromoted:
      return line + " MEMBER_PROMOTED " + std::to_string(e.node_id);
    case EventType::kMemberRemoved:
      return line + " MEMBER_REMOVED " + std::to_string(e.node_id);
    case EventType::kLeader:
      return line + " LEADER " + std::to_string(e.node_id) + " " +
             std::to_string(e.term);
  }
  return line + " UNKNOWN";
}

std::string format_json(const Event& e) {
  JsonObject json;
  json.number("revision", e.revision);
  switch (e.type) {
    case EventType::kPut:
      json.text("type", "put").bytes("key", e.key).bytes("value", e.value);
      break;
    case EventType::kDelete:
      json.text("type", "delete").bytes("key", e.key);
      break;
    case EventType::kExpire:
      json.text("type", "expire").bytes("key", e.key);
      break;
    case EventType::kUser:
      json.text("type", "user").bytes("topic", e.key).bytes("value", e.value);
      break;
    case EventType::kMemberAdded:
      json.text("type", "member_added")
          .number("node_id", e.node_id)
          .bytes("address", e.address);
      break;
    case EventType::kMemberPromoted:
      json.text("type", "member_promoted").number("node_id", e.node_id);
      break;
    case EventType::kMemberRemoved:
      json.text("type", "member_removed").number("node_id", e.node_id);
      break;
    case EventType::kLeader:
      json.text("type", "leader")
          .number("node_id", e.node_id)
          .number("term", e.term);
      break;
  }
  if (e.prev_value) json.bytes("prev_value", *e.prev_value);
  return json.str();
}

}  // namespace dengine::cli
