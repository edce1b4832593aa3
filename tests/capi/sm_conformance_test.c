/* The state machine conformance suite, run from C: the plain-C counter
 * machine passes it (states compared by snapshot bytes, and by reads); a
 * counter with a re-delivery bug fails exactly that case; bad builders are
 * rejected; the performance run completes (its timing is not asserted). */
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

static int make_dir(void** state) {
  *state = temp_dir_create();
  return *state == NULL ? -1 : 0;
}

static int remove_dir(void** state) {
  temp_dir_remove(*state);
  return 0;
}

static void expect_suite_passes(const dengine_sm_builder* builder,
                                const char* dir) {
  char* report = NULL;
  int status = dengine_sm_conformance_run(builder, dir, &report);
  assert_non_null(report);
  if (status != DENGINE_OK) {
    print_message("%s\n%s\n", dengine_last_error(), report);
  }
  assert_int_equal(status, DENGINE_OK);
  assert_non_null(strstr(report, "ok lifecycle\n"));
  assert_non_null(strstr(report, "ok redelivery_after_crash\n"));
  assert_null(strstr(report, "FAIL"));
  dengine_free(report);
}

static void counter_passes_comparing_snapshots(void** state) {
  dengine_sm_builder builder = counter_builder(NULL, 0);
  expect_suite_passes(&builder, *state);
}

static void counter_passes_comparing_reads(void** state) {
  dengine_sm_builder builder = counter_builder(NULL, 1);
  expect_suite_passes(&builder, *state);
}

static void suite_finds_a_redelivery_bug(void** state) {
  counter_options buggy = {1, NULL};
  dengine_sm_builder builder = counter_builder(&buggy, 1);
  char* report = NULL;
  assert_int_equal(dengine_sm_conformance_run(&builder, *state, &report),
                   DENGINE_ERR_STATE_MACHINE);
  assert_non_null(report);
  assert_non_null(strstr(report, "FAIL redelivery_after_crash: "));
  assert_non_null(strstr(report, "ok lifecycle\n"));
  assert_non_null(strstr(dengine_last_error(), "redelivery_after_crash"));
  dengine_free(report);
}

static void expect_rejected(const dengine_sm_builder* builder, const char* dir,
                            const char* why) {
  char* report = (char*)"untouched";
  assert_int_equal(dengine_sm_conformance_run(builder, dir, &report),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_null(report);
  assert_non_null(strstr(dengine_last_error(), why));
}

static void bad_builders_and_dirs_are_rejected(void** state) {
  const char* dir = *state;
  dengine_sm_builder builder = counter_builder(NULL, 0);
  dengine_sm_builder bad;
  expect_rejected(NULL, dir, "builder is NULL");
  expect_rejected(&builder, NULL, "dir is NULL");
  expect_rejected(&builder, "/nonexistent/dengine",
                  "not an existing directory");
  bad = builder;
  bad.version = 0;
  expect_rejected(&bad, dir, "builder->version");
  bad = builder;
  bad.struct_size = 8;
  expect_rejected(&bad, dir, "builder->struct_size");
  bad = builder;
  bad.open = NULL;
  expect_rejected(&bad, dir, "required");
  bad = builder;
  bad.reserved[2] = &bad;
  expect_rejected(&bad, dir, "reserved");
}

static void performance_run_completes(void** state) {
  dengine_sm_builder builder = counter_builder(NULL, 0);
  char* report = NULL;
  int status = dengine_sm_performance_run(&builder, *state, &report);
  /* Timing depends on the machine running the test: only report it. */
  assert_true(status == DENGINE_OK || status == DENGINE_ERR_STATE_MACHINE);
  assert_non_null(report);
  assert_non_null(strstr(report, "1000 entries: "));
  print_message("%s", report);
  dengine_free(report);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(counter_passes_comparing_snapshots,
                                      make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(counter_passes_comparing_reads, make_dir,
                                      remove_dir),
      cmocka_unit_test_setup_teardown(suite_finds_a_redelivery_bug, make_dir,
                                      remove_dir),
      cmocka_unit_test_setup_teardown(bad_builders_and_dirs_are_rejected,
                                      make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(performance_run_completes, make_dir,
                                      remove_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
