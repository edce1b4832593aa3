/* dengine_config_*: one setter per option, each refusing a bad value with
 * the option named; the old names still working; and
 * dengine_config_load_toml: a file, the environment over it, setters over
 * both, and errors that name the place and the key. A config is observed
 * through the node it starts: the data dir it creates, the rules it is
 * refused by. */
#define _XOPEN_SOURCE 700

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "dengine.h"
#include "temp_dir.h"

/* Writes `text` to `name` under `dir`; returns the malloc'd path. */
static char* write_file(const char* dir, const char* name, const char* text) {
  size_t len = strlen(dir) + strlen(name) + 2;
  char* path = malloc(len);
  FILE* file;
  assert_non_null(path);
  snprintf(path, len, "%s/%s", dir, name);
  file = fopen(path, "w");
  assert_non_null(file);
  assert_int_equal(fputs(text, file) >= 0, 1);
  assert_int_equal(fclose(file), 0);
  return path;
}

/* Starts a node from `config` and closes it: its status. */
static int start_and_close(const dengine_config* config) {
  dengine_node* node = NULL;
  const int status = dengine_node_start(config, &node);
  dengine_node_close(node);
  return status;
}

/* Whether `name` under `dir` exists (a node creates its data dir). */
static int exists(const char* dir, const char* name) {
  char path[512];
  struct stat info;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return stat(path, &info) == 0;
}

static void contains(const char* text, const char* part) {
  if (strstr(text, part) == NULL) fail_msg("\"%s\" lacks \"%s\"", text, part);
}

static void each_setter_names_its_option(void** state) {
  dengine_config* config = NULL;
  (void)state;
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_tick_ms(config, 0),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_string_equal(dengine_last_error(),
                      "dengine_config_set_tick_ms: tick_ms: must be between 1 "
                      "and 10000, got 0");
  assert_int_equal(dengine_config_set_election_ticks(config, 2),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_string_equal(dengine_last_error(),
                      "dengine_config_set_election_ticks: election_ticks: "
                      "must be between 3 and 10000, got 2");
  assert_int_equal(dengine_config_set_heartbeat_ticks(config, 0),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(), "heartbeat_ticks: must be between 1");
  assert_int_equal(dengine_config_set_snapshots_kept(config, 0),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(), "snapshots_kept: must be between 1 and 1000");
  assert_int_equal(dengine_config_set_max_entry_bytes(config, 64u << 20),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(), "max_entry_bytes: must be between 1 and");
  assert_int_equal(dengine_config_set_peer_address(config, "nowhere"),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(),
           "dengine_config_set_peer_address: peer_address: bad address");
  assert_int_equal(dengine_config_set_log_backend(config, 9),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(), "log_backend: must be DENGINE_STORAGE_WAL");
  assert_int_equal(dengine_config_set_data_dir(config, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(), "data_dir: must not be empty");
  assert_int_equal(dengine_config_add_peer(config, 2, "h:7002"), DENGINE_OK);
  assert_int_equal(dengine_config_add_peer(config, 3, "h:7002"),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_string_equal(dengine_last_error(),
                      "dengine_config_add_peer: peers: address \"h:7002\" is "
                      "listed twice (peers 2 and 3)");

  assert_int_equal(dengine_config_set_tick_ms(config, 20), DENGINE_OK);
  assert_int_equal(dengine_config_set_election_ticks(config, 10), DENGINE_OK);
  assert_int_equal(dengine_config_set_heartbeat_ticks(config, 2), DENGINE_OK);
  assert_int_equal(dengine_config_set_snapshot_entries(config, 0), DENGINE_OK);
  assert_int_equal(dengine_config_set_snapshot_bytes(config, 0), DENGINE_OK);
  assert_int_equal(dengine_config_set_snapshots_kept(config, 1), DENGINE_OK);
  assert_int_equal(
      dengine_config_set_log_backend(config, DENGINE_STORAGE_ROCKSDB),
      DENGINE_OK);
  assert_int_equal(dengine_config_set_tick_ms(NULL, 20),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_string_equal(dengine_last_error(),
                      "dengine_config_set_tick_ms: config is NULL");
  dengine_config_free(config);
}

static void the_rules_across_options_wait_for_start(void** state) {
  char* dir = temp_dir_create();
  dengine_config* config = NULL;
  dengine_node* node = NULL;
  (void)state;
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 1), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, dir), DENGINE_OK);
  /* Each alone is fine; together they break election > heartbeat. */
  assert_int_equal(dengine_config_set_election_ticks(config, 5), DENGINE_OK);
  assert_int_equal(dengine_config_set_heartbeat_ticks(config, 5), DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &node),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_null(node);
  contains(dengine_last_error(),
           "election_ticks: must be greater than heartbeat_ticks (5), got 5");
  /* The old all-at-once setter checks each value, not the pair. */
  assert_int_equal(dengine_config_set_timing(config, 20, 2, 1),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(), "dengine_config_set_timing: election_ticks");
  assert_int_equal(dengine_config_set_timing(config, 20, 10, 2), DENGINE_OK);
  assert_int_equal(start_and_close(config), DENGINE_OK);
  dengine_config_free(config);
  temp_dir_remove(dir);
}

static void the_old_names_still_set_the_options(void** state) {
  dengine_config* config = NULL;
  (void)state;
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_listen_address(config, "nowhere"),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(), "peer_address: bad address");
  assert_int_equal(dengine_config_set_listen_address(config, "127.0.0.1:0"),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_storage(config, 9),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(), "log_backend:");
  assert_int_equal(dengine_config_set_storage(config, DENGINE_STORAGE_WAL),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_snapshot_policy(config, 100, 0),
                   DENGINE_OK);
  dengine_config_free(config);
}

