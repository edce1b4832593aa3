#define _POSIX_C_SOURCE 200809L

#include "counter_machine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_FILE "counter.state"
#define STATE_SIZE 16 /* counter, then last_applied; both little-endian */

typedef struct counter_machine {
  char* dir;
  counter_options options;
  pthread_mutex_t mutex; /* read runs on client threads, beside apply */
  uint64_t counter;
  uint64_t last_applied;
} counter_machine;

static void put_u64(uint8_t* out, uint64_t v) {
  int i;
  for (i = 0; i < 8; ++i) out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t* in) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; ++i) v |= (uint64_t)in[i] << (8 * i);
  return v;
}

static char* join_path(const char* dir, const char* name) {
  size_t len = strlen(dir) + 1 + strlen(name) + 1;
  char* path = malloc(len);
  if (path != NULL) snprintf(path, len, "%s/%s", dir, name);
  return path;
}

static int fsync_path(const char* path, int flags) {
  int fd = open(path, flags);
  int ok;
  if (fd < 0) return -1;
  ok = fsync(fd);
  close(fd);
  return ok;
}

/* Replaces dir/counter.state atomically and durably. */
static int write_state(const char* dir, uint64_t counter,
                       uint64_t last_applied) {
  uint8_t bytes[STATE_SIZE];
  char* tmp = join_path(dir, STATE_FILE ".tmp");
  char* path = join_path(dir, STATE_FILE);
  int status = DENGINE_ERR_IO;
  int fd;
  put_u64(bytes, counter);
  put_u64(bytes + 8, last_applied);
  if (tmp == NULL || path == NULL) goto done;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) goto done;
  if (write(fd, bytes, STATE_SIZE) != STATE_SIZE || fsync(fd) != 0) {
    close(fd);
    goto done;
  }
  close(fd);
  if (rename(tmp, path) != 0 || fsync_path(dir, O_RDONLY) != 0) goto done;
  status = DENGINE_OK;
done:
  free(tmp);
  free(path);
  return status;
}

/* Reads dir/counter.state; a missing file is the empty state. */
static int read_state(const char* dir, uint64_t* counter,
                      uint64_t* last_applied) {
  uint8_t bytes[STATE_SIZE + 1];
  char* path = join_path(dir, STATE_FILE);
  int status = DENGINE_ERR_IO;
  int fd;
  ssize_t got;
  if (path == NULL) return DENGINE_ERR_IO;
  fd = open(path, O_RDONLY);
  free(path);
  if (fd < 0) {
    if (errno != ENOENT) return DENGINE_ERR_IO;
    *counter = 0;
    *last_applied = 0;
    return DENGINE_OK;
  }
  got = read(fd, bytes, sizeof bytes);
  close(fd);
  if (got == STATE_SIZE) {
    *counter = get_u64(bytes);
    *last_applied = get_u64(bytes + 8);
    status = DENGINE_OK;
  } else if (got >= 0) {
    status = DENGINE_ERR_CORRUPTION;
  }
  return status;
}

static int counter_start(void* user) {
  counter_machine* m = user;
  return read_state(m->dir, &m->counter, &m->last_applied);
}

static int counter_apply_chunk(void* user, const dengine_entry* entries,
                               size_t count, dengine_results* results) {
  counter_machine* m = user;
  uint64_t counter = m->counter;
  uint64_t last_applied = m->last_applied;
  uint8_t answer[8];
  size_t i;
  int status;
  for (i = 0; i < count; ++i) {
    const dengine_entry* e = &entries[i];
    int already_applied = e->index <= m->last_applied;
    if (already_applied && !m->options.apply_redelivered_entries) continue;
    if (e->index > last_applied) last_applied = e->index;
    if (e->kind != DENGINE_ENTRY_NORMAL) continue;
    if (e->len != 8) {
      /* A malformed command changes nothing; its proposer learns why. */
      status = dengine_results_set(results, i, 1, NULL, 0);
      if (status != DENGINE_OK) return status;
      continue;
    }
    counter += get_u64(e->data);
    put_u64(answer, counter);
    status = dengine_results_set(results, i, 0, answer, sizeof answer);
    if (status != DENGINE_OK) return status;
    if (m->options.publish_topic != NULL && !already_applied) {
      status = dengine_events_publish(results, i, m->options.publish_topic,
                                      strlen(m->options.publish_topic), answer,
                                      sizeof answer);
      if (status != DENGINE_OK) return status;
    }
  }
  /* All or nothing: memory changes only once the chunk is durable. */
  status = write_state(m->dir, counter, last_applied);
  if (status != DENGINE_OK) return status;
  pthread_mutex_lock(&m->mutex);
  m->counter = counter;
  m->last_applied = last_applied;
  pthread_mutex_unlock(&m->mutex);
  return DENGINE_OK;
}

