#define _POSIX_C_SOURCE 200809L
/* The node API from C: configuration errors are caught with the field
 * named; a single node serves every KV helper; a session opened on a node
 * applies a retried write once and refuses an id it never gave out; three
 * nodes in this process run the plain-C counter machine, with blocking and
 * async proposals, reads at each consistency on followers, redirects, a
 * leader callback, snapshots, leadership transfer and membership changes;
 * stop from a completion is refused and close from one finishes in the
 * background. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "counter_machine.h"
#include "dengine.h"
#include "ports.h"
#include "temp_dir.h"

enum { TIMEOUT_MS = 5000 };

static void sleep_ms(long ms) {
  struct timespec t;
  t.tv_sec = ms / 1000;
  t.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&t, NULL);
}

static uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

static void put_u64(uint8_t* p, uint64_t v) {
  int i;
  for (i = 0; i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

/* Polls the node's status for up to 20 s until it names a leader. */
static uint64_t wait_for_leader(dengine_node* node) {
  int i;
  for (i = 0; i < 2000; ++i) {
    dengine_status s;
    assert_int_equal(dengine_node_status(node, &s), DENGINE_OK);
    dengine_status_free(&s);
    if (s.leader_id != 0) return s.leader_id;
    sleep_ms(10);
  }
  fail_msg("no leader elected");
  return 0;
}

static dengine_config* base_config(uint64_t id, const char* dir, int port) {
  dengine_config* config = NULL;
  char address[64];
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, id), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, dir), DENGINE_OK);
  snprintf(address, sizeof address, "127.0.0.1:%d", port);
  assert_int_equal(dengine_config_set_listen_address(config, address),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_timing(config, 20, 10, 2), DENGINE_OK);
  return config;
}

static void bad_configuration_is_refused(void** state) {
  dengine_config* config = NULL;
  dengine_node* node = NULL;
  uint64_t voters[] = {2};
  (void)state;
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 0),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "id: must be at least 1"));
  assert_int_equal(dengine_config_set_listen_address(config, "nowhere"),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_config_add_peer(config, 2, "127.0.0.1:0"),
                   DENGINE_ERR_INVALID_ARGUMENT);
  {
    /* An address dengine_status could not hold whole is refused, not cut. */
    char long_address[200];
    memset(long_address, 'a', sizeof long_address);
    strcpy(long_address + 150, ".example:7000");
    assert_int_equal(dengine_config_add_peer(config, 2, long_address),
                     DENGINE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(dengine_last_error(), "longer than 127 bytes"));
  }
  assert_int_equal(dengine_config_set_timing(config, 10, 2, 2),
                   DENGINE_ERR_INVALID_ARGUMENT);
  /* No node id, no data dir: the whole is checked at start. */
  assert_int_equal(dengine_node_start(config, &node),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_null(node);
  assert_int_equal(dengine_config_set_node_id(config, 1), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, "/tmp/unused"),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_initial_voters(config, voters, 1),
                   DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &node),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "initial_voters"));
  dengine_config_free(config);
  assert_int_equal(dengine_node_propose(NULL, "x", 1, NULL, 10, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
}

static void one_node_serves_every_kv_helper(void** state) {
  char* dir = temp_dir_create();
  uint64_t voter = 1;
  dengine_config* config = base_config(1, dir, 0);
  dengine_node* node = NULL;
  uint8_t* value = NULL;
  size_t value_len = 0;
  int existed = 0, swapped = 0;
  dengine_kv_items items;
  const void* keys[3];
  size_t key_lens[3];
  dengine_status status;
  (void)state;
  assert_int_equal(dengine_config_set_initial_voters(config, &voter, 1),
                   DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &node), DENGINE_OK);
  dengine_config_free(config);
  assert_int_equal(wait_for_leader(node), 1);

  assert_int_equal(dengine_kv_put(node, "a", 1, "1", 1, NULL, TIMEOUT_MS),
                   DENGINE_OK);
  assert_int_equal(dengine_kv_put(node, "ab", 2, "2", 1, NULL, TIMEOUT_MS),
                   DENGINE_OK);
  assert_int_equal(dengine_kv_get(node, "a", 1, DENGINE_READ_LEASE, TIMEOUT_MS,
                                  &value, &value_len),
                   DENGINE_OK);
  assert_int_equal(value_len, 1);
  assert_memory_equal(value, "1", 1);
  dengine_free(value);
  assert_int_equal(
      dengine_kv_cas(node, "a", 1, "0", 1, "9", 1, NULL, TIMEOUT_MS, &swapped),
      DENGINE_OK);
  assert_int_equal(swapped, 0);
  assert_int_equal(dengine_kv_cas(node, "new", 3, NULL, 0, "n", 1, NULL,
                                  TIMEOUT_MS, &swapped),
                   DENGINE_OK);
  assert_int_equal(swapped, 1);

  keys[0] = "a";
  key_lens[0] = 1;
  keys[1] = "missing";
  key_lens[1] = 7;
  keys[2] = "new";
  key_lens[2] = 3;
  assert_int_equal(
      dengine_kv_get_multi(node, keys, key_lens, 3, DENGINE_READ_DEFAULT,
                           TIMEOUT_MS, &items),
      DENGINE_OK);
  assert_int_equal(items.count, 3);
  assert_int_equal(items.items[0].found, 1);
  assert_int_equal(items.items[1].found, 0);
  assert_memory_equal(items.items[2].value, "n", 1);
  dengine_kv_items_free(&items);

  assert_int_equal(
      dengine_kv_scan_prefix(node, "a", 1, 10, DENGINE_READ_LINEARIZABLE,
                             TIMEOUT_MS, &items),
      DENGINE_OK);
  assert_int_equal(items.count, 2);
  assert_memory_equal(items.items[1].key, "ab", 2);
  dengine_kv_items_free(&items);

  assert_int_equal(dengine_kv_delete(node, "a", 1, NULL, TIMEOUT_MS, &existed),
                   DENGINE_OK);
  assert_int_equal(existed, 1);
  assert_int_equal(dengine_kv_get(node, "a", 1, DENGINE_READ_EVENTUAL,
                                  TIMEOUT_MS, &value, &value_len),
                   DENGINE_ERR_NOT_FOUND);
  assert_int_equal(dengine_kv_put_ttl(node, "t", 1, "v", 1, 0, NULL, 100),
                   DENGINE_ERR_INVALID_ARGUMENT);

  assert_int_equal(dengine_node_status(node, &status), DENGINE_OK);
  assert_int_equal(status.role, DENGINE_ROLE_LEADER);
  assert_int_equal(status.member_count, 1);
  assert_int_equal(status.members[0].voter, 1);
  assert_true(status.commit_index >= 6);
  dengine_status_free(&status);

  assert_int_equal(dengine_node_stop(node), DENGINE_OK);
  assert_int_equal(dengine_kv_put(node, "late", 4, "x", 1, NULL, TIMEOUT_MS),
                   DENGINE_ERR_SHUTTING_DOWN);
  dengine_node_close(node);
  temp_dir_remove(dir);
}

