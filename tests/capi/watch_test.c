#define _POSIX_C_SOURCE 200809L
/* Watches from C: KV key and prefix watches on the built-in machine (put,
 * delete, expire, with previous values and the writes' revisions), a watch
 * from a past revision, a compacted start, membership and leader events,
 * topics published by an application machine, cancel from inside a
 * callback and from another thread, the end of every watch when the node
 * closes, and bad options. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "counter_machine.h"
#include "dengine.h"
#include "ports.h"
#include "temp_dir.h"
#include "watch_recorder.h"

typedef struct single_node {
  char* dir;
  dengine_node* node;
} single_node;

/* One voter running the built-in KV machine, or `machine` when not NULL;
 * history_events > 0 bounds the watch history. */
static void start_node(single_node* n, const dengine_state_machine* machine,
                       uint64_t history_events) {
  dengine_config* config = NULL;
  uint64_t voter = 1;
  int i;
  if (n->dir == NULL) n->dir = temp_dir_create(); /* else: a restart */
  assert_non_null(n->dir);
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 1), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, n->dir), DENGINE_OK);
  assert_int_equal(dengine_config_set_initial_voters(config, &voter, 1),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_tick_ms(config, 20), DENGINE_OK);
  if (machine != NULL) {
    assert_int_equal(dengine_config_set_state_machine(config, machine),
                     DENGINE_OK);
  }
  if (history_events > 0) {
    assert_int_equal(
        dengine_config_set_watch_history_events(config, history_events),
        DENGINE_OK);
  }
  assert_int_equal(dengine_node_start(config, &n->node), DENGINE_OK);
  dengine_config_free(config);
  for (i = 0; i < 2000; ++i) {
    dengine_status s;
    assert_int_equal(dengine_node_status(n->node, &s), DENGINE_OK);
    dengine_status_free(&s);
    if (s.leader_id == 1 && s.applied_index >= 2) return;
    sleep_ms(10);
  }
  fail_msg("no leader elected");
}

static void stop_node(single_node* n) {
  if (n->node != NULL) {
    assert_int_equal(dengine_node_stop(n->node), DENGINE_OK);
    dengine_node_close(n->node);
  }
  temp_dir_remove(n->dir);
}

/* Proposes an encoded KV command; returns its revision (the entry's index). */
static uint64_t propose(dengine_node* node, uint8_t* command, size_t len) {
  dengine_write_options options;
  dengine_reply reply;
  uint64_t index;
  memset(&options, 0, sizeof options);
  options.version = DENGINE_WRITE_OPTIONS_VERSION;
  options.struct_size = sizeof options;
  options.flags = DENGINE_REQUEST_KV;
  assert_int_equal(
      dengine_node_propose_opts(node, command, len, &options, &reply),
      DENGINE_OK);
  index = reply.index;
  dengine_reply_free(&reply);
  dengine_free(command);
  return index;
}

static uint64_t put(dengine_node* node, const char* key, const char* value,
                    uint64_t ttl_ms) {
  uint8_t* command;
  size_t len;
  assert_int_equal(dengine_kv_encode_put(key, strlen(key), value, strlen(value),
                                         ttl_ms, &command, &len),
                   DENGINE_OK);
  return propose(node, command, len);
}

static uint64_t delete_key(dengine_node* node, const char* key) {
  uint8_t* command;
  size_t len;
  assert_int_equal(dengine_kv_encode_delete(key, strlen(key), &command, &len),
                   DENGINE_OK);
  return propose(node, command, len);
}

