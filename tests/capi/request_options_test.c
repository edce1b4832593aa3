#define _POSIX_C_SOURCE 200809L
/* Requests with options structs and the KV codec, from C: every KV
 * operation as encoded bytes proposed and read on a node (blocking and
 * async) and through a client; options read by the versioning rule (NULL,
 * a version-1-sized struct, refusals with the reason in the reply);
 * timeout_ms 0 meaning the default; a client call bounded by its own
 * timeout; messages without the code's name. */
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

static void sleep_ms(long ms) {
  struct timespec t;
  t.tv_sec = ms / 1000;
  t.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&t, NULL);
}

typedef struct single_node {
  char* dir;
  dengine_node* node;
  char client_address[64];
} single_node;

/* One voter serving clients, running the built-in RocksDB KV machine or,
 * when `machine` is not NULL, that machine. */
static void start_node_with(single_node* n,
                            const dengine_state_machine* machine) {
  dengine_config* config = NULL;
  uint64_t voter = 1;
  int i;
  n->dir = temp_dir_create();
  assert_non_null(n->dir);
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 1), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, n->dir), DENGINE_OK);
  assert_int_equal(dengine_config_set_initial_voters(config, &voter, 1),
                   DENGINE_OK);
  snprintf(n->client_address, sizeof n->client_address, "127.0.0.1:%d",
           free_port());
  assert_int_equal(dengine_config_set_client_address(config, n->client_address),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_timing(config, 20, 10, 2), DENGINE_OK);
  if (machine != NULL) {
    assert_int_equal(dengine_config_set_state_machine(config, machine),
                     DENGINE_OK);
  }
  assert_int_equal(dengine_node_start(config, &n->node), DENGINE_OK);
  dengine_config_free(config);
  for (i = 0; i < 2000; ++i) {
    dengine_status s;
    assert_int_equal(dengine_node_status(n->node, &s), DENGINE_OK);
    dengine_status_free(&s);
    if (s.leader_id == 1) return;
    sleep_ms(10);
  }
  fail_msg("no leader elected");
}

static void start_single_node(single_node* n) { start_node_with(n, NULL); }

static void stop_single_node(single_node* n) {
  assert_int_equal(dengine_node_stop(n->node), DENGINE_OK);
  dengine_node_close(n->node);
  temp_dir_remove(n->dir);
}

/* Proposes an encoded command with default options; returns what the
 * decoded result says through *applied and *existed. */
static int write_encoded(dengine_node* node, uint8_t* command, size_t len,
                         int* applied, int* existed) {
  dengine_reply reply;
  int rc = dengine_node_propose_opts(node, command, len, NULL, &reply);
  dengine_free(command);
  if (rc == DENGINE_OK) {
    assert_int_equal(
        dengine_kv_decode_write(reply.data, reply.len, applied, existed),
        DENGINE_OK);
  }
  dengine_reply_free(&reply);
  return rc;
}

/* Reads an encoded query; fills *items. */
static void read_encoded(dengine_node* node, uint8_t* query, size_t len,
                         const dengine_read_options* options,
                         dengine_kv_items* items) {
  dengine_reply reply;
  assert_int_equal(dengine_node_read_opts(node, query, len, options, &reply),
                   DENGINE_OK);
  assert_int_equal(
      dengine_kv_decode_read(query, len, reply.data, reply.len, items),
      DENGINE_OK);
  dengine_free(query);
  dengine_reply_free(&reply);
}