/* ----- three counter nodes ----- */

typedef struct cluster {
  char* dir;
  int ports[4];
  dengine_state_machine machines[4];
  dengine_node* nodes[4];
} cluster;

static void start_counter_node(cluster* c, uint64_t id, int initial) {
  char path[512];
  char address[64];
  uint64_t voters[] = {1, 2, 3};
  uint64_t peer;
  dengine_config* config;
  snprintf(path, sizeof path, "%s/machine%llu", c->dir, (unsigned long long)id);
  if (access(path, F_OK) != 0) assert_int_equal(mkdir(path, 0755), 0);
  assert_int_equal(counter_machine_open(path, NULL, &c->machines[id]),
                   DENGINE_OK);
  snprintf(path, sizeof path, "%s/node%llu", c->dir, (unsigned long long)id);
  config = base_config(id, path, c->ports[id]);
  for (peer = 1; peer <= 3; ++peer) {
    if (peer == id) continue;
    snprintf(address, sizeof address, "127.0.0.1:%d", c->ports[peer]);
    assert_int_equal(dengine_config_add_peer(config, peer, address),
                     DENGINE_OK);
  }
  if (initial) {
    assert_int_equal(dengine_config_set_initial_voters(config, voters, 3),
                     DENGINE_OK);
  }
  assert_int_equal(dengine_config_set_state_machine(config, &c->machines[id]),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_snapshot_policy(config, 0, 0),
                   DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &c->nodes[id]), DENGINE_OK);
  dengine_config_free(config);
}

static void stop_counter_node(cluster* c, uint64_t id) {
  assert_int_equal(dengine_node_stop(c->nodes[id]), DENGINE_OK);
  dengine_node_close(c->nodes[id]);
  c->nodes[id] = NULL;
  counter_machine_close(&c->machines[id]);
}

