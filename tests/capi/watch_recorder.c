#define _POSIX_C_SOURCE 200809L
#include "watch_recorder.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static void copy_text(char* out, size_t cap, const uint8_t* bytes, size_t len) {
  size_t n = len < cap - 1 ? len : cap - 1;
  if (n > 0) memcpy(out, bytes, n);
  out[n] = '\0';
}

void recorder_init(recorder* r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->mutex, NULL);
  pthread_cond_init(&r->cond, NULL);
}

void record_event(void* ctx, const dengine_event* event) {
  recorder* r = ctx;
  int cancel;
  pthread_mutex_lock(&r->mutex);
  assert_true(event->struct_size >= sizeof(dengine_event));
  if (r->count < MAX_EVENTS) {
    seen_event* e = &r->events[r->count];
    e->type = event->type;
    e->revision = event->revision;
    copy_text(e->key, sizeof e->key, event->key, event->key_len);
    copy_text(e->value, sizeof e->value, event->value, event->value_len);
    e->has_prev = event->has_prev_value;
    if (event->has_prev_value) {
      copy_text(e->prev, sizeof e->prev, event->prev_value,
                event->prev_value_len);
    }
    e->node_id = event->node_id;
    e->term = event->term;
  }
  r->count++;
  cancel = r->cancel_after > 0 && r->count == r->cancel_after;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->mutex);
  /* From inside the callback: returns at once, on_end follows. */
  if (cancel) dengine_watch_cancel(r->watch);
}

void record_end(void* ctx, int status, uint64_t next_revision,
                const char* message) {
  recorder* r = ctx;
  pthread_mutex_lock(&r->mutex);
  r->ended++;
  r->end_status = status;
  r->next_revision = next_revision;
  snprintf(r->message, sizeof r->message, "%s", message ? message : "");
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->mutex);
}

void wait_events(recorder* r, int n) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 30;
  pthread_mutex_lock(&r->mutex);
  while (r->count < n && !r->ended) {
    if (pthread_cond_timedwait(&r->cond, &r->mutex, &deadline) != 0) break;
  }
  pthread_mutex_unlock(&r->mutex);
  if (r->count < n) {
    int i;
    for (i = 0; i < r->count && i < MAX_EVENTS; ++i) {
      fprintf(stderr, "event %d: type %d revision %llu key %s\n", i,
              r->events[i].type, (unsigned long long)r->events[i].revision,
              r->events[i].key);
    }
    fail_msg("got %d events, wanted %d", r->count, n);
  }
}

void wait_end(recorder* r) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 30;
  pthread_mutex_lock(&r->mutex);
  while (!r->ended) {
    if (pthread_cond_timedwait(&r->cond, &r->mutex, &deadline) != 0) break;
  }
  pthread_mutex_unlock(&r->mutex);
  if (!r->ended) fail_msg("the watch did not end");
}

void sleep_ms(long ms) {
  struct timespec t;
  t.tv_sec = ms / 1000;
  t.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&t, NULL);
}

dengine_watch_options watch_options(int stream, const char* key, uint32_t flags,
                                    uint64_t start_revision) {
  dengine_watch_options o;
  memset(&o, 0, sizeof o);
  o.version = DENGINE_WATCH_OPTIONS_VERSION;
  o.struct_size = sizeof o;
  o.stream = stream;
  o.flags = flags;
  o.key = key;
  o.key_len = key != NULL ? strlen(key) : 0;
  o.start_revision = start_revision;
  return o;
}

void expect_event(const seen_event* e, int type, uint64_t revision,
                  const char* key, const char* value, const char* prev) {
  assert_int_equal(e->type, type);
  assert_int_equal(e->revision, revision);
  assert_string_equal(e->key, key);
  assert_string_equal(e->value, value);
  if (prev == NULL) {
    assert_int_equal(e->has_prev, 0);
  } else {
    assert_int_equal(e->has_prev, 1);
    assert_string_equal(e->prev, prev);
  }
}
