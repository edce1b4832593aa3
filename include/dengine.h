/*
 * dengine.h - the one public header of dengine, an embeddable Raft consensus
 * engine. C99; compiles as C and as C++.
 *
 * Conventions, for every function below unless its comment says otherwise:
 *   - Returns an int status: DENGINE_OK (0) or a negative DENGINE_ERR_* code.
 *     dengine_strerror(code) names the code; dengine_last_error() gives the
 *     message of the last failed call on the calling thread.
 *   - Pointers passed in are borrowed for the duration of the call; nothing
 *     is retained unless the comment says so. Buffers dengine hands to a
 *     callback are valid only until that callback returns.
 *   - Every symbol is prefixed dengine_ / DENGINE_; only those are exported.
 *
 * Versioned structs (the SQLite way). A struct a program passes to dengine
 * (dengine_state_machine, dengine_sm_builder) starts with `version` and
 * `struct_size`: set them to the header's *_VERSION macro and sizeof the
 * struct. New slots are only ever appended, after `reserved`, each marked
 * "since version N"; nothing is moved or removed. A libdengine accepts any
 * version from 1 to its own with a struct_size of at least version 1's, and
 * reads only the bytes struct_size covers, so a program built against an
 * older header keeps working: the slots it does not have are NULL, which
 * means the documented default. A version newer than the library's, a
 * struct_size smaller than version 1's, or a non-NULL `reserved` slot is
 * refused with DENGINE_ERR_INVALID_ARGUMENT and a message saying which.
 *
 * Structs dengine fills for the program (dengine_reply, dengine_status,
 * dengine_member, dengine_kv_items) are frozen: their layout never changes.
 * What later versions add comes through new functions.
 *
 * Timeouts: a timeout_ms of 0 means "the default" everywhere:
 * DENGINE_DEFAULT_TIMEOUT_MS for node calls (and on the wire, the server's
 * node applies the same), the client's own timeout for client calls.
 *
 * Strings dengine returns are either static (dengine_strerror,
 * dengine_err_name, dengine_version: never freed) or malloc'd for the
 * caller, who frees them with the function the comment names
 * (dengine_free, dengine_reply_free, dengine_status_free...).
 *
 * Since 0.2.0 (programs built against 0.1.0 run unchanged):
 *   - dengine_last_error() no longer starts with the code's name
 *     ("invalid argument: dengine_kv_put: empty key" is now
 *     "dengine_kv_put: empty key"); use dengine_err_name(code) for that.
 *   - a timeout_ms of 0 given to a node call waits DENGINE_DEFAULT_TIMEOUT_MS
 *     instead of expiring at once.
 *   - requests take options structs (dengine_write_options,
 *     dengine_read_options) in the _opts functions, and client calls a
 *     per-call timeout, async forms and a reply that carries the error
 *     message; the
 *     built-in KV machines' codec is public (dengine_kv_encode_*), so a KV
 *     operation is a propose or read of encoded bytes, blocking or async,
 *     on a node or through a client. The older functions remain.
 */
#ifndef DENGINE_H
#define DENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define DENGINE_API __attribute__((visibility("default")))
#else
#define DENGINE_API
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                   */

#define DENGINE_VERSION_MAJOR 0
#define DENGINE_VERSION_MINOR 3
#define DENGINE_VERSION_PATCH 0

/* MAJOR * 1000000 + MINOR * 1000 + PATCH (0.2.0 is 2000): the version of
 * the header, to compare with dengine_version_number(). */
#define DENGINE_VERSION_NUMBER                                      \
  (DENGINE_VERSION_MAJOR * 1000000 + DENGINE_VERSION_MINOR * 1000 + \
   DENGINE_VERSION_PATCH)

/* "0.2.0": the version of the library actually loaded. Static string. */
DENGINE_API const char* dengine_version(void);
/* The loaded library's DENGINE_VERSION_NUMBER, e.g. to require at least
 * the header a program was built with:
 *   if (dengine_version_number() < DENGINE_VERSION_NUMBER) ... */
DENGINE_API int dengine_version_number(void);

/* ------------------------------------------------------------------------ */
/* Status codes and errors                                                   */

enum {
  DENGINE_OK = 0,
  DENGINE_ERR_INVALID_ARGUMENT = -1, /* bad input or wrong API use */
  DENGINE_ERR_NOT_LEADER = -2,       /* retry at the leader (see status) */
  DENGINE_ERR_TIMEOUT = -3,          /* the deadline passed; outcome unknown */
  DENGINE_ERR_SHUTTING_DOWN = -4,    /* the node is stopping or stopped */
  DENGINE_ERR_CORRUPTION = -5,       /* a checksum or format check failed */
  DENGINE_ERR_IO = -6,               /* the operating system refused */
  DENGINE_ERR_NOT_FOUND = -7,        /* no such key, snapshot, member... */
  DENGINE_ERR_UNSUPPORTED = -8,      /* e.g. a NULL optional callback */
  DENGINE_ERR_BUSY = -9,             /* e.g. a membership change pending */
  DENGINE_ERR_STATE_MACHINE = -10,   /* a state machine callback failed */
  DENGINE_ERR_INTERNAL = -11,        /* a bug in dengine: please report */
  /* a session write's client id is unknown (evicted, or never opened); it
   * was not applied: open a new session */
  DENGINE_ERR_SESSION_EXPIRED = -12,
  /* since 0.2.0: a watch's start revision is older than the history the
   * node keeps (the message names the oldest revision it has) */
  DENGINE_ERR_COMPACTED = -13,
  /* since 0.2.0: a watch fell too far behind and was ended; resume it from
   * the revision it reached */
  DENGINE_ERR_WATCH_OVERFLOW = -14,
  /* since 0.2.0: the call was cancelled (a watch, by dengine_watch_cancel) */
  DENGINE_ERR_CANCELLED = -15,
  /* since 0.3.0: the client's TLS certificate does not allow the operation
   * (an admin operation without an admin certificate, or no certificate
   * where the server requires one); nothing was done */
  DENGINE_ERR_PERMISSION_DENIED = -16
};

/* A static, human-readable name for a status code ("not leader"). Never
 * NULL; unknown codes give "unknown error". Thread-safe. */
DENGINE_API const char* dengine_strerror(int code);
/* The code's name as written here ("DENGINE_ERR_NOT_LEADER", "DENGINE_OK"),
 * for logs and bindings. Never NULL; unknown codes give
 * "DENGINE_ERR_UNKNOWN". Static string; thread-safe. */
DENGINE_API const char* dengine_err_name(int code);

/* The message of the last call on this thread that failed, e.g.
 * "dengine_node_start: bad checksum in wal-00000001.log at offset 4096"
 * (the function, then why; the code's name is not repeated: see
 * dengine_err_name). Thread-local: valid until the next dengine call on the
 * same thread. Never NULL ("" when none). Calls that fill a dengine_reply
 * also put their message in reply->message, which bindings can read
 * without this thread-local. */
DENGINE_API const char* dengine_last_error(void);

/* ------------------------------------------------------------------------ */
/* Logging                                                                   */

enum {
  DENGINE_LOG_DEBUG = 0,
  DENGINE_LOG_INFO = 1,
  DENGINE_LOG_WARN = 2,
  DENGINE_LOG_ERROR = 3
};

/* Receives every log line of the process's dengine nodes. Called from any
 * dengine thread, possibly concurrently; must not call back into dengine.
 * `message` is valid only during the call. */
typedef void (*dengine_log_fn)(void* user, int level, const char* message);

/* Routes logs to `fn` (NULL restores the default: WARN and above to stderr)
 * for messages at `min_level` and above. Process-wide; thread-safe; takes
 * effect for lines logged after it returns. `user` is retained and passed
 * to every call. */
DENGINE_API void dengine_set_log_callback(dengine_log_fn fn, void* user,
                                          int min_level);

/* ------------------------------------------------------------------------ */
/* The replicated state machine                                              */
/*
 * An application plugs its state machine into dengine by filling a
 * dengine_state_machine. dengine replicates commands, and calls apply_chunk
 * with the committed ones: in log order, with no gaps, on one dedicated apply
 * thread (never on the Raft thread). See docs/state-machine-guide.md.
 *
 * Rules dengine keeps:
 *   - Entries arrive in index order with no gaps. After a crash, entries
 *     after the machine's last_applied() are delivered again, so a chunk may
 *     be re-delivered: apply must be idempotent by index (skip indexes at or
 *     below what you have durably applied).
 *   - A snapshot's SHA-256 is verified before install_snapshot is called;
 *     a snapshot that fails verification is never handed to the machine.
 *   - A failed apply_chunk (non-zero return) stops the node with
 *     DENGINE_ERR_STATE_MACHINE rather than let replicas diverge.
 *
 * Threads: apply_chunk, generate_snapshot, install_snapshot, reset, flush
 * and flush_async run on the apply thread, one at a time. read may run on
 * any client thread, concurrently with those and with other reads: the
 * machine must make that safe (e.g. a reader-writer lock or snapshots).
 * start and stop run on the thread that starts / stops the node.
 *
 * What the engine owns, rather than the machine (compared with d-engine's
 * StateMachine trait): entry_term (answered from the log), is_running
 * (the node knows), snapshot metadata update/get/persist (kept with the
 * snapshot, checksummed, by the snapshot store), save_hard_state (persisted
 * atomically with the log by the storage layer), is_empty (len() == 0), and
 * update_last_applied (the machine records the last index of each chunk as
 * it applies it).
 */

enum {
  DENGINE_ENTRY_NORMAL = 0,    /* an application command */
  DENGINE_ENTRY_NOOP = 1,      /* appended by a new leader; no data */
  DENGINE_ENTRY_MEMBERSHIP = 2 /* a membership change; data is engine-defined */
};

