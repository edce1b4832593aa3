#include "callbacks.h"

#include <string.h>

#include "_cgo_export.h"
#include "lasterror.h"

/* ----- the state machine vtable ----- */

static uintptr_t handle_of(void* user) { return (uintptr_t)user; }

static int machine_apply_chunk(void* user, const dengine_entry* entries,
                               size_t count, dengine_results* results) {
  return goMachineApply(handle_of(user), (dengine_entry*)entries, count,
                        results);
}

static uint64_t machine_last_applied(void* user) {
  return goMachineLastApplied(handle_of(user));
}

static int machine_read(void* user, const uint8_t* query, size_t len,
                        dengine_read_result* out) {
  return goMachineRead(handle_of(user), (uint8_t*)query, len, out);
}

static uint64_t machine_len(void* user) {
  return goMachineLen(handle_of(user));
}

/* last_index is the machine's own last applied index: Go's Snapshot
 * writes the state as of that without being told. */
static int machine_generate_snapshot(void* user, const char* dir,
                                     uint64_t last_index) {
  (void)last_index;
  return goMachineSnapshot(handle_of(user), (char*)dir);
}

static int machine_install_snapshot(void* user, const char* dir,
                                    const dengine_snapshot_meta* meta) {
  return goMachineRestore(handle_of(user), (char*)dir,
                          (dengine_snapshot_meta*)meta);
}

static int machine_flush(void* user) { return goMachineFlush(handle_of(user)); }

static int machine_reset(void* user) { return goMachineReset(handle_of(user)); }

void godengine_fill_machine(dengine_state_machine* m, uintptr_t handle,
                            int has_last_applied, int has_len) {
  memset(m, 0, sizeof *m);
  m->version = DENGINE_STATE_MACHINE_VERSION;
  m->struct_size = sizeof *m;
  m->user = (void*)handle;
  m->apply_chunk = machine_apply_chunk;
  m->last_applied = has_last_applied ? machine_last_applied : NULL;
  m->read = machine_read;
  m->len = has_len ? machine_len : NULL;
  m->generate_snapshot = machine_generate_snapshot;
  m->install_snapshot = machine_install_snapshot;
  m->flush = machine_flush;
  /* stop must leave everything durable: for a Go machine that is Flush. */
  m->stop = machine_flush;
  m->reset = machine_reset;
}

uintptr_t godengine_machine_handle(const dengine_state_machine* m) {
  return handle_of(m->user);
}

/* ----- the conformance suite's builder ----- */

static int builder_open(void* user, const char* path,
                        dengine_state_machine* out) {
  return goBuilderOpen(handle_of(user), (char*)path, out);
}

static void builder_close(void* user, dengine_state_machine* machine) {
  goBuilderClose(handle_of(user), machine);
}

static size_t builder_make_command(void* user, uint64_t n, uint8_t* buf,
                                   size_t cap) {
  return goBuilderCommand(handle_of(user), n, buf, cap);
}

static size_t builder_make_state_query(void* user, uint8_t* buf, size_t cap) {
  return goBuilderStateQuery(handle_of(user), buf, cap);
}

void godengine_fill_builder(dengine_sm_builder* b, uintptr_t handle,
                            int has_command, int has_state_query) {
  memset(b, 0, sizeof *b);
  b->version = DENGINE_SM_BUILDER_VERSION;
  b->struct_size = sizeof *b;
  b->user = (void*)handle;
  b->open = builder_open;
  b->close = builder_close;
  b->make_command = has_command ? builder_make_command : NULL;
  b->make_state_query = has_state_query ? builder_make_state_query : NULL;
}

/* ----- requests ----- */

static void request_done(void* ctx, int status, const dengine_reply* reply) {
  goRequestDone(handle_of(ctx), status, (dengine_reply*)reply);
}

/* An async call that returned an error never calls `done`: complete it here,
 * with the message dengine just left on this thread, so that every request
 * ends through goRequestDone and Go never reads the thread-local error. */
