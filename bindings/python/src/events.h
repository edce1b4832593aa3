// The one queue through which dengine's own threads hand things to Python:
// completions of _async calls, leader changes, log lines and the wake-ups
// of coroutines waiting for a watch (watch.h). dengine threads
// only push (they never wait for the GIL, so a busy interpreter cannot stall
// the Raft loop, and nothing deadlocks at interpreter exit); a Python thread
// (dengine/_events.py) pops batches with the GIL released while it waits.
#pragma once

#include <cstdint>

#include "bindings.h"

namespace dengine_py {

// The ctx to hand to dengine for the Python-side handler `token`.
void* token_ctx(uint64_t token);

// A dengine_done_fn queueing (token, status, reply) for the handler whose
// token is its ctx.
void on_done(void* ctx, int status, const dengine_reply* reply);

// A dengine_leader_fn queueing (token, leader_id, term).
void on_leader_change(void* ctx, uint64_t leader_id, uint64_t term);

// Queues a call of the handler `token` with no arguments.
void wake(uint64_t token);

}  // namespace dengine_py
