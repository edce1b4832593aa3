#include "sm/kv_machine.h"

#include "sm/apply_results.h"

#include <cstring>
#include <exception>
#include <memory>
#include <new>

#include "sm/file_kv_machine.h"
#include "sm/kv_backend.h"
#include "sm/rocksdb_kv_machine.h"

namespace dengine::sm {

using storage::Status;

namespace {

KvBackend* backend_of(void* user) { return static_cast<KvBackend*>(user); }

// Runs a callback body, turning exceptions into status codes: none may
// cross the C vtable.
template <typename Body>
int guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return DENGINE_ERR_INTERNAL;
  } catch (...) {
    return DENGINE_ERR_STATE_MACHINE;
  }
}

int flush(void* user) {
  return guarded([&]() -> int {
    return storage::to_dengine_code(backend_of(user)->flush());
  });
}

int apply_chunk(void* user, const dengine_entry* entries, size_t count,
                dengine_results* results) {
  return guarded([&]() -> int {
    if (entries == nullptr && count > 0) return DENGINE_ERR_INVALID_ARGUMENT;
    std::vector<std::optional<KvResult>> outcomes;
    // The machine lives beside the handler's types (sm/apply_results.h):
    // it fills them directly, as dengine_results_set and
    // dengine_events_publish would.
    const std::function<void()>* before_commit =
        results->before_commit ? &results->before_commit : nullptr;
    if (Status s = backend_of(user)->apply_chunk(
            entries, count, &outcomes, &results->events, before_commit);
        !s) {
      return storage::to_dengine_code(s);
    }
    for (size_t i = 0; i < outcomes.size(); ++i) {
      if (!outcomes[i]) continue;
      if (i >= results->entries.size()) return DENGINE_ERR_INTERNAL;
      const std::string bytes = encode_result(*outcomes[i]);
      results->entries[i].status = static_cast<int32_t>(outcomes[i]->code);
      results->entries[i].data.assign(bytes.begin(), bytes.end());
    }
    return DENGINE_OK;
  });
}

uint64_t last_applied(void* user) { return backend_of(user)->last_applied(); }

int read(void* user, const uint8_t* query, size_t len,
         dengine_read_result* out) {
  return guarded([&]() -> int {
    if (query == nullptr && len > 0) return DENGINE_ERR_INVALID_ARGUMENT;
    std::string answer;
    std::string_view bytes(reinterpret_cast<const char*>(query),
                           query ? len : 0);
    if (Status s = backend_of(user)->read(bytes, &answer, &out->revision); !s) {
      return storage::to_dengine_code(s);
    }
    out->data.assign(answer.begin(), answer.end());
    return DENGINE_OK;
  });
}

uint64_t len(void* user) { return backend_of(user)->len(); }

int generate_snapshot(void* user, const char* dir, uint64_t last_index) {
  return guarded([&]() -> int {
    if (dir == nullptr) return DENGINE_ERR_INVALID_ARGUMENT;
    return storage::to_dengine_code(
        backend_of(user)->generate_snapshot(dir, last_index));
  });
}

int install_snapshot(void* user, const char* dir,
                     const dengine_snapshot_meta* meta) {
  return guarded([&]() -> int {
    if (dir == nullptr || meta == nullptr) return DENGINE_ERR_INVALID_ARGUMENT;
    return storage::to_dengine_code(
        backend_of(user)->install_snapshot(dir, meta->last_index));
  });
}

int reset(void* user) {
  return guarded([&]() -> int {
    return storage::to_dengine_code(backend_of(user)->reset());
  });
}

}  // namespace

int open_kv_machine(const std::string& path, int backend,
                    dengine_state_machine* out, std::string* error) {
  return guarded([&]() -> int {
    if (out == nullptr || path.empty()) {
      *error = "open KV machine: no path or no output";
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    std::unique_ptr<KvBackend> machine;
    Status s;
    if (backend == DENGINE_KV_ROCKSDB) {
      std::unique_ptr<RocksDbKvMachine> rocksdb;
      s = RocksDbKvMachine::open(path, &rocksdb);
      machine = std::move(rocksdb);
    } else if (backend == DENGINE_KV_FILE) {
      std::unique_ptr<FileKvMachine> file;
      s = FileKvMachine::open(path, &file);
      machine = std::move(file);
    } else {
      s = Status::invalid_argument("unknown KV backend " +
                                   std::to_string(backend));
    }
    if (!s) {
      *error = s.to_string();
      return storage::to_dengine_code(s);
    }
    std::memset(out, 0, sizeof(*out));
    out->version = DENGINE_STATE_MACHINE_VERSION;
    out->struct_size = sizeof(dengine_state_machine);
    out->user = machine.release();
    // No start: the machine is ready once opened. stop only has to flush.
    out->stop = flush;
    out->apply_chunk = apply_chunk;
    out->last_applied = last_applied;
    out->read = read;
    out->len = len;
    out->generate_snapshot = generate_snapshot;
    out->install_snapshot = install_snapshot;
    out->flush = flush;
    out->reset = reset;
    return DENGINE_OK;
  });
}

void close_kv_machine(dengine_state_machine* machine) {
  if (machine == nullptr) return;
  delete backend_of(machine->user);
  std::memset(machine, 0, sizeof(*machine));
}

}  // namespace dengine::sm
