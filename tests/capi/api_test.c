/* The C API's basics: version, status names, the thread's last error, the
 * log callback, dengine_free, and misuse of dengine_results_set and
 * dengine_read_result_set (tried from inside a real apply_chunk and read,
 * the only places a machine gets those handles). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "counter_machine.h"
#include "dengine.h"
#include "temp_dir.h"

static void version_matches_the_header(void** state) {
  char want[32];
  (void)state;
  snprintf(want, sizeof want, "%d.%d.%d", DENGINE_VERSION_MAJOR,
           DENGINE_VERSION_MINOR, DENGINE_VERSION_PATCH);
  assert_string_equal(dengine_version(), want);
}

static void every_code_has_a_name(void** state) {
  int code;
  (void)state;
  assert_string_equal(dengine_strerror(DENGINE_OK), "ok");
  assert_string_equal(dengine_strerror(DENGINE_ERR_NOT_LEADER), "not leader");
  for (code = DENGINE_ERR_SESSION_EXPIRED; code < DENGINE_OK; ++code) {
    assert_string_not_equal(dengine_strerror(code), "unknown error");
  }
  assert_string_equal(dengine_strerror(1), "unknown error");
  assert_string_equal(dengine_strerror(-1000), "unknown error");
}

static void last_error_names_the_failure(void** state) {
  (void)state;
  assert_int_equal(dengine_results_set(NULL, 0, 0, NULL, 0),
                   DENGINE_ERR_INVALID_ARGUMENT);
  /* The function and why; the code's name is dengine_err_name's. */
  assert_string_equal(dengine_last_error(),
                      "dengine_results_set: results is NULL");
  assert_int_equal(dengine_read_result_set(NULL, "x", 1),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_string_equal(dengine_last_error(),
                      "dengine_read_result_set: result is NULL");
}

static void free_accepts_null(void** state) {
  (void)state;
  dengine_free(NULL);
}

static void count_lines(void* user, int level, const char* message) {
  (void)level;
  (void)message;
  ++*(int*)user;
}

static void log_callback_can_be_set_and_restored(void** state) {
  int lines = 0;
  (void)state;
  dengine_set_log_callback(count_lines, &lines, DENGINE_LOG_DEBUG);
  dengine_set_log_callback(NULL, NULL, DENGINE_LOG_DEBUG);
  assert_int_equal(lines, 0);
}

/* What the probe saw when it misused the handles, on its first call. */
static struct {
  int applied;
  int out_of_range;
  char out_of_range_message[256];
  int null_data;
  int empty_data;
  int read;
  int read_null_data;
} probe;

static int (*counter_apply_chunk)(void*, const dengine_entry*, size_t,
                                  dengine_results*);
static int (*counter_read)(void*, const uint8_t*, size_t, dengine_read_result*);

static int probe_apply_chunk(void* user, const dengine_entry* entries,
                             size_t count, dengine_results* results) {
  if (!probe.applied) {
    probe.applied = 1;
    probe.out_of_range = dengine_results_set(results, count, 0, "x", 1);
    snprintf(probe.out_of_range_message, sizeof probe.out_of_range_message,
             "%s", dengine_last_error());
    probe.null_data = dengine_results_set(results, count - 1, 0, NULL, 3);
    probe.empty_data = dengine_results_set(results, count - 1, 7, NULL, 0);
  }
  return counter_apply_chunk(user, entries, count, results);
}

static int probe_read(void* user, const uint8_t* query, size_t len,
                      dengine_read_result* out) {
  if (!probe.read) {
    probe.read = 1;
    probe.read_null_data = dengine_read_result_set(out, NULL, 2);
  }
  return counter_read(user, query, len, out);
}

static int probe_open(void* user, const char* path,
                      dengine_state_machine* out) {
  int status = counter_machine_open(path, user, out);
  counter_apply_chunk = out->apply_chunk;
  counter_read = out->read;
  out->apply_chunk = probe_apply_chunk;
  out->read = probe_read;
  return status;
}

static void results_misuse_is_rejected(void** state) {
  dengine_sm_builder builder = counter_builder(NULL, 1);
  char* dir = temp_dir_create();
  int status;
  (void)state;
  assert_non_null(dir);
  builder.open = probe_open;
  /* The suite's first chunk ends with a normal entry, whose result the
   * counter then overwrites: the suite still passes. */
  status = dengine_sm_conformance_run(&builder, dir, NULL);
  if (status != DENGINE_OK) print_message("%s\n", dengine_last_error());
  assert_int_equal(status, DENGINE_OK);
  temp_dir_remove(dir);

  assert_true(probe.applied);
  assert_int_equal(probe.out_of_range, DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(probe.out_of_range_message, "out of range"));
  assert_int_equal(probe.null_data, DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(probe.empty_data, DENGINE_OK);
  assert_true(probe.read);
  assert_int_equal(probe.read_null_data, DENGINE_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(version_matches_the_header),
      cmocka_unit_test(every_code_has_a_name),
      cmocka_unit_test(last_error_names_the_failure),
      cmocka_unit_test(free_accepts_null),
      cmocka_unit_test(log_callback_can_be_set_and_restored),
      cmocka_unit_test(results_misuse_is_rejected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
