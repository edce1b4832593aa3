// A Python state machine behind the C vtable (dengine_state_machine).
//
// Every callback takes the GIL for its whole call and only then touches
// Python: apply_chunk takes it once per chunk, builds the list of entries,
// calls machine.apply(entries) and copies the results back. dengine never
// holds the GIL while it waits or does I/O, because every blocking call of
// this extension releases it first.
//
// A Python exception in a callback becomes a non-zero status: the adapter
// hands the exception (with its traceback) to on_failure(callback, exc),
// which logs it and returns the status to report. A failed apply_chunk
// stops the node with DENGINE_ERR_STATE_MACHINE.
#pragma once

#include "bindings.h"

namespace dengine_py {

class MachineAdapter {
 public:
  // `implemented`: the optional methods the machine defines (a set of
  // "start", "stop", "read", "last_applied", "len", "flush", "reset"); the
  // others stay NULL in the vtable and take dengine's documented default.
  // entry_type(index, term, kind, data) and meta_type(last_index,
  // last_term, sha256) build what apply and restore receive.
  MachineAdapter(py::object machine, py::object implemented,
                 py::object entry_type, py::object meta_type,
                 py::object on_failure);

  MachineAdapter(const MachineAdapter&) = delete;
  MachineAdapter& operator=(const MachineAdapter&) = delete;

  // vtable().user is this adapter: it must outlive every node or suite
  // given the vtable.
  const dengine_state_machine& vtable() const { return vtable_; }
  const py::object& machine() const { return machine_; }

 private:
  static int start(void* user);
  static int stop(void* user);
  static int apply_chunk(void* user, const dengine_entry* entries, size_t count,
                         dengine_results* results);
  static uint64_t last_applied(void* user);
  static int read(void* user, const uint8_t* query, size_t len,
                  dengine_read_result* out);
  static uint64_t len(void* user);
  static int generate_snapshot(void* user, const char* dir,
                               uint64_t last_index);
  static int install_snapshot(void* user, const char* dir,
                              const dengine_snapshot_meta* meta);
  static int flush(void* user);
  static int reset(void* user);

  // Runs `body` (returning a status) with the GIL held; an exception
  // becomes the status on_failure returns for it.
  template <typename Body>
  int run(const char* callback, Body&& body) noexcept;
  // Reports the Python error being raised; GIL held.
  int report_failure(const char* callback) noexcept;

  py::object machine_;
  py::object entry_type_;
  py::object meta_type_;
  py::object on_failure_;
  dengine_state_machine vtable_{};
};

}  // namespace dengine_py