static void every_kv_operation_through_the_codec(void** state) {
  single_node n;
  uint8_t* bytes = NULL;
  size_t len = 0;
  int applied = -1, existed = -1;
  dengine_kv_items items;
  const void* keys[3] = {"a", "missing", "ttl"};
  size_t key_lens[3] = {1, 7, 3};
  dengine_read_options linearizable;
  (void)state;
  start_single_node(&n);

  assert_int_equal(dengine_kv_encode_put("a", 1, "1", 1, 0, &bytes, &len),
                   DENGINE_OK);
  assert_int_equal(write_encoded(n.node, bytes, len, &applied, &existed),
                   DENGINE_OK);
  assert_int_equal(applied, 1);
  assert_int_equal(existed, 0);

  /* The leader stamps the command with its clock as it proposes it: were
   * the encoder's zero timestamp kept, an hour's TTL would have run out
   * in 1970 and the key be gone at once. */
  assert_int_equal(
      dengine_kv_encode_put("ttl", 3, "t", 1, 3600 * 1000, &bytes, &len),
      DENGINE_OK);
  assert_int_equal(write_encoded(n.node, bytes, len, &applied, &existed),
                   DENGINE_OK);

  /* Compare-and-swap: absent expected on a present key fails, the right
   * value swaps. */
  assert_int_equal(dengine_kv_encode_cas("a", 1, NULL, 0, "x", 1, &bytes, &len),
                   DENGINE_OK);
  assert_int_equal(write_encoded(n.node, bytes, len, &applied, &existed),
                   DENGINE_OK);
  assert_int_equal(applied, 0);
  assert_int_equal(existed, 1);
  assert_int_equal(dengine_kv_encode_cas("a", 1, "1", 1, "2", 1, &bytes, &len),
                   DENGINE_OK);
  assert_int_equal(write_encoded(n.node, bytes, len, &applied, &existed),
                   DENGINE_OK);
  assert_int_equal(applied, 1);

  memset(&linearizable, 0, sizeof linearizable);
  linearizable.version = DENGINE_READ_OPTIONS_VERSION;
  linearizable.struct_size = sizeof linearizable;
  linearizable.consistency = DENGINE_READ_LINEARIZABLE;
  assert_int_equal(dengine_kv_encode_get("a", 1, &bytes, &len), DENGINE_OK);
  read_encoded(n.node, bytes, len, &linearizable, &items);
  assert_int_equal(items.count, 1);
  assert_true(items.items[0].found);
  assert_memory_equal(items.items[0].value, "2", 1);
  dengine_kv_items_free(&items);

  assert_int_equal(dengine_kv_encode_get_multi(keys, key_lens, 3, &bytes, &len),
                   DENGINE_OK);
  read_encoded(n.node, bytes, len, NULL, &items);
  assert_int_equal(items.count, 3);
  assert_true(items.items[0].found);
  assert_false(items.items[1].found);
  assert_memory_equal(items.items[1].key, "missing", 7);
  assert_true(items.items[2].found);
  assert_memory_equal(items.items[2].value, "t", 1);
  dengine_kv_items_free(&items);

  assert_int_equal(dengine_kv_encode_delete("a", 1, &bytes, &len), DENGINE_OK);
  assert_int_equal(write_encoded(n.node, bytes, len, &applied, &existed),
                   DENGINE_OK);
  assert_int_equal(existed, 1);

  assert_int_equal(dengine_kv_encode_scan_prefix("", 0, 10, &bytes, &len),
                   DENGINE_OK);
  read_encoded(n.node, bytes, len, NULL, &items);
  assert_int_equal(items.count, 1);
  assert_memory_equal(items.items[0].key, "ttl", 3);
  assert_false(items.more);
  dengine_kv_items_free(&items);

  /* The old helpers see the same data. */
  {
    uint8_t* value = NULL;
    size_t value_len = 0;
    assert_int_equal(dengine_kv_get(n.node, "ttl", 3, DENGINE_READ_DEFAULT, 0,
                                    &value, &value_len),
                     DENGINE_OK);
    assert_memory_equal(value, "t", 1);
    dengine_free(value);
  }
  stop_single_node(&n);
}

