#define _POSIX_C_SOURCE 200809L
/* The versioned-struct contract of include/dengine.h, as programs built
 * against other headers see it: a machine laid out as version 1 of
 * dengine_state_machine (a frozen copy below, which later headers must
 * keep accepting) runs a node; a struct smaller than version 1's, a version
 * the library does not know, or a non-NULL reserved slot is refused with a
 * message naming the problem; the builder of the conformance suite follows
 * the same rule. Also the integer version and the code names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "counter_machine.h"
#include "dengine.h"
#include "temp_dir.h"

enum { TIMEOUT_MS = 5000 };

/* dengine_state_machine as version 1 defined it, slot for slot. */
typedef struct v1_state_machine {
  uint32_t version;
  uint32_t struct_size;
  void* user;
  int (*start)(void* user);
  int (*stop)(void* user);
  int (*apply_chunk)(void* user, const dengine_entry* entries, size_t count,
                     dengine_results* results);
  uint64_t (*last_applied)(void* user);
  int (*read)(void* user, const uint8_t* query, size_t len,
              dengine_read_result* out);
  uint64_t (*len)(void* user);
  int (*generate_snapshot)(void* user, const char* dir, uint64_t last_index);
  int (*install_snapshot)(void* user, const char* dir,
                          const dengine_snapshot_meta* meta);
  int (*flush)(void* user);
  int (*flush_async)(void* user, void (*done)(void* done_ctx, int status),
                     void* done_ctx);
  int (*reset)(void* user);
  void* reserved[8];
} v1_state_machine;

static v1_state_machine as_v1(const dengine_state_machine* m) {
  v1_state_machine v1;
  memset(&v1, 0, sizeof v1);
  v1.version = 1;
  v1.struct_size = sizeof v1;
  v1.user = m->user;
  v1.start = m->start;
  v1.stop = m->stop;
  v1.apply_chunk = m->apply_chunk;
  v1.last_applied = m->last_applied;
  v1.read = m->read;
  v1.len = m->len;
  v1.generate_snapshot = m->generate_snapshot;
  v1.install_snapshot = m->install_snapshot;
  v1.flush = m->flush;
  v1.flush_async = m->flush_async;
  v1.reset = m->reset;
  return v1;
}

/* Sets `machine` (any layout) on a fresh config; the config's status. */
static int set_machine(const void* machine) {
  dengine_config* config = NULL;
  int rc;
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  rc = dengine_config_set_state_machine(config,
                                        (const dengine_state_machine*)machine);
  dengine_config_free(config);
  return rc;
}

static void sleep_ms(long ms) {
  struct timespec t;
  t.tv_sec = ms / 1000;
  t.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&t, NULL);
}

static void a_version_1_machine_runs_a_node(void** state) {
  char* dir = temp_dir_create();
  char path[512];
  dengine_state_machine counter;
  v1_state_machine v1;
  dengine_config* config = NULL;
  dengine_node* node = NULL;
  dengine_reply reply;
  uint64_t voter = 1;
  uint8_t add[8] = {5, 0, 0, 0, 0, 0, 0, 0};
  int attempt, rc = DENGINE_ERR_BUSY;
  (void)state;
  assert_int_equal(counter_machine_open(dir, NULL, &counter), DENGINE_OK);
  v1 = as_v1(&counter);
  snprintf(path, sizeof path, "%s/node", dir);
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 1), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, path), DENGINE_OK);
  assert_int_equal(dengine_config_set_listen_address(config, "127.0.0.1:0"),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_initial_voters(config, &voter, 1),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_state_machine(
                       config, (const dengine_state_machine*)&v1),
                   DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &node), DENGINE_OK);
  dengine_config_free(config);
  /* The single voter elects itself; writes wait for that within their
   * timeout, and a busy leader asks to retry. */
  for (attempt = 0; attempt < 100 && rc != DENGINE_OK; ++attempt) {
    memset(&reply, 0, sizeof reply);
    rc = dengine_node_propose(node, add, sizeof add, NULL, TIMEOUT_MS, &reply);
    dengine_reply_free(&reply);
    if (rc == DENGINE_ERR_BUSY) sleep_ms(10);
  }
  assert_int_equal(rc, DENGINE_OK);
  memset(&reply, 0, sizeof reply);
  assert_int_equal(dengine_node_read(node, "", 0, DENGINE_READ_LINEARIZABLE,
                                     TIMEOUT_MS, &reply),
                   DENGINE_OK);
  assert_int_equal(reply.len, 8);
  assert_int_equal(reply.data[0], 5);
  dengine_reply_free(&reply);
  assert_int_equal(dengine_node_stop(node), DENGINE_OK);
  dengine_node_close(node);
  counter_machine_close(&counter);
  temp_dir_remove(dir);
}