static void a_file_sets_what_it_names(void** state) {
  char* dir = temp_dir_create();
  char* path;
  char text[1024];
  dengine_config* config = NULL;
  (void)state;
  snprintf(text, sizeof text,
           "[node]\nid = 5\ndata_dir = \"%s/node5\"\n"
           "peer_address = \"127.0.0.1:0\"\n"
           "[cluster]\ninitial_voters = [5]\n"
           "[storage]\nkv_backend = \"file\"\nsnapshots_kept = 3\n"
           "[raft]\ntick_ms = 20\n[log]\nlevel = \"debug\"\n",
           dir);
  path = write_file(dir, "node.toml", text);
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_node_id(config), 0);
  assert_int_equal(dengine_config_load_toml(config, path, NULL), DENGINE_OK);
  assert_int_equal(dengine_config_node_id(config), 5);
  /* Only node 5, the file's id, may be the file's only initial voter. */
  assert_int_equal(start_and_close(config), DENGINE_OK);
  assert_true(exists(dir, "node5"));
  /* A setter afterwards wins over the file. */
  assert_int_equal(dengine_config_set_node_id(config, 6), DENGINE_OK);
  assert_int_equal(dengine_config_node_id(config), 6);
  assert_int_equal(start_and_close(config), DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(),
           "initial_voters: must contain this node (id 6)");
  dengine_config_free(config);
  free(path);
  temp_dir_remove(dir);
}

static void keys_left_out_keep_the_configs_values(void** state) {
  char* dir = temp_dir_create();
  char* path = write_file(dir, "part.toml", "[raft]\nelection_ticks = 12\n");
  char data_dir[512];
  dengine_config* config = NULL;
  (void)state;
  snprintf(data_dir, sizeof data_dir, "%s/kept", dir);
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 3), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, data_dir), DENGINE_OK);
  assert_int_equal(dengine_config_set_heartbeat_ticks(config, 12), DENGINE_OK);
  assert_int_equal(dengine_config_load_toml(config, path, NULL), DENGINE_OK);
  /* The file's election_ticks met the heartbeat_ticks set before it. */
  assert_int_equal(start_and_close(config), DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(),
           "election_ticks: must be greater than heartbeat_ticks (12), got 12");
  assert_int_equal(dengine_config_set_heartbeat_ticks(config, 2), DENGINE_OK);
  assert_int_equal(start_and_close(config), DENGINE_OK);
  assert_true(exists(dir, "kept"));
  dengine_config_free(config);
  free(path);
  temp_dir_remove(dir);
}