static void prefix_and_key_watches(void** state) {
  single_node n = {NULL, NULL};
  recorder prefix, key;
  dengine_watch_options o;
  dengine_watch* w_prefix = NULL;
  dengine_watch* w_key = NULL;
  uint64_t r1, r2, r3, r4;
  (void)state;
  start_node(&n, NULL, 0);
  recorder_init(&prefix);
  recorder_init(&key);
  o = watch_options(DENGINE_WATCH_KV, "a/", DENGINE_WATCH_PREFIX, 0);
  assert_int_equal(dengine_node_watch(n.node, &o, record_event, record_end,
                                      &prefix, &w_prefix),
                   DENGINE_OK);
  o = watch_options(DENGINE_WATCH_KV, "a/1", 0, 0);
  assert_int_equal(
      dengine_node_watch(n.node, &o, record_event, record_end, &key, &w_key),
      DENGINE_OK);

  r1 = put(n.node, "a/1", "v1", 0);
  r2 = put(n.node, "b/1", "x", 0); /* neither watch matches */
  r3 = put(n.node, "a/1", "v2", 0);
  r4 = delete_key(n.node, "a/1");
  assert_true(r1 < r2 && r2 < r3 && r3 < r4);

  wait_events(&prefix, 3);
  expect_event(&prefix.events[0], DENGINE_EVENT_PUT, r1, "a/1", "v1", NULL);
  expect_event(&prefix.events[1], DENGINE_EVENT_PUT, r3, "a/1", "v2", "v1");
  expect_event(&prefix.events[2], DENGINE_EVENT_DELETE, r4, "a/1", "", "v2");
  wait_events(&key, 3);
  expect_event(&key.events[2], DENGINE_EVENT_DELETE, r4, "a/1", "", "v2");

  /* A KV read reports the revision it reflects: the last write. */
  {
    dengine_read_options ro;
    dengine_reply reply;
    uint8_t* query;
    size_t len;
    memset(&ro, 0, sizeof ro);
    ro.version = DENGINE_READ_OPTIONS_VERSION;
    ro.struct_size = sizeof ro;
    ro.flags = DENGINE_REQUEST_KV;
    assert_int_equal(dengine_kv_encode_get("a/1", 3, &query, &len), DENGINE_OK);
    assert_int_equal(dengine_node_read_opts(n.node, query, len, &ro, &reply),
                     DENGINE_OK);
    assert_int_equal(reply.index, r4);
    dengine_reply_free(&reply);
    dengine_free(query);
  }

  /* A watch from a past revision gets the history first, then what is new. */
  {
    recorder past;
    dengine_watch* w_past = NULL;
    uint64_t r5;
    recorder_init(&past);
    o = watch_options(DENGINE_WATCH_KV, "a/", DENGINE_WATCH_PREFIX, r3);
    assert_int_equal(dengine_node_watch(n.node, &o, record_event, record_end,
                                        &past, &w_past),
                     DENGINE_OK);
    r5 = put(n.node, "a/2", "w", 0);
    wait_events(&past, 3);
    expect_event(&past.events[0], DENGINE_EVENT_PUT, r3, "a/1", "v2", "v1");
    expect_event(&past.events[1], DENGINE_EVENT_DELETE, r4, "a/1", "", "v2");
    expect_event(&past.events[2], DENGINE_EVENT_PUT, r5, "a/2", "w", NULL);
    /* Closing from this thread: on_end has run when it returns. */
    dengine_watch_close(w_past);
    assert_int_equal(past.ended, 1);
    assert_int_equal(past.end_status, DENGINE_ERR_CANCELLED);
    assert_int_equal(past.next_revision, r5 + 1);
  }

  /* Expiry: a later write advances the machine clock past the TTL. */
  {
    uint64_t r6, r7;
    wait_events(&prefix, 4); /* ... and the put of a/2 */
    r6 = put(n.node, "a/ttl", "t", 1);
    sleep_ms(20);
    r7 = put(n.node, "b/2", "tick", 0);
    wait_events(&prefix, 6);
    expect_event(&prefix.events[4], DENGINE_EVENT_PUT, r6, "a/ttl", "t", NULL);
    expect_event(&prefix.events[5], DENGINE_EVENT_EXPIRE, r7, "a/ttl", "", "t");
  }

  /* Closing the node ends every watch with SHUTTING_DOWN; the handles are
   * closed afterwards. */
  assert_int_equal(dengine_node_stop(n.node), DENGINE_OK);
  wait_end(&prefix);
  assert_int_equal(prefix.end_status, DENGINE_ERR_SHUTTING_DOWN);
  wait_end(&key);
  dengine_node_close(n.node);
  n.node = NULL;
  dengine_watch_close(w_prefix);
  dengine_watch_close(w_key);
  assert_int_equal(prefix.ended, 1);
  stop_node(&n);
}

