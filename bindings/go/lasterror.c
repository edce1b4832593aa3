#include "lasterror.h"

#include <stdlib.h>
#include <string.h>

int godengine_captured(int status, char** message) {
  const char* last;
  size_t len;
  if (status == DENGINE_OK) return status;
  last = dengine_last_error();
  len = strlen(last) + 1;
  *message = malloc(len);
  if (*message != NULL) memcpy(*message, last, len);
  return status;
}

/* ----- config ----- */

int godengine_config_new(dengine_config** out, char** message) {
  return godengine_captured(dengine_config_new(out), message);
}

int godengine_config_load_toml(dengine_config* config, const char* path,
                               const char* env_prefix, char** message) {
  return godengine_captured(dengine_config_load_toml(config, path, env_prefix),
                            message);
}

int godengine_config_set_node_id(dengine_config* config, uint64_t id,
                                 char** message) {
  return godengine_captured(dengine_config_set_node_id(config, id), message);
}

int godengine_config_set_cluster_id(dengine_config* config, uint64_t id,
                                    char** message) {
  return godengine_captured(dengine_config_set_cluster_id(config, id), message);
}

int godengine_config_set_data_dir(dengine_config* config, const char* dir,
                                  char** message) {
  return godengine_captured(dengine_config_set_data_dir(config, dir), message);
}

int godengine_config_set_peer_address(dengine_config* config,
                                      const char* address, char** message) {
  return godengine_captured(dengine_config_set_peer_address(config, address),
                            message);
}

int godengine_config_add_peer(dengine_config* config, uint64_t id,
                              const char* address, char** message) {
  return godengine_captured(dengine_config_add_peer(config, id, address),
                            message);
}

int godengine_config_set_initial_voters(dengine_config* config,
                                        const uint64_t* ids, size_t count,
                                        char** message) {
  return godengine_captured(
      dengine_config_set_initial_voters(config, ids, count), message);
}

int godengine_config_set_client_address(dengine_config* config,
                                        const char* address, char** message) {
  return godengine_captured(dengine_config_set_client_address(config, address),
                            message);
}

int godengine_config_add_peer_client_address(dengine_config* config,
                                             uint64_t id, const char* address,
                                             char** message) {
  return godengine_captured(
      dengine_config_add_peer_client_address(config, id, address), message);
}

int godengine_config_set_log_backend(dengine_config* config, int backend,
                                     char** message) {
  return godengine_captured(dengine_config_set_log_backend(config, backend),
                            message);
}

int godengine_config_set_kv_backend(dengine_config* config, int backend,
                                    char** message) {
  return godengine_captured(dengine_config_set_kv_backend(config, backend),
                            message);
}

int godengine_config_set_tick_ms(dengine_config* config, uint32_t tick_ms,
                                 char** message) {
  return godengine_captured(dengine_config_set_tick_ms(config, tick_ms),
                            message);
}

int godengine_config_set_election_ticks(dengine_config* config, uint32_t ticks,
                                        char** message) {
  return godengine_captured(dengine_config_set_election_ticks(config, ticks),
                            message);
}

int godengine_config_set_heartbeat_ticks(dengine_config* config, uint32_t ticks,
                                         char** message) {
  return godengine_captured(dengine_config_set_heartbeat_ticks(config, ticks),
                            message);
}

int godengine_config_set_snapshot_entries(dengine_config* config,
                                          uint64_t entries, char** message) {
  return godengine_captured(
      dengine_config_set_snapshot_entries(config, entries), message);
}

int godengine_config_set_snapshot_bytes(dengine_config* config, uint64_t bytes,
                                        char** message) {
  return godengine_captured(dengine_config_set_snapshot_bytes(config, bytes),
                            message);
}

int godengine_config_set_snapshots_kept(dengine_config* config, uint32_t count,
                                        char** message) {
  return godengine_captured(dengine_config_set_snapshots_kept(config, count),
                            message);
}

int godengine_config_set_default_read(dengine_config* config, int consistency,
                                      char** message) {
  return godengine_captured(
      dengine_config_set_default_read(config, consistency), message);
}

int godengine_config_set_max_entry_bytes(dengine_config* config, uint64_t bytes,
                                         char** message) {
  return godengine_captured(dengine_config_set_max_entry_bytes(config, bytes),
                            message);
}

int godengine_config_set_watch_history_events(dengine_config* config,
                                              uint64_t count, char** message) {
  return godengine_captured(
      dengine_config_set_watch_history_events(config, count), message);
}

int godengine_config_set_watch_history_bytes(dengine_config* config,
                                             uint64_t bytes, char** message) {
  return godengine_captured(
      dengine_config_set_watch_history_bytes(config, bytes), message);
}

int godengine_config_set_tls_cert_file(dengine_config* config, const char* path,
                                       char** message) {
  return godengine_captured(dengine_config_set_tls_cert_file(config, path),
                            message);
}

int godengine_config_set_tls_key_file(dengine_config* config, const char* path,
                                      char** message) {
  return godengine_captured(dengine_config_set_tls_key_file(config, path),
                            message);
}

int godengine_config_set_tls_ca_file(dengine_config* config, const char* path,
                                     char** message) {
  return godengine_captured(dengine_config_set_tls_ca_file(config, path),
                            message);
}

int godengine_config_set_tls_min_version(dengine_config* config,
                                         const char* version, char** message) {
  return godengine_captured(dengine_config_set_tls_min_version(config, version),
                            message);
}

