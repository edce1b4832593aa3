/* A replicated counter in plain C on a 3-node dengine cluster in one
 * process. The state machine adds each command (8 bytes, little-endian) to
 * a counter kept in one file with the last applied index, replaced
 * atomically after every chunk. The program starts three nodes on
 * loopback, proposes increments to the leader, reads the counter on a
 * follower at linearizable consistency, takes a snapshot, hands leadership
 * to another node and proposes again there, then stops everything.
 *
 * Build with nothing but pkg-config: see the Makefile. Run: ./counter
 * [port base, default 17100]. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dengine.h>

#define STATE_FILE "counter.state"
#define PATH_CAP 512

typedef struct counter {
  char dir[PATH_CAP];
  pthread_mutex_t mutex; /* read runs beside apply_chunk */
  uint64_t value;
  uint64_t last_applied;
} counter;

static void put_u64(uint8_t* p, uint64_t v) {
  int i;
  for (i = 0; i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

/* Writes {value, last_applied} to dir/name durably and atomically. */
static int save(const char* dir, const char* name, uint64_t value,
                uint64_t last_applied) {
  char tmp[PATH_CAP + 32], path[PATH_CAP + 32];
  uint8_t bytes[16];
  int fd, ok;
  snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  put_u64(bytes, value);
  put_u64(bytes + 8, last_applied);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return DENGINE_ERR_IO;
  ok =
      write(fd, bytes, sizeof bytes) == (ssize_t)sizeof bytes && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp, path) != 0) return DENGINE_ERR_IO;
  fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  return DENGINE_OK;
}

static int load(const char* path, uint64_t* value, uint64_t* last_applied) {
  uint8_t bytes[16];
  int fd = open(path, O_RDONLY);
  ssize_t got;
  *value = 0;
  *last_applied = 0;
  if (fd < 0) return errno == ENOENT ? DENGINE_OK : DENGINE_ERR_IO;
  got = read(fd, bytes, sizeof bytes);
  close(fd);
  if (got != (ssize_t)sizeof bytes) return DENGINE_ERR_CORRUPTION;
  *value = get_u64(bytes);
  *last_applied = get_u64(bytes + 8);
  return DENGINE_OK;
}

static int counter_apply(void* user, const dengine_entry* entries, size_t count,
                         dengine_results* results) {
  counter* c = user;
  uint64_t value = c->value, last = c->last_applied;
  uint8_t answer[8];
  size_t i;
  int rc;
  for (i = 0; i < count; ++i) {
    if (entries[i].index <= c->last_applied) continue; /* re-delivered */
    last = entries[i].index;
    if (entries[i].kind != DENGINE_ENTRY_NORMAL || entries[i].len != 8) {
      continue;
    }
    value += get_u64(entries[i].data);
    put_u64(answer, value);
    rc = dengine_results_set(results, i, 0, answer, sizeof answer);
    if (rc != DENGINE_OK) return rc;
  }
  rc = save(c->dir, STATE_FILE, value, last); /* all or nothing */
  if (rc != DENGINE_OK) return rc;
  pthread_mutex_lock(&c->mutex);
  c->value = value;
  c->last_applied = last;
  pthread_mutex_unlock(&c->mutex);
  return DENGINE_OK;
}

static uint64_t counter_last_applied(void* user) {
  counter* c = user;
  uint64_t last;
  pthread_mutex_lock(&c->mutex);
  last = c->last_applied;
  pthread_mutex_unlock(&c->mutex);
  return last;
}

static int counter_read(void* user, const uint8_t* query, size_t len,
                        dengine_read_result* out) {
  counter* c = user;
  uint8_t answer[8];
  (void)query;
  (void)len;
  pthread_mutex_lock(&c->mutex);
  put_u64(answer, c->value);
  pthread_mutex_unlock(&c->mutex);
  return dengine_read_result_set(out, answer, sizeof answer);
}

static int counter_snapshot(void* user, const char* dir, uint64_t last_index) {
  counter* c = user;
  (void)last_index; /* the apply thread: no chunk runs meanwhile */
  return save(dir, STATE_FILE, c->value, c->last_applied);
}

static int counter_install(void* user, const char* dir,
                           const dengine_snapshot_meta* meta) {
  counter* c = user;
  char path[PATH_CAP + 32];
  uint64_t value, last;
  int rc;
  snprintf(path, sizeof path, "%s/%s", dir, STATE_FILE);
  rc = load(path, &value, &last);
  if (rc != DENGINE_OK) return rc;
  if (last != meta->last_index) return DENGINE_ERR_CORRUPTION;
  rc = save(c->dir, STATE_FILE, value, last);
  if (rc != DENGINE_OK) return rc;
  pthread_mutex_lock(&c->mutex);
  c->value = value;
  c->last_applied = last;
  pthread_mutex_unlock(&c->mutex);
  return DENGINE_OK;
}

