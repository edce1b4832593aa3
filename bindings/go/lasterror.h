/* Wrappers of the dengine calls the Go binding makes that have no reply to
 * carry their error message (config setters, node start/stop/status, the KV
 * codec, ...). godengine_X(args..., message) calls dengine_X(args...) and
 * returns its status; when that is not DENGINE_OK, it also sets *message to
 * a malloc'd copy (free with free; NULL if out of memory) of
 * dengine_last_error(), read right after the failed call. A cgo call runs
 * on one OS thread from start to end, so the thread-local message is the
 * failed call's own and Go needs no runtime.LockOSThread. On success
 * *message is left alone. */
#ifndef DENGINE_GO_LASTERROR_H
#define DENGINE_GO_LASTERROR_H

#include <stddef.h>
#include <stdint.h>

#include <dengine.h>

/* status, after setting *message as above when it is a failure: what every
 * wrapper returns, given the status of the dengine call it just made. For
 * C wrappers only: from Go, a separate cgo call may run on another thread. */
int godengine_captured(int status, char** message);

/* ----- config ----- */
int godengine_config_new(dengine_config** out, char** message);
int godengine_config_load_toml(dengine_config* config, const char* path,
                               const char* env_prefix, char** message);
int godengine_config_set_node_id(dengine_config* config, uint64_t id,
                                 char** message);
int godengine_config_set_cluster_id(dengine_config* config, uint64_t id,
                                    char** message);
int godengine_config_set_data_dir(dengine_config* config, const char* dir,
                                  char** message);
int godengine_config_set_peer_address(dengine_config* config,
                                      const char* address, char** message);
int godengine_config_add_peer(dengine_config* config, uint64_t id,
                              const char* address, char** message);
int godengine_config_set_initial_voters(dengine_config* config,
                                        const uint64_t* ids, size_t count,
                                        char** message);
int godengine_config_set_client_address(dengine_config* config,
                                        const char* address, char** message);
int godengine_config_add_peer_client_address(dengine_config* config,
                                             uint64_t id, const char* address,
                                             char** message);
int godengine_config_set_log_backend(dengine_config* config, int backend,
                                     char** message);
int godengine_config_set_kv_backend(dengine_config* config, int backend,
                                    char** message);
int godengine_config_set_tick_ms(dengine_config* config, uint32_t tick_ms,
                                 char** message);
int godengine_config_set_election_ticks(dengine_config* config, uint32_t ticks,
                                        char** message);
int godengine_config_set_heartbeat_ticks(dengine_config* config, uint32_t ticks,
                                         char** message);
int godengine_config_set_snapshot_entries(dengine_config* config,
                                          uint64_t entries, char** message);
int godengine_config_set_snapshot_bytes(dengine_config* config, uint64_t bytes,
                                        char** message);
int godengine_config_set_snapshots_kept(dengine_config* config, uint32_t count,
                                        char** message);
int godengine_config_set_default_read(dengine_config* config, int consistency,
                                      char** message);
int godengine_config_set_max_entry_bytes(dengine_config* config, uint64_t bytes,
                                         char** message);
int godengine_config_set_watch_history_events(dengine_config* config,
                                              uint64_t count, char** message);
int godengine_config_set_watch_history_bytes(dengine_config* config,
                                             uint64_t bytes, char** message);
int godengine_config_set_tls_cert_file(dengine_config* config, const char* path,
                                       char** message);
int godengine_config_set_tls_key_file(dengine_config* config, const char* path,
                                      char** message);
int godengine_config_set_tls_ca_file(dengine_config* config, const char* path,
                                     char** message);
int godengine_config_set_tls_min_version(dengine_config* config,
                                         const char* version, char** message);
int godengine_config_set_tls_require_client_cert(dengine_config* config,
                                                 int require, char** message);
int godengine_config_add_tls_admin_identity(dengine_config* config,
                                            const char* identity,
                                            char** message);
int godengine_config_set_state_machine(dengine_config* config,
                                       const dengine_state_machine* machine,
                                       char** message);

/* ----- node and client ----- */
int godengine_node_start(const dengine_config* config, dengine_node** out,
                         char** message);
int godengine_node_stop(dengine_node* node, char** message);
int godengine_node_status(dengine_node* node, dengine_status* out,
                          char** message);
int godengine_node_watch_range(dengine_node* node, uint64_t* oldest,
                               uint64_t* next, char** message);
int godengine_client_open(const char* endpoints, uint32_t timeout_ms,
                          dengine_client** out, char** message);

int godengine_client_open_tls(const char* endpoints, uint32_t timeout_ms,
                              const dengine_client_tls* tls,
                              dengine_client** out, char** message);
int godengine_node_reload_tls(dengine_node* node, char** message);

/* ----- metrics ----- */
int godengine_node_metrics(dengine_node* node, dengine_metrics** out,
                           char** message);
int godengine_metrics_text(const dengine_metrics* metrics, char** out,
                           char** message);
int godengine_client_metrics(dengine_client* client, char** text,
                             char** message);

/* ----- a Go machine's apply ----- */
int godengine_events_publish(dengine_results* results, size_t i,
                             const void* topic, size_t topic_len,
                             const void* data, size_t len, char** message);

/* ----- the KV codec ----- */
int godengine_kv_encode_put(const void* key, size_t key_len, const void* value,
                            size_t value_len, uint64_t ttl_ms, uint8_t** out,
                            size_t* out_len, char** message);
int godengine_kv_encode_delete(const void* key, size_t key_len, uint8_t** out,
                               size_t* out_len, char** message);
int godengine_kv_encode_cas(const void* key, size_t key_len,
                            const void* expected, size_t expected_len,
                            const void* value, size_t value_len, uint8_t** out,
                            size_t* out_len, char** message);
int godengine_kv_encode_get(const void* key, size_t key_len, uint8_t** out,
                            size_t* out_len, char** message);
int godengine_kv_encode_get_multi(const void* const* keys,
                                  const size_t* key_lens, size_t count,
                                  uint8_t** out, size_t* out_len,
                                  char** message);
int godengine_kv_encode_scan_prefix(const void* prefix, size_t prefix_len,
                                    uint32_t limit, uint8_t** out,
                                    size_t* out_len, char** message);
int godengine_kv_decode_write(const void* data, size_t len, int* applied,
                              int* existed, char** message);
int godengine_kv_decode_read(const void* query, size_t query_len,
                             const void* answer, size_t answer_len,
                             dengine_kv_items* out, char** message);

/* ----- the conformance and performance suites ----- */
int godengine_sm_conformance_run(const dengine_sm_builder* builder,
                                 const char* dir, char** report,
                                 char** message);
int godengine_sm_performance_run(const dengine_sm_builder* builder,
                                 const char* dir, char** report,
                                 char** message);

#endif /* DENGINE_GO_LASTERROR_H */
