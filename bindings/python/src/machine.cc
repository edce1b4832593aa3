#include "machine.h"

#include <exception>
#include <string>
#include <utility>

namespace dengine_py {
namespace {

py::bytes bytes_of(const uint8_t* data, size_t len) {
  return py::bytes(len == 0 ? "" : reinterpret_cast<const char*>(data), len);
}

// Calls `use(data, len)` with the bytes of a bytes-like `object`.
template <typename Use>
int with_buffer(py::handle object, const char* what, Use&& use) {
  Py_buffer view;
  if (PyObject_GetBuffer(object.ptr(), &view, PyBUF_SIMPLE) != 0) {
    PyErr_Clear();
    throw py::type_error(std::string(what) + " must be bytes-like, not " +
                         Py_TYPE(object.ptr())->tp_name);
  }
  const int status = use(view.buf, static_cast<size_t>(view.len));
  PyBuffer_Release(&view);
  return status;
}

// Publishes entry i's events: an iterable of (topic, data) pairs, the topic
// bytes-like or str (UTF-8) and not empty, the data bytes-like.
void publish_events(dengine_results* results, size_t i, py::handle events) {
  for (py::handle event : events) {
    if (!PyTuple_Check(event.ptr()) || PyTuple_GET_SIZE(event.ptr()) != 2) {
      throw py::value_error(
          "a published event must be a (topic, data) tuple, not " +
          std::string(Py_TYPE(event.ptr())->tp_name));
    }
    const std::string topic =
        copy_bytes(PyTuple_GET_ITEM(event.ptr(), 0), "a topic");
    if (topic.empty()) throw py::value_error("a topic must not be empty");
    const int status =
        with_buffer(PyTuple_GET_ITEM(event.ptr(), 1), "an event's data",
                    [&](const void* buf, size_t len) {
                      return dengine_events_publish(results, i, topic.data(),
                                                    topic.size(), buf, len);
                    });
    if (status != DENGINE_OK) throw py::value_error(dengine_last_error());
  }
}

// One entry's result: None, bytes-like, (status, bytes-like or None), or
// (status, bytes-like or None, events) to publish events too.
int set_result(dengine_results* results, size_t i, py::handle item) {
  if (item.is_none()) return DENGINE_OK;
  int32_t status = 0;
  py::handle data = item;
  if (PyTuple_Check(item.ptr())) {
    const Py_ssize_t size = PyTuple_GET_SIZE(item.ptr());
    if (size != 2 && size != 3) {
      throw py::value_error(
          "a result tuple must be (status, data) or (status, data, events), "
          "got " +
          std::to_string(size) + " items");
    }
    status = py::reinterpret_borrow<py::object>(PyTuple_GET_ITEM(item.ptr(), 0))
                 .cast<int32_t>();
    data = PyTuple_GET_ITEM(item.ptr(), 1);
    if (size == 3) publish_events(results, i, PyTuple_GET_ITEM(item.ptr(), 2));
  }
  if (data.is_none())
    return dengine_results_set(results, i, status, nullptr, 0);
  return with_buffer(data, "a result", [&](const void* buf, size_t len) {
    return dengine_results_set(results, i, status, buf, len);
  });
}

int set_results(py::handle out, size_t count, dengine_results* results) {
  PyObject* fast =
      PySequence_Fast(out.ptr(), "apply must return a list of results");
  if (fast == nullptr) throw py::error_already_set();
  auto sequence = py::reinterpret_steal<py::object>(fast);
  const auto n = static_cast<size_t>(PySequence_Fast_GET_SIZE(fast));
  if (n != count) {
    throw py::value_error("apply returned " + std::to_string(n) +
                          " results for " + std::to_string(count) +
                          " entries (one per entry is required)");
  }
  PyObject** items = PySequence_Fast_ITEMS(fast);
  for (size_t i = 0; i < count; ++i) {
    const int status = set_result(results, i, items[i]);
    if (status != DENGINE_OK) return status;
  }
  return DENGINE_OK;
}

// Takes the Python error being raised, its traceback attached.
py::object take_error() {
#if PY_VERSION_HEX >= 0x030C0000
  return py::reinterpret_steal<py::object>(PyErr_GetRaisedException());
#else
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  PyErr_NormalizeException(&type, &value, &traceback);
  if (traceback != nullptr && value != nullptr) {
    PyException_SetTraceback(value, traceback);
  }
  Py_XDECREF(type);
  Py_XDECREF(traceback);
  return py::reinterpret_steal<py::object>(value);
#endif
}

bool implements(const py::object& implemented, const char* name) {
  return implemented.contains(py::str(name));
}

}  // namespace

MachineAdapter::MachineAdapter(py::object machine, py::object implemented,
                               py::object entry_type, py::object meta_type,
                               py::object on_failure)
    : machine_(std::move(machine)),
      entry_type_(std::move(entry_type)),
      meta_type_(std::move(meta_type)),
      on_failure_(std::move(on_failure)) {
  vtable_.version = DENGINE_STATE_MACHINE_VERSION;
  vtable_.struct_size = sizeof(dengine_state_machine);
  vtable_.user = this;
  vtable_.apply_chunk = &MachineAdapter::apply_chunk;
  vtable_.generate_snapshot = &MachineAdapter::generate_snapshot;
  vtable_.install_snapshot = &MachineAdapter::install_snapshot;
  if (implements(implemented, "start")) vtable_.start = &MachineAdapter::start;
  if (implements(implemented, "stop")) vtable_.stop = &MachineAdapter::stop;
  if (implements(implemented, "last_applied")) {
    vtable_.last_applied = &MachineAdapter::last_applied;
  }
  if (implements(implemented, "read")) vtable_.read = &MachineAdapter::read;
  if (implements(implemented, "len")) vtable_.len = &MachineAdapter::len;
  if (implements(implemented, "flush")) vtable_.flush = &MachineAdapter::flush;
  if (implements(implemented, "reset")) vtable_.reset = &MachineAdapter::reset;
}

template <typename Body>
int MachineAdapter::run(const char* callback, Body&& body) noexcept {
  py::gil_scoped_acquire gil;
  try {
    return body();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (py::builtin_exception& e) {
    e.set_error();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception");
  }
  return report_failure(callback);
}

int MachineAdapter::report_failure(const char* callback) noexcept {
  try {
    py::object error = take_error();
    return on_failure_(callback, error).cast<int>();
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable(callback);
  } catch (...) {
  }
  return DENGINE_ERR_STATE_MACHINE;
}

int MachineAdapter::start(void* user) {
  auto* self = static_cast<MachineAdapter*>(user);
  return self->run("start", [&] {
    self->machine_.attr("start")();
    return DENGINE_OK;
  });
}

int MachineAdapter::stop(void* user) {
  auto* self = static_cast<MachineAdapter*>(user);
  return self->run("stop", [&] {
    self->machine_.attr("stop")();
    return DENGINE_OK;
  });
}

int MachineAdapter::apply_chunk(void* user, const dengine_entry* entries,
                                size_t count, dengine_results* results) {
  auto* self = static_cast<MachineAdapter*>(user);
  return self->run("apply", [&] {
    py::list batch(count);
    for (size_t i = 0; i < count; ++i) {
      const dengine_entry& e = entries[i];
      batch[i] =
          self->entry_type_(e.index, e.term, e.kind, bytes_of(e.data, e.len));
    }
    py::object out = self->machine_.attr("apply")(batch);
    return set_results(out, count, results);
  });
}

uint64_t MachineAdapter::last_applied(void* user) {
  auto* self = static_cast<MachineAdapter*>(user);
  uint64_t index = 0;
  // dengine cannot be told this failed: the failure is logged and 0 (replay
  // everything since the last snapshot) is the answer.
  self->run("last_applied", [&] {
    index = self->machine_.attr("last_applied")().cast<uint64_t>();
    return DENGINE_OK;
  });
  return index;
}

int MachineAdapter::read(void* user, const uint8_t* query, size_t len,
                         dengine_read_result* out) {
  auto* self = static_cast<MachineAdapter*>(user);
  return self->run("read", [&] {
    py::object answer = self->machine_.attr("read")(bytes_of(query, len));
    if (answer.is_none()) return dengine_read_result_set(out, nullptr, 0);
    return with_buffer(answer, "a read's answer",
                       [&](const void* buf, size_t size) {
                         return dengine_read_result_set(out, buf, size);
                       });
  });
}

uint64_t MachineAdapter::len(void* user) {
  auto* self = static_cast<MachineAdapter*>(user);
  uint64_t count = 0;
  self->run("len", [&] {
    count = py::len(self->machine_);
    return DENGINE_OK;
  });
  return count;
}

int MachineAdapter::generate_snapshot(void* user, const char* dir,
                                      uint64_t last_index) {
  auto* self = static_cast<MachineAdapter*>(user);
  return self->run("snapshot", [&] {
    self->machine_.attr("snapshot")(py::str(dir), last_index);
    return DENGINE_OK;
  });
}

int MachineAdapter::install_snapshot(void* user, const char* dir,
                                     const dengine_snapshot_meta* meta) {
  auto* self = static_cast<MachineAdapter*>(user);
  return self->run("restore", [&] {
    py::object info =
        self->meta_type_(meta->last_index, meta->last_term,
                         bytes_of(meta->sha256, sizeof meta->sha256));
    self->machine_.attr("restore")(py::str(dir), info);
    return DENGINE_OK;
  });
}

int MachineAdapter::flush(void* user) {
  auto* self = static_cast<MachineAdapter*>(user);
  return self->run("flush", [&] {
    self->machine_.attr("flush")();
    return DENGINE_OK;
  });
}

int MachineAdapter::reset(void* user) {
  auto* self = static_cast<MachineAdapter*>(user);
  return self->run("reset", [&] {
    self->machine_.attr("reset")();
    return DENGINE_OK;
  });
}

void register_machine(py::module_& m) {
  py::class_<MachineAdapter>(m, "Machine")
      .def(py::init<py::object, py::object, py::object, py::object,
                    py::object>(),
           py::arg("machine"), py::arg("implemented"), py::arg("entry_type"),
           py::arg("meta_type"), py::arg("on_failure"))
      .def_property_readonly("machine", &MachineAdapter::machine);
}

}  // namespace dengine_py
