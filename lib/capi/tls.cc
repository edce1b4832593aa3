// dengine_node_reload_tls and dengine_client_open_tls: TLS options as the C
// API passes them, translated for the node (node/node.h) and the client
// (client/client.h), which load and check the files.
#include <memory>
#include <string>

#include "capi/client_handle.h"
#include "capi/errors.h"
#include "capi/handles.h"
#include "net/address.h"
#include "net/tls_context.h"
#include "node/options.h"
#include "sm/versioned_struct.h"

using dengine::capi::fail;
using dengine::capi::guarded;
using dengine::capi::valid;

namespace {

std::string text(const char* s) { return s == nullptr ? "" : s; }

// The files and version of a dengine_client_tls, or what is wrong with it.
std::string read_client_tls(const dengine_client_tls* in,
                            dengine::net::TlsOptions* files,
                            std::string* server_name) {
  dengine_client_tls tls;
  if (std::string e = dengine::sm::read_versioned(
          "tls", in, DENGINE_CLIENT_TLS_VERSION, &tls);
      !e.empty()) {
    return e;
  }
  files->ca_file = text(tls.ca_file);
  files->cert_file = text(tls.cert_file);
  files->key_file = text(tls.key_file);
  if (tls.min_version != nullptr) {
    if (std::string e = dengine::node::NodeOptions::tls_version_of(
            tls.min_version, &files->min_version);
        !e.empty()) {
      return "tls->min_version " + e;
    }
  }
  *server_name = text(tls.server_name);
  return dengine::net::validate(*files, /*cert_required=*/false);
}

}  // namespace

extern "C" {

int dengine_node_reload_tls(dengine_node* node) {
  return guarded("dengine_node_reload_tls", [&]() -> int {
    if (!valid(node, "dengine_node_reload_tls")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    std::string error;
    const int rc = node->node->reload_tls(&error);
    if (rc != DENGINE_OK) return fail(rc, "dengine_node_reload_tls: " + error);
    return DENGINE_OK;
  });
}

int dengine_client_open_tls(const char* endpoints, uint32_t timeout_ms,
                            const dengine_client_tls* tls,
                            dengine_client** out) {
  constexpr const char* kFunction = "dengine_client_open_tls";
  return guarded(kFunction, [&]() -> int {
    const std::string function(kFunction);
    if (endpoints == nullptr || out == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  function + ": endpoints and out must not be NULL");
    }
    *out = nullptr;
    dengine::net::TlsOptions files;
    std::string server_name;
    if (std::string e = read_client_tls(tls, &files, &server_name);
        !e.empty()) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT, function + ": " + e);
    }
    dengine::client::ClientOptions options =
        dengine::client::ClientOptions::bounded_by_deadline(
            dengine::net::split_address_list(endpoints),
            std::chrono::milliseconds(timeout_ms));
    if (std::string e = dengine::net::TlsContext::load(files, &options.tls);
        !e.empty()) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT, function + ": " + e);
    }
    options.tls_server_name = server_name;
    auto handle = std::make_unique<dengine_client>();
    if (dengine::client::Status s =
            dengine::client::Client::create(options, &handle->client);
        !s.ok()) {
      return dengine::capi::client_api::status_of(s, kFunction);
    }
    *out = handle.release();
    return DENGINE_OK;
  });
}

}  // extern "C"