static void bad_machine_structs_are_refused(void** state) {
  char* dir = temp_dir_create();
  dengine_state_machine counter;
  v1_state_machine v1;
  (void)state;
  assert_int_equal(counter_machine_open(dir, NULL, &counter), DENGINE_OK);

  v1 = as_v1(&counter);
  v1.struct_size = (uint32_t)offsetof(v1_state_machine, reserved);
  assert_int_equal(set_machine(&v1), DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "smaller than version 1's"));

  v1 = as_v1(&counter);
  v1.version = 0;
  assert_int_equal(set_machine(&v1), DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "machine->version is 0"));

  v1 = as_v1(&counter);
  v1.version = DENGINE_STATE_MACHINE_VERSION + 1;
  assert_int_equal(set_machine(&v1), DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "newer dengine.h"));

  v1 = as_v1(&counter);
  v1.reserved[3] = &v1;
  assert_int_equal(set_machine(&v1), DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(
      strstr(dengine_last_error(), "machine->reserved must be NULL"));

  v1 = as_v1(&counter);
  v1.apply_chunk = NULL;
  assert_int_equal(set_machine(&v1), DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "apply_chunk"));

  assert_int_equal(set_machine(NULL), DENGINE_ERR_INVALID_ARGUMENT);
  counter_machine_close(&counter);
  temp_dir_remove(dir);
}

static void bad_builders_are_refused(void** state) {
  char* dir = temp_dir_create();
  dengine_sm_builder builder = counter_builder(NULL, 0);
  char* report = NULL;
  (void)state;
  builder.version = DENGINE_SM_BUILDER_VERSION + 1;
  assert_int_equal(dengine_sm_conformance_run(&builder, dir, &report),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "newer dengine.h"));
  assert_null(report);
  builder = counter_builder(NULL, 0);
  builder.struct_size = 8;
  assert_int_equal(dengine_sm_conformance_run(&builder, dir, &report),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "builder->struct_size is 8"));
  temp_dir_remove(dir);
}

static void versions_and_code_names(void** state) {
  (void)state;
  assert_int_equal(dengine_version_number(), DENGINE_VERSION_NUMBER);
  assert_int_equal(DENGINE_VERSION_NUMBER, DENGINE_VERSION_MAJOR * 1000000 +
                                               DENGINE_VERSION_MINOR * 1000 +
                                               DENGINE_VERSION_PATCH);
  assert_string_equal(dengine_err_name(DENGINE_OK), "DENGINE_OK");
  assert_string_equal(dengine_err_name(DENGINE_ERR_NOT_LEADER),
                      "DENGINE_ERR_NOT_LEADER");
  assert_string_equal(dengine_err_name(DENGINE_ERR_SESSION_EXPIRED),
                      "DENGINE_ERR_SESSION_EXPIRED");
  assert_string_equal(dengine_err_name(-1000), "DENGINE_ERR_UNKNOWN");
  {
    int code;
    for (code = DENGINE_ERR_SESSION_EXPIRED; code <= DENGINE_OK; ++code) {
      assert_string_not_equal(dengine_err_name(code), "DENGINE_ERR_UNKNOWN");
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_version_1_machine_runs_a_node),
      cmocka_unit_test(bad_machine_structs_are_refused),
      cmocka_unit_test(bad_builders_are_refused),
      cmocka_unit_test(versions_and_code_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