/* A committed log entry. `data` is valid only during the callback. */
typedef struct dengine_entry {
  uint64_t index;
  uint64_t term;
  uint32_t kind; /* DENGINE_ENTRY_* */
  const uint8_t* data;
  size_t len;
} dengine_entry;

/* The per-entry results of one apply_chunk call (opaque). */
typedef struct dengine_results dengine_results;

/* Sets the result of entry i of the chunk (0-based): a status the proposer
 * sees (0 or an application-defined value) and bytes that are copied. An
 * entry whose result is never set gets status 0 and no bytes. Call only from
 * within apply_chunk, on the apply thread, for i < count. */
DENGINE_API int dengine_results_set(dengine_results* results, size_t i,
                                    int32_t status, const void* data,
                                    size_t len);

/* Publishes an event for watchers of `topic` (non-empty bytes, copied with
 * data[0..len)) at the revision of entry i of the chunk: its log index.
 * Watchers of the topic (dengine_node_watch with DENGINE_WATCH_TOPIC, on
 * any node) receive it once the chunk applied there, in revision order
 * and, within an entry, in publishing order. Append-only: publish the
 * events of an entry after those of earlier entries
 * (DENGINE_ERR_INVALID_ARGUMENT otherwise). Call only from within
 * apply_chunk, on the apply thread, for i < count; publish the same events
 * for the same entries on every replica (events are part of the machine's
 * deterministic output), and none for an entry at or below last_applied
 * (re-delivered after a restart). Since 0.2.0. */
DENGINE_API int dengine_events_publish(dengine_results* results, size_t i,
                                       const void* topic, size_t topic_len,
                                       const void* data, size_t len);

/* Bytes a read returns (opaque). */
typedef struct dengine_read_result dengine_read_result;

/* Sets a read's answer; the bytes are copied. Call only from within read. */
DENGINE_API int dengine_read_result_set(dengine_read_result* result,
                                        const void* data, size_t len);

/* Metadata of a snapshot handed to install_snapshot. */
typedef struct dengine_snapshot_meta {
  uint64_t last_index; /* the snapshot covers entries up to here */
  uint64_t last_term;
  uint8_t sha256[32]; /* already verified by dengine */
} dengine_snapshot_meta;

/* The newest version of dengine_state_machine this header describes. Every
 * slot below is "since version 1". */
#define DENGINE_STATE_MACHINE_VERSION 1

typedef struct dengine_state_machine {
  uint32_t version;     /* DENGINE_STATE_MACHINE_VERSION (or older) */
  uint32_t struct_size; /* sizeof(dengine_state_machine) */
  void* user;           /* passed to every callback; owned by the caller */

  /* Optional. Called once when the node starts, before any other callback.
   * Open files, recover state. NULL: nothing to do. */
  int (*start)(void* user);

  /* Optional. Called once when the node stops, after the last other
   * callback. Everything applied must be durable when it returns.
   * NULL: nothing to do (the machine is durable after each apply). */
  int (*stop)(void* user);

  /* Required. Applies committed entries entries[0..count) in order,
   * all-or-nothing: either every entry's effect is applied (and, once
   * flushed, durable together with last_applied = entries[count-1].index),
   * or none and a non-zero status is returned, which stops the node.
   * Set per-entry results with dengine_results_set. Apply thread. */
  int (*apply_chunk)(void* user, const dengine_entry* entries, size_t count,
                     dengine_results* results);

  /* Optional. The highest index whose effects the machine holds durably
   * (persisted atomically with them). dengine replays only later entries
   * after a restart. NULL: 0, every entry since the last snapshot is
   * replayed, so apply must then rebuild from an empty state (reset).
   * Any thread, concurrently with apply_chunk. */
  uint64_t (*last_applied)(void* user);

  /* Optional. Serves a read of `query` (opaque bytes of the application's
   * choosing) from the applied state, setting the answer with
   * dengine_read_result_set. dengine has already waited for the read's
   * consistency level. Any client thread, concurrently with apply_chunk.
   * NULL: reads return DENGINE_ERR_UNSUPPORTED. */
  int (*read)(void* user, const uint8_t* query, size_t len,
              dengine_read_result* out);

  /* Optional. Number of entries (e.g. keys) the machine holds, for status.
   * Any thread. NULL: reported as unknown. */
  uint64_t (*len)(void* user);

  /* Required. Writes the machine's whole state, as of the last applied
   * entry (`last_index`), as files into the existing empty directory `dir`.
   * dengine then checksums and packages them. Apply thread (no apply runs
   * meanwhile). */
  int (*generate_snapshot)(void* user, const char* dir, uint64_t last_index);

  /* Required. Atomically replaces all state with the snapshot in `dir`
   * (written by generate_snapshot on some node; checksum verified). After
   * it, last_applied() must return meta->last_index. Apply thread. */
  int (*install_snapshot)(void* user, const char* dir,
                          const dengine_snapshot_meta* meta);

  /* Optional. Makes everything applied so far durable. Apply thread.
   * NULL: apply_chunk is durable when it returns. */
  int (*flush)(void* user);

  /* Optional. Starts making everything applied so far durable and returns
   * 0; then calls done(done_ctx, status) exactly once when finished, from
   * any thread. If it returns non-zero, nothing was started and done must
   * not be called. NULL: dengine calls flush instead. */
  int (*flush_async)(void* user, void (*done)(void* done_ctx, int status),
                     void* done_ctx);

  /* Optional. Clears everything back to empty (last_applied becomes 0).
   * Apply thread. NULL: DENGINE_ERR_UNSUPPORTED where a reset is needed. */
  int (*reset)(void* user);

  void* reserved[8]; /* must be NULL; slots of later versions follow */
} dengine_state_machine;

/* Frees memory dengine allocated and handed to the caller (reports,
 * strings). NULL is allowed. Any thread. */
DENGINE_API void dengine_free(void* p);

/* ------------------------------------------------------------------------ */
/* Built-in key-value machines                                               */
/*
 * Ready-made state machines with commands put, put-with-TTL, delete and
 * compare-and-swap, and reads get, get-multi and scan-prefix (their byte
 * formats are in docs/state-machine-guide.md). last_applied is persisted
 * atomically with each applied chunk.
 */

enum {
  DENGINE_KV_ROCKSDB = 0, /* the default: RocksDB, snapshots by checkpoint */
  DENGINE_KV_FILE = 1 /* plain files: a log of chunks plus a compacted image */
};

/* Opens (creating if needed) a built-in machine stored in directory `path`
 * and fills *out with its vtable (out->user is an internal handle). Release
 * it with dengine_kv_machine_close. Any thread. */
DENGINE_API int dengine_kv_machine_open(const char* path, int backend,
                                        dengine_state_machine* out);

/* Releases a machine opened by dengine_kv_machine_open; call stop first for
 * a clean shutdown (without it, this is like a crash: only what apply and
 * flush made durable survives). *machine is zeroed. */
DENGINE_API void dengine_kv_machine_close(dengine_state_machine* machine);

/* ------------------------------------------------------------------------ */
/* Nodes: running a cluster member in this process                          */
/*
 * A dengine_node is one member of a Raft cluster, running in the calling
 * process: it replicates proposals to its peers over TCP, keeps its log
 * durable under its data directory, applies committed entries to its state
 * machine and serves reads. Configure it with a dengine_config, start it,
 * then propose and read on it from any thread.
 *
 * Threads. Every dengine_node_* and dengine_kv_* function is thread-safe.
 * Blocking calls wait at most their timeout_ms (0: DENGINE_DEFAULT_TIMEOUT_MS;
 * then DENGINE_ERR_TIMEOUT: for a write the outcome is unknown, it may still
 * apply). Each blocking
 * call has an _async form that returns at once and calls a dengine_done_fn
 * exactly once, from an internal dengine thread (or, when the request fails
 * before it is queued, from the calling thread before the function
 * returns). A completion callback must not block and must not call blocking
 * dengine functions; it may call _async ones.
 *
 * Errors. DENGINE_ERR_NOT_LEADER means this node cannot serve the request
 * (writes, membership and transfers need the leader; reads are forwarded by
 * followers); the reply names the leader when known (for the dengine_kv_*
 * helpers, which have no reply, dengine_last_error() does). While no leader
 * is known at all (an election is running, e.g. just after start), writes,
 * reads and membership changes wait for one, within their timeout, rather
 * than fail. DENGINE_ERR_BUSY:
 * try again shortly (a leader not yet ready, a membership change pending).
 * DENGINE_ERR_SHUTTING_DOWN: the node is stopping or stopped.
 */

typedef struct dengine_config dengine_config; /* opaque */
typedef struct dengine_node dengine_node;     /* opaque */

enum {
  DENGINE_STORAGE_WAL = 0,    /* the segmented WAL (default) */
  DENGINE_STORAGE_ROCKSDB = 1 /* log and hard state in one RocksDB */
};

enum {
  DENGINE_READ_DEFAULT = 0,      /* the config's default (linearizable) */
  DENGINE_READ_LINEARIZABLE = 1, /* ReadIndex: a quorum round, batched */
  DENGINE_READ_LEASE = 2,        /* the leader's lease; falls back to 1 */
  DENGINE_READ_EVENTUAL = 3      /* this node's applied state; may be stale */
};

enum {
  DENGINE_ROLE_FOLLOWER = 0,
  DENGINE_ROLE_PRE_CANDIDATE = 1,
  DENGINE_ROLE_CANDIDATE = 2,
  DENGINE_ROLE_LEADER = 3
};

/* A new configuration with every default (see docs/operations.md): built-in
 * RocksDB KV machine, WAL log, peer address 127.0.0.1:0, tick 10 ms,
 * election after 15-30 ticks, heartbeat every 3, linearizable reads, a
 * snapshot every 10,000 entries or 64 MiB, 2 snapshots kept, entries up to
 * 16 MiB. Free it with dengine_config_free. Any thread; a config is not
 * thread-safe (one thread at a time). */