static void the_environment_wins_over_the_file(void** state) {
  char* dir = temp_dir_create();
  char* path;
  char text[512];
  dengine_config* config = NULL;
  (void)state;
  snprintf(text, sizeof text,
           "[node]\nid = 5\ndata_dir = \"%s/node\"\n"
           "[cluster]\ninitial_voters = [5]\n",
           dir);
  path = write_file(dir, "node.toml", text);
  assert_int_equal(setenv("DENGINE_CAPI_TEST_NODE_ID", "7", 1), 0);
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  /* Without a prefix no variable applies. */
  assert_int_equal(dengine_config_load_toml(config, path, NULL), DENGINE_OK);
  assert_int_equal(start_and_close(config), DENGINE_OK);
  assert_int_equal(dengine_config_load_toml(config, path, "DENGINE_CAPI_TEST_"),
                   DENGINE_OK);
  assert_int_equal(start_and_close(config), DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(),
           "initial_voters: must contain this node (id 7)");

  assert_int_equal(setenv("DENGINE_CAPI_TEST_NODE_IDD", "8", 1), 0);
  assert_int_equal(dengine_config_load_toml(config, path, "DENGINE_CAPI_TEST_"),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_string_equal(dengine_last_error(),
                      "dengine_config_load_toml: environment variable "
                      "DENGINE_CAPI_TEST_NODE_IDD: unknown variable; did you "
                      "mean \"DENGINE_CAPI_TEST_NODE_ID\"?");
  unsetenv("DENGINE_CAPI_TEST_NODE_ID");
  unsetenv("DENGINE_CAPI_TEST_NODE_IDD");
  assert_int_equal(dengine_config_load_toml(config, path, ""),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(), "env_prefix is empty");
  dengine_config_free(config);
  free(path);
  temp_dir_remove(dir);
}

static void bad_files_are_refused_with_the_place_and_the_key(void** state) {
  char* dir = temp_dir_create();
  char* bad_key = write_file(dir, "key.toml", "[node]\nid = 1\ndata_dri = 2\n");
  char* bad_type = write_file(dir, "type.toml", "[raft]\ntick_ms = \"fast\"\n");
  char* bad_range = write_file(dir, "range.toml", "[raft]\ntick_ms = 0\n");
  char* missing;
  char expected[512];
  dengine_config* config = NULL;
  dengine_node* node = NULL;
  (void)state;
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_load_toml(config, bad_key, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  snprintf(expected, sizeof expected,
           "dengine_config_load_toml: %s:3:1: node.data_dri: unknown key; did "
           "you mean \"data_dir\"?",
           bad_key);
  assert_string_equal(dengine_last_error(), expected);
  assert_int_equal(dengine_config_load_toml(config, bad_type, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(),
           ":2:11: raft.tick_ms: expected an integer, got a string");
  assert_int_equal(dengine_config_load_toml(config, bad_range, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(),
           ":2:11: raft.tick_ms: must be between 1 and 10000, got 0");
  /* The file that failed set nothing: id 1 was not kept. */
  assert_int_equal(dengine_node_start(config, &node),
                   DENGINE_ERR_INVALID_ARGUMENT);
  contains(dengine_last_error(), "id: missing");

  missing = write_file(dir, "gone.toml", "");
  remove(missing);
  assert_int_equal(dengine_config_load_toml(config, missing, NULL),
                   DENGINE_ERR_IO);
  contains(dengine_last_error(), "No such file or directory");
  assert_int_equal(dengine_config_load_toml(config, NULL, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_string_equal(dengine_last_error(),
                      "dengine_config_load_toml: path is NULL");
  assert_int_equal(dengine_config_load_toml(NULL, bad_key, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_config_node_id(NULL), 0);
  dengine_config_free(config);
  free(bad_key);
  free(bad_type);
  free(bad_range);
  free(missing);
  temp_dir_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(each_setter_names_its_option),
      cmocka_unit_test(the_rules_across_options_wait_for_start),
      cmocka_unit_test(the_old_names_still_set_the_options),
      cmocka_unit_test(a_file_sets_what_it_names),
      cmocka_unit_test(keys_left_out_keep_the_configs_values),
      cmocka_unit_test(the_environment_wins_over_the_file),
      cmocka_unit_test(bad_files_are_refused_with_the_place_and_the_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
