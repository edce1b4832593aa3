// The built-in KV machines behind the C vtable: lib/capi/ forwards
// dengine_kv_machine_open / dengine_kv_machine_close here.
#pragma once

#include <string>

#include "dengine.h"

namespace dengine::sm {

// Opens (creating if needed) the machine of `backend` (DENGINE_KV_ROCKSDB or
// DENGINE_KV_FILE) stored in directory `path` and fills *out: out->user owns
// the machine until close_kv_machine. The callbacks follow the vtable's
// thread rules and never let an exception escape. Returns DENGINE_OK or a
// DENGINE_ERR_* code with a message in *error; *out is untouched on error.
int open_kv_machine(const std::string& path, int backend,
                    dengine_state_machine* out, std::string* error);

// Releases a machine filled by open_kv_machine and zeroes *machine. Without
// a stop (or flush) first, only what survives a process crash is kept (every
// applied chunk, unless the machine has since lost power). NULL machine or
// user is allowed.
void close_kv_machine(dengine_state_machine* machine);

}  // namespace dengine::sm