static uint64_t counter_last_applied(void* user) {
  counter_machine* m = user;
  return m->last_applied;
}

static int counter_read(void* user, const uint8_t* query, size_t len,
                        dengine_read_result* out) {
  counter_machine* m = user;
  uint8_t answer[8];
  (void)query;
  (void)len;
  pthread_mutex_lock(&m->mutex);
  put_u64(answer, m->counter);
  pthread_mutex_unlock(&m->mutex);
  return dengine_read_result_set(out, answer, sizeof answer);
}

static int counter_generate_snapshot(void* user, const char* dir,
                                     uint64_t last_index) {
  counter_machine* m = user;
  if (last_index != m->last_applied) return DENGINE_ERR_INVALID_ARGUMENT;
  return write_state(dir, m->counter, m->last_applied);
}

static int counter_install_snapshot(void* user, const char* dir,
                                    const dengine_snapshot_meta* meta) {
  counter_machine* m = user;
  uint64_t counter;
  uint64_t last_applied;
  int status = read_state(dir, &counter, &last_applied);
  if (status != DENGINE_OK) return status;
  if (last_applied != meta->last_index) return DENGINE_ERR_CORRUPTION;
  status = write_state(m->dir, counter, last_applied);
  if (status != DENGINE_OK) return status;
  pthread_mutex_lock(&m->mutex);
  m->counter = counter;
  m->last_applied = last_applied;
  pthread_mutex_unlock(&m->mutex);
  return DENGINE_OK;
}

static int counter_reset(void* user) {
  counter_machine* m = user;
  int status = write_state(m->dir, 0, 0);
  if (status != DENGINE_OK) return status;
  pthread_mutex_lock(&m->mutex);
  m->counter = 0;
  m->last_applied = 0;
  pthread_mutex_unlock(&m->mutex);
  return DENGINE_OK;
}

int counter_machine_open(const char* dir, const counter_options* options,
                         dengine_state_machine* out) {
  counter_machine* m = calloc(1, sizeof *m);
  if (m == NULL) return DENGINE_ERR_IO;
  m->dir = malloc(strlen(dir) + 1);
  if (m->dir == NULL) {
    free(m);
    return DENGINE_ERR_IO;
  }
  strcpy(m->dir, dir);
  if (options != NULL) m->options = *options;
  pthread_mutex_init(&m->mutex, NULL);

  memset(out, 0, sizeof *out);
  out->version = DENGINE_STATE_MACHINE_VERSION;
  out->struct_size = sizeof *out;
  out->user = m;
  out->start = counter_start;
  out->apply_chunk = counter_apply_chunk;
  out->last_applied = counter_last_applied;
  out->read = counter_read;
  out->generate_snapshot = counter_generate_snapshot;
  out->install_snapshot = counter_install_snapshot;
  out->reset = counter_reset;
  return DENGINE_OK;
}

void counter_machine_close(dengine_state_machine* machine) {
  counter_machine* m = machine->user;
  if (m != NULL) {
    pthread_mutex_destroy(&m->mutex);
    free(m->dir);
    free(m);
  }
  memset(machine, 0, sizeof *machine);
}

static int builder_open(void* user, const char* path,
                        dengine_state_machine* out) {
  return counter_machine_open(path, user, out);
}

static void builder_close(void* user, dengine_state_machine* machine) {
  (void)user;
  counter_machine_close(machine);
}

static size_t any_query(void* user, uint8_t* buf, size_t cap) {
  (void)user;
  (void)buf;
  (void)cap;
  return 0;
}

dengine_sm_builder counter_builder(const counter_options* options,
                                   int state_query) {
  dengine_sm_builder builder;
  memset(&builder, 0, sizeof builder);
  builder.version = DENGINE_SM_BUILDER_VERSION;
  builder.struct_size = sizeof builder;
  builder.user = (void*)options;
  builder.open = builder_open;
  builder.close = builder_close;
  if (state_query) builder.make_state_query = any_query;
  return builder;
}
