// dengine.testing's C side: the conformance and performance suites of
// include/dengine.h over machines made by a Python factory. The suites run
// with the GIL released; every builder and machine callback takes it.
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "bindings.h"
#include "machine.h"

namespace dengine_py {
namespace {

struct Builder {
  py::object open;              // open(path) -> Machine adapter
  py::object make_command;      // None, or make_command(n) -> bytes
  py::object make_state_query;  // None, or make_state_query() -> bytes
  py::object first_error;       // the first exception a builder call raised
  std::map<const void*, py::object> machines;  // by vtable user: kept open

  // Keeps the Python exception being raised as first_error (GIL held).
  void record(py::error_already_set& e) {
    if (first_error.is_none()) first_error = e.value();
  }
};

// Copies `bytes` into buf[0..cap) as make_command does; returns its length.
size_t copy_out(const py::bytes& bytes, uint8_t* buf, size_t cap) {
  const std::string_view view = bytes;
  if (view.size() <= cap && !view.empty()) {
    std::copy(view.begin(), view.end(), buf);
  }
  return view.size();
}

int open_machine(void* user, const char* path, dengine_state_machine* out) {
  auto* builder = static_cast<Builder*>(user);
  py::gil_scoped_acquire gil;
  try {
    py::object adapter = builder->open(py::str(path));
    const auto& machine = adapter.cast<const MachineAdapter&>();
    *out = machine.vtable();
    builder->machines[out->user] = std::move(adapter);
    return DENGINE_OK;
  } catch (py::error_already_set& e) {
    builder->record(e);
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    py::error_already_set error;
    builder->record(error);
  }
  return DENGINE_ERR_STATE_MACHINE;
}

void close_machine(void* user, dengine_state_machine* machine) {
  auto* builder = static_cast<Builder*>(user);
  py::gil_scoped_acquire gil;
  builder->machines.erase(machine->user);
  *machine = dengine_state_machine{};
}

size_t make_command(void* user, uint64_t n, uint8_t* buf, size_t cap) {
  auto* builder = static_cast<Builder*>(user);
  py::gil_scoped_acquire gil;
  try {
    return copy_out(py::bytes(builder->make_command(n)), buf, cap);
  } catch (py::error_already_set& e) {
    builder->record(e);
    return 0;
  }
}

size_t make_state_query(void* user, uint8_t* buf, size_t cap) {
  auto* builder = static_cast<Builder*>(user);
  py::gil_scoped_acquire gil;
  try {
    return copy_out(py::bytes(builder->make_state_query()), buf, cap);
  } catch (py::error_already_set& e) {
    builder->record(e);
    return 0;
  }
}

using SuiteRun = int (*)(const dengine_sm_builder*, const char*, char**);

// Runs `suite`; returns (status, report, first builder exception or None).
py::tuple run_suite(SuiteRun suite, py::object open, const std::string& dir,
                    py::object command, py::object state_query) {
  Builder builder{std::move(open),
                  std::move(command),
                  std::move(state_query),
                  py::none(),
                  {}};
  dengine_sm_builder b{};
  b.version = DENGINE_SM_BUILDER_VERSION;
  b.struct_size = sizeof b;
  b.user = &builder;
  b.open = &open_machine;
  b.close = &close_machine;
  if (!builder.make_command.is_none()) b.make_command = &make_command;
  if (!builder.make_state_query.is_none()) {
    b.make_state_query = &make_state_query;
  }
  char* report = nullptr;
  int status;
  std::string error;
  {
    py::gil_scoped_release release;
    status = suite(&b, dir.c_str(), &report);
    if (status != DENGINE_OK) error = dengine_last_error();
  }
  std::string text = report != nullptr ? report : error;
  dengine_free(report);
  builder.machines.clear();
  return py::make_tuple(status, text, builder.first_error);
}

}  // namespace

void register_testkit(py::module_& m) {
  m.def(
      "run_conformance",
      [](py::object open, const std::string& dir, py::object command,
         py::object state_query) {
        return run_suite(&dengine_sm_conformance_run, std::move(open), dir,
                         std::move(command), std::move(state_query));
      },
      py::arg("open"), py::arg("dir"), py::arg("make_command"),
      py::arg("make_state_query"));
  m.def(
      "run_performance",
      [](py::object open, const std::string& dir, py::object command,
         py::object state_query) {
        return run_suite(&dengine_sm_performance_run, std::move(open), dir,
                         std::move(command), std::move(state_query));
      },
      py::arg("open"), py::arg("dir"), py::arg("make_command"),
      py::arg("make_state_query"));
}

}  // namespace dengine_py