DENGINE_API int dengine_config_new(dengine_config** out);
/* NULL is allowed. */
DENGINE_API void dengine_config_free(dengine_config* config);

/* Setters: one per option, named as the option is everywhere (the TOML key
 * of docs/operations.md, Python's keyword, Go's Config field). Each copies
 * what it is given (strings too; nothing is retained) and checks it at once
 * against the option's rules: DENGINE_ERR_INVALID_ARGUMENT, with the
 * function and the option named in dengine_last_error() (e.g.
 * "dengine_config_set_tick_ms: tick_ms: must be between 1 and 10000, got
 * 0"), leaves the config as it was. Rules that span options (election_ticks
 * above heartbeat_ticks, initial voters among the peers...) are checked by
 * dengine_node_start. Required: id, data_dir. */
/* id, at least 1. */
DENGINE_API int dengine_config_set_node_id(dengine_config* config, uint64_t id);
/* cluster_id: nodes of different clusters refuse each other. Default 1. */
DENGINE_API int dengine_config_set_cluster_id(dengine_config* config,
                                              uint64_t cluster_id);
/* data_dir: where the node keeps its log, snapshots and built-in machine. */
DENGINE_API int dengine_config_set_data_dir(dengine_config* config,
                                            const char* dir);
/* Addresses, here and in membership calls: "host:port" (host a name, an
 * IPv4 address or "[v6]"), at most 127 bytes (longer is refused, so the
 * address fields of dengine_status are never cut).
 * peer_address: "host:port" to listen on for peers; port 0 picks a free
 * one. Since 0.2.0. */
DENGINE_API int dengine_config_set_peer_address(dengine_config* config,
                                                const char* address);
/* The old name of dengine_config_set_peer_address, kept for programs built
 * against 0.1.0; prefer the new name. */
DENGINE_API int dengine_config_set_listen_address(dengine_config* config,
                                                  const char* address);
/* peers: the address of another node ("host:port", a port required). List
 * every voter of a new cluster; a joining node needs at least the leader's.
 * Calling it again for the same id replaces the address. Refused: id 0, an
 * address another peer (or peer client address) already uses. */
DENGINE_API int dengine_config_add_peer(dengine_config* config, uint64_t id,
                                        const char* address);
/* client_address: "host:port" to serve clients of dengine_client_* on (as
 * dengined does); unset: no client listener. Port 0 picks a free one. */
DENGINE_API int dengine_config_set_client_address(dengine_config* config,
                                                  const char* address);
/* Part of peers: another node's client address, named to clients that reach
 * this one when that node leads. Same rules as dengine_config_add_peer. */
DENGINE_API int dengine_config_add_peer_client_address(dengine_config* config,
                                                       uint64_t id,
                                                       const char* address);
/* initial_voters: the voters of a brand-new cluster, this node included
 * (used only when the data dir is empty), no id twice. Leave unset on a node
 * that will be added to an existing cluster with dengine_node_add_learner. */
DENGINE_API int dengine_config_set_initial_voters(dengine_config* config,
                                                  const uint64_t* ids,
                                                  size_t count);
/* log_backend: DENGINE_STORAGE_WAL (default) or DENGINE_STORAGE_ROCKSDB.
 * Since 0.2.0. */
DENGINE_API int dengine_config_set_log_backend(dengine_config* config,
                                               int backend);
/* The old name of dengine_config_set_log_backend, kept for programs built
 * against 0.1.0; prefer the new name. */
DENGINE_API int dengine_config_set_storage(dengine_config* config, int storage);
/* The application's state machine instead of the built-in KV machine. The
 * struct is copied; machine->user is borrowed and must stay valid until
 * dengine_node_close returns. */
DENGINE_API int dengine_config_set_state_machine(
    dengine_config* config, const dengine_state_machine* machine);
/* kv_backend: the built-in machine's backend (DENGINE_KV_ROCKSDB, the
 * default, or DENGINE_KV_FILE). */
DENGINE_API int dengine_config_set_kv_backend(dengine_config* config,
                                              int backend);
/* tick_ms: the length of one Raft tick, 1-10000 ms. Since 0.2.0. */
DENGINE_API int dengine_config_set_tick_ms(dengine_config* config,
                                           uint32_t tick_ms);
/* election_ticks: a follower that hears no leader for election_ticks to
 * twice that starts an election; 3-10000 (a leader's lease lasts
 * election_ticks - 2), above heartbeat_ticks. Since 0.2.0. */
DENGINE_API int dengine_config_set_election_ticks(dengine_config* config,
                                                  uint32_t ticks);
/* heartbeat_ticks: a leader's heartbeat every this many ticks, 1-10000.
 * Since 0.2.0. */
DENGINE_API int dengine_config_set_heartbeat_ticks(dengine_config* config,
                                                   uint32_t ticks);
/* The three above at once (all or nothing), kept for programs built against
 * 0.1.0; prefer the per-field setters. Since 0.2.0 election_ticks above
 * heartbeat_ticks is checked by dengine_node_start, like every rule across
 * options. */
DENGINE_API int dengine_config_set_timing(dengine_config* config,
                                          uint32_t tick_ms,
                                          uint32_t election_ticks,
                                          uint32_t heartbeat_ticks);
/* default_read: DENGINE_READ_LINEARIZABLE (default), _LEASE or _EVENTUAL,
 * the consistency of a read that asks for DENGINE_READ_DEFAULT. */
DENGINE_API int dengine_config_set_default_read(dengine_config* config,
                                                int consistency);
/* snapshot_entries, snapshot_bytes: a snapshot once this many entries, or
 * entry bytes, were applied since the last (0 disables that threshold; both
 * 0: only dengine_node_snapshot). Any value. Since 0.2.0. */
DENGINE_API int dengine_config_set_snapshot_entries(dengine_config* config,
                                                    uint64_t entries);
DENGINE_API int dengine_config_set_snapshot_bytes(dengine_config* config,
                                                  uint64_t bytes);
/* Both of the above at once, kept for programs built against 0.1.0; prefer
 * the per-field setters. */
DENGINE_API int dengine_config_set_snapshot_policy(dengine_config* config,
                                                   uint64_t entries,
                                                   uint64_t bytes);
/* snapshots_kept: snapshots kept on disk (older ones are deleted), 1-1000.
 * Since 0.2.0. */
DENGINE_API int dengine_config_set_snapshots_kept(dengine_config* config,
                                                  uint32_t count);
/* max_entry_bytes: the largest command a proposal may carry, 1 byte to
 * 63 MiB (an entry and its message must fit one 64 MiB peer frame). */
DENGINE_API int dengine_config_set_max_entry_bytes(dengine_config* config,
                                                   uint64_t bytes);
/* watch_history_events (1 to 100,000,000; default 100,000) and
 * watch_history_bytes (4 KiB to 1 TiB; default 64 MiB): how many recent
 * events, and bytes of them, the node keeps for watches that start at a
 * past revision (see "Watches"), in memory and in <data_dir>/watch/ across
 * restarts. Since 0.2.0. */
DENGINE_API int dengine_config_set_watch_history_events(dengine_config* config,
                                                        uint64_t count);
DENGINE_API int dengine_config_set_watch_history_bytes(dengine_config* config,
                                                       uint64_t bytes);

/* TLS for the peer transport and the client listener (docs/operations.md,
 * "TLS"). Since 0.3.0. Off until a file is set; on, the node needs all
 * three files (PEM): tls_cert_file, its certificate (then any intermediate
 * certificates), presented to peers both ways and to clients, which must
 * carry the URI subject alternative name "dengine:node:<id>" of this node;
 * tls_key_file, its unencrypted private key; tls_ca_file, the CA bundle the
 * certificates of peers (and clients) must chain to. A peer is accepted only
 * with a certificate that chains to the CA and names the node id it claims.
 * The files are read by dengine_node_start, which refuses to start with
 * DENGINE_ERR_INVALID_ARGUMENT naming the file and the reason (unreadable,
 * not PEM, key not matching the certificate, not signed by the CA, expired),
 * and again by dengine_node_reload_tls. Setters refuse an empty or NULL
 * path. */
DENGINE_API int dengine_config_set_tls_cert_file(dengine_config* config,
                                                 const char* path);
DENGINE_API int dengine_config_set_tls_key_file(dengine_config* config,
                                                const char* path);
DENGINE_API int dengine_config_set_tls_ca_file(dengine_config* config,
                                               const char* path);
/* tls_min_version: "1.3" (default) or "1.2", the lowest TLS version this
 * node accepts and offers. Since 0.3.0. */
DENGINE_API int dengine_config_set_tls_min_version(dengine_config* config,
                                                   const char* version);
/* tls_require_client_cert: nonzero makes clients present a certificate that
 * chains to tls_ca_file (mutual TLS); then admin operations need an admin
 * identity (below). 0 (default): clients need no certificate, and anyone
 * who reaches the client address may run every operation. Needs the TLS
 * files. Since 0.3.0. */
DENGINE_API int dengine_config_set_tls_require_client_cert(
    dengine_config* config, int require);
/* tls_admin_identities: adds a client identity, the common name (CN) of a
 * client certificate, allowed the admin operations (add, promote and remove
 * a node, transfer leadership, snapshot); others get
 * DENGINE_ERR_PERMISSION_DENIED for them. Needs tls_require_client_cert.
 * Refused: an empty or NULL identity. Since 0.3.0. */
DENGINE_API int dengine_config_add_tls_admin_identity(dengine_config* config,
                                                      const char* identity);