static int propose_add(dengine_node* node, uint64_t amount, uint64_t* total) {
  uint8_t command[8];
  dengine_reply reply;
  int status;
  put_u64(command, amount);
  status = dengine_node_propose(node, command, sizeof command, NULL, TIMEOUT_MS,
                                &reply);
  if (status == DENGINE_OK) {
    assert_int_equal(reply.len, 8);
    if (total != NULL) *total = get_u64(reply.data);
    assert_true(reply.index > 0);
  } else if (status == DENGINE_ERR_NOT_LEADER) {
    assert_non_null(reply.message);
  }
  dengine_reply_free(&reply);
  return status;
}

static uint64_t read_counter(dengine_node* node, int consistency) {
  dengine_reply reply;
  uint64_t value;
  assert_int_equal(
      dengine_node_read(node, "", 0, consistency, TIMEOUT_MS, &reply),
      DENGINE_OK);
  assert_int_equal(reply.len, 8);
  value = get_u64(reply.data);
  dengine_reply_free(&reply);
  return value;
}

typedef struct opened_session {
  pthread_mutex_t mutex;
  pthread_cond_t done;
  int finished;
  int status;
  uint64_t client_id;
} opened_session;

static void on_session_opened(void* ctx, int status,
                              const dengine_reply* reply) {
  opened_session* o = ctx;
  pthread_mutex_lock(&o->mutex);
  o->status = status;
  o->client_id = reply->index;
  o->finished = 1;
  pthread_cond_signal(&o->done);
  pthread_mutex_unlock(&o->mutex);
}

/* Proposes "add amount" in `session`; *reply is the caller's to free. */
static int propose_in_session(dengine_node* node, uint64_t amount,
                              const dengine_session* session,
                              dengine_reply* reply) {
  uint8_t command[8];
  put_u64(command, amount);
  return dengine_node_propose(node, command, sizeof command, session,
                              TIMEOUT_MS, reply);
}

static void a_session_applies_a_retried_write_once(void** state) {
  char* dir = temp_dir_create();
  char path[512];
  uint64_t voter = 1, client_id = 0;
  dengine_state_machine machine;
  dengine_config* config;
  dengine_node* node = NULL;
  dengine_session session;
  dengine_reply reply;
  opened_session async;
  (void)state;
  snprintf(path, sizeof path, "%s/machine", dir);
  assert_int_equal(mkdir(path, 0755), 0);
  assert_int_equal(counter_machine_open(path, NULL, &machine), DENGINE_OK);
  snprintf(path, sizeof path, "%s/node", dir);
  config = base_config(1, path, 0);
  assert_int_equal(dengine_config_set_initial_voters(config, &voter, 1),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_state_machine(config, &machine),
                   DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &node), DENGINE_OK);
  dengine_config_free(config);
  assert_int_equal(wait_for_leader(node), 1);

  assert_int_equal(dengine_node_open_session(node, TIMEOUT_MS, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_node_open_session(node, TIMEOUT_MS, &client_id),
                   DENGINE_OK);
  assert_true(client_id > 0);

  session.client_id = client_id;
  session.seq = 1;
  session.acked_seq = 0;
  assert_int_equal(propose_in_session(node, 5, &session, &reply), DENGINE_OK);
  assert_int_equal(reply.duplicate, 0);
  assert_int_equal(get_u64(reply.data), 5);
  dengine_reply_free(&reply);
  /* The retry of seq 1 (its reply lost, say) is answered with the first
   * result and not applied again. */
  assert_int_equal(propose_in_session(node, 5, &session, &reply), DENGINE_OK);
  assert_int_equal(reply.duplicate, 1);
  assert_int_equal(reply.len, 8);
  assert_int_equal(get_u64(reply.data), 5);
  dengine_reply_free(&reply);
  assert_int_equal(read_counter(node, DENGINE_READ_LINEARIZABLE), 5);
  session.seq = 2;
  session.acked_seq = 1;
  assert_int_equal(propose_in_session(node, 2, &session, &reply), DENGINE_OK);
  assert_int_equal(get_u64(reply.data), 7);
  dengine_reply_free(&reply);

  /* An id the cluster never gave out is refused, and nothing applies. */
  session.client_id = client_id + 1000;
  session.seq = 1;
  session.acked_seq = 0;
  assert_int_equal(propose_in_session(node, 100, &session, &reply),
                   DENGINE_ERR_SESSION_EXPIRED);
  assert_non_null(strstr(dengine_last_error(), "open a new session"));
  dengine_reply_free(&reply);
  assert_int_equal(read_counter(node, DENGINE_READ_LINEARIZABLE), 7);
  assert_string_equal(dengine_strerror(DENGINE_ERR_SESSION_EXPIRED),
                      "session expired");

  /* The async form: reply->index is the new id, above the first. */
  pthread_mutex_init(&async.mutex, NULL);
  pthread_cond_init(&async.done, NULL);
  async.finished = 0;
  assert_int_equal(dengine_node_open_session_async(node, TIMEOUT_MS,
                                                   on_session_opened, &async),
                   DENGINE_OK);
  pthread_mutex_lock(&async.mutex);
  while (!async.finished) pthread_cond_wait(&async.done, &async.mutex);
  pthread_mutex_unlock(&async.mutex);
  assert_int_equal(async.status, DENGINE_OK);
  assert_true(async.client_id > client_id);
  assert_int_equal(
      dengine_node_open_session_async(node, TIMEOUT_MS, NULL, NULL),
      DENGINE_ERR_INVALID_ARGUMENT);
  pthread_mutex_destroy(&async.mutex);
  pthread_cond_destroy(&async.done);

  assert_int_equal(dengine_node_stop(node), DENGINE_OK);
  dengine_node_close(node);
  counter_machine_close(&machine);
  temp_dir_remove(dir);
}