static int counter_open(counter* c, const char* dir,
                        dengine_state_machine* out) {
  char path[PATH_CAP + 32];
  snprintf(c->dir, sizeof c->dir, "%s", dir);
  pthread_mutex_init(&c->mutex, NULL);
  snprintf(path, sizeof path, "%s/%s", dir, STATE_FILE);
  memset(out, 0, sizeof *out);
  out->version = DENGINE_STATE_MACHINE_VERSION;
  out->struct_size = sizeof *out;
  out->user = c;
  out->apply_chunk = counter_apply;
  out->last_applied = counter_last_applied;
  out->read = counter_read;
  out->generate_snapshot = counter_snapshot;
  out->install_snapshot = counter_install;
  return load(path, &c->value, &c->last_applied);
}

/* ---- the cluster ---- */

static void check(int rc, const char* what) {
  if (rc == DENGINE_OK) return;
  fprintf(stderr, "%s: %s\n", what, dengine_last_error());
  exit(1);
}

static void sleep_ms(long ms) {
  struct timespec t;
  t.tv_sec = ms / 1000;
  t.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&t, NULL);
}

static uint64_t leader_of(dengine_node* node) {
  int i;
  for (i = 0; i < 1000; ++i) {
    dengine_status s;
    check(dengine_node_status(node, &s), "status");
    dengine_status_free(&s);
    if (s.leader_id != 0) return s.leader_id;
    sleep_ms(10);
  }
  fprintf(stderr, "no leader elected\n");
  exit(1);
}

static uint64_t add(dengine_node* node, uint64_t amount) {
  uint8_t command[8];
  dengine_reply reply;
  uint64_t total;
  put_u64(command, amount);
  check(dengine_node_propose(node, command, sizeof command, NULL, 5000, &reply),
        "propose");
  total = get_u64(reply.data);
  dengine_reply_free(&reply);
  return total;
}

int main(int argc, char** argv) {
  int base = argc > 1 ? atoi(argv[1]) : 17100;
  char root[] = "/tmp/dengine-counter-XXXXXX";
  char dir[PATH_CAP], address[64];
  counter counters[4];
  dengine_state_machine machines[4];
  dengine_node* nodes[4] = {NULL};
  uint64_t voters[] = {1, 2, 3};
  uint64_t id, peer, leader, follower, total = 0, index = 0;
  dengine_reply reply;
  int i;

  if (mkdtemp(root) == NULL) return 1;
  for (id = 1; id <= 3; ++id) {
    dengine_config* config;
    snprintf(dir, sizeof dir, "%s/machine%d", root, (int)id);
    mkdir(dir, 0755);
    check(counter_open(&counters[id], dir, &machines[id]), "open counter");
    check(dengine_config_new(&config), "config");
    check(dengine_config_set_node_id(config, id), "node id");
    snprintf(dir, sizeof dir, "%s/node%d", root, (int)id);
    check(dengine_config_set_data_dir(config, dir), "data dir");
    snprintf(address, sizeof address, "127.0.0.1:%d", base + (int)id);
    check(dengine_config_set_listen_address(config, address), "listen");
    for (peer = 1; peer <= 3; ++peer) {
      if (peer == id) continue;
      snprintf(address, sizeof address, "127.0.0.1:%d", base + (int)peer);
      check(dengine_config_add_peer(config, peer, address), "peer");
    }
    check(dengine_config_set_initial_voters(config, voters, 3), "voters");
    check(dengine_config_set_state_machine(config, &machines[id]), "machine");
    check(dengine_node_start(config, &nodes[id]), "start");
    dengine_config_free(config);
  }

  leader = leader_of(nodes[1]);
  printf("leader: node %llu\n", (unsigned long long)leader);
  for (i = 1; i <= 100; ++i) total = add(nodes[leader], 1);
  printf("counter after 100 increments: %llu\n", (unsigned long long)total);

  follower = leader == 1 ? 2 : 1;
  check(dengine_node_read(nodes[follower], "", 0, DENGINE_READ_LINEARIZABLE,
                          5000, &reply),
        "read");
  printf("linearizable read on node %llu: %llu\n", (unsigned long long)follower,
         (unsigned long long)get_u64(reply.data));
  if (get_u64(reply.data) != total) return 1;
  dengine_reply_free(&reply);

  check(dengine_node_snapshot(nodes[leader], 5000, &index), "snapshot");
  printf("snapshot at index %llu\n", (unsigned long long)index);

  check(dengine_node_transfer_leadership(nodes[leader], follower, 5000),
        "transfer");
  total = add(nodes[follower], 10);
  printf("node %llu leads now; counter: %llu\n", (unsigned long long)follower,
         (unsigned long long)total);

  for (id = 1; id <= 3; ++id) {
    check(dengine_node_stop(nodes[id]), "stop");
    dengine_node_close(nodes[id]);
    pthread_mutex_destroy(&counters[id].mutex);
  }
  printf("stopped cleanly\n");
  return total == 110 ? 0 : 1;
}