static void complete_refused(int status, uintptr_t handle) {
  dengine_reply reply;
  if (status == DENGINE_OK) return;
  memset(&reply, 0, sizeof reply);
  reply.message = (char*)dengine_last_error();
  request_done((void*)handle, status, &reply);
}

static dengine_write_options write_options(uint32_t timeout_ms, int kv) {
  dengine_write_options options;
  memset(&options, 0, sizeof options);
  options.version = DENGINE_WRITE_OPTIONS_VERSION;
  options.struct_size = sizeof options;
  options.timeout_ms = timeout_ms;
  options.flags = kv ? DENGINE_REQUEST_KV : 0;
  return options;
}

static dengine_read_options read_options(int consistency, uint32_t timeout_ms,
                                         int kv) {
  dengine_read_options options;
  memset(&options, 0, sizeof options);
  options.version = DENGINE_READ_OPTIONS_VERSION;
  options.struct_size = sizeof options;
  options.consistency = consistency;
  options.timeout_ms = timeout_ms;
  options.flags = kv ? DENGINE_REQUEST_KV : 0;
  return options;
}

void godengine_propose(dengine_node* node, const void* data, size_t len, int kv,
                       uint32_t timeout_ms, uintptr_t handle) {
  dengine_write_options options = write_options(timeout_ms, kv);
  complete_refused(dengine_node_propose_opts_async(node, data, len, &options,
                                                   request_done, (void*)handle),
                   handle);
}

void godengine_read(dengine_node* node, const void* query, size_t len, int kv,
                    int consistency, uint32_t timeout_ms, uintptr_t handle) {
  dengine_read_options options = read_options(consistency, timeout_ms, kv);
  complete_refused(dengine_node_read_opts_async(node, query, len, &options,
                                                request_done, (void*)handle),
                   handle);
}

void godengine_add_learner(dengine_node* node, uint64_t id, const char* address,
                           uint32_t timeout_ms, uintptr_t handle) {
  complete_refused(dengine_node_add_learner_async(node, id, address, timeout_ms,
                                                  request_done, (void*)handle),
                   handle);
}

void godengine_promote(dengine_node* node, uint64_t id, uint32_t timeout_ms,
                       uintptr_t handle) {
  complete_refused(dengine_node_promote_async(node, id, timeout_ms,
                                              request_done, (void*)handle),
                   handle);
}

void godengine_remove(dengine_node* node, uint64_t id, uint32_t timeout_ms,
                      uintptr_t handle) {
  complete_refused(dengine_node_remove_async(node, id, timeout_ms, request_done,
                                             (void*)handle),
                   handle);
}

void godengine_transfer_leadership(dengine_node* node, uint64_t to,
                                   uint32_t timeout_ms, uintptr_t handle) {
  complete_refused(dengine_node_transfer_leadership_async(
                       node, to, timeout_ms, request_done, (void*)handle),
                   handle);
}

void godengine_snapshot(dengine_node* node, uint32_t timeout_ms,
                        uintptr_t handle) {
  complete_refused(dengine_node_snapshot_async(node, timeout_ms, request_done,
                                               (void*)handle),
                   handle);
}

int godengine_client_propose(dengine_client* client, const void* data,
                             size_t len, int kv, uint32_t timeout_ms,
                             dengine_reply* reply) {
  dengine_write_options options = write_options(timeout_ms, kv);
  return dengine_client_propose_opts(client, data, len, &options, reply);
}

int godengine_client_read(dengine_client* client, const void* query, size_t len,
                          int kv, int consistency, uint32_t timeout_ms,
                          dengine_reply* reply) {
  dengine_read_options options = read_options(consistency, timeout_ms, kv);
  return dengine_client_read_opts(client, query, len, &options, reply);
}

/* ----- the client's status and membership calls ----- */

static void status_done(void* ctx, int status, const dengine_status* view,
                        const char* message) {
  goStatusDone(handle_of(ctx), status, (dengine_status*)view, (char*)message);
}