static void a_compacted_start_is_refused(void** state) {
  single_node n = {NULL, NULL};
  recorder r;
  dengine_watch_options o;
  dengine_watch* w = (dengine_watch*)&r; /* set to NULL on failure */
  uint64_t oldest = 0, next = 0;
  char key[16];
  int i;
  (void)state;
  start_node(&n, NULL, 5);
  for (i = 0; i < 20; ++i) {
    snprintf(key, sizeof key, "k%d", i);
    put(n.node, key, "v", 0);
  }
  assert_int_equal(dengine_node_watch_range(n.node, &oldest, &next),
                   DENGINE_OK);
  assert_true(oldest > 10);
  assert_true(next > oldest);
  recorder_init(&r);
  o = watch_options(DENGINE_WATCH_KV, "", DENGINE_WATCH_PREFIX, 1);
  assert_int_equal(
      dengine_node_watch(n.node, &o, record_event, record_end, &r, &w),
      DENGINE_ERR_COMPACTED);
  assert_null(w);
  assert_non_null(strstr(dengine_last_error(), "oldest"));
  assert_int_equal(r.ended, 0);
  /* From the oldest kept revision it works. */
  o.start_revision = oldest;
  assert_int_equal(
      dengine_node_watch(n.node, &o, record_event, record_end, &r, &w),
      DENGINE_OK);
  wait_events(&r, 1);
  dengine_watch_close(w);
  stop_node(&n);
}

static void membership_and_leader_events(void** state) {
  single_node n = {NULL, NULL};
  recorder r;
  dengine_watch_options o;
  dengine_watch* w = NULL;
  dengine_status s;
  (void)state;
  start_node(&n, NULL, 0);
  recorder_init(&r);
  o = watch_options(DENGINE_WATCH_CLUSTER, NULL, 0, 1);
  assert_int_equal(
      dengine_node_watch(n.node, &o, record_event, record_end, &r, &w),
      DENGINE_OK);
  /* Entry 1 bootstraps voter 1; entry 2 is its first as leader. */
  wait_events(&r, 3);
  assert_int_equal(r.events[0].type, DENGINE_EVENT_MEMBER_ADDED);
  assert_int_equal(r.events[0].node_id, 1);
  assert_int_equal(r.events[0].revision, 1);
  assert_int_equal(r.events[1].type, DENGINE_EVENT_MEMBER_PROMOTED);
  assert_int_equal(r.events[2].type, DENGINE_EVENT_LEADER);
  assert_int_equal(r.events[2].node_id, 1);
  assert_int_equal(r.events[2].revision, 2);
  assert_int_equal(dengine_node_status(n.node, &s), DENGINE_OK);
  assert_int_equal(r.events[2].term, s.term);
  dengine_status_free(&s);

  assert_int_equal(dengine_node_add_learner(n.node, 2, "127.0.0.1:1", 0),
                   DENGINE_OK);
  wait_events(&r, 4);
  assert_int_equal(r.events[3].type, DENGINE_EVENT_MEMBER_ADDED);
  assert_int_equal(r.events[3].node_id, 2);
  assert_int_equal(dengine_node_remove(n.node, 2, 0), DENGINE_OK);
  wait_events(&r, 5);
  assert_int_equal(r.events[4].type, DENGINE_EVENT_MEMBER_REMOVED);
  assert_int_equal(r.events[4].node_id, 2);
  /* KV writes are not cluster events. */
  put(n.node, "k", "v", 0);
  dengine_watch_close(w);
  assert_int_equal(r.count, 5);
  stop_node(&n);
}

static int propose_value(dengine_node* node, uint64_t value) {
  uint8_t data[8];
  int i;
  for (i = 0; i < 8; ++i) data[i] = (uint8_t)(value >> (8 * i));
  return dengine_node_propose(node, data, sizeof data, NULL, 0, NULL);
}

