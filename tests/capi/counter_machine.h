/* A counter state machine in plain C, the smallest machine that follows
 * every rule of include/dengine.h: each normal entry holds a value (8 bytes,
 * little-endian) that apply_chunk adds to the counter; {counter,
 * last_applied} are persisted atomically after each chunk (write a temporary
 * file, fsync, rename, fsync the directory), so apply is durable when it
 * returns and stop and flush are NULL. A snapshot is that file; install
 * copies it in. read answers the counter (8 bytes, little-endian) whatever
 * the query. */
#ifndef DENGINE_TESTS_CAPI_COUNTER_MACHINE_H
#define DENGINE_TESTS_CAPI_COUNTER_MACHINE_H

#include "dengine.h"

typedef struct counter_options {
  /* A deliberate bug for the suite to find: re-delivered entries (at or
   * below last_applied) are added again. */
  int apply_redelivered_entries;
  /* Not NULL: each applied command also publishes the new counter (8 bytes,
   * little-endian) for watchers of this topic (dengine_events_publish). */
  const char* publish_topic;
} counter_options;

/* Opens (recovering) the counter stored in the existing directory `dir`;
 * `options` may be NULL. Release with counter_machine_close. */
int counter_machine_open(const char* dir, const counter_options* options,
                         dengine_state_machine* out);

void counter_machine_close(dengine_state_machine* machine);

/* A builder for the conformance suite; `options` (may be NULL) must outlive
 * its use. With `state_query`, states are compared through read rather than
 * snapshot bytes. */
dengine_sm_builder counter_builder(const counter_options* options,
                                   int state_query);

#endif
