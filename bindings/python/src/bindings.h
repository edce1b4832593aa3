// Shared by the source files of the dengine._dengine extension: a pybind11
// module over include/dengine.h only (never lib/ internals). The Python
// package dengine/ wraps it; nothing here is meant to be called directly.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dengine.h"

namespace dengine_py {

namespace py = pybind11;

// A reply copied out of a dengine_reply, so that it outlives the callback or
// the blocking call that produced it.
struct Reply {
  int32_t result = 0;
  std::string data;
  uint64_t index = 0;
  bool duplicate = false;
  uint64_t leader_id = 0;
  std::string leader_address;
  std::string message;
};

Reply copy_reply(const dengine_reply& reply);

// Raises the dengine.errors exception for a failed status `code`.
[[noreturn]] void raise_status(int code, const std::string& message,
                               uint64_t leader_id = 0,
                               const std::string& leader_address = {});

// Raises for `code` with this thread's dengine_last_error(): call on the
// thread that made the failing call, before any other dengine call.
[[noreturn]] void raise_last_error(int code);

// A dengine_status as a dict (members as (id, voter, address) tuples).
py::dict status_to_dict(const dengine_status& status);

// A timeout in milliseconds as the C API takes it.
using TimeoutMs = uint32_t;

// Copies a bytes-like object (bytes, bytearray, memoryview) or a str (as
// UTF-8) so it can be used with the GIL released.
std::string copy_bytes(py::handle object, const char* what);

// Keys copied out of a Python list, in the (pointers, lengths) form the
// get_multi calls take.
struct KeyList {
  explicit KeyList(const py::list& keys);
  std::vector<std::string> owned;
  std::vector<const void*> pointers;
  std::vector<size_t> lengths;
};

// get_multi's answer: per key, its value or None.
py::list found_values(const dengine_kv_items& items);
// scan_prefix's answer: (key, value) pairs.
py::list key_values(const dengine_kv_items& items);

// A metrics snapshot's samples as (name, help, type, label_name,
// label_value, value, count, buckets) tuples, buckets as (upper_bound,
// cumulative_count) pairs (empty but for histograms).
py::list metric_samples(const dengine_metrics& metrics);

void register_events(py::module_& m);
void register_machine(py::module_& m);
void register_watch(py::module_& m);
void register_node(py::module_& m);
void register_client(py::module_& m);
void register_testkit(py::module_& m);

}  // namespace dengine_py