/* Reads the TOML file at `path` (the dengined file of docs/operations.md:
 * sections [node], [cluster], [storage], [raft], [log]) into the config,
 * then, when env_prefix is not NULL, the environment variables named
 * <env_prefix><SECTION>_<KEY> (env_prefix "DENGINE_": DENGINE_RAFT_TICK_MS),
 * which win over the file. Each key found is set as its setter above would
 * set it; the options the file and variables leave out keep the config's
 * current values, so setters called afterwards override the file. [log]
 * level is checked but not applied: logging is the process's, see
 * dengine_set_log_callback.
 * Errors leave the config as it was, and dengine_last_error() names the place
 * and the key, e.g. "dengine_config_load_toml: node.toml:7:11: raft.tick_ms:
 * expected an integer, got a string":
 *   DENGINE_ERR_IO: the file cannot be opened or read;
 *   DENGINE_ERR_INVALID_ARGUMENT: a TOML syntax error; an unknown section,
 *     key or variable (one that starts with env_prefix and a section's name,
 *     such as DENGINE_RAFT_TIKC_MS; other variables are ignored); a value
 *     of the wrong type or refused by its option's rules; config or path
 *     NULL; env_prefix "" (NULL means no environment).
 * Rules that span options are checked by dengine_node_start, since more
 * setters may follow. Reads the process environment (getenv's rules: not
 * safe against a concurrent setenv); otherwise like the setters. Since
 * 0.2.0. */
DENGINE_API int dengine_config_load_toml(dengine_config* config,
                                         const char* path,
                                         const char* env_prefix);
/* The id the config holds (set by dengine_config_set_node_id or a loaded
 * file), 0 when none or config is NULL: what a binding reports as the node's
 * id before the node runs. Since 0.2.0. */
DENGINE_API uint64_t dengine_config_node_id(const dengine_config* config);

/* Opens the data directory (recovering after a crash), starts the state
 * machine, listens for peers and joins the cluster. The config may be freed
 * afterwards. On error nothing keeps running and *out is NULL.
 * Process-wide effect: if SIGPIPE still has its default action (terminate),
 * it is set to ignored, since a peer or client closing its connection must
 * not kill the process; a handler the host installed is left alone. */
DENGINE_API int dengine_node_start(const dengine_config* config,
                                   dengine_node** out);
/* Stops serving (pending requests end with DENGINE_ERR_SHUTTING_DOWN),
 * makes everything durable and stops the state machine. Idempotent; the
 * handle stays valid (status still works) until dengine_node_close. Returns
 * the first error met, e.g. the fatal error that stopped the node.
 * Threads: any thread but the node's own. From a callback the node runs
 * (completion, state machine, leader change) it would wait for itself, so
 * it does nothing and returns DENGINE_ERR_INVALID_ARGUMENT. */
DENGINE_API int dengine_node_stop(dengine_node* node);
/* Stops (if needed) and frees the node. NULL is allowed. Any thread; from a
 * callback the node runs, it returns at once and the node stops and is
 * freed on a thread of its own: the leader-change callback is removed
 * before this returns, pending requests still complete (with
 * DENGINE_ERR_SHUTTING_DOWN), and the data directory stays locked until
 * that stop has finished. */
DENGINE_API void dengine_node_close(dengine_node* node);

/* The outcome of a request. In a completion callback every pointer in it is
 * valid only during the callback. Filled by a blocking call, it owns its
 * buffers: release them with dengine_reply_free. */
typedef struct dengine_reply {
  int32_t result; /* proposals: the machine's status for the entry */
  uint8_t* data;  /* proposals: the entry's result; reads: the answer */
  size_t len;
  /* proposals and snapshots: the log index; reads of a built-in KV machine
   * on a node (since 0.2.0): the revision the answer reflects, the last
   * entry applied in its view, so a watch from index + 1 misses nothing
   * after it (0 where unknown: application machines, clients) */
  uint64_t index;
  int duplicate;        /* a session write applied before: its first result */
  uint64_t leader_id;   /* DENGINE_ERR_NOT_LEADER: the leader, or 0 */
  char* leader_address; /* its "host:port", or NULL */
  char* message;        /* why, when the status is not DENGINE_OK */
} dengine_reply;

/* Frees the buffers of a reply filled by a blocking call and zeroes it.
 * NULL is allowed. */
DENGINE_API void dengine_reply_free(dengine_reply* reply);

/* Completion of an _async call: `status` as the blocking form would return
 * it; `reply` valid only during the call. */
typedef void (*dengine_done_fn)(void* ctx, int status,
                                const dengine_reply* reply);

/* A client session: writes that carry one are applied at most once, also
 * when retried after a timeout or a failover (see docs/architecture.md,
 * "Client sessions"). One per client, used by one writer at a time.
 *   client_id: from dengine_node_open_session, never made up: the cluster
 *              knows only the ids it gave out.
 *   seq:       1, 2, 3, ... one per new write; a retry of a write reuses
 *              its seq and gets the first application's result
 *              (reply->duplicate set).
 *   acked_seq: below seq; every seq up to it has its reply at the client
 *              (0: none yet), so the cluster may forget those results. A
 *              write with a seq at or below the highest acked_seq seen, or
 *              too old to be remembered (1,000 results are kept per
 *              client), fails with DENGINE_ERR_INVALID_ARGUMENT and is not
 *              applied.
 * A write whose client_id the cluster does not hold (never opened, or the
 * session expired: the 10,000 most recently active are kept) fails with
 * DENGINE_ERR_SESSION_EXPIRED and is not applied. If that write was sent
 * before (a retry), an earlier attempt may still have applied it: its
 * outcome is unknown. Open a new session for the writes that follow. */
typedef struct dengine_session {
  uint64_t client_id;
  uint64_t seq;
  uint64_t acked_seq;
} dengine_session;

/* A node call's timeout_ms of 0 waits this long (30 s). Since 0.2.0. */
#define DENGINE_DEFAULT_TIMEOUT_MS 30000

/* A flag of dengine_write_options and dengine_read_options: the bytes are a
 * dengine_kv_encode_* command or query for a built-in KV machine, so a node
 * running another machine refuses them with DENGINE_ERR_UNSUPPORTED instead
 * of handing them to it (through a client: the server's node does). */
#define DENGINE_REQUEST_KV 1u

/* Options of a write: dengine_node_propose_opts (and its _async form), and
 * dengine_client_propose_opts. Versioned like dengine_state_machine (see the
 * banner); a NULL options pointer means every default. Since 0.2.0; every
 * slot is "since version 1". */
#define DENGINE_WRITE_OPTIONS_VERSION 1

typedef struct dengine_write_options {
  uint32_t version;     /* DENGINE_WRITE_OPTIONS_VERSION (or older) */
  uint32_t struct_size; /* sizeof(dengine_write_options) */
  /* The session the write belongs to (copied during the call); NULL: no
   * deduplication. Node calls only: a client carries its own session, so
   * client calls refuse a non-NULL one. */
  const dengine_session* session;
  uint32_t timeout_ms; /* 0: the default (see the banner) */
  uint32_t flags;      /* 0 or DENGINE_REQUEST_KV; other bits are refused */
  void* reserved[2];   /* must be NULL; slots of later versions follow */
} dengine_write_options;

/* Options of a read: dengine_node_read_opts (and its _async form), and
 * dengine_client_read_opts. Versioned the same way; NULL means every
 * default. Since 0.2.0; every slot is "since version 1". */
#define DENGINE_READ_OPTIONS_VERSION 1

typedef struct dengine_read_options {
  uint32_t version;     /* DENGINE_READ_OPTIONS_VERSION (or older) */
  uint32_t struct_size; /* sizeof(dengine_read_options) */
  int consistency;      /* DENGINE_READ_* (0: DENGINE_READ_DEFAULT) */
  uint32_t timeout_ms;  /* 0: the default (see the banner) */
  uint32_t flags;       /* 0 or DENGINE_REQUEST_KV; other bits are refused */
  void* reserved[2];    /* must be NULL; slots of later versions follow */
} dengine_read_options;

/* Opens a client session: proposes a registration through the log and
 * returns once it applied, with the new client id in *client_id (not NULL;
 * the id is the registration's log index, unique in the cluster). The
 * session's first write has seq 1. On DENGINE_ERR_TIMEOUT the registration
 * may still apply; retrying opens another session, and the unused one is
 * evicted in time. Blocking (not from a completion callback); thread-safe.
 * Errors as for dengine_node_propose (DENGINE_ERR_NOT_LEADER off the
 * leader). */
DENGINE_API int dengine_node_open_session(dengine_node* node,
                                          uint32_t timeout_ms,
                                          uint64_t* client_id);
/* The async form: reply->index is the new client id when status is
 * DENGINE_OK. */
DENGINE_API int dengine_node_open_session_async(dengine_node* node,
                                                uint32_t timeout_ms,
                                                dengine_done_fn done,
                                                void* ctx);

/* Proposes data[0..len) for the state machine (NULL session: no
 * deduplication). Returns once the entry applied (DENGINE_OK, the machine's
 * result in *reply), or an error. `reply` may be NULL. */
DENGINE_API int dengine_node_propose(dengine_node* node, const void* data,
                                     size_t len, const dengine_session* session,
                                     uint32_t timeout_ms, dengine_reply* reply);
DENGINE_API int dengine_node_propose_async(dengine_node* node, const void* data,
                                           size_t len,
                                           const dengine_session* session,
                                           uint32_t timeout_ms,
                                           dengine_done_fn done, void* ctx);

/* Reads through the machine's read callback with query[0..len), at
 * `consistency` (DENGINE_READ_*). The answer is in reply->data. */
DENGINE_API int dengine_node_read(dengine_node* node, const void* query,
                                  size_t len, int consistency,
                                  uint32_t timeout_ms, dengine_reply* reply);
DENGINE_API int dengine_node_read_async(dengine_node* node, const void* query,
                                        size_t len, int consistency,
                                        uint32_t timeout_ms,
                                        dengine_done_fn done, void* ctx);

/* Propose and read with options (since 0.2.0): the same requests as
 * dengine_node_propose / _read and their _async forms, with the session,
 * timeout and consistency in an options struct (NULL: every default). A bad
 * options struct fails with DENGINE_ERR_INVALID_ARGUMENT: the blocking
 * forms return it (message in reply->message too), the _async forms call
 * `done` with it before returning. On a node running a built-in KV machine
 * these carry the dengine_kv_encode_* bytes: the leader stamps each KV
 * write with its clock as it proposes it (the time TTLs count from). */