static void codec_refuses_bad_input(void** state) {
  uint8_t* bytes = (uint8_t*)"sentinel";
  size_t len = 7;
  dengine_kv_items items;
  (void)state;
  assert_int_equal(dengine_kv_encode_put(NULL, 0, "v", 1, 0, &bytes, &len),
                   DENGINE_ERR_INVALID_ARGUMENT);
  /* The function and why, without the code's name in front. */
  assert_string_equal(dengine_last_error(), "dengine_kv_encode_put: empty key");
  assert_string_equal(dengine_err_name(DENGINE_ERR_INVALID_ARGUMENT),
                      "DENGINE_ERR_INVALID_ARGUMENT");
  assert_int_equal(dengine_kv_encode_put("k", 1, "v", 1, 0, NULL, &len),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_kv_encode_scan_prefix("p", 1, 0, &bytes, &len),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_null(bytes);
  assert_int_equal(dengine_kv_decode_write("junk", 4, NULL, NULL),
                   DENGINE_ERR_CORRUPTION);
  assert_int_equal(dengine_kv_encode_get("k", 1, &bytes, &len), DENGINE_OK);
  assert_int_equal(dengine_kv_decode_read(bytes, len, "junk", 4, &items),
                   DENGINE_ERR_CORRUPTION);
  assert_int_equal(items.count, 0);
  assert_int_equal(dengine_kv_decode_read("junk", 4, "junk", 4, &items),
                   DENGINE_ERR_INVALID_ARGUMENT);
  dengine_free(bytes);
}

typedef struct waiter {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  int done;
  int status;
  int applied;
  char message[256];
} waiter;

static void waiter_init(waiter* w) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mutex, NULL);
  pthread_cond_init(&w->cond, NULL);
}

static void on_write(void* ctx, int status, const dengine_reply* reply) {
  waiter* w = ctx;
  pthread_mutex_lock(&w->mutex);
  w->status = status;
  if (status == DENGINE_OK) {
    if (dengine_kv_decode_write(reply->data, reply->len, &w->applied, NULL) !=
        DENGINE_OK) {
      w->status = DENGINE_ERR_INTERNAL;
    }
  } else if (reply->message != NULL) {
    snprintf(w->message, sizeof w->message, "%s", reply->message);
  }
  w->done = 1;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->mutex);
}

static void waiter_wait(waiter* w) {
  pthread_mutex_lock(&w->mutex);
  while (!w->done) pthread_cond_wait(&w->cond, &w->mutex);
  pthread_mutex_unlock(&w->mutex);
}

