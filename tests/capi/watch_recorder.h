/* What a watch delivered, recorded by its callbacks for the test thread to
 * wait on: shared by the node watch and client watch tests. */
#ifndef DENGINE_TESTS_CAPI_WATCH_RECORDER_H
#define DENGINE_TESTS_CAPI_WATCH_RECORDER_H

#include <pthread.h>
#include <stdint.h>

#include "dengine.h"

#define MAX_EVENTS 64

/* One event, its bytes as (truncated) text. */
typedef struct seen_event {
  int type;
  uint64_t revision;
  char key[32];
  char value[32];
  int has_prev;
  char prev[32];
  uint64_t node_id;
  uint64_t term;
} seen_event;

typedef struct recorder {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  seen_event events[MAX_EVENTS];
  int count; /* may exceed MAX_EVENTS: the rest are counted, not kept */
  int ended; /* how many times on_end ran */
  int end_status;
  uint64_t next_revision;
  char message[256];
  /* Cancel the watch from inside on_event once this many arrived (0:
   * never). */
  int cancel_after;
  dengine_watch* watch;
} recorder;

void recorder_init(recorder* r);
/* The watch callbacks; ctx is the recorder. */
void record_event(void* ctx, const dengine_event* event);
void record_end(void* ctx, int status, uint64_t next_revision,
                const char* message);
/* Wait up to 30 s for n events (failing the test with what arrived) or for
 * the end (failing the test if it does not come). */
void wait_events(recorder* r, int n);
void wait_end(recorder* r);

/* Options of version DENGINE_WATCH_OPTIONS_VERSION; key may be NULL. */
dengine_watch_options watch_options(int stream, const char* key, uint32_t flags,
                                    uint64_t start_revision);
/* Fails the test unless `e` is this event; prev NULL: no previous value. */
void expect_event(const seen_event* e, int type, uint64_t revision,
                  const char* key, const char* value, const char* prev);

void sleep_ms(long ms);

#endif
