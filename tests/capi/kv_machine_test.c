/* The built-in KV machines (RocksDB and file-based) pass the conformance
 * suite, driven from C; opening one with bad arguments fails cleanly. The
 * suite's n-th command puts key "key-<n>" = "value-<n>" and the state query
 * scans every key, in the byte formats of docs/state-machine-guide.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dengine.h"
#include "temp_dir.h"

enum { KV_FORMAT_VERSION = 1, KV_PUT = 1, KV_SCAN_PREFIX = 3 };

/* Appends little-endian integers and length-prefixed strings to a buffer
 * of `cap` bytes, counting the length even past the end (as snprintf). */
typedef struct writer {
  uint8_t* buf;
  size_t cap;
  size_t len;
} writer;

static void put_byte(writer* w, uint8_t b) {
  if (w->len < w->cap) w->buf[w->len] = b;
  ++w->len;
}

static void put_uint(writer* w, uint64_t v, int width) {
  int i;
  for (i = 0; i < width; ++i) put_byte(w, (uint8_t)(v >> (8 * i)));
}

static void put_string(writer* w, const char* s) {
  size_t len = strlen(s);
  size_t i;
  put_uint(w, len, 4);
  for (i = 0; i < len; ++i) put_byte(w, (uint8_t)s[i]);
}

static size_t make_put(void* user, uint64_t n, uint8_t* buf, size_t cap) {
  writer w = {buf, cap, 0};
  char key[32];
  char value[32];
  (void)user;
  snprintf(key, sizeof key, "key-%llu", (unsigned long long)n);
  snprintf(value, sizeof value, "value-%llu", (unsigned long long)n);
  put_byte(&w, KV_FORMAT_VERSION);
  put_byte(&w, KV_PUT);
  put_uint(&w, n, 8); /* the leader's timestamp, in ms */
  put_string(&w, key);
  put_string(&w, value);
  return w.len;
}

static size_t make_scan_all(void* user, uint8_t* buf, size_t cap) {
  writer w = {buf, cap, 0};
  (void)user;
  put_byte(&w, KV_FORMAT_VERSION);
  put_byte(&w, KV_SCAN_PREFIX);
  put_string(&w, "");
  put_uint(&w, 1000000, 4);
  return w.len;
}

static int kv_open(void* user, const char* path, dengine_state_machine* out) {
  return dengine_kv_machine_open(path, *(const int*)user, out);
}

static void kv_close(void* user, dengine_state_machine* machine) {
  (void)user;
  dengine_kv_machine_close(machine);
}

/* `backend` must outlive the builder's use. */
static dengine_sm_builder kv_builder(const int* backend) {
  dengine_sm_builder builder;
  memset(&builder, 0, sizeof builder);
  builder.version = DENGINE_SM_BUILDER_VERSION;
  builder.struct_size = sizeof builder;
  builder.user = (void*)backend;
  builder.open = kv_open;
  builder.close = kv_close;
  builder.make_command = make_put;
  builder.make_state_query = make_scan_all;
  return builder;
}

static void kv_passes_the_suite(int backend) {
  char* dir = temp_dir_create();
  char* report = NULL;
  dengine_sm_builder builder = kv_builder(&backend);
  int status;
  assert_non_null(dir);
  status = dengine_sm_conformance_run(&builder, dir, &report);
  if (status != DENGINE_OK) {
    print_message("%s\n%s", dengine_last_error(), report ? report : "");
  }
  assert_int_equal(status, DENGINE_OK);
  assert_non_null(report);
  assert_null(strstr(report, "FAIL"));
  dengine_free(report);
  temp_dir_remove(dir);
}

static void rocksdb_machine_passes_the_suite(void** state) {
  (void)state;
  kv_passes_the_suite(DENGINE_KV_ROCKSDB);
}

static void file_machine_passes_the_suite(void** state) {
  (void)state;
  kv_passes_the_suite(DENGINE_KV_FILE);
}

static void rocksdb_performance_run_completes(void** state) {
  const int backend = DENGINE_KV_ROCKSDB;
  dengine_sm_builder builder = kv_builder(&backend);
  char* dir = temp_dir_create();
  char* report = NULL;
  int status;
  (void)state;
  assert_non_null(dir);
  status = dengine_sm_performance_run(&builder, dir, &report);
  /* Timing depends on the machine running the test: only report it. */
  assert_true(status == DENGINE_OK || status == DENGINE_ERR_STATE_MACHINE);
  assert_non_null(report);
  print_message("%s", report);
  dengine_free(report);
  temp_dir_remove(dir);
}

static void bad_arguments_are_rejected(void** state) {
  dengine_state_machine machine;
  char* dir = temp_dir_create();
  (void)state;
  assert_non_null(dir);
  assert_int_equal(dengine_kv_machine_open(NULL, DENGINE_KV_ROCKSDB, &machine),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "NULL"));
  assert_int_equal(dengine_kv_machine_open(dir, DENGINE_KV_ROCKSDB, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_kv_machine_open(dir, 42, &machine),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "dengine_kv_machine_open: "));
  dengine_kv_machine_close(NULL);
  temp_dir_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rocksdb_machine_passes_the_suite),
      cmocka_unit_test(file_machine_passes_the_suite),
      cmocka_unit_test(rocksdb_performance_run_completes),
      cmocka_unit_test(bad_arguments_are_rejected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
