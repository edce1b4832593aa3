#define _POSIX_C_SOURCE 200809L
/* TLS from C: the dengine_config_set_tls_* setters and their refusals, a
 * node that will not start on a bad certificate (naming the file), a
 * one-node cluster serving clients over mutual TLS through
 * dengine_client_open_tls with admin and ordinary identities, certificate
 * rotation with dengine_node_reload_tls, and the refusals of clients that
 * do not speak TLS or present nothing. Certificates are made with the
 * openssl command line in the test's directory. */
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

static void run(const char* command) {
  char line[4096 + 32];
  snprintf(line, sizeof line, "%s >/dev/null 2>&1", command);
  assert_int_equal(system(line), 0);
}

/* <dir>/<stem>.crt and .key, signed by <dir>/ca.crt, with subject CN `cn`
 * and the subject alternative names `sans` ("" for none). */
static void issue(const char* dir, const char* stem, const char* cn,
                  const char* sans) {
  char command[4096];
  snprintf(command, sizeof command,
           "cd '%s' && openssl req -newkey ec -pkeyopt "
           "ec_paramgen_curve:prime256v1 -nodes -keyout %s.key -out %s.csr "
           "-subj '/CN=%s' && printf '%s%s\\n' > %s.ext && openssl x509 -req "
           "-in %s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
           "-extfile %s.ext -out %s.crt",
           dir, stem, stem, cn, sans[0] != '\0' ? "subjectAltName=" : "", sans,
           stem, stem, stem, stem);
  run(command);
}

static void make_certificates(const char* dir) {
  char command[4096];
  snprintf(command, sizeof command,
           "cd '%s' && openssl req -x509 -newkey ec -pkeyopt "
           "ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt "
           "-days 2 -subj '/CN=test CA'",
           dir);
  run(command);
  issue(dir, "node-1", "node-1", "URI:dengine:node:1,IP:127.0.0.1");
  issue(dir, "ops", "ops", "");
  issue(dir, "app", "app", "");
}

static char* path_in(const char* dir, const char* name) {
  size_t size = strlen(dir) + strlen(name) + 2;
  char* path = malloc(size);
  snprintf(path, size, "%s/%s", dir, name);
  return path;
}

static void copy(const char* from, const char* to) {
  char command[4096];
  snprintf(command, sizeof command, "cp '%s' '%s'", from, to);
  run(command);
}

static int contains(const char* text, const char* part) {
  return text != NULL && strstr(text, part) != NULL;
}

/* A config for node 1, a one-node cluster serving clients at
 * `client_address`, with the TLS files of `dir`. */
static dengine_config* tls_config(const char* dir, const char* data_dir,
                                  const char* client_address) {
  dengine_config* config = NULL;
  uint64_t voter = 1;
  char* cert = path_in(dir, "node-1.crt");
  char* key = path_in(dir, "node-1.key");
  char* ca = path_in(dir, "ca.crt");
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 1), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, data_dir), DENGINE_OK);
  assert_int_equal(dengine_config_set_peer_address(config, "127.0.0.1:0"),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_client_address(config, client_address),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_timing(config, 20, 10, 2), DENGINE_OK);
  assert_int_equal(dengine_config_set_initial_voters(config, &voter, 1),
                   DENGINE_OK);
  assert_int_equal(dengine_config_set_tls_cert_file(config, cert), DENGINE_OK);
  assert_int_equal(dengine_config_set_tls_key_file(config, key), DENGINE_OK);
  assert_int_equal(dengine_config_set_tls_ca_file(config, ca), DENGINE_OK);
  assert_int_equal(dengine_config_set_tls_require_client_cert(config, 1),
                   DENGINE_OK);
  assert_int_equal(dengine_config_add_tls_admin_identity(config, "ops"),
                   DENGINE_OK);
  free(cert);
  free(key);
  free(ca);
  return config;
}

static dengine_client* open_client(const char* dir, const char* endpoint,
                                   const char* identity) {
  dengine_client_tls tls;
  dengine_client* client = NULL;
  char cert_name[64], key_name[64];
  char *ca = path_in(dir, "ca.crt"), *cert = NULL, *key = NULL;
  memset(&tls, 0, sizeof tls);
  tls.version = DENGINE_CLIENT_TLS_VERSION;
  tls.struct_size = sizeof tls;
  tls.ca_file = ca;
  if (identity != NULL) {
    snprintf(cert_name, sizeof cert_name, "%s.crt", identity);
    snprintf(key_name, sizeof key_name, "%s.key", identity);
    cert = path_in(dir, cert_name);
    key = path_in(dir, key_name);
    tls.cert_file = cert;
    tls.key_file = key;
  }
  assert_int_equal(dengine_client_open_tls(endpoint, TIMEOUT_MS, &tls, &client),
                   DENGINE_OK);
  free(ca);
  free(cert);
  free(key);
  return client;
}

