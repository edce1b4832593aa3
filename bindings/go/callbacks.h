/* The C side of the Go binding: trampolines from dengine's callbacks to the
 * exported Go functions, and wrappers that pass a cgo.Handle as a callback's
 * context. C only ever holds handles (integers), never Go pointers. */
#ifndef DENGINE_GO_CALLBACKS_H
#define DENGINE_GO_CALLBACKS_H

#include <stdint.h>

#include <dengine.h>

/* Fills *m with trampolines to the Go machine behind `handle`. */
void godengine_fill_machine(dengine_state_machine* m, uintptr_t handle,
                            int has_last_applied, int has_len);
/* The handle a machine filled above carries. */
uintptr_t godengine_machine_handle(const dengine_state_machine* m);

/* Fills *b with trampolines to the Go builder behind `handle`. */
void godengine_fill_builder(dengine_sm_builder* b, uintptr_t handle,
                            int has_command, int has_state_query);

/* Each completes through goRequestDone with `handle` as its context. */
int godengine_propose_async(dengine_node* node, const void* data, size_t len,
                            uint32_t timeout_ms, uintptr_t handle);
int godengine_read_async(dengine_node* node, const void* query, size_t len,
                         int consistency, uint32_t timeout_ms,
                         uintptr_t handle);
int godengine_add_learner_async(dengine_node* node, uint64_t id,
                                const char* address, uint32_t timeout_ms,
                                uintptr_t handle);
int godengine_promote_async(dengine_node* node, uint64_t id,
                            uint32_t timeout_ms, uintptr_t handle);
int godengine_remove_async(dengine_node* node, uint64_t id, uint32_t timeout_ms,
                           uintptr_t handle);
int godengine_transfer_leadership_async(dengine_node* node, uint64_t to,
                                        uint32_t timeout_ms, uintptr_t handle);
int godengine_snapshot_async(dengine_node* node, uint32_t timeout_ms,
                             uintptr_t handle);

/* Leader changes go to goLeaderChanged with `handle`. */
int godengine_set_leader_callback(dengine_node* node, uintptr_t handle);

/* Routes dengine's log lines to goLog (enabled) or back to stderr. */
void godengine_set_log_callback(int enabled, int min_level);

#endif /* DENGINE_GO_CALLBACKS_H */