DENGINE_API int dengine_node_propose_opts(dengine_node* node, const void* data,
                                          size_t len,
                                          const dengine_write_options* options,
                                          dengine_reply* reply);
DENGINE_API int dengine_node_propose_opts_async(
    dengine_node* node, const void* data, size_t len,
    const dengine_write_options* options, dengine_done_fn done, void* ctx);
DENGINE_API int dengine_node_read_opts(dengine_node* node, const void* query,
                                       size_t len,
                                       const dengine_read_options* options,
                                       dengine_reply* reply);
DENGINE_API int dengine_node_read_opts_async(
    dengine_node* node, const void* query, size_t len,
    const dengine_read_options* options, dengine_done_fn done, void* ctx);

/* Membership, one change at a time, on the leader; each returns once the
 * change is committed. Add a node as a learner (it receives the log but
 * does not vote), then promote it once it has caught up (DENGINE_ERR_BUSY
 * until then). Removing the leader makes it step down. */
DENGINE_API int dengine_node_add_learner(dengine_node* node, uint64_t id,
                                         const char* address,
                                         uint32_t timeout_ms);
DENGINE_API int dengine_node_promote(dengine_node* node, uint64_t id,
                                     uint32_t timeout_ms);
DENGINE_API int dengine_node_remove(dengine_node* node, uint64_t id,
                                    uint32_t timeout_ms);
/* Hands leadership to `to` (0: the most caught-up voter); returns once it
 * leads. */
DENGINE_API int dengine_node_transfer_leadership(dengine_node* node,
                                                 uint64_t to,
                                                 uint32_t timeout_ms);
/* Takes a snapshot now and compacts the log; *index (may be NULL) gets its
 * last included index. */
DENGINE_API int dengine_node_snapshot(dengine_node* node, uint32_t timeout_ms,
                                      uint64_t* index);
/* The async forms of the five above; reply->index carries the snapshot's. */
DENGINE_API int dengine_node_add_learner_async(dengine_node* node, uint64_t id,
                                               const char* address,
                                               uint32_t timeout_ms,
                                               dengine_done_fn done, void* ctx);
DENGINE_API int dengine_node_promote_async(dengine_node* node, uint64_t id,
                                           uint32_t timeout_ms,
                                           dengine_done_fn done, void* ctx);
DENGINE_API int dengine_node_remove_async(dengine_node* node, uint64_t id,
                                          uint32_t timeout_ms,
                                          dengine_done_fn done, void* ctx);
DENGINE_API int dengine_node_transfer_leadership_async(dengine_node* node,
                                                       uint64_t to,
                                                       uint32_t timeout_ms,
                                                       dengine_done_fn done,
                                                       void* ctx);
DENGINE_API int dengine_node_snapshot_async(dengine_node* node,
                                            uint32_t timeout_ms,
                                            dengine_done_fn done, void* ctx);

typedef struct dengine_member {
  uint64_t id;
  int voter;         /* 1: voter, 0: learner */
  char address[128]; /* "host:port", "" when unknown; dengine refuses any
                      * address longer than 127 bytes, so none is cut */
} dengine_member;

typedef struct dengine_status {
  uint64_t id;
  int role; /* DENGINE_ROLE_* */
  uint64_t term;
  uint64_t leader_id; /* 0: none known */
  char leader_address[128];
  uint64_t commit_index;
  uint64_t applied_index;
  uint64_t last_log_index;
  uint64_t snapshot_index;
  int fatal_status;    /* non-zero: the node stopped serving on this error */
  size_t member_count; /* members[0..member_count) */
  dengine_member* members; /* voters, then learners; dengine_status_free */
} dengine_status;

/* A consistent picture of the node. Free with dengine_status_free. */
DENGINE_API int dengine_node_status(dengine_node* node, dengine_status* out);
DENGINE_API void dengine_status_free(dengine_status* status);

/* Certificate rotation: reads the TLS files of the node's config again (the
 * same paths; replace the files, then call this) and uses them for every
 * connection opened from now on, to and from peers and from clients; open
 * connections keep the certificates they started with. A bad new file
 * changes nothing: DENGINE_ERR_INVALID_ARGUMENT, and dengine_last_error()
 * names the file and why; the old certificates stay in use.
 * DENGINE_ERR_UNSUPPORTED: the node was started without TLS. Any thread;
 * reads the files on the calling thread. dengined calls it on SIGHUP.
 * Since 0.3.0. */
DENGINE_API int dengine_node_reload_tls(dengine_node* node);

/* Called with the new leader (0: none known) and term whenever either
 * changes, on the node's loop thread (same rules as completion callbacks).
 * NULL removes it. `ctx` is retained until replaced or the node closes.
 * Any thread. Once this returns, the previous callback is not running and
 * will not run again, so its `ctx` may be freed: a call from another thread
 * waits for a running call of the previous callback to return (so do not
 * call it from a thread that callback waits for); a call from inside the
 * callback returns at once. */
typedef void (*dengine_leader_fn)(void* ctx, uint64_t leader_id, uint64_t term);
DENGINE_API int dengine_node_set_leader_callback(dengine_node* node,
                                                 dengine_leader_fn fn,
                                                 void* ctx);

/* ------------------------------------------------------------------------ */
/* Metrics (since 0.3.0)                                                     */
/*
 * A snapshot of what a node counts: its role, term and indexes, replication
 * per peer (on the leader), proposals by status, commit, apply, fsync and
 * snapshot timings, elections, messages and bytes per peer, client
 * connections and watches. docs/operations.md ("Metrics and health") lists
 * every metric with its meaning; names and labels follow Prometheus
 * conventions, and dengine_metrics_text gives the Prometheus text format.
 *
 * A snapshot holds samples: one per metric, or one per label value (e.g.
 * per peer) for a labelled metric. Read them with dengine_metrics_count and
 * dengine_metrics_at, or look one up with dengine_metrics_find; every
 * pointer in a sample stays valid until dengine_metrics_free. A snapshot is
 * immutable: read it from any thread. New metrics may appear in later
 * versions; existing names keep their meaning. */
enum {
  DENGINE_METRIC_COUNTER = 1,  /* only grows (while the node runs) */
  DENGINE_METRIC_GAUGE = 2,    /* a value now */
  DENGINE_METRIC_HISTOGRAM = 3 /* a distribution: count, sum, buckets */
};

typedef struct dengine_metric {
  const char* name;        /* e.g. "dengine_commit_index" */
  const char* help;        /* one line saying what it is */
  int type;                /* DENGINE_METRIC_* */
  const char* label_name;  /* "peer", "status", "listener", or "" */
  const char* label_value; /* e.g. "2" for peer 2; "" without a label */
  /* Counters and gauges: the value. Histograms: the sum of every
   * observation (seconds for *_seconds metrics). */
  double value;
  /* Histograms only (0 and NULL otherwise): how many observations, and
   * buckets: bucket_counts[i] observations were <= upper_bounds[i]
   * (cumulative, as Prometheus counts them); `count` covers the rest. */
  uint64_t count;
  size_t bucket_count;
  const double* upper_bounds;
  const uint64_t* bucket_counts;
  void* reserved[2]; /* NULL; later versions may use them */
} dengine_metric;

typedef struct dengine_metrics dengine_metrics; /* opaque */

/* Takes a snapshot of the node's metrics into *out (not NULL); free it with
 * dengine_metrics_free. Any thread, including callbacks; does not block on
 * the node's loop. Works on a stopped node too (the values as of the stop).
 * Errors: DENGINE_ERR_INVALID_ARGUMENT (NULL node or out). */
DENGINE_API int dengine_node_metrics(dengine_node* node, dengine_metrics** out);
/* Frees a snapshot and every sample in it. NULL is ignored. */
DENGINE_API void dengine_metrics_free(dengine_metrics* metrics);
/* The number of samples (0 for NULL). */
DENGINE_API size_t dengine_metrics_count(const dengine_metrics* metrics);
/* Sample i (NULL if i >= count). Owned by the snapshot. */
DENGINE_API const dengine_metric* dengine_metrics_at(
    const dengine_metrics* metrics, size_t i);
/* The sample of metric `name` with label value `label_value` (NULL: the
 * first sample of `name`, the only one of an unlabelled metric), or NULL
 * if there is none. Owned by the snapshot. */
DENGINE_API const dengine_metric* dengine_metrics_find(
    const dengine_metrics* metrics, const char* name, const char* label_value);
/* The snapshot in the Prometheus text exposition format (version 0.0.4),
 * NUL-terminated, in *out (not NULL; free with dengine_free): what
 * dengined serves at /metrics. Errors: DENGINE_ERR_INVALID_ARGUMENT. */
DENGINE_API int dengine_metrics_text(const dengine_metrics* metrics,
                                     char** out);

/* ------------------------------------------------------------------------ */
/* Watches (since 0.2.0)                                                     */
/*
 * Every change a node applies can be watched: the built-in KV machines'
 * puts, deletes and expiries (DENGINE_WATCH_KV, by key or prefix), what an
 * application machine publishes (DENGINE_WATCH_TOPIC, see
 * dengine_events_publish), and membership changes and new leaders
 * (DENGINE_WATCH_CLUSTER). Each event has a revision: the log index of the
 * entry that made it, the same on every node. A watch delivers the matching
 * events in revision order, with no gap and no duplicate, starting now or at
 * a past revision the node still keeps (see
 * dengine_config_set_watch_history_events; the history survives a restart);
 * any node serves watches, a follower from what it has applied. A KV read
 * through dengine_node_read_opts reports the revision its answer reflects in
 * reply->index: a watch from reply->index + 1 continues from that state.
 * docs/state-machine-guide.md ("Watches") has the details.
 */