static void wait_until_it_serves(dengine_client* client) {
  int i, rc = DENGINE_ERR_TIMEOUT;
  for (i = 0; i < 200 && rc != DENGINE_OK; ++i) {
    rc = dengine_client_put(client, "ready", 5, "yes", 3);
    if (rc != DENGINE_OK) sleep_ms(20);
  }
  assert_int_equal(rc, DENGINE_OK);
}

static void setters_check_their_values(void** state) {
  dengine_config* config = NULL;
  (void)state;
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_tls_cert_file(config, ""),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_true(contains(dengine_last_error(), "tls_cert_file"));
  assert_int_equal(dengine_config_set_tls_key_file(config, NULL),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_config_set_tls_ca_file(config, ""),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_config_set_tls_min_version(config, "1.1"),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_true(contains(dengine_last_error(),
                       "dengine_config_set_tls_min_version: tls_min_version: "
                       "must be \"1.2\" or \"1.3\", got \"1.1\""));
  assert_int_equal(dengine_config_set_tls_min_version(config, "1.2"),
                   DENGINE_OK);
  assert_int_equal(dengine_config_add_tls_admin_identity(config, ""),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_config_set_tls_cert_file(NULL, "x"),
                   DENGINE_ERR_INVALID_ARGUMENT);
  dengine_config_free(config);
  assert_string_equal(dengine_err_name(DENGINE_ERR_PERMISSION_DENIED),
                      "DENGINE_ERR_PERMISSION_DENIED");
  assert_string_equal(dengine_strerror(DENGINE_ERR_PERMISSION_DENIED),
                      "permission denied");
}

static void a_bad_setup_does_not_start(void** state) {
  char* dir = temp_dir_create();
  char* data = path_in(dir, "data");
  char* missing = path_in(dir, "missing.crt");
  char* app_key = path_in(dir, "app.key");
  dengine_config* config;
  dengine_node* node = NULL;
  (void)state;
  make_certificates(dir);

  /* A file that is not there, named in the error. */
  config = tls_config(dir, data, "127.0.0.1:0");
  assert_int_equal(dengine_config_set_tls_cert_file(config, missing),
                   DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &node),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_null(node);
  assert_true(contains(dengine_last_error(), missing));
  dengine_config_free(config);

  /* A key of another certificate. */
  config = tls_config(dir, data, "127.0.0.1:0");
  assert_int_equal(dengine_config_set_tls_key_file(config, app_key),
                   DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &node),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_true(contains(dengine_last_error(), "does not match"));
  dengine_config_free(config);

  /* Half a setup: a CA alone. */
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 1), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, data), DENGINE_OK);
  assert_int_equal(dengine_config_set_tls_ca_file(config, missing), DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &node),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_true(contains(dengine_last_error(), "tls_cert_file: missing"));
  dengine_config_free(config);

  free(data);
  free(missing);
  free(app_key);
  temp_dir_remove(dir);
}

