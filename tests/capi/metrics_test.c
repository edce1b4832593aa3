#define _POSIX_C_SOURCE 200809L
/* Metrics from C: dengine_node_metrics on a one-node cluster, the samples
 * it holds as writes apply (counters, gauges, histograms with cumulative
 * buckets, labelled samples), the Prometheus text, the same text through a
 * client, and the calls' argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

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

static double value_of(dengine_node* node, const char* name,
                       const char* label) {
  dengine_metrics* m = NULL;
  const dengine_metric* sample;
  double value;
  assert_int_equal(dengine_node_metrics(node, &m), DENGINE_OK);
  sample = dengine_metrics_find(m, name, label);
  assert_non_null(sample);
  value = sample->type == DENGINE_METRIC_HISTOGRAM ? (double)sample->count
                                                   : sample->value;
  dengine_metrics_free(m);
  return value;
}

static dengine_node* start_node(const char* dir, char* client_address,
                                size_t client_address_size) {
  dengine_config* config = NULL;
  dengine_node* node = NULL;
  uint64_t voter = 1;
  int i;
  snprintf(client_address, client_address_size, "127.0.0.1:%d", free_port());
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 1), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, dir), DENGINE_OK);
  assert_int_equal(dengine_config_set_listen_address(config, "127.0.0.1:0"),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_client_address(config, client_address),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_timing(config, 20, 10, 2), DENGINE_OK);
  assert_int_equal(dengine_config_set_initial_voters(config, &voter, 1),
                   DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &node), DENGINE_OK);
  dengine_config_free(config);
  for (i = 0; i < 2000 && value_of(node, "dengine_is_leader", NULL) != 1; ++i) {
    sleep_ms(10);
  }
  assert_true(value_of(node, "dengine_is_leader", NULL) == 1);
  return node;
}

static void samples_move_as_writes_apply(void** state) {
  char* dir = temp_dir_create();
  char client_address[64];
  dengine_node* node = start_node(dir, client_address, sizeof client_address);
  dengine_metrics* m = NULL;
  const dengine_metric* sample;
  double commit_before;
  size_t i, count;
  int found_fsync = 0;
  (void)state;

  commit_before = value_of(node, "dengine_commit_index", NULL);
  for (i = 0; i < 10; ++i) {
    char key[16];
    snprintf(key, sizeof key, "k%u", (unsigned)i);
    assert_int_equal(
        dengine_kv_put(node, key, strlen(key), "v", 1, NULL, TIMEOUT_MS),
        DENGINE_OK);
  }
  assert_int_equal(dengine_node_metrics(node, &m), DENGINE_OK);
  count = dengine_metrics_count(m);
  assert_true(count > 30);
  assert_null(dengine_metrics_at(m, count));
  for (i = 0; i < count; ++i) {
    sample = dengine_metrics_at(m, i);
    assert_non_null(sample->name);
    assert_non_null(sample->help);
    assert_non_null(sample->label_name);
    assert_non_null(sample->label_value);
    if (sample->type == DENGINE_METRIC_HISTOGRAM) {
      size_t b;
      for (b = 1; b < sample->bucket_count; ++b) {
        assert_true(sample->bucket_counts[b] >= sample->bucket_counts[b - 1]);
        assert_true(sample->upper_bounds[b] > sample->upper_bounds[b - 1]);
      }
      assert_true(sample->count >= sample->bucket_counts[b - 1]);
    }
    if (strcmp(sample->name, "dengine_fsync_latency_seconds") == 0) {
      found_fsync = 1;
      assert_int_equal(sample->type, DENGINE_METRIC_HISTOGRAM);
      assert_true(sample->count >= 1);
      assert_true(sample->value > 0); /* seconds spent, summed */
    }
  }
  assert_true(found_fsync);
  sample = dengine_metrics_find(m, "dengine_commit_index", NULL);
  assert_non_null(sample);
  assert_int_equal(sample->type, DENGINE_METRIC_GAUGE);
  assert_true(sample->value >= commit_before + 10);
  sample = dengine_metrics_find(m, "dengine_proposals_total", "ok");
  assert_non_null(sample);
  assert_int_equal(sample->type, DENGINE_METRIC_COUNTER);
  assert_string_equal(sample->label_name, "status");
  assert_true(sample->value >= 10);
  assert_null(dengine_metrics_find(m, "dengine_no_such_metric", NULL));
  assert_null(dengine_metrics_find(m, "dengine_proposals_total", "nope"));
  dengine_metrics_free(m);

  dengine_node_close(node);
  temp_dir_remove(dir);
}

static void the_text_reaches_node_and_client_callers(void** state) {
  char* dir = temp_dir_create();
  char client_address[64];
  dengine_node* node = start_node(dir, client_address, sizeof client_address);
  dengine_metrics* m = NULL;
  dengine_client* client = NULL;
  char* text = NULL;
  (void)state;

  assert_int_equal(dengine_node_metrics(node, &m), DENGINE_OK);
  assert_int_equal(dengine_metrics_text(m, &text), DENGINE_OK);
  assert_non_null(strstr(text, "# TYPE dengine_commit_index gauge\n"));
  assert_non_null(
      strstr(text, "dengine_fsync_latency_seconds_bucket{le=\"+Inf\"}"));
  dengine_free(text);
  dengine_metrics_free(m);

  assert_int_equal(dengine_client_open(client_address, TIMEOUT_MS, &client),
                   DENGINE_OK);
  text = NULL;
  assert_int_equal(dengine_client_metrics(client, &text), DENGINE_OK);
  assert_non_null(strstr(text, "\ndengine_node_id 1\n"));
  assert_non_null(strstr(text, "dengine_client_connections 1\n"));
  dengine_free(text);
  assert_int_equal(dengine_client_metrics(client, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  dengine_client_close(client);

  /* Bad arguments: a clear error, nothing else. */
  assert_int_equal(dengine_node_metrics(NULL, &m),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_node_metrics(node, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "out is NULL"));
  assert_int_equal(dengine_metrics_text(NULL, &text),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_metrics_count(NULL), 0);
  assert_null(dengine_metrics_at(NULL, 0));
  assert_null(dengine_metrics_find(NULL, "dengine_node_id", NULL));
  dengine_metrics_free(NULL);

  /* A stopped node still answers, with the values as of its stop. */
  assert_int_equal(dengine_node_stop(node), DENGINE_OK);
  assert_true(value_of(node, "dengine_node_id", NULL) == 1);
  dengine_node_close(node);
  temp_dir_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(samples_move_as_writes_apply),
      cmocka_unit_test(the_text_reaches_node_and_client_callers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