typedef struct completion {
  pthread_mutex_t mutex;
  pthread_cond_t done;
  int remaining;
  int failures;
  uint64_t max_total;
} completion;

static void on_proposed(void* ctx, int status, const dengine_reply* reply) {
  completion* c = ctx;
  pthread_mutex_lock(&c->mutex);
  if (status != DENGINE_OK || reply->len != 8) {
    c->failures++;
  } else if (get_u64(reply->data) > c->max_total) {
    c->max_total = get_u64(reply->data);
  }
  if (--c->remaining == 0) pthread_cond_signal(&c->done);
  pthread_mutex_unlock(&c->mutex);
}

typedef struct leader_log {
  pthread_mutex_t mutex;
  int calls;
  uint64_t last_leader;
} leader_log;

static void on_leader(void* ctx, uint64_t leader, uint64_t term) {
  leader_log* log = ctx;
  (void)term;
  pthread_mutex_lock(&log->mutex);
  log->calls++;
  log->last_leader = leader;
  pthread_mutex_unlock(&log->mutex);
}

typedef struct closer {
  dengine_node* node;
  pthread_mutex_t mutex;
  pthread_cond_t done;
  int finished;
  int stop_status;
  char stop_error[256];
} closer;

/* A completion on the node's own thread: stop is refused (it would wait for
 * itself), close returns at once and the node stops in the background. */
static void stop_and_close_here(void* ctx, int status,
                                const dengine_reply* reply) {
  closer* c = ctx;
  (void)status;
  (void)reply;
  c->stop_status = dengine_node_stop(c->node);
  snprintf(c->stop_error, sizeof c->stop_error, "%s", dengine_last_error());
  dengine_node_close(c->node);
  pthread_mutex_lock(&c->mutex);
  c->finished = 1;
  pthread_cond_signal(&c->done);
  pthread_mutex_unlock(&c->mutex);
}

static void stop_and_close_from_a_callback(void** state) {
  char* dir = temp_dir_create();
  uint64_t voter = 1;
  dengine_config* config = base_config(1, dir, 0);
  closer c;
  uint8_t* value = NULL;
  size_t value_len = 0;
  int attempt, rc = DENGINE_ERR_IO;
  (void)state;
  memset(&c, 0, sizeof c);
  pthread_mutex_init(&c.mutex, NULL);
  pthread_cond_init(&c.done, NULL);
  assert_int_equal(dengine_config_set_initial_voters(config, &voter, 1),
                   DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &c.node), DENGINE_OK);
  assert_int_equal(wait_for_leader(c.node), 1);
  assert_int_equal(dengine_kv_put(c.node, "k", 1, "v", 1, NULL, TIMEOUT_MS),
                   DENGINE_OK);
  assert_int_equal(
      dengine_node_snapshot_async(c.node, TIMEOUT_MS, stop_and_close_here, &c),
      DENGINE_OK);
  pthread_mutex_lock(&c.mutex);
  while (!c.finished) pthread_cond_wait(&c.done, &c.mutex);
  pthread_mutex_unlock(&c.mutex);
  assert_int_equal(c.stop_status, DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(c.stop_error, "would wait for itself"));

  /* The data directory opens again once the background stop is done. */
  for (attempt = 0; attempt < 2000 && rc != DENGINE_OK; ++attempt) {
    rc = dengine_node_start(config, &c.node);
    if (rc != DENGINE_OK) sleep_ms(10);
  }
  assert_int_equal(rc, DENGINE_OK);
  dengine_config_free(config);
  assert_int_equal(wait_for_leader(c.node), 1);
  assert_int_equal(dengine_kv_get(c.node, "k", 1, DENGINE_READ_LINEARIZABLE,
                                  TIMEOUT_MS, &value, &value_len),
                   DENGINE_OK);
  assert_int_equal(value_len, 1);
  assert_memory_equal(value, "v", 1);
  dengine_free(value);
  assert_int_equal(dengine_node_stop(c.node), DENGINE_OK);
  dengine_node_close(c.node);
  temp_dir_remove(dir);
}

