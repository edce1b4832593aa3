/* The client API from C, against a node of this process serving clients
 * on loopback (as dengined does): every KV call, raw propose and read on
 * the KV machine's formats, status, and clear errors for bad endpoints and
 * unreachable servers. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dengine.h"
#include "ports.h"
#include "temp_dir.h"

static void bad_endpoints_are_refused(void** state) {
  dengine_client* client = NULL;
  (void)state;
  assert_int_equal(dengine_client_open("", 1000, &client),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_client_open("nohost", 1000, &client),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dengine_last_error(), "nohost"));
  assert_null(client);
  assert_int_equal(dengine_client_put(NULL, "k", 1, "v", 1),
                   DENGINE_ERR_INVALID_ARGUMENT);
}

static void an_unreachable_cluster_fails_within_the_timeout(void** state) {
  dengine_client* client = NULL;
  char endpoint[64];
  int rc;
  (void)state;
  snprintf(endpoint, sizeof endpoint, "127.0.0.1:%d", free_port());
  assert_int_equal(dengine_client_open(endpoint, 300, &client), DENGINE_OK);
  rc = dengine_client_put(client, "k", 1, "v", 1);
  assert_true(rc == DENGINE_ERR_IO || rc == DENGINE_ERR_TIMEOUT);
  dengine_client_close(client);
}

static void every_call_against_a_serving_node(void** state) {
  char* dir = temp_dir_create();
  char address[64];
  dengine_config* config = NULL;
  dengine_node* node = NULL;
  dengine_client* client = NULL;
  uint64_t voter = 1, snapshot_index = 0;
  uint8_t* value = NULL;
  size_t value_len = 0;
  int swapped = 0, existed = 0;
  dengine_kv_items items;
  const void* keys[2];
  size_t key_lens[2];
  dengine_status status;
  (void)state;

  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 1), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, dir), DENGINE_OK);
  assert_int_equal(dengine_config_set_initial_voters(config, &voter, 1),
                   DENGINE_OK);
  snprintf(address, sizeof address, "127.0.0.1:%d", free_port());
  assert_int_equal(dengine_config_set_client_address(config, address),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_timing(config, 20, 10, 2), DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &node), DENGINE_OK);
  dengine_config_free(config);

  /* The client waits for the election through its retries. */
  assert_int_equal(dengine_client_open(address, 10000, &client), DENGINE_OK);
  if (dengine_client_put(client, "a", 1, "1", 1) != DENGINE_OK) {
    fail_msg("put: %s", dengine_last_error());
  }
  assert_int_equal(dengine_client_put_ttl(client, "t", 1, "x", 1, 60000),
                   DENGINE_OK);
  assert_int_equal(dengine_client_get(client, "a", 1, DENGINE_READ_LINEARIZABLE,
                                      &value, &value_len),
                   DENGINE_OK);
  assert_int_equal(value_len, 1);
  assert_memory_equal(value, "1", 1);
  dengine_free(value);
  assert_int_equal(dengine_client_cas(client, "a", 1, "1", 1, "2", 1, &swapped),
                   DENGINE_OK);
  assert_int_equal(swapped, 1);
  assert_int_equal(
      dengine_client_cas(client, "a", 1, NULL, 0, "3", 1, &swapped),
      DENGINE_OK);
  assert_int_equal(swapped, 0);

  keys[0] = "a";
  key_lens[0] = 1;
  keys[1] = "zz";
  key_lens[1] = 2;
  assert_int_equal(dengine_client_get_multi(client, keys, key_lens, 2,
                                            DENGINE_READ_LEASE, &items),
                   DENGINE_OK);
  assert_int_equal(items.count, 2);
  assert_memory_equal(items.items[0].value, "2", 1);
  assert_int_equal(items.items[1].found, 0);
  dengine_kv_items_free(&items);
  assert_int_equal(dengine_client_scan_prefix(client, "", 0, 10,
                                              DENGINE_READ_EVENTUAL, &items),
                   DENGINE_OK);
  assert_int_equal(items.count, 2); /* "a" and "t" */
  dengine_kv_items_free(&items);

  assert_int_equal(dengine_client_delete(client, "a", 1, &existed), DENGINE_OK);
  assert_int_equal(existed, 1);
  assert_int_equal(dengine_client_get(client, "a", 1, DENGINE_READ_DEFAULT,
                                      &value, &value_len),
                   DENGINE_ERR_NOT_FOUND);

  assert_int_equal(dengine_client_status(client, &status), DENGINE_OK);
  assert_int_equal(status.id, 1);
  assert_int_equal(status.role, DENGINE_ROLE_LEADER);
  assert_int_equal(status.leader_id, 1);
  assert_string_equal(status.leader_address, address);
  assert_int_equal(status.member_count, 1);
  dengine_status_free(&status);
  assert_int_equal(dengine_client_snapshot(client, &snapshot_index),
                   DENGINE_OK);
  assert_true(snapshot_index >= 5);
  /* Removing the only voter is refused with a clear error. */
  assert_int_equal(dengine_client_remove(client, 1),
                   DENGINE_ERR_INVALID_ARGUMENT);

  dengine_client_close(client);
  assert_int_equal(dengine_node_stop(node), DENGINE_OK);
  dengine_node_close(node);
  temp_dir_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bad_endpoints_are_refused),
      cmocka_unit_test(an_unreachable_cluster_fails_within_the_timeout),
      cmocka_unit_test(every_call_against_a_serving_node),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