enum {
  DENGINE_EVENT_PUT = 1,    /* key set to value (prev_value: its old one) */
  DENGINE_EVENT_DELETE = 2, /* key deleted (prev_value: what it held) */
  DENGINE_EVENT_EXPIRE = 3, /* key's TTL passed (prev_value: what it held) */
  DENGINE_EVENT_USER = 4,   /* published by the machine: key = topic */
  DENGINE_EVENT_MEMBER_ADDED = 5,    /* node_id added as a learner */
  DENGINE_EVENT_MEMBER_PROMOTED = 6, /* node_id became a voter */
  DENGINE_EVENT_MEMBER_REMOVED = 7,  /* node_id removed */
  DENGINE_EVENT_LEADER = 8 /* node_id leads `term`; its first entry applied */
};

/* One event, lent to dengine_event_fn for the duration of the call: copy
 * what you keep. dengine allocates it, so it may grow: fields are only
 * ever appended, and struct_size says how many this library filled. */
typedef struct dengine_event {
  uint32_t struct_size; /* sizeof(dengine_event) of the library filling it */
  int type;             /* DENGINE_EVENT_* */
  uint64_t revision;    /* the log index of the entry that made it */
  const uint8_t* key;   /* KV events: the key; DENGINE_EVENT_USER: topic */
  size_t key_len;
  const uint8_t* value; /* PUT: the new value; USER: the published bytes */
  size_t value_len;
  int has_prev_value;        /* PUT, DELETE, EXPIRE: 1 if the key held one */
  const uint8_t* prev_value; /* ... and that value */
  size_t prev_value_len;
  uint64_t node_id;    /* membership and leader events (LEADER: 0 if the
                        * entry predates 0.2.0 and names no leader) */
  uint64_t term;       /* DENGINE_EVENT_LEADER */
  const char* address; /* MEMBER_ADDED: its peer address ("" if unknown) */
} dengine_event;

/* What a watch selects: options->stream. */
enum {
  DENGINE_WATCH_KV = 1,     /* PUT/DELETE/EXPIRE of options->key */
  DENGINE_WATCH_TOPIC = 2,  /* USER events of the topic options->key */
  DENGINE_WATCH_CLUSTER = 3 /* membership and leader events */
};
/* options->flags: options->key is a prefix (an empty one matches all). */
#define DENGINE_WATCH_PREFIX 1u

/* Options of dengine_node_watch, versioned like dengine_state_machine (see
 * the banner). Every slot is "since version 1". */
#define DENGINE_WATCH_OPTIONS_VERSION 1

typedef struct dengine_watch_options {
  uint32_t version;     /* DENGINE_WATCH_OPTIONS_VERSION (or older) */
  uint32_t struct_size; /* sizeof(dengine_watch_options) */
  int stream;           /* DENGINE_WATCH_* */
  uint32_t flags;       /* 0 or DENGINE_WATCH_PREFIX */
  const void* key;      /* the key, prefix or topic (copied) */
  size_t key_len;       /* > 0 unless a prefix or DENGINE_WATCH_CLUSTER */
  /* 0: from now on (events after what the node has applied); else every
   * matching event at this revision and after, the past ones first. */
  uint64_t start_revision;
  /* How far (in events of any kind) the watch may fall behind the newest
   * before it is ended with DENGINE_ERR_WATCH_OVERFLOW; 0: 10,000. */
  uint64_t max_lag;
  void* reserved[2]; /* must be NULL; slots of later versions follow */
} dengine_watch_options;

typedef struct dengine_watch dengine_watch; /* opaque */

/* Called for each matching event, in order, on the node's watch thread
 * (one per node, shared by its watches: return quickly; do not block on
 * the node's blocking calls). */
typedef void (*dengine_event_fn)(void* ctx, const dengine_event* event);
/* Called exactly once, last, when the watch ends: `status` says why —
 * DENGINE_ERR_CANCELLED (dengine_watch_cancel or _close),
 * DENGINE_ERR_WATCH_OVERFLOW (it fell behind by more than max_lag, or past
 * what the history keeps), DENGINE_ERR_COMPACTED (a snapshot from the
 * leader replaced the entries it still needed), DENGINE_ERR_SHUTTING_DOWN
 * (the node stopped). `next_revision`: every matching event below it was
 * delivered, so a new watch from it continues with no gap. `message` is
 * valid during the call. Runs on the watch thread, or on the thread that
 * cancels the watch. */
typedef void (*dengine_watch_end_fn)(void* ctx, int status,
                                     uint64_t next_revision,
                                     const char* message);

/* Starts a watch (NULL options: every KV event from now on). On DENGINE_OK,
 * *out is the watch: close it with dengine_watch_close, also after it ended
 * and after the node closed. Fails, with no callback ever called, with
 * DENGINE_ERR_INVALID_ARGUMENT (bad options, NULL on_event/on_end/out),
 * DENGINE_ERR_COMPACTED when start_revision is older than the oldest the
 * node keeps (the message says which that is; see dengine_node_watch_range),
 * or DENGINE_ERR_SHUTTING_DOWN. `ctx` is passed to both callbacks. Any
 * thread. */
DENGINE_API int dengine_node_watch(dengine_node* node,
                                   const dengine_watch_options* options,
                                   dengine_event_fn on_event,
                                   dengine_watch_end_fn on_end, void* ctx,
                                   dengine_watch** out);
/* Ends the watch with DENGINE_ERR_CANCELLED (nothing if it already ended).
 * Any thread. From another thread than the watch thread, on_end has run
 * when this returns and no callback of the watch runs again; from inside a
 * callback (the watch thread) it returns at once, and on_end follows the
 * current callback. Since 0.2.0. */
DENGINE_API void dengine_watch_cancel(dengine_watch* watch);
/* Cancels the watch (as dengine_watch_cancel) and frees it; NULL is
 * allowed. Once it returns, outside the callbacks, ctx may be freed; from
 * inside a callback, wait for on_end before freeing ctx. */
DENGINE_API void dengine_watch_close(dengine_watch* watch);
/* The revisions a new watch can start from: *oldest (the oldest kept; a
 * start_revision below it is DENGINE_ERR_COMPACTED) and *next (the revision
 * after everything applied: a watch from it sees only what comes next).
 * Either may be NULL. */
DENGINE_API int dengine_node_watch_range(dengine_node* node, uint64_t* oldest,
                                         uint64_t* next);

/* ------------------------------------------------------------------------ */
/* Key-value operations on a node running the built-in KV machine           */
/*
 * Blocking conveniences over propose and read for the built-in machine
 * (DENGINE_ERR_UNSUPPORTED on a node with an application machine). Writes
 * go to the leader; `session` may be NULL. Keys are non-empty bytes.
 */

DENGINE_API int dengine_kv_put(dengine_node* node, const void* key,
                               size_t key_len, const void* value,
                               size_t value_len, const dengine_session* session,
                               uint32_t timeout_ms);
/* The key expires ttl_ms (> 0) after the leader's clock at proposal. */
DENGINE_API int dengine_kv_put_ttl(dengine_node* node, const void* key,
                                   size_t key_len, const void* value,
                                   size_t value_len, uint64_t ttl_ms,
                                   const dengine_session* session,
                                   uint32_t timeout_ms);
/* *existed (may be NULL): 1 if the key was there. */
DENGINE_API int dengine_kv_delete(dengine_node* node, const void* key,
                                  size_t key_len,
                                  const dengine_session* session,
                                  uint32_t timeout_ms, int* existed);
/* Sets the key to value if it holds `expected` (expected == NULL: if it is
 * absent). *swapped: 1 if it did. */
DENGINE_API int dengine_kv_cas(dengine_node* node, const void* key,
                               size_t key_len, const void* expected,
                               size_t expected_len, const void* value,
                               size_t value_len, const dengine_session* session,
                               uint32_t timeout_ms, int* swapped);

/* One key and its value, as reads return them. */
typedef struct dengine_kv_item {
  uint8_t* key;
  size_t key_len;
  uint8_t* value; /* NULL when found == 0 */
  size_t value_len;
  int found;
} dengine_kv_item;

typedef struct dengine_kv_items {
  dengine_kv_item* items;
  size_t count;
  int more; /* scan: more keys matched beyond the limit */
} dengine_kv_items;

/* Frees what a read filled in and zeroes it. NULL is allowed. */
DENGINE_API void dengine_kv_items_free(dengine_kv_items* items);

/* *value (free with dengine_free) and *value_len; DENGINE_ERR_NOT_FOUND if
 * the key is absent. */
DENGINE_API int dengine_kv_get(dengine_node* node, const void* key,
                               size_t key_len, int consistency,
                               uint32_t timeout_ms, uint8_t** value,
                               size_t* value_len);
/* Several keys from one consistent view, in order. */
DENGINE_API int dengine_kv_get_multi(dengine_node* node,
                                     const void* const* keys,
                                     const size_t* key_lens, size_t count,
                                     int consistency, uint32_t timeout_ms,
                                     dengine_kv_items* out);
/* Up to `limit` (>= 1) keys starting with prefix, in byte order. */
DENGINE_API int dengine_kv_scan_prefix(dengine_node* node, const void* prefix,
                                       size_t prefix_len, uint32_t limit,
                                       int consistency, uint32_t timeout_ms,
                                       dengine_kv_items* out);

