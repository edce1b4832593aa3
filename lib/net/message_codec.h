// The payload of a raft-message frame: one raft::Message, every field, in the
// layout docs/architecture.md ("Wire format") describes. The encoding is
// canonical: a payload that decodes re-encodes to the same bytes.
#pragma once

#include <string>
#include <string_view>

#include "raft/types.h"

namespace dengine::net {

std::string encode_message(const raft::Message& message);

// Returns an empty string and sets *out, or says what is wrong with
// `payload`. Never trusts a length or count beyond the bytes actually there,
// so a small payload never causes a large allocation.
std::string decode_message(std::string_view payload, raft::Message* out);

}  // namespace dengine::net