static void async_writes_and_options_checks(void** state) {
  single_node n;
  uint8_t* command = NULL;
  size_t len = 0;
  waiter w;
  dengine_write_options options;
  dengine_reply reply;
  dengine_session session = {0, 1, 0};
  void* not_null = &session;
  (void)state;
  start_single_node(&n);
  assert_int_equal(dengine_kv_encode_put("k", 1, "v", 1, 0, &command, &len),
                   DENGINE_OK);

  /* An async KV write in a session, with a version-1-sized options struct
   * as a program built against 0.2.0 passes it. */
  assert_int_equal(dengine_node_open_session(n.node, 0, &session.client_id),
                   DENGINE_OK);
  memset(&options, 0, sizeof options);
  options.version = 1;
  options.struct_size = (uint32_t)(offsetof(dengine_write_options, reserved) +
                                   sizeof options.reserved);
  options.session = &session;
  waiter_init(&w);
  assert_int_equal(dengine_node_propose_opts_async(n.node, command, len,
                                                   &options, on_write, &w),
                   DENGINE_OK);
  waiter_wait(&w);
  assert_int_equal(w.status, DENGINE_OK);
  assert_int_equal(w.applied, 1);

  /* The same seq again is the same write: applied once, first result. */
  assert_int_equal(
      dengine_node_propose_opts(n.node, command, len, &options, &reply),
      DENGINE_OK);
  assert_true(reply.duplicate);
  dengine_reply_free(&reply);

  /* Refusals carry their reason in the reply, blocking and async. */
  options.version = 99;
  assert_int_equal(
      dengine_node_propose_opts(n.node, command, len, &options, &reply),
      DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(reply.message);
  assert_non_null(strstr(reply.message, "newer dengine.h"));
  assert_non_null(strstr(dengine_last_error(), "dengine_node_propose_opts: "));
  dengine_reply_free(&reply);
  options.version = DENGINE_WRITE_OPTIONS_VERSION;
  options.struct_size = sizeof options;
  options.reserved[0] = not_null;
  waiter_init(&w);
  assert_int_equal(dengine_node_propose_opts_async(n.node, command, len,
                                                   &options, on_write, &w),
                   DENGINE_OK);
  waiter_wait(&w);
  assert_int_equal(w.status, DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(w.message, "reserved must be NULL"));
  options.reserved[0] = NULL;
  options.flags = 4;
  assert_int_equal(
      dengine_node_propose_opts(n.node, command, len, &options, &reply),
      DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(reply.message, "flags"));
  dengine_reply_free(&reply);
  {
    dengine_read_options bad;
    memset(&bad, 0, sizeof bad);
    bad.version = DENGINE_READ_OPTIONS_VERSION;
    bad.struct_size = 4;
    assert_int_equal(dengine_node_read_opts(n.node, "q", 1, &bad, &reply),
                     DENGINE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(reply.message, "struct_size"));
    dengine_reply_free(&reply);
    bad.struct_size = sizeof bad;
    bad.consistency = 42;
    assert_int_equal(dengine_node_read_opts(n.node, "q", 1, &bad, &reply),
                     DENGINE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(reply.message, "consistency"));
    dengine_reply_free(&reply);
  }

  /* timeout_ms 0 is the default wait, in the options and in the older
   * positional calls alike, not an instant timeout. */
  assert_int_equal(dengine_node_propose(n.node, command, len, NULL, 0, NULL),
                   DENGINE_OK);
  assert_int_equal(dengine_kv_put(n.node, "z", 1, "1", 1, NULL, 0), DENGINE_OK);
  dengine_free(command);
  stop_single_node(&n);
}

static void a_client_runs_the_codec_with_per_call_timeouts(void** state) {
  single_node n;
  dengine_client* client = NULL;
  uint8_t* bytes = NULL;
  size_t len = 0;
  dengine_reply reply;
  dengine_write_options write;
  dengine_read_options read;
  dengine_session session = {1, 1, 0};
  dengine_kv_items items;
  int applied = 0;
  uint64_t put_index = 0;
  (void)state;
  start_single_node(&n);
  assert_int_equal(dengine_client_open(n.client_address, 0, &client),
                   DENGINE_OK);

  assert_int_equal(dengine_kv_encode_put("c", 1, "42", 2, 0, &bytes, &len),
                   DENGINE_OK);
  assert_int_equal(
      dengine_client_propose_opts(client, bytes, len, NULL, &reply),
      DENGINE_OK);
  assert_int_equal(
      dengine_kv_decode_write(reply.data, reply.len, &applied, NULL),
      DENGINE_OK);
  assert_int_equal(applied, 1);
  put_index = reply.index;
  assert_true(put_index > 0);
  dengine_reply_free(&reply);

  /* A client writes in its own session: one in the options is refused. */
  memset(&write, 0, sizeof write);
  write.version = DENGINE_WRITE_OPTIONS_VERSION;
  write.struct_size = sizeof write;
  write.session = &session;
  assert_int_equal(
      dengine_client_propose_opts(client, bytes, len, &write, &reply),
      DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(reply.message, "session"));
  dengine_reply_free(&reply);
  dengine_free(bytes);

  memset(&read, 0, sizeof read);
  read.version = DENGINE_READ_OPTIONS_VERSION;
  read.struct_size = sizeof read;
  read.consistency = DENGINE_READ_LEASE;
  read.timeout_ms = 5000;
  assert_int_equal(dengine_kv_encode_get("c", 1, &bytes, &len), DENGINE_OK);
  assert_int_equal(dengine_client_read_opts(client, bytes, len, &read, &reply),
                   DENGINE_OK);
  assert_int_equal(
      dengine_kv_decode_read(bytes, len, reply.data, reply.len, &items),
      DENGINE_OK);
  assert_int_equal(items.count, 1);
  assert_memory_equal(items.items[0].value, "42", 2);
  /* The revision the answer reflects: at least the put's (a watch from
   * index + 1 misses nothing after the read). */
  assert_true(reply.index >= put_index);
  dengine_kv_items_free(&items);
  dengine_reply_free(&reply);
  dengine_free(bytes);
  dengine_client_close(client);
  stop_single_node(&n);

  /* A call's own timeout bounds it, not the client's hour: against no
   * server it gives up (the test's ctest TIMEOUT is far below an hour),
   * and the reply says why. */
  {
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "127.0.0.1:%d", free_port());
    assert_int_equal(dengine_client_open(endpoint, 3600 * 1000, &client),
                     DENGINE_OK);
    read.timeout_ms = 300;
    int rc = dengine_client_read_opts(client, "q", 1, &read, &reply);
    assert_true(rc == DENGINE_ERR_IO || rc == DENGINE_ERR_TIMEOUT);
    assert_non_null(reply.message);
    assert_non_null(strstr(reply.message, "gave up after"));
    dengine_reply_free(&reply);
    dengine_client_close(client);
  }
}

