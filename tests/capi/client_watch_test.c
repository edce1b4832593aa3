#define _POSIX_C_SOURCE 200809L
/* Watches through the client API (dengine_client_watch) against a node of
 * this process serving clients on loopback, as dengined does: KV events
 * with their revisions, a watch that rides out a restart of its server
 * without a gap or a repeat and ends when its client closes, a start from the
 * past, a compacted start, cluster events, cancel from inside a callback, and
 * bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dengine.h"
#include "ports.h"
#include "temp_dir.h"
#include "watch_recorder.h"

/* One voter of the built-in KV machine serving clients at `address`. */
typedef struct serving_node {
  char* dir;
  char address[64];
  dengine_node* node;
} serving_node;

/* Starts the node (again, on its data and address, after stop_node);
 * history_events > 0 bounds the watch history. */
static void start_node(serving_node* n, uint64_t history_events) {
  dengine_config* config = NULL;
  uint64_t voter = 1;
  if (n->dir == NULL) {
    n->dir = temp_dir_create();
    snprintf(n->address, sizeof n->address, "127.0.0.1:%d", free_port());
  }
  assert_non_null(n->dir);
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 1), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, n->dir), DENGINE_OK);
  assert_int_equal(dengine_config_set_initial_voters(config, &voter, 1),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_client_address(config, n->address),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_timing(config, 20, 10, 2), DENGINE_OK);
  if (history_events > 0) {
    assert_int_equal(
        dengine_config_set_watch_history_events(config, history_events),
        DENGINE_OK);
  }
  assert_int_equal(dengine_node_start(config, &n->node), DENGINE_OK);
  dengine_config_free(config);
}

static void stop_node(serving_node* n) {
  assert_int_equal(dengine_node_stop(n->node), DENGINE_OK);
  dengine_node_close(n->node);
  n->node = NULL;
}

/* A client patient enough to wait for the node's election. */
static dengine_client* open_client(const serving_node* n) {
  dengine_client* client = NULL;
  assert_int_equal(dengine_client_open(n->address, 10000, &client), DENGINE_OK);
  return client;
}

/* Proposes an encoded KV command through the client; returns its revision
 * (the entry's index). */
static uint64_t propose(dengine_client* client, uint8_t* command, size_t len) {
  dengine_write_options options;
  dengine_reply reply;
  uint64_t index;
  int rc;
  memset(&options, 0, sizeof options);
  options.version = DENGINE_WRITE_OPTIONS_VERSION;
  options.struct_size = sizeof options;
  options.flags = DENGINE_REQUEST_KV;
  rc = dengine_client_propose_opts(client, command, len, &options, &reply);
  if (rc != DENGINE_OK) fail_msg("propose: %s", dengine_strerror(rc));
  index = reply.index;
  dengine_reply_free(&reply);
  dengine_free(command);
  return index;
}

static uint64_t put(dengine_client* client, const char* key,
                    const char* value) {
  uint8_t* command;
  size_t len;
  assert_int_equal(dengine_kv_encode_put(key, strlen(key), value, strlen(value),
                                         0, &command, &len),
                   DENGINE_OK);
  return propose(client, command, len);
}

static uint64_t delete_key(dengine_client* client, const char* key) {
  uint8_t* command;
  size_t len;
  assert_int_equal(dengine_kv_encode_delete(key, strlen(key), &command, &len),
                   DENGINE_OK);
  return propose(client, command, len);
}