static void three_counter_nodes(void** state) {
  cluster c;
  uint64_t id, leader, follower, total = 0, snapshot_index = 0;
  completion async;
  leader_log log;
  dengine_reply reply;
  uint8_t one[8];
  int i;
  (void)state;
  memset(&c, 0, sizeof c);
  c.dir = temp_dir_create();
  for (id = 1; id <= 3; ++id) c.ports[id] = free_port();
  for (id = 1; id <= 3; ++id) start_counter_node(&c, id, 1);
  leader = wait_for_leader(c.nodes[1]);
  follower = leader == 1 ? 2 : 1;

  pthread_mutex_init(&log.mutex, NULL);
  log.calls = 0;
  log.last_leader = 0;
  assert_int_equal(
      dengine_node_set_leader_callback(c.nodes[follower], on_leader, &log),
      DENGINE_OK);

  for (i = 1; i <= 10; ++i) {
    assert_int_equal(propose_add(c.nodes[leader], 1, &total), DENGINE_OK);
  }
  assert_int_equal(total, 10);
  /* A follower refuses writes and names the leader. */
  put_u64(one, 1);
  assert_int_equal(
      dengine_node_propose(c.nodes[follower], one, 8, NULL, TIMEOUT_MS, &reply),
      DENGINE_ERR_NOT_LEADER);
  assert_int_equal(reply.leader_id, leader);
  assert_non_null(reply.leader_address);
  dengine_reply_free(&reply);
  /* Reads on a follower: linearizable sees everything acknowledged. */
  assert_int_equal(read_counter(c.nodes[follower], DENGINE_READ_LINEARIZABLE),
                   10);
  assert_int_equal(read_counter(c.nodes[leader], DENGINE_READ_LEASE), 10);

  /* Async proposals, many in flight. */
  pthread_mutex_init(&async.mutex, NULL);
  pthread_cond_init(&async.done, NULL);
  async.remaining = 50;
  async.failures = 0;
  async.max_total = 0;
  for (i = 0; i < 50; ++i) {
    assert_int_equal(
        dengine_node_propose_async(c.nodes[leader], one, 8, NULL, TIMEOUT_MS,
                                   on_proposed, &async),
        DENGINE_OK);
  }
  pthread_mutex_lock(&async.mutex);
  while (async.remaining > 0) pthread_cond_wait(&async.done, &async.mutex);
  pthread_mutex_unlock(&async.mutex);
  assert_int_equal(async.failures, 0);
  assert_int_equal(async.max_total, 60);

  assert_int_equal(
      dengine_node_snapshot(c.nodes[leader], TIMEOUT_MS, &snapshot_index),
      DENGINE_OK);
  assert_true(snapshot_index >= 60);

  /* Leadership moves to the follower, which then accepts writes. */
  assert_int_equal(
      dengine_node_transfer_leadership(c.nodes[leader], follower, TIMEOUT_MS),
      DENGINE_OK);
  assert_int_equal(propose_add(c.nodes[follower], 5, &total), DENGINE_OK);
  assert_int_equal(total, 65);
  pthread_mutex_lock(&log.mutex);
  assert_true(log.calls >= 1);
  assert_int_equal(log.last_leader, follower);
  pthread_mutex_unlock(&log.mutex);

  /* Remove the old leader, then every remaining node still agrees. */
  assert_int_equal(dengine_node_remove(c.nodes[follower], leader, TIMEOUT_MS),
                   DENGINE_OK);
  assert_int_equal(
      dengine_node_set_leader_callback(c.nodes[follower], NULL, NULL),
      DENGINE_OK);
  for (id = 1; id <= 3; ++id) stop_counter_node(&c, id);
  pthread_mutex_destroy(&log.mutex);
  pthread_mutex_destroy(&async.mutex);
  pthread_cond_destroy(&async.done);
  temp_dir_remove(c.dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bad_configuration_is_refused),
      cmocka_unit_test(one_node_serves_every_kv_helper),
      cmocka_unit_test(a_session_applies_a_retried_write_once),
      cmocka_unit_test(stop_and_close_from_a_callback),
      cmocka_unit_test(three_counter_nodes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