static void an_application_machine_publishes_topics(void** state) {
  single_node n = {NULL, NULL};
  char* machine_dir = temp_dir_create();
  counter_options options;
  dengine_state_machine counter;
  recorder r, cancelled;
  dengine_watch_options o;
  dengine_watch* w = NULL;
  dengine_watch* w_cancelled = NULL;
  int i;
  (void)state;
  memset(&options, 0, sizeof options);
  options.publish_topic = "counter";
  assert_int_equal(counter_machine_open(machine_dir, &options, &counter),
                   DENGINE_OK);
  start_node(&n, &counter, 0);
  recorder_init(&r);
  recorder_init(&cancelled);
  cancelled.cancel_after = 2;
  o = watch_options(DENGINE_WATCH_TOPIC, "counter", 0, 0);
  assert_int_equal(
      dengine_node_watch(n.node, &o, record_event, record_end, &r, &w),
      DENGINE_OK);
  o = watch_options(DENGINE_WATCH_TOPIC, "count", DENGINE_WATCH_PREFIX, 0);
  assert_int_equal(dengine_node_watch(n.node, &o, record_event, record_end,
                                      &cancelled, &w_cancelled),
                   DENGINE_OK);
  cancelled.watch = w_cancelled;
  for (i = 1; i <= 5; ++i) {
    assert_int_equal(propose_value(n.node, (uint64_t)i), DENGINE_OK);
  }
  wait_events(&r, 5);
  for (i = 0; i < 5; ++i) {
    assert_int_equal(r.events[i].type, DENGINE_EVENT_USER);
    assert_string_equal(r.events[i].key, "counter");
    if (i > 0) assert_true(r.events[i].revision > r.events[i - 1].revision);
  }
  /* Cancelled from inside its second event: no third. */
  wait_end(&cancelled);
  assert_int_equal(cancelled.end_status, DENGINE_ERR_CANCELLED);
  assert_int_equal(cancelled.count, 2);
  assert_int_equal(cancelled.next_revision, cancelled.events[1].revision + 1);
  dengine_watch_close(w_cancelled);
  dengine_watch_close(w);
  stop_node(&n);
  counter_machine_close(&counter);
  temp_dir_remove(machine_dir);
}

/* The history is kept on disk: after a restart a watch can still start at
 * a revision written before it. */
static void the_history_survives_a_restart(void** state) {
  single_node n = {NULL, NULL};
  recorder r;
  dengine_watch_options o;
  dengine_watch* w = NULL;
  uint64_t first, last;
  int i;
  (void)state;
  start_node(&n, NULL, 0);
  first = put(n.node, "r/0", "v", 0);
  for (i = 1; i < 5; ++i) {
    char key[8];
    snprintf(key, sizeof key, "r/%d", i);
    last = put(n.node, key, "v", 0);
  }
  assert_int_equal(dengine_node_stop(n.node), DENGINE_OK);
  dengine_node_close(n.node);
  n.node = NULL;

  start_node(&n, NULL, 0);
  recorder_init(&r);
  o = watch_options(DENGINE_WATCH_KV, "r/", DENGINE_WATCH_PREFIX, first);
  assert_int_equal(
      dengine_node_watch(n.node, &o, record_event, record_end, &r, &w),
      DENGINE_OK);
  wait_events(&r, 5);
  assert_int_equal(r.events[0].revision, first);
  assert_string_equal(r.events[0].key, "r/0");
  assert_int_equal(r.events[4].revision, last);
  dengine_watch_close(w);
  stop_node(&n);
}

/* Every node serves watches, followers from what they applied, and reports
 * the same events at the same revisions. */