void godengine_client_status_async(dengine_client* client, uintptr_t handle) {
  int status = dengine_client_status_async(client, status_done, (void*)handle);
  /* Refused at once (done not called): complete it as complete_refused does. */
  if (status != DENGINE_OK) {
    status_done((void*)handle, status, NULL, dengine_last_error());
  }
}

void godengine_client_add_learner_async(dengine_client* client, uint64_t id,
                                        const char* address, uintptr_t handle) {
  complete_refused(dengine_client_add_learner_async(
                       client, id, address, request_done, (void*)handle),
                   handle);
}

void godengine_client_promote_async(dengine_client* client, uint64_t id,
                                    uintptr_t handle) {
  complete_refused(
      dengine_client_promote_async(client, id, request_done, (void*)handle),
      handle);
}

void godengine_client_remove_async(dengine_client* client, uint64_t id,
                                   uintptr_t handle) {
  complete_refused(
      dengine_client_remove_async(client, id, request_done, (void*)handle),
      handle);
}

void godengine_client_transfer_leadership_async(dengine_client* client,
                                                uint64_t to, uintptr_t handle) {
  complete_refused(dengine_client_transfer_leadership_async(
                       client, to, request_done, (void*)handle),
                   handle);
}

void godengine_client_snapshot_async(dengine_client* client, uintptr_t handle) {
  complete_refused(
      dengine_client_snapshot_async(client, request_done, (void*)handle),
      handle);
}

/* ----- watches ----- */

static void watch_event(void* ctx, const dengine_event* event) {
  goWatchEvent(handle_of(ctx), (dengine_event*)event);
}

static void watch_end(void* ctx, int status, uint64_t next_revision,
                      const char* message) {
  goWatchEnd(handle_of(ctx), status, next_revision, (char*)message);
}

/* The options of a watch, from the arguments of the wrappers below. */
static dengine_watch_options watch_options_of(int stream, int prefix,
                                              const void* key, size_t key_len,
                                              uint64_t start_revision,
                                              uint64_t max_lag) {
  dengine_watch_options options;
  memset(&options, 0, sizeof options);
  options.version = DENGINE_WATCH_OPTIONS_VERSION;
  options.struct_size = sizeof options;
  options.stream = stream;
  options.flags = prefix ? DENGINE_WATCH_PREFIX : 0;
  options.key = key;
  options.key_len = key_len;
  options.start_revision = start_revision;
  options.max_lag = max_lag;
  return options;
}

int godengine_node_watch(dengine_node* node, int stream, int prefix,
                         const void* key, size_t key_len,
                         uint64_t start_revision, uint64_t max_lag,
                         uintptr_t handle, dengine_watch** out,
                         char** message) {
  dengine_watch_options options =
      watch_options_of(stream, prefix, key, key_len, start_revision, max_lag);
  return godengine_captured(dengine_node_watch(node, &options, watch_event,
                                               watch_end, (void*)handle, out),
                            message);
}

int godengine_client_watch(dengine_client* client, int stream, int prefix,
                           const void* key, size_t key_len,
                           uint64_t start_revision, uint64_t max_lag,
                           uintptr_t handle, dengine_watch** out,
                           char** message) {
  dengine_watch_options options =
      watch_options_of(stream, prefix, key, key_len, start_revision, max_lag);
  return godengine_captured(dengine_client_watch(client, &options, watch_event,
                                                 watch_end, (void*)handle, out),
                            message);
}

/* ----- leader changes and logs ----- */

static void leader_changed(void* ctx, uint64_t leader_id, uint64_t term) {
  goLeaderChanged(handle_of(ctx), leader_id, term);
}

int godengine_set_leader_callback(dengine_node* node, uintptr_t handle,
                                  char** message) {
  return godengine_captured(
      dengine_node_set_leader_callback(node, leader_changed, (void*)handle),
      message);
}

static void log_line(void* user, int level, const char* message) {
  (void)user;
  goLog(level, (char*)message);
}

void godengine_set_log_callback(int enabled, int min_level) {
  dengine_set_log_callback(enabled ? log_line : NULL, NULL, min_level);
}