int godengine_config_set_tls_require_client_cert(dengine_config* config,
                                                 int require, char** message) {
  return godengine_captured(
      dengine_config_set_tls_require_client_cert(config, require), message);
}

int godengine_config_add_tls_admin_identity(dengine_config* config,
                                            const char* identity,
                                            char** message) {
  return godengine_captured(
      dengine_config_add_tls_admin_identity(config, identity), message);
}

int godengine_config_set_state_machine(dengine_config* config,
                                       const dengine_state_machine* machine,
                                       char** message) {
  return godengine_captured(dengine_config_set_state_machine(config, machine),
                            message);
}

/* ----- node and client ----- */

int godengine_node_start(const dengine_config* config, dengine_node** out,
                         char** message) {
  return godengine_captured(dengine_node_start(config, out), message);
}

int godengine_node_stop(dengine_node* node, char** message) {
  return godengine_captured(dengine_node_stop(node), message);
}

int godengine_node_status(dengine_node* node, dengine_status* out,
                          char** message) {
  return godengine_captured(dengine_node_status(node, out), message);
}

int godengine_node_watch_range(dengine_node* node, uint64_t* oldest,
                               uint64_t* next, char** message) {
  return godengine_captured(dengine_node_watch_range(node, oldest, next),
                            message);
}

int godengine_client_open(const char* endpoints, uint32_t timeout_ms,
                          dengine_client** out, char** message) {
  return godengine_captured(dengine_client_open(endpoints, timeout_ms, out),
                            message);
}

int godengine_client_open_tls(const char* endpoints, uint32_t timeout_ms,
                              const dengine_client_tls* tls,
                              dengine_client** out, char** message) {
  return godengine_captured(
      dengine_client_open_tls(endpoints, timeout_ms, tls, out), message);
}

int godengine_node_reload_tls(dengine_node* node, char** message) {
  return godengine_captured(dengine_node_reload_tls(node), message);
}

/* ----- metrics ----- */

int godengine_node_metrics(dengine_node* node, dengine_metrics** out,
                           char** message) {
  return godengine_captured(dengine_node_metrics(node, out), message);
}

int godengine_metrics_text(const dengine_metrics* metrics, char** out,
                           char** message) {
  return godengine_captured(dengine_metrics_text(metrics, out), message);
}

int godengine_client_metrics(dengine_client* client, char** text,
                             char** message) {
  return godengine_captured(dengine_client_metrics(client, text), message);
}

/* ----- a Go machine's apply ----- */

int godengine_events_publish(dengine_results* results, size_t i,
                             const void* topic, size_t topic_len,
                             const void* data, size_t len, char** message) {
  return godengine_captured(
      dengine_events_publish(results, i, topic, topic_len, data, len), message);
}

/* ----- the KV codec ----- */

int godengine_kv_encode_put(const void* key, size_t key_len, const void* value,
                            size_t value_len, uint64_t ttl_ms, uint8_t** out,
                            size_t* out_len, char** message) {
  return godengine_captured(
      dengine_kv_encode_put(key, key_len, value, value_len, ttl_ms, out,
                            out_len),
      message);
}

int godengine_kv_encode_delete(const void* key, size_t key_len, uint8_t** out,
                               size_t* out_len, char** message) {
  return godengine_captured(
      dengine_kv_encode_delete(key, key_len, out, out_len), message);
}

int godengine_kv_encode_cas(const void* key, size_t key_len,
                            const void* expected, size_t expected_len,
                            const void* value, size_t value_len, uint8_t** out,
                            size_t* out_len, char** message) {
  return godengine_captured(
      dengine_kv_encode_cas(key, key_len, expected, expected_len, value,
                            value_len, out, out_len),
      message);
}

int godengine_kv_encode_get(const void* key, size_t key_len, uint8_t** out,
                            size_t* out_len, char** message) {
  return godengine_captured(dengine_kv_encode_get(key, key_len, out, out_len),
                            message);
}

int godengine_kv_encode_get_multi(const void* const* keys,
                                  const size_t* key_lens, size_t count,
                                  uint8_t** out, size_t* out_len,
                                  char** message) {
  return godengine_captured(
      dengine_kv_encode_get_multi(keys, key_lens, count, out, out_len),
      message);
}

int godengine_kv_encode_scan_prefix(const void* prefix, size_t prefix_len,
                                    uint32_t limit, uint8_t** out,
                                    size_t* out_len, char** message) {
  return godengine_captured(
      dengine_kv_encode_scan_prefix(prefix, prefix_len, limit, out, out_len),
      message);
}

int godengine_kv_decode_write(const void* data, size_t len, int* applied,
                              int* existed, char** message) {
  return godengine_captured(
      dengine_kv_decode_write(data, len, applied, existed), message);
}

int godengine_kv_decode_read(const void* query, size_t query_len,
                             const void* answer, size_t answer_len,
                             dengine_kv_items* out, char** message) {
  return godengine_captured(
      dengine_kv_decode_read(query, query_len, answer, answer_len, out),
      message);
}

/* ----- the conformance and performance suites ----- */

int godengine_sm_conformance_run(const dengine_sm_builder* builder,
                                 const char* dir, char** report,
                                 char** message) {
  return godengine_captured(dengine_sm_conformance_run(builder, dir, report),
                            message);
}

int godengine_sm_performance_run(const dengine_sm_builder* builder,
                                 const char* dir, char** report,
                                 char** message) {
  return godengine_captured(dengine_sm_performance_run(builder, dir, report),
                            message);
}