typedef struct client_waiter {
  waiter w;
  int calls;
  int failures;
  int shutting_down;
  char value[8];
} client_waiter;

static void on_client_reply(void* ctx, int status, const dengine_reply* reply) {
  client_waiter* c = ctx;
  pthread_mutex_lock(&c->w.mutex);
  if (status == DENGINE_ERR_SHUTTING_DOWN) {
    c->shutting_down++;
  } else if (status != DENGINE_OK) {
    c->failures++;
  } else if (reply->len > 0 && reply->len < sizeof c->value) {
    memcpy(c->value, reply->data, reply->len);
  }
  c->calls++;
  pthread_cond_signal(&c->w.cond);
  pthread_mutex_unlock(&c->w.mutex);
}

static void wait_calls(client_waiter* c, int n) {
  pthread_mutex_lock(&c->w.mutex);
  while (c->calls < n) pthread_cond_wait(&c->w.cond, &c->w.mutex);
  pthread_mutex_unlock(&c->w.mutex);
}

static void client_async_calls_complete_in_order(void** state) {
  single_node n;
  dengine_client* client = NULL;
  uint8_t* put = NULL;
  uint8_t* get = NULL;
  size_t put_len = 0, get_len = 0;
  client_waiter c;
  dengine_read_options bad;
  int i;
  (void)state;
  start_single_node(&n);
  memset(&c, 0, sizeof c);
  waiter_init(&c.w);
  assert_int_equal(dengine_client_open(n.client_address, 0, &client),
                   DENGINE_OK);
  assert_int_equal(dengine_kv_encode_put("q", 1, "v1", 2, 0, &put, &put_len),
                   DENGINE_OK);
  assert_int_equal(dengine_kv_encode_get("q", 1, &get, &get_len), DENGINE_OK);

  /* A write then a read, queued together: they run in order. */
  assert_int_equal(dengine_client_propose_opts_async(client, put, put_len, NULL,
                                                     on_client_reply, &c),
                   DENGINE_OK);
  assert_int_equal(dengine_client_read_opts_async(client, get, get_len, NULL,
                                                  on_client_reply, &c),
                   DENGINE_OK);
  wait_calls(&c, 2);
  assert_int_equal(c.failures, 0);
  assert_int_equal(c.calls, 2);
  {
    /* The answer is the encoded read answer: decode it. */
    dengine_reply reply;
    dengine_kv_items items;
    assert_int_equal(
        dengine_client_read_opts(client, get, get_len, NULL, &reply),
        DENGINE_OK);
    assert_int_equal(
        dengine_kv_decode_read(get, get_len, reply.data, reply.len, &items),
        DENGINE_OK);
    assert_memory_equal(items.items[0].value, "v1", 2);
    dengine_kv_items_free(&items);
    dengine_reply_free(&reply);
  }

  /* Bad options reach done, before the call returns. */
  memset(&bad, 0, sizeof bad);
  bad.version = 7;
  bad.struct_size = sizeof bad;
  assert_int_equal(dengine_client_read_opts_async(client, get, get_len, &bad,
                                                  on_client_reply, &c),
                   DENGINE_OK);
  assert_int_equal(c.calls, 3);
  assert_int_equal(c.failures, 1);
  assert_int_equal(
      dengine_client_read_opts_async(client, get, get_len, NULL, NULL, NULL),
      DENGINE_ERR_INVALID_ARGUMENT);

  /* Closing with calls queued ends every one of them exactly once. */
  for (i = 0; i < 20; ++i) {
    assert_int_equal(dengine_client_propose_opts_async(
                         client, put, put_len, NULL, on_client_reply, &c),
                     DENGINE_OK);
  }
  dengine_client_close(client);
  assert_int_equal(c.calls, 23);
  assert_int_equal(c.failures, 1);
  dengine_free(put);
  dengine_free(get);
  stop_single_node(&n);
}