static void every_node_reports_the_same_events(void** state) {
  char* dir = temp_dir_create();
  int ports[4];
  dengine_node* nodes[4] = {NULL, NULL, NULL, NULL};
  recorder r[4];
  dengine_watch* w[4];
  dengine_node* leader = NULL;
  uint64_t voters[] = {1, 2, 3};
  uint64_t id, peer;
  int i, k;
  (void)state;
  for (id = 1; id <= 3; ++id) ports[id] = free_port();
  for (id = 1; id <= 3; ++id) {
    dengine_config* config;
    char path[512], address[64];
    snprintf(path, sizeof path, "%s/node%llu", dir, (unsigned long long)id);
    snprintf(address, sizeof address, "127.0.0.1:%d", ports[id]);
    assert_int_equal(dengine_config_new(&config), DENGINE_OK);
    assert_int_equal(dengine_config_set_node_id(config, id), DENGINE_OK);
    assert_int_equal(dengine_config_set_data_dir(config, path), DENGINE_OK);
    assert_int_equal(dengine_config_set_peer_address(config, address),
                     DENGINE_OK);
    assert_int_equal(dengine_config_set_tick_ms(config, 20), DENGINE_OK);
    assert_int_equal(dengine_config_set_initial_voters(config, voters, 3),
                     DENGINE_OK);
    for (peer = 1; peer <= 3; ++peer) {
      if (peer == id) continue;
      snprintf(address, sizeof address, "127.0.0.1:%d", ports[peer]);
      assert_int_equal(dengine_config_add_peer(config, peer, address),
                       DENGINE_OK);
    }
    assert_int_equal(dengine_node_start(config, &nodes[id]), DENGINE_OK);
    dengine_config_free(config);
  }
  for (id = 1; id <= 3; ++id) {
    dengine_watch_options o =
        watch_options(DENGINE_WATCH_KV, "", DENGINE_WATCH_PREFIX, 0);
    recorder_init(&r[id]);
    assert_int_equal(dengine_node_watch(nodes[id], &o, record_event, record_end,
                                        &r[id], &w[id]),
                     DENGINE_OK);
  }
  for (i = 0; i < 2000 && leader == NULL; ++i) {
    for (id = 1; id <= 3; ++id) {
      dengine_status s;
      assert_int_equal(dengine_node_status(nodes[id], &s), DENGINE_OK);
      if (s.role == DENGINE_ROLE_LEADER && s.applied_index > 0) {
        leader = nodes[id];
      }
      dengine_status_free(&s);
    }
    if (leader == NULL) sleep_ms(10);
  }
  assert_non_null(leader);
  for (k = 0; k < 20; ++k) {
    char key[16];
    snprintf(key, sizeof key, "key%02d", k);
    put(leader, key, "v", 0);
  }
  for (id = 1; id <= 3; ++id) {
    wait_events(&r[id], 20);
    for (k = 0; k < 20; ++k) {
      char key[16];
      snprintf(key, sizeof key, "key%02d", k);
      assert_int_equal(r[id].events[k].type, DENGINE_EVENT_PUT);
      assert_string_equal(r[id].events[k].key, key);
      assert_int_equal(r[id].events[k].revision, r[1].events[k].revision);
    }
  }
  for (id = 1; id <= 3; ++id) {
    dengine_watch_close(w[id]);
    assert_int_equal(dengine_node_stop(nodes[id]), DENGINE_OK);
    dengine_node_close(nodes[id]);
  }
  temp_dir_remove(dir);
}

static void bad_watch_options_are_refused(void** state) {
  single_node n = {NULL, NULL};
  recorder r;
  dengine_watch_options o;
  dengine_watch* w = NULL;
  (void)state;
  start_node(&n, NULL, 0);
  recorder_init(&r);
  o = watch_options(9, "k", 0, 0);
  assert_int_equal(
      dengine_node_watch(n.node, &o, record_event, record_end, &r, &w),
      DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "stream"));
  o = watch_options(DENGINE_WATCH_KV, "", 0, 0);
  assert_int_equal(
      dengine_node_watch(n.node, &o, record_event, record_end, &r, &w),
      DENGINE_ERR_INVALID_ARGUMENT);
  o = watch_options(DENGINE_WATCH_KV, "k", 0x10, 0);
  assert_int_equal(
      dengine_node_watch(n.node, &o, record_event, record_end, &r, &w),
      DENGINE_ERR_INVALID_ARGUMENT);
  o = watch_options(DENGINE_WATCH_KV, "k", 0, 0);
  o.version = 2;
  assert_int_equal(
      dengine_node_watch(n.node, &o, record_event, record_end, &r, &w),
      DENGINE_ERR_INVALID_ARGUMENT);
  o.version = DENGINE_WATCH_OPTIONS_VERSION;
  assert_int_equal(dengine_node_watch(n.node, &o, NULL, record_end, &r, &w),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(
      dengine_node_watch(NULL, &o, record_event, record_end, &r, &w),
      DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(r.ended, 0);
  /* NULL options: every key from now on. */
  assert_int_equal(
      dengine_node_watch(n.node, NULL, record_event, record_end, &r, &w),
      DENGINE_OK);
  put(n.node, "anything", "v", 0);
  wait_events(&r, 1);
  dengine_watch_close(w);
  dengine_watch_close(NULL);
  stop_node(&n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(prefix_and_key_watches),
      cmocka_unit_test(a_compacted_start_is_refused),
      cmocka_unit_test(membership_and_leader_events),
      cmocka_unit_test(an_application_machine_publishes_topics),
      cmocka_unit_test(the_history_survives_a_restart),
      cmocka_unit_test(every_node_reports_the_same_events),
      cmocka_unit_test(bad_watch_options_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
