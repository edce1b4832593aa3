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
 * Versioned structs (the SQLite / canonical-raft way): a struct passed to
 * dengine starts with `version` and `struct_size`; fields are only ever
 * appended, marked "since version N"; NULL optional callbacks mean the
 * documented default; `reserved` keeps the size stable across additions.
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
#define DENGINE_VERSION_MINOR 1
#define DENGINE_VERSION_PATCH 0

/* "0.1.0": the version of the library actually loaded. Static string. */
DENGINE_API const char* dengine_version(void);

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
  DENGINE_ERR_INTERNAL = -11         /* a bug in dengine: please report */
};

/* A static, human-readable name for a status code ("not leader"). Never
 * NULL; unknown codes give "unknown error". Thread-safe. */
DENGINE_API const char* dengine_strerror(int code);

/* The message of the last call on this thread that failed, e.g. "corruption:
 * bad checksum in wal-00000001.log at offset 4096". Thread-local: valid until
 * the next dengine call on the same thread. Never NULL ("" when none). */
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

#define DENGINE_STATE_MACHINE_VERSION 1

typedef struct dengine_state_machine {
  uint32_t version;     /* DENGINE_STATE_MACHINE_VERSION */
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

  void* reserved[8]; /* must be NULL */
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
/* Testing your state machine                                                */

/* Makes state machines for the conformance and performance suites.
 *
 * The suite cannot know a machine's command or query format, so it drives
 * the machine through the builder: the n-th command it proposes comes from
 * make_command, and it decides whether two machines hold the same state by
 * comparing their answers to make_state_query's query (or, when that is
 * NULL, the bytes of the files generate_snapshot writes). */
#define DENGINE_SM_BUILDER_VERSION 1

typedef struct dengine_sm_builder {
  uint32_t version;     /* DENGINE_SM_BUILDER_VERSION */
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
  void* reserved[4]; /* must be NULL */
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