/* What one async admin call reported. */
typedef struct admin_call {
  waiter w;
  uint64_t index;
  uint64_t id;
  int role;
  size_t members;
} admin_call;

static void on_admin(void* ctx, int status, const dengine_reply* reply) {
  admin_call* a = ctx;
  pthread_mutex_lock(&a->w.mutex);
  a->w.status = status;
  a->index = reply->index;
  if (reply->message != NULL) {
    snprintf(a->w.message, sizeof a->w.message, "%s", reply->message);
  }
  a->w.done = 1;
  pthread_cond_signal(&a->w.cond);
  pthread_mutex_unlock(&a->w.mutex);
}

static void on_status(void* ctx, int status, const dengine_status* view,
                      const char* message) {
  admin_call* a = ctx;
  pthread_mutex_lock(&a->w.mutex);
  a->w.status = status;
  if (view != NULL) {
    a->id = view->id;
    a->role = view->role;
    a->members = view->member_count;
  }
  if (message != NULL) {
    snprintf(a->w.message, sizeof a->w.message, "%s", message);
  }
  a->w.done = 1;
  pthread_cond_signal(&a->w.cond);
  pthread_mutex_unlock(&a->w.mutex);
}

/* Status, snapshot and membership have async client forms whose replies
 * carry the error's message, so no dengine_last_error() is needed. */