/* The KV machines' codec (since 0.2.0). Every KV operation above is an
 * encoded command proposed, or an encoded query read, and its reply
 * decoded; with these a program does the same through any request form:
 * dengine_node_propose_opts / _read_opts or a client's
 * dengine_client_propose_opts / _read_opts, and their _async forms. For
 * example, an async put:
 *
 *   uint8_t* cmd; size_t len;
 *   dengine_write_options options = {DENGINE_WRITE_OPTIONS_VERSION,
 *                                    sizeof options};
 *   options.flags = DENGINE_REQUEST_KV;
 *   dengine_kv_encode_put(key, key_len, value, value_len, 0, &cmd, &len);
 *   dengine_node_propose_opts_async(node, cmd, len, &options, done, ctx);
 *   dengine_free(cmd);
 *   ... and in done: dengine_kv_decode_write(reply->data, reply->len, ...).
 *
 * Encoders: keys must be non-empty (DENGINE_ERR_INVALID_ARGUMENT otherwise);
 * *out (malloc'd, free with dengine_free) and *out_len receive the bytes.
 * Any thread; no node needed. The bytes are the formats of
 * docs/state-machine-guide.md ("Built-in KV machines"). */

/* A put; ttl_ms > 0 makes the key expire ttl_ms after the leader's clock
 * when it proposes the command (0: no expiry). */
DENGINE_API int dengine_kv_encode_put(const void* key, size_t key_len,
                                      const void* value, size_t value_len,
                                      uint64_t ttl_ms, uint8_t** out,
                                      size_t* out_len);
DENGINE_API int dengine_kv_encode_delete(const void* key, size_t key_len,
                                         uint8_t** out, size_t* out_len);
/* Set key to value if it holds expected (expected == NULL: if absent). */
DENGINE_API int dengine_kv_encode_cas(const void* key, size_t key_len,
                                      const void* expected, size_t expected_len,
                                      const void* value, size_t value_len,
                                      uint8_t** out, size_t* out_len);
DENGINE_API int dengine_kv_encode_get(const void* key, size_t key_len,
                                      uint8_t** out, size_t* out_len);
/* count >= 1 non-empty keys. */
DENGINE_API int dengine_kv_encode_get_multi(const void* const* keys,
                                            const size_t* key_lens,
                                            size_t count, uint8_t** out,
                                            size_t* out_len);
/* limit >= 1; the prefix may be empty (every key). */
DENGINE_API int dengine_kv_encode_scan_prefix(const void* prefix,
                                              size_t prefix_len, uint32_t limit,
                                              uint8_t** out, size_t* out_len);
/* Decodes a KV write's reply data (reply->data, reply->len of a DENGINE_OK
 * write). *applied (may be NULL): 1 if the command took effect, 0 if a
 * compare-and-swap found another value. *existed (may be NULL): put and
 * delete: 1 if the key existed before; cas: 1 if it exists after.
 * DENGINE_ERR_CORRUPTION for bytes that are not a KV result,
 * DENGINE_ERR_INVALID_ARGUMENT if the machine refused the command as
 * malformed. */
DENGINE_API int dengine_kv_decode_write(const void* data, size_t len,
                                        int* applied, int* existed);
/* Decodes the answer (reply->data, reply->len) to the encoded `query` into
 * *out, as dengine_kv_get_multi and dengine_kv_scan_prefix fill it (a get:
 * one item, found or not). Free with dengine_kv_items_free. */
DENGINE_API int dengine_kv_decode_read(const void* query, size_t query_len,
                                       const void* answer, size_t answer_len,
                                       dengine_kv_items* out);

/* ------------------------------------------------------------------------ */
/* Clients of a standalone cluster (dengined)                                */
/*
 * A dengine_client talks to dengined servers over TCP
 * (docs/client-protocol.md). It finds the leader among its endpoints,
 * follows NOT_LEADER redirects, and retries after a timeout, a lost
 * connection or a leader change until the call's deadline (not after
 * DENGINE_ERR_BUSY, which it returns: e.g. a membership change asked of a
 * leader that has not yet committed an entry of its term). Every write
 * carries the client's session (a client id and a sequence number per
 * write, reused by its retries), so a retried write is applied once. The
 * client opens its session itself, before its first write (one more round
 * trip), and opens a new one when the cluster no longer holds it: the
 * refused write is then retried in the new session if no earlier attempt
 * of it can have applied, and otherwise fails with
 * DENGINE_ERR_SESSION_EXPIRED, its outcome unknown. A write that still
 * ends in DENGINE_ERR_TIMEOUT, DENGINE_ERR_IO or DENGINE_ERR_SESSION_EXPIRED
 * may or may not have been applied.
 *
 * Thread-safe: calls on one client from several threads run one at a time
 * (use one client per thread for concurrency). Blocking; the deadline of
 * each call, retries included, is the client's timeout, or the call's own
 * options->timeout_ms for the _opts calls.
 */

typedef struct dengine_client dengine_client; /* opaque */

/* Opens a client of the servers at `endpoints`, comma-separated "host:port"
 * client addresses ("127.0.0.1:8001,127.0.0.1:8002"). timeout_ms bounds each
 * call, retries included (0: DENGINE_DEFAULT_TIMEOUT_MS, 30 s). Connects
 * lazily, on the first call. Free with dengine_client_close. */
DENGINE_API int dengine_client_open(const char* endpoints, uint32_t timeout_ms,
                                    dengine_client** out);
/* NULL is allowed. Pending async calls end first (see
 * dengine_client_propose_opts_async), and so do the watches started through
 * it (see dengine_client_watch). */
DENGINE_API void dengine_client_close(dengine_client* client);

/* TLS options of dengine_client_open_tls, versioned like
 * dengine_state_machine (see the banner). Since 0.3.0; every slot is "since
 * version 1". Strings are copied; files are read by dengine_client_open_tls
 * (later rotation of a client's files needs a new client). */
#define DENGINE_CLIENT_TLS_VERSION 1

typedef struct dengine_client_tls {
  uint32_t version;     /* DENGINE_CLIENT_TLS_VERSION (or older) */
  uint32_t struct_size; /* sizeof(dengine_client_tls) */
  /* PEM CA bundle the servers' certificates must chain to. Required. */
  const char* ca_file;
  /* This client's certificate and unencrypted key (PEM), both or neither
   * (NULL): needed by servers with tls_require_client_cert, where the
   * certificate's common name is the client's identity. */
  const char* cert_file;
  const char* key_file;
  /* The name the servers' certificates must carry (a DNS or IP subject
   * alternative name); NULL: the host of each endpoint as written. */
  const char* server_name;
  /* "1.3" (NULL: the default) or "1.2": the lowest version accepted. */
  const char* min_version;
  void* reserved[2]; /* must be NULL; slots of later versions follow */
} dengine_client_tls;

/* dengine_client_open over TLS (docs/client-protocol.md, "TLS"): every
 * connection verifies the server's certificate against tls->ca_file and the
 * server name, and presents the client's certificate if given. Reads and
 * checks the files now: DENGINE_ERR_INVALID_ARGUMENT naming the file and
 * why (unreadable, not PEM, key not matching, half given). A handshake that
 * fails later (wrong CA, expired, name mismatch, no certificate where one
 * is required, a plaintext server) fails the call with DENGINE_ERR_IO and
 * the reason; an operation the server's admin list refuses fails with
 * DENGINE_ERR_PERMISSION_DENIED and is not retried. Since 0.3.0. */
DENGINE_API int dengine_client_open_tls(const char* endpoints,
                                        uint32_t timeout_ms,
                                        const dengine_client_tls* tls,
                                        dengine_client** out);

/* The KV operations of the built-in machine, as dengine_kv_* on a node. */
DENGINE_API int dengine_client_put(dengine_client* client, const void* key,
                                   size_t key_len, const void* value,
                                   size_t value_len);
DENGINE_API int dengine_client_put_ttl(dengine_client* client, const void* key,
                                       size_t key_len, const void* value,
                                       size_t value_len, uint64_t ttl_ms);
DENGINE_API int dengine_client_delete(dengine_client* client, const void* key,
                                      size_t key_len, int* existed);
DENGINE_API int dengine_client_cas(dengine_client* client, const void* key,
                                   size_t key_len, const void* expected,
                                   size_t expected_len, const void* value,
                                   size_t value_len, int* swapped);
/* *value: free with dengine_free; DENGINE_ERR_NOT_FOUND if absent. */
DENGINE_API int dengine_client_get(dengine_client* client, const void* key,
                                   size_t key_len, int consistency,
                                   uint8_t** value, size_t* value_len);
DENGINE_API int dengine_client_get_multi(dengine_client* client,
                                         const void* const* keys,
                                         const size_t* key_lens, size_t count,
                                         int consistency,
                                         dengine_kv_items* out);
DENGINE_API int dengine_client_scan_prefix(dengine_client* client,
                                           const void* prefix,
                                           size_t prefix_len, uint32_t limit,
                                           int consistency,
                                           dengine_kv_items* out);
/* An application machine's command and query, as opaque bytes; the reply
 * owns its buffers (dengine_reply_free). `reply` may be NULL. */
DENGINE_API int dengine_client_propose(dengine_client* client, const void* data,
                                       size_t len, dengine_reply* reply);
DENGINE_API int dengine_client_read(dengine_client* client, const void* query,
                                    size_t len, int consistency,
                                    dengine_reply* reply);
/* The answering server's view (the leader's once found); members'
 * addresses are peer addresses. Free with dengine_status_free. */
DENGINE_API int dengine_client_status(dengine_client* client,
                                      dengine_status* out);
/* The answering server's metrics in the Prometheus text format (what
 * dengine_metrics_text gives on that node; since 0.3.0), NUL-terminated,
 * in *text (not NULL; free with dengine_free). With one endpoint, that
 * server's; with several, the leader's once found. */
DENGINE_API int dengine_client_metrics(dengine_client* client, char** text);
DENGINE_API int dengine_client_add_learner(dengine_client* client, uint64_t id,
                                           const char* address);
DENGINE_API int dengine_client_promote(dengine_client* client, uint64_t id);
DENGINE_API int dengine_client_remove(dengine_client* client, uint64_t id);
DENGINE_API int dengine_client_transfer_leadership(dengine_client* client,
                                                   uint64_t to);
DENGINE_API int dengine_client_snapshot(dengine_client* client,
                                        uint64_t* index);