static void a_watch_rides_out_a_server_restart_and_ends_with_its_client(
    void** state) {
  serving_node n;
  dengine_client* client;
  recorder r;
  dengine_watch_options o;
  dengine_watch* w = NULL;
  uint64_t r1, r2, r3, r4, r5, r6;
  (void)state;
  memset(&n, 0, sizeof n);
  start_node(&n, 0);
  client = open_client(&n);
  put(client, "a/0", "before"); /* the election is over; not watched */
  recorder_init(&r);
  o = watch_options(DENGINE_WATCH_KV, "a/", DENGINE_WATCH_PREFIX, 0);
  assert_int_equal(
      dengine_client_watch(client, &o, record_event, record_end, &r, &w),
      DENGINE_OK);
  assert_non_null(w);

  r1 = put(client, "a/1", "v1");
  r2 = put(client, "b/1", "x"); /* outside the prefix */
  r3 = put(client, "a/1", "v2");
  r4 = delete_key(client, "a/1");
  assert_true(r1 < r2 && r2 < r3 && r3 < r4);
  wait_events(&r, 3);
  expect_event(&r.events[0], DENGINE_EVENT_PUT, r1, "a/1", "v1", NULL);
  expect_event(&r.events[1], DENGINE_EVENT_PUT, r3, "a/1", "v2", "v1");
  expect_event(&r.events[2], DENGINE_EVENT_DELETE, r4, "a/1", "", "v2");

  /* The watch has a connection of its own: the client's calls run beside
   * it, and another client's writes reach it too. */
  {
    dengine_client* other = open_client(&n);
    r5 = put(other, "a/2", "w");
    dengine_client_close(other);
  }
  wait_events(&r, 4);
  expect_event(&r.events[3], DENGINE_EVENT_PUT, r5, "a/2", "w", NULL);

  /* The server stops (its watches end with SHUTTING_DOWN, which the client
   * watch does not report) and comes back on the same address and data:
   * the watch reconnects and resumes after r5, nothing missed or repeated. */
  stop_node(&n);
  start_node(&n, 0);
  r6 = put(client, "a/3", "after");
  wait_events(&r, 5);
  expect_event(&r.events[4], DENGINE_EVENT_PUT, r6, "a/3", "after", NULL);
  assert_int_equal(r.ended, 0);

  /* Closing the client ends its watches: on_end has run when it returns. */
  dengine_client_close(client);
  assert_int_equal(r.ended, 1);
  assert_int_equal(r.end_status, DENGINE_ERR_SHUTTING_DOWN);
  assert_non_null(strstr(r.message, "client was closed"));
  assert_int_equal(r.next_revision, r6 + 1);
  assert_int_equal(r.count, 5);
  dengine_watch_close(w);
  assert_int_equal(r.ended, 1);

  /* A watch closed first is no longer the client's to end. */
  client = open_client(&n);
  recorder_init(&r);
  assert_int_equal(
      dengine_client_watch(client, &o, record_event, record_end, &r, &w),
      DENGINE_OK);
  dengine_watch_close(w);
  assert_int_equal(r.ended, 1);
  assert_int_equal(r.end_status, DENGINE_ERR_CANCELLED);
  dengine_client_close(client);
  assert_int_equal(r.ended, 1);
  stop_node(&n);
  temp_dir_remove(n.dir);
}

static void a_watch_from_the_past_and_a_compacted_start(void** state) {
  serving_node n;
  dengine_client* client;
  recorder r;
  dengine_watch_options o;
  dengine_watch* w = (dengine_watch*)&r; /* set to NULL on failure */
  uint64_t oldest = 0, next = 0, last = 0;
  char key[16];
  int i;
  (void)state;
  memset(&n, 0, sizeof n);
  start_node(&n, 5);
  client = open_client(&n);
  for (i = 0; i < 20; ++i) {
    snprintf(key, sizeof key, "k%02d", i);
    last = put(client, key, "v");
  }
  assert_int_equal(dengine_node_watch_range(n.node, &oldest, &next),
                   DENGINE_OK);
  assert_true(oldest > 10);
  recorder_init(&r);

  o = watch_options(DENGINE_WATCH_KV, "k", DENGINE_WATCH_PREFIX, 1);
  assert_int_equal(
      dengine_client_watch(client, &o, record_event, record_end, &r, &w),
      DENGINE_ERR_COMPACTED);
  assert_null(w);
  assert_non_null(strstr(dengine_last_error(), "oldest"));
  assert_int_equal(r.ended, 0);

  /* From the oldest revision kept: the history, in order, then on. */
  o.start_revision = oldest;
  assert_int_equal(
      dengine_client_watch(client, &o, record_event, record_end, &r, &w),
      DENGINE_OK);
  wait_events(&r, (int)(last - oldest + 1));
  for (i = 0; i < r.count; ++i) {
    assert_int_equal(r.events[i].type, DENGINE_EVENT_PUT);
    assert_int_equal(r.events[i].revision, oldest + (uint64_t)i);
  }
  snprintf(key, sizeof key, "k%02d", 19);
  assert_string_equal(r.events[r.count - 1].key, key);
  dengine_watch_close(w);
  dengine_client_close(client);
  stop_node(&n);
  temp_dir_remove(n.dir);
}

