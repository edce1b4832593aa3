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

/* Node requests, with options built from the arguments. Each completes
 * exactly once through goRequestDone with `handle` as its context, a request
 * dengine refuses at once included (its message is dengine's last error). */
/* kv: the bytes are a dengine_kv_encode_* command or query
 * (DENGINE_REQUEST_KV), refused by a node running another machine. */
void godengine_propose(dengine_node* node, const void* data, size_t len, int kv,
                       uint32_t timeout_ms, uintptr_t handle);
void godengine_read(dengine_node* node, const void* query, size_t len, int kv,
                    int consistency, uint32_t timeout_ms, uintptr_t handle);
void godengine_add_learner(dengine_node* node, uint64_t id, const char* address,
                           uint32_t timeout_ms, uintptr_t handle);
void godengine_promote(dengine_node* node, uint64_t id, uint32_t timeout_ms,
                       uintptr_t handle);
void godengine_remove(dengine_node* node, uint64_t id, uint32_t timeout_ms,
                      uintptr_t handle);
void godengine_transfer_leadership(dengine_node* node, uint64_t to,
                                   uint32_t timeout_ms, uintptr_t handle);
void godengine_snapshot(dengine_node* node, uint32_t timeout_ms,
                        uintptr_t handle);

/* Client requests bounded by timeout_ms (0: the client's timeout); the
 * reply carries the error's message and leader hint. */
int godengine_client_propose(dengine_client* client, const void* data,
                             size_t len, int kv, uint32_t timeout_ms,
                             dengine_reply* reply);
int godengine_client_read(dengine_client* client, const void* query, size_t len,
                          int kv, int consistency, uint32_t timeout_ms,
                          dengine_reply* reply);

/* The client's async status and membership calls, bounded by the client's
 * timeout. Each completes exactly once with `handle` as its context, a call
 * dengine refuses at once included (e.g. the client is closing; its message
 * is dengine's last error): status through goStatusDone, the others
 * through goRequestDone. */
void godengine_client_status_async(dengine_client* client, uintptr_t handle);
void godengine_client_add_learner_async(dengine_client* client, uint64_t id,
                                        const char* address, uintptr_t handle);
void godengine_client_promote_async(dengine_client* client, uint64_t id,
                                    uintptr_t handle);
void godengine_client_remove_async(dengine_client* client, uint64_t id,
                                   uintptr_t handle);
void godengine_client_transfer_leadership_async(dengine_client* client,
                                                uint64_t to, uintptr_t handle);
void godengine_client_snapshot_async(dengine_client* client, uintptr_t handle);

/* Leader changes go to goLeaderChanged with `handle`. On failure *message
 * is as in lasterror.h. */
int godengine_set_leader_callback(dengine_node* node, uintptr_t handle,
                                  char** message);

/* Starts a watch, with options built from the arguments (prefix:
 * DENGINE_WATCH_PREFIX), whose events go to goWatchEvent and whose end goes
 * to goWatchEnd, with `handle`. On failure no callback ever runs and
 * *message is as in lasterror.h. */
int godengine_node_watch(dengine_node* node, int stream, int prefix,
                         const void* key, size_t key_len,
                         uint64_t start_revision, uint64_t max_lag,
                         uintptr_t handle, dengine_watch** out, char** message);
/* The same through a client (dengine_client_watch): blocks until a server
 * started the watch; its callbacks then run on the watch's own thread. */
int godengine_client_watch(dengine_client* client, int stream, int prefix,
                           const void* key, size_t key_len,
                           uint64_t start_revision, uint64_t max_lag,
                           uintptr_t handle, dengine_watch** out,
                           char** message);

/* Routes dengine's log lines to goLog (enabled) or back to stderr. */
void godengine_set_log_callback(int enabled, int min_level);

#endif /* DENGINE_GO_CALLBACKS_H */