/* Propose and read with options (since 0.2.0): options->timeout_ms bounds
 * this call, retries included (0: the client's timeout), so a caller can
 * pass what is left of its own deadline; options->session must be NULL
 * (the client's session is used). The reply (may be NULL; free with
 * dengine_reply_free) carries the machine's result or answer, and on
 * failure the error's message and, for DENGINE_ERR_NOT_LEADER, the leader
 * the cluster named: a binding needs no dengine_last_error(). With the
 * dengine_kv_encode_* bytes these are every KV operation. */
DENGINE_API int dengine_client_propose_opts(
    dengine_client* client, const void* data, size_t len,
    const dengine_write_options* options, dengine_reply* reply);
/* A read's reply->index (since 0.3.0): the revision the answer reflects,
 * as dengine_node_read_opts reports it (the built-in KV machines; 0 for
 * another machine), so a watch from index + 1 misses nothing after it. */
DENGINE_API int dengine_client_read_opts(dengine_client* client,
                                         const void* query, size_t len,
                                         const dengine_read_options* options,
                                         dengine_reply* reply);
/* Their async forms (since 0.2.0): return at once and call `done` exactly
 * once with what the blocking form would return and fill. The calls run in
 * order on a thread the client starts with its first async call, one at a
 * time with the client's blocking calls; `done` runs there (it may start
 * more async calls; a blocking call made from it delays the ones queued).
 * Bad arguments reach `done` before this returns; a NULL client or done is
 * DENGINE_ERR_INVALID_ARGUMENT, returned. dengine_client_close waits for
 * the running call, and queued ones end with DENGINE_ERR_SHUTTING_DOWN; from
 * inside `done` it returns without waiting. */
DENGINE_API int dengine_client_propose_opts_async(
    dengine_client* client, const void* data, size_t len,
    const dengine_write_options* options, dengine_done_fn done, void* ctx);
DENGINE_API int dengine_client_read_opts_async(
    dengine_client* client, const void* query, size_t len,
    const dengine_read_options* options, dengine_done_fn done, void* ctx);

/* The async forms of dengine_client_status and the membership calls (since
 * 0.2.0), queued and run like the two above. The membership calls' `done`
 * gets a reply with the error's message and, for DENGINE_ERR_NOT_LEADER,
 * the leader; dengine_client_snapshot_async's reply->index is the
 * snapshot's last included index. */
/* Completion of dengine_client_status_async: `status` as
 * dengine_client_status would return it; `view` (NULL unless DENGINE_OK)
 * and `message` (NULL on DENGINE_OK) are valid only during the call: copy
 * what you keep, and do not free them. */
typedef void (*dengine_status_done_fn)(void* ctx, int status,
                                       const dengine_status* view,
                                       const char* message);
DENGINE_API int dengine_client_status_async(dengine_client* client,
                                            dengine_status_done_fn done,
                                            void* ctx);
DENGINE_API int dengine_client_add_learner_async(dengine_client* client,
                                                 uint64_t id,
                                                 const char* address,
                                                 dengine_done_fn done,
                                                 void* ctx);
DENGINE_API int dengine_client_promote_async(dengine_client* client,
                                             uint64_t id, dengine_done_fn done,
                                             void* ctx);
DENGINE_API int dengine_client_remove_async(dengine_client* client, uint64_t id,
                                            dengine_done_fn done, void* ctx);
DENGINE_API int dengine_client_transfer_leadership_async(dengine_client* client,
                                                         uint64_t to,
                                                         dengine_done_fn done,
                                                         void* ctx);
DENGINE_API int dengine_client_snapshot_async(dengine_client* client,
                                              dengine_done_fn done, void* ctx);

/* Watches through a client (since 0.2.0): the events of dengine_node_watch
 * (see "Watches"), served by the client's servers (docs/client-protocol.md,
 * "Watch"). The options, callbacks, `ctx` and handle are dengine_node_watch's,
 * under the protocol's rules: on DENGINE_WATCH_CLUSTER neither a key nor
 * DENGINE_WATCH_PREFIX. Blocks until a server has started the watch, trying
 * the endpoints with the client's retries for up to its timeout. Then the
 * watch runs on a thread of its own, with its own connection (one thread per
 * client watch), where both callbacks run: a slow on_event holds back this
 * watch only. It outlives servers: when its connection is lost or its server
 * stops, it reconnects (the next endpoint, with a growing backoff, without
 * giving up) and resumes from the last revision it received, so on_event
 * still sees every matching event once, in order; the delay is the only
 * visible effect. on_end runs exactly once, last, on the watch thread, with
 * DENGINE_ERR_CANCELLED (dengine_watch_cancel or _close),
 * DENGINE_ERR_WATCH_OVERFLOW, DENGINE_ERR_COMPACTED (a server no longer
 * keeps the revision the watch must resume from, which next_revision is),
 * or DENGINE_ERR_SHUTTING_DOWN with "the client was closed": a server
 * stopping does not end it, but dengine_client_close ends every watch
 * started through that client, and returns once their on_end ran (from
 * inside a callback of one of them, that one's on_end follows when the
 * callback returns). Close the handles afterwards, as always; a handle
 * closed first is simply no longer the client's. Fails, with no callback ever
 * called, with DENGINE_ERR_INVALID_ARGUMENT (NULL client, on_event, on_end or
 * out, bad options, or a server refusing them), DENGINE_ERR_COMPACTED
 * (start_revision is older than what the server keeps: the message names its
 * oldest), or, when no server started it within the client's timeout, the
 * last error (e.g. DENGINE_ERR_IO, DENGINE_ERR_TIMEOUT). The watch uses
 * the client's endpoints and options, not its connection: it runs beside
 * the client's calls without waiting for them. dengine_watch_cancel and
 * _close from another thread wake the watch thread and wait for it to end
 * (and for a callback it is running); from inside a callback they return
 * at once, and on_end follows. Any thread. */
DENGINE_API int dengine_client_watch(dengine_client* client,
                                     const dengine_watch_options* options,
                                     dengine_event_fn on_event,
                                     dengine_watch_end_fn on_end, void* ctx,
                                     dengine_watch** out);

/* ------------------------------------------------------------------------ */
/* Testing your state machine                                                */

/* Makes state machines for the conformance and performance suites.
 *
 * The suite cannot know a machine's command or query format, so it drives
 * the machine through the builder: the n-th command it proposes comes from
 * make_command, and it decides whether two machines hold the same state by
 * comparing their answers to make_state_query's query (or, when that is
 * NULL, the bytes of the files generate_snapshot writes). */
/* Every slot of dengine_sm_builder is "since version 1". */
#define DENGINE_SM_BUILDER_VERSION 1

typedef struct dengine_sm_builder {
  uint32_t version;     /* DENGINE_SM_BUILDER_VERSION (or older) */
  uint32_t struct_size; /* sizeof(dengine_sm_builder) */
  void* user;           /* passed to every callback; owned by the caller */
  /* Required. Opens (or reopens, recovering) the machine stored in the
   * existing directory `path` into *out. */
  int (*open)(void* user, const char* path, dengine_state_machine* out);
  /* Required. Releases a machine made by open. The suite calls stop first
   * for a clean shutdown, and skips it to simulate a crash. */
  void (*close)(void* user, dengine_state_machine* machine);
  /* Optional. Writes the suite's n-th command (n >= 1) into buf[0..cap) and
   * returns its length; a length above cap means buf was too small, and the
   * suite calls again with at least that much room (as with snprintf).
   * Distinct n must leave distinguishable states: applying commands 1..k
   * and 1..k' (k != k') must not give the same state. The suite only ever
   * applies each n once per machine, at a fixed log index.
   * NULL: command n is the 8 bytes of n, little-endian. */
  size_t (*make_command)(void* user, uint64_t n, uint8_t* buf, size_t cap);
  /* Optional. Writes, as make_command does, a query whose answer from read
   * captures the machine's whole state (e.g. a scan of every key), so equal
   * answers mean equal states. NULL, or a machine whose read is NULL: states
   * are compared by the files generate_snapshot writes, which must then be
   * byte-identical for equal states. */
  size_t (*make_state_query)(void* user, uint8_t* buf, size_t cap);
  void* reserved[4]; /* must be NULL; slots of later versions follow */
} dengine_sm_builder;

/* Runs the state machine conformance suite against machines from `builder`,
 * each case in a fresh subdirectory of `dir` (which must exist): lifecycle;
 * apply in order with one result per entry; idempotent re-delivery of a
 * chunk after a crash; snapshot generate, reset, install; durability after
 * stop and after a close without stop; reset. Returns DENGINE_OK if every
 * case passes, DENGINE_ERR_STATE_MACHINE if one fails, or
 * DENGINE_ERR_INVALID_ARGUMENT for a bad builder or directory. If `report`
 * is not NULL, *report receives a text report, one line per case ("ok
 * <case>" or "FAIL <case>: <why>"); free it with dengine_free. Blocking;
 * runs every callback on the calling thread. */
DENGINE_API int dengine_sm_conformance_run(const dengine_sm_builder* builder,
                                           const char* dir, char** report);

/* Measures apply throughput of machines from `builder` in fresh
 * subdirectories of `dir`: 100 entries, then 1,000 entries, in chunks of 10,
 * each chunk followed by flush. Returns DENGINE_OK when 100 entries take
 * under 1 s and 1,000 take under 30 times as long as 100 (linear, not
 * quadratic), DENGINE_ERR_STATE_MACHINE when a callback fails or a limit is
 * missed, DENGINE_ERR_INVALID_ARGUMENT for a bad builder or directory.
 * *report (if `report` is not NULL; free with dengine_free) gives the times.
 * Timing depends on the machine running it: use it as a benchmark, not as a
 * pass/fail test in CI. Blocking; runs every callback on the calling
 * thread. */
DENGINE_API int dengine_sm_performance_run(const dengine_sm_builder* builder,
                                           const char* dir, char** report);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DENGINE_H */
