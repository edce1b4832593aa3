// How `dengine watch` prints an event: one line, without its newline, in
// the text form or as a JSON object (the formats are documented in
// examples/cluster/README.md, "Watching keys").
//
// Text: `<revision> <TYPE> <fields>`, the key and value written as
// double-quoted strings in which the quote, the backslash and every byte
// outside printable ASCII is escaped (\", \\, \n, \r, \t, else \xHH), so a
// quoted field ends at the first unescaped quote and a line holds no
// control character.
//
// JSON: a string field holds its bytes as they are when they are valid
// UTF-8 (with ", \ and the control characters U+0000-U+001F escaped, the
// latter as \u00XX); bytes that are not valid UTF-8 are written instead as
// base64 (RFC 4648, padded) in a field named `<field>_base64`.
#pragma once

#include <string>

#include "watch/event.h"

namespace dengine::cli {

std::string format_text(const watch::Event& event);
std::string format_json(const watch::Event& event);

}  // namespace dengine::cli