static void serves_clients_over_mutual_tls(void** state) {
  char* dir = temp_dir_create();
  char* data = path_in(dir, "data");
  char endpoint[64];
  dengine_config* config;
  dengine_node* node = NULL;
  dengine_client *ops, *app, *anonymous, *plaintext;
  dengine_client_tls bad;
  dengine_client* none = NULL;
  uint8_t* value = NULL;
  uint64_t index = 0;
  size_t value_len = 0;
  (void)state;
  make_certificates(dir);
  snprintf(endpoint, sizeof endpoint, "127.0.0.1:%d", free_port());
  config = tls_config(dir, data, endpoint);
  assert_int_equal(dengine_node_start(config, &node), DENGINE_OK);
  dengine_config_free(config);

  ops = open_client(dir, endpoint, "ops");
  wait_until_it_serves(ops);
  assert_int_equal(dengine_client_put(ops, "k", 1, "v", 1), DENGINE_OK);
  assert_int_equal(dengine_client_get(ops, "k", 1, DENGINE_READ_LINEARIZABLE,
                                      &value, &value_len),
                   DENGINE_OK);
  assert_int_equal(value_len, 1);
  assert_memory_equal(value, "v", 1);
  dengine_free(value);

  /* An ordinary identity writes, but may not change the membership. */
  app = open_client(dir, endpoint, "app");
  assert_int_equal(dengine_client_put(app, "a", 1, "b", 1), DENGINE_OK);
  assert_int_equal(dengine_client_remove(app, 1),
                   DENGINE_ERR_PERMISSION_DENIED);
  assert_true(contains(dengine_last_error(), "app"));
  assert_int_equal(dengine_client_snapshot(app, &index),
                   DENGINE_ERR_PERMISSION_DENIED);
  assert_int_equal(dengine_client_snapshot(ops, &index), DENGINE_OK);

  /* No certificate, or no TLS at all: refused, and not by a timeout. */
  anonymous = open_client(dir, endpoint, NULL);
  assert_int_equal(dengine_client_put(anonymous, "x", 1, "y", 1),
                   DENGINE_ERR_IO);
  assert_int_equal(dengine_client_open(endpoint, TIMEOUT_MS, &plaintext),
                   DENGINE_OK);
  assert_int_equal(dengine_client_put(plaintext, "x", 1, "y", 1),
                   DENGINE_ERR_IO);
  assert_true(contains(dengine_last_error(), "TLS"));

  /* Bad client options are refused before any connection. */
  memset(&bad, 0, sizeof bad);
  bad.version = DENGINE_CLIENT_TLS_VERSION;
  bad.struct_size = sizeof bad;
  assert_int_equal(dengine_client_open_tls(endpoint, TIMEOUT_MS, &bad, &none),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_null(none);
  bad.version = DENGINE_CLIENT_TLS_VERSION + 1;
  assert_int_equal(dengine_client_open_tls(endpoint, TIMEOUT_MS, &bad, &none),
                   DENGINE_ERR_INVALID_ARGUMENT);
  assert_int_equal(dengine_client_open_tls(endpoint, TIMEOUT_MS, NULL, &none),
                   DENGINE_ERR_INVALID_ARGUMENT);

  /* The node kept serving through all of it. */
  assert_int_equal(dengine_client_put(ops, "after", 5, "ok", 2), DENGINE_OK);
  dengine_client_close(plaintext);
  dengine_client_close(anonymous);
  dengine_client_close(app);
  dengine_client_close(ops);
  assert_int_equal(dengine_node_stop(node), DENGINE_OK);
  dengine_node_close(node);
  free(data);
  temp_dir_remove(dir);
}

static void reload_takes_new_files_and_keeps_old_ones_on_a_bad_file(
    void** state) {
  char* dir = temp_dir_create();
  char* data = path_in(dir, "data");
  char* cert = path_in(dir, "node-1.crt");
  char* saved = path_in(dir, "node-1.saved");
  char endpoint[64];
  dengine_config* config;
  dengine_node *node = NULL, *plain = NULL;
  dengine_client* client;
  FILE* garbage;
  uint64_t voter = 1;
  (void)state;
  make_certificates(dir);
  snprintf(endpoint, sizeof endpoint, "127.0.0.1:%d", free_port());
  config = tls_config(dir, data, endpoint);
  assert_int_equal(dengine_node_start(config, &node), DENGINE_OK);
  dengine_config_free(config);
  client = open_client(dir, endpoint, "ops");
  wait_until_it_serves(client);

  /* A new certificate for the node, then a reload: new connections use it. */
  copy(cert, saved);
  issue(dir, "node-1", "node-1 renewed", "URI:dengine:node:1,IP:127.0.0.1");
  assert_int_equal(dengine_node_reload_tls(node), DENGINE_OK);
  dengine_client_close(client);
  client = open_client(dir, endpoint, "ops");
  assert_int_equal(dengine_client_put(client, "k", 1, "renewed", 7),
                   DENGINE_OK);

  /* A bad file: refused, named, and the certificates in use kept. */
  garbage = fopen(cert, "w");
  assert_non_null(garbage);
  fputs("not a certificate\n", garbage);
  fclose(garbage);
  assert_int_equal(dengine_node_reload_tls(node), DENGINE_ERR_INVALID_ARGUMENT);
  assert_true(contains(dengine_last_error(), cert));
  dengine_client_close(client);
  client = open_client(dir, endpoint, "ops");
  assert_int_equal(dengine_client_put(client, "k", 1, "still", 5), DENGINE_OK);
  dengine_client_close(client);
  assert_int_equal(dengine_node_stop(node), DENGINE_OK);
  dengine_node_close(node);

  /* Without TLS there is nothing to reload. */
  assert_int_equal(dengine_config_new(&config), DENGINE_OK);
  assert_int_equal(dengine_config_set_node_id(config, 1), DENGINE_OK);
  assert_int_equal(dengine_config_set_data_dir(config, data), DENGINE_OK);
  assert_int_equal(dengine_config_set_initial_voters(config, &voter, 1),
                   DENGINE_OK);
  assert_int_equal(dengine_node_start(config, &plain), DENGINE_OK);
  dengine_config_free(config);
  assert_int_equal(dengine_node_reload_tls(plain), DENGINE_ERR_UNSUPPORTED);
  assert_int_equal(dengine_node_reload_tls(NULL), DENGINE_ERR_INVALID_ARGUMENT);
  dengine_node_close(plain);

  free(data);
  free(cert);
  free(saved);
  temp_dir_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(setters_check_their_values),
      cmocka_unit_test(a_bad_setup_does_not_start),
      cmocka_unit_test(serves_clients_over_mutual_tls),
      cmocka_unit_test(reload_takes_new_files_and_keeps_old_ones_on_a_bad_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