static void cluster_events_and_cancel_from_inside(void** state) {
  serving_node n;
  dengine_client* client;
  recorder members, cancelled;
  dengine_watch_options o;
  dengine_watch* w_members = NULL;
  dengine_watch* w_cancelled = NULL;
  int i;
  (void)state;
  memset(&n, 0, sizeof n);
  start_node(&n, 0);
  client = open_client(&n);
  put(client, "warm", "up");
  recorder_init(&members);
  recorder_init(&cancelled);

  /* From revision 1: the first member and the first leader. */
  o = watch_options(DENGINE_WATCH_CLUSTER, NULL, 0, 1);
  assert_int_equal(dengine_client_watch(client, &o, record_event, record_end,
                                        &members, &w_members),
                   DENGINE_OK);
  assert_int_equal(dengine_client_add_learner(client, 2, "127.0.0.1:1"),
                   DENGINE_OK);
  for (i = 0;; ++i) {
    wait_events(&members, i + 1);
    if (members.events[i].type == DENGINE_EVENT_MEMBER_ADDED &&
        members.events[i].node_id == 2) {
      break;
    }
  }
  for (i = 1; i < members.count; ++i) {
    assert_true(members.events[i - 1].revision <= members.events[i].revision);
  }
  assert_int_equal(dengine_client_remove(client, 2), DENGINE_OK);

  /* Cancelled from inside its own on_event: on_end follows, once. */
  cancelled.cancel_after = 2;
  o = watch_options(DENGINE_WATCH_KV, "c", 0, 0);
  assert_int_equal(dengine_client_watch(client, &o, record_event, record_end,
                                        &cancelled, &w_cancelled),
                   DENGINE_OK);
  pthread_mutex_lock(&cancelled.mutex);
  cancelled.watch = w_cancelled;
  pthread_mutex_unlock(&cancelled.mutex);
  for (i = 0; i < 4; ++i) put(client, "c", "v");
  wait_end(&cancelled);
  assert_int_equal(cancelled.end_status, DENGINE_ERR_CANCELLED);
  assert_int_equal(cancelled.count, 2);
  dengine_watch_close(w_cancelled);
  assert_int_equal(cancelled.ended, 1);
  assert_int_equal(cancelled.count, 2);

  dengine_watch_close(w_members);
  assert_int_equal(members.ended, 1);
  dengine_client_close(client);
  stop_node(&n);
  temp_dir_remove(n.dir);
}

static void bad_arguments_are_refused(void** state) {
  serving_node n;
  dengine_client* client;
  recorder r;
  dengine_watch_options o;
  dengine_watch* w = NULL;
  (void)state;
  memset(&n, 0, sizeof n);
  start_node(&n, 0);
  client = open_client(&n);
  recorder_init(&r);
  o = watch_options(DENGINE_WATCH_KV, "k", 0, 0);
  assert_int_equal(
      dengine_client_watch(NULL, &o, record_event, record_end, &r, &w),
      DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_client_watch(client, &o, NULL, record_end, &r, &w),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(
      dengine_client_watch(client, &o, record_event, record_end, &r, NULL),
      DENGINE_ERR_INVALID_ARGUMENT);
  o = watch_options(DENGINE_WATCH_CLUSTER, "k", 0, 0);
  assert_int_equal(
      dengine_client_watch(client, &o, record_event, record_end, &r, &w),
      DENGINE_ERR_INVALID_ARGUMENT);
  o = watch_options(DENGINE_WATCH_KV, "", 0, 0);
  assert_int_equal(
      dengine_client_watch(client, &o, record_event, record_end, &r, &w),
      DENGINE_ERR_INVALID_ARGUMENT);
  o = watch_options(9, "k", 0, 0);
  assert_int_equal(
      dengine_client_watch(client, &o, record_event, record_end, &r, &w),
      DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(r.ended, 0);
  assert_int_equal(r.count, 0);
  /* The client still works. */
  put(client, "k", "v");
  dengine_client_close(client);
  stop_node(&n);
  temp_dir_remove(n.dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          a_watch_rides_out_a_server_restart_and_ends_with_its_client),
      cmocka_unit_test(a_watch_from_the_past_and_a_compacted_start),
      cmocka_unit_test(cluster_events_and_cancel_from_inside),
      cmocka_unit_test(bad_arguments_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