static void client_async_status_and_membership(void** state) {
  single_node n;
  dengine_client* client = NULL;
  admin_call a;
  (void)state;
  start_single_node(&n);
  assert_int_equal(dengine_client_open(n.client_address, 0, &client),
                   DENGINE_OK);
  assert_int_equal(dengine_client_put(client, "k", 1, "v", 1), DENGINE_OK);

  waiter_init(&a.w);
  assert_int_equal(dengine_client_status_async(client, on_status, &a),
                   DENGINE_OK);
  waiter_wait(&a.w);
  assert_int_equal(a.w.status, DENGINE_OK);
  assert_int_equal(a.id, 1);
  assert_int_equal(a.role, DENGINE_ROLE_LEADER);
  assert_int_equal(a.members, 1);

  waiter_init(&a.w);
  assert_int_equal(dengine_client_snapshot_async(client, on_admin, &a),
                   DENGINE_OK);
  waiter_wait(&a.w);
  assert_int_equal(a.w.status, DENGINE_OK);
  assert_true(a.index >= 2); /* the leader's first entry, then the put */

  /* Promoting a node the cluster does not have fails with a message. */
  waiter_init(&a.w);
  assert_int_equal(dengine_client_promote_async(client, 99, on_admin, &a),
                   DENGINE_OK);
  waiter_wait(&a.w);
  assert_int_not_equal(a.w.status, DENGINE_OK);
  assert_true(strlen(a.w.message) > 0);

  /* Removing one it does not have, too. */
  waiter_init(&a.w);
  assert_int_equal(dengine_client_remove_async(client, 99, on_admin, &a),
                   DENGINE_OK);
  waiter_wait(&a.w);
  assert_int_not_equal(a.w.status, DENGINE_OK);
  assert_true(strlen(a.w.message) > 0);

  /* A learner added, then promoted once it has caught up (BUSY before). */
  waiter_init(&a.w);
  assert_int_equal(
      dengine_client_add_learner_async(client, 2, "127.0.0.1:1", on_admin, &a),
      DENGINE_OK);
  waiter_wait(&a.w);
  assert_int_equal(a.w.status, DENGINE_OK);
  waiter_init(&a.w);
  assert_int_equal(dengine_client_status_async(client, on_status, &a),
                   DENGINE_OK);
  waiter_wait(&a.w);
  assert_int_equal(a.members, 2);

  /* Bad arguments reach done before the call returns. */
  waiter_init(&a.w);
  assert_int_equal(
      dengine_client_add_learner_async(client, 3, NULL, on_admin, &a),
      DENGINE_OK);
  assert_int_equal(a.w.done, 1);
  assert_int_equal(a.w.status, DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(a.w.message, "address"));
  assert_int_equal(dengine_client_status_async(client, NULL, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_client_snapshot_async(NULL, on_admin, &a),
                   DENGINE_ERR_INVALID_ARGUMENT);

  dengine_client_close(client);
  stop_single_node(&n);
}

/* KV-flagged bytes never reach an application machine: the node (and,
 * through a client, the server's node) refuses them, while the same bytes
 * unflagged are the machine's own business. */
static void kv_flagged_requests_are_refused_by_an_application_machine(
    void** state) {
  single_node n;
  char* machine_dir = temp_dir_create();
  dengine_state_machine counter;
  dengine_client* client = NULL;
  dengine_write_options write;
  dengine_read_options read;
  dengine_reply reply;
  uint8_t* put = NULL;
  uint8_t* get = NULL;
  size_t put_len = 0, get_len = 0;
  (void)state;
  assert_int_equal(counter_machine_open(machine_dir, NULL, &counter),
                   DENGINE_OK);
  start_node_with(&n, &counter);
  assert_int_equal(dengine_kv_encode_put("k", 1, "v", 1, 0, &put, &put_len),
                   DENGINE_OK);
  assert_int_equal(dengine_kv_encode_get("k", 1, &get, &get_len), DENGINE_OK);
  memset(&write, 0, sizeof write);
  write.version = DENGINE_WRITE_OPTIONS_VERSION;
  write.struct_size = sizeof write;
  write.flags = DENGINE_REQUEST_KV;
  memset(&read, 0, sizeof read);
  read.version = DENGINE_READ_OPTIONS_VERSION;
  read.struct_size = sizeof read;
  read.flags = DENGINE_REQUEST_KV;

  assert_int_equal(
      dengine_node_propose_opts(n.node, put, put_len, &write, &reply),
      DENGINE_ERR_UNSUPPORTED);
  assert_non_null(strstr(reply.message, "built-in KV machine"));
  dengine_reply_free(&reply);
  assert_int_equal(dengine_node_read_opts(n.node, get, get_len, &read, &reply),
                   DENGINE_ERR_UNSUPPORTED);
  dengine_reply_free(&reply);

  assert_int_equal(dengine_client_open(n.client_address, 0, &client),
                   DENGINE_OK);
  assert_int_equal(
      dengine_client_propose_opts(client, put, put_len, &write, &reply),
      DENGINE_ERR_UNSUPPORTED);
  assert_non_null(reply.message);
  dengine_reply_free(&reply);
  assert_int_equal(
      dengine_client_read_opts(client, get, get_len, &read, &reply),
      DENGINE_ERR_UNSUPPORTED);
  dengine_reply_free(&reply);
  /* Unflagged, a read is the machine's: the counter answers 8 bytes. */
  read.flags = 0;
  assert_int_equal(
      dengine_client_read_opts(client, get, get_len, &read, &reply),
      DENGINE_OK);
  assert_int_equal(reply.len, 8);
  dengine_reply_free(&reply);
  /* Unknown flag bits are refused. */
  write.flags = 4;
  assert_int_equal(
      dengine_client_propose_opts(client, put, put_len, &write, &reply),
      DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(reply.message, "flags"));
  dengine_reply_free(&reply);
  dengine_client_close(client);
  dengine_free(put);
  dengine_free(get);
  stop_single_node(&n);
  counter_machine_close(&counter);
  temp_dir_remove(machine_dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_kv_operation_through_the_codec),
      cmocka_unit_test(codec_refuses_bad_input),
      cmocka_unit_test(async_writes_and_options_checks),
      cmocka_unit_test(a_client_runs_the_codec_with_per_call_timeouts),
      cmocka_unit_test(client_async_calls_complete_in_order),
      cmocka_unit_test(client_async_status_and_membership),
      cmocka_unit_test(
          kv_flagged_requests_are_refused_by_an_application_machine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
