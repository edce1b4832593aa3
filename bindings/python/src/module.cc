// The dengine._dengine extension module: version, status codes, errors and
// the Reply type, then each concept's bindings (events, machine, watch,
// node, client, testkit).
#include <pybind11/stl.h>

#include <utility>

#include "bindings.h"

namespace dengine_py {

void raise_status(int code, const std::string& message, uint64_t leader_id,
                  const std::string& leader_address) {
  py::object error =
      py::module_::import("dengine.errors")
          .attr("from_status")(code, message, leader_id, leader_address);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())),
                  error.ptr());
  throw py::error_already_set();
}

void raise_last_error(int code) { raise_status(code, dengine_last_error()); }

std::string copy_bytes(py::handle object, const char* what) {
  if (PyUnicode_Check(object.ptr())) return object.cast<std::string>();
  Py_buffer view;
  if (PyObject_GetBuffer(object.ptr(), &view, PyBUF_SIMPLE) != 0) {
    PyErr_Clear();
    throw py::type_error(std::string(what) +
                         " must be bytes-like or str, not " +
                         Py_TYPE(object.ptr())->tp_name);
  }
  std::string out(static_cast<const char*>(view.buf),
                  static_cast<size_t>(view.len));
  PyBuffer_Release(&view);
  return out;
}

}  // namespace dengine_py

PYBIND11_MODULE(_dengine, m) {
  using namespace dengine_py;
  m.doc() = "dengine's C API for the dengine package (internal)";
  m.def("version", [] { return std::string(dengine_version()); });
  m.def("strerror",
        [](int code) { return std::string(dengine_strerror(code)); });

  // The header's constants, so the Python side never restates a value.
  const std::pair<const char*, int> constants[] = {
      {"OK", DENGINE_OK},
      {"ERR_INVALID_ARGUMENT", DENGINE_ERR_INVALID_ARGUMENT},
      {"ERR_NOT_LEADER", DENGINE_ERR_NOT_LEADER},
      {"ERR_TIMEOUT", DENGINE_ERR_TIMEOUT},
      {"ERR_SHUTTING_DOWN", DENGINE_ERR_SHUTTING_DOWN},
      {"ERR_CORRUPTION", DENGINE_ERR_CORRUPTION},
      {"ERR_IO", DENGINE_ERR_IO},
      {"ERR_NOT_FOUND", DENGINE_ERR_NOT_FOUND},
      {"ERR_UNSUPPORTED", DENGINE_ERR_UNSUPPORTED},
      {"ERR_BUSY", DENGINE_ERR_BUSY},
      {"ERR_STATE_MACHINE", DENGINE_ERR_STATE_MACHINE},
      {"ERR_INTERNAL", DENGINE_ERR_INTERNAL},
      {"ERR_SESSION_EXPIRED", DENGINE_ERR_SESSION_EXPIRED},
      {"ERR_COMPACTED", DENGINE_ERR_COMPACTED},
      {"ERR_WATCH_OVERFLOW", DENGINE_ERR_WATCH_OVERFLOW},
      {"ERR_CANCELLED", DENGINE_ERR_CANCELLED},
      {"ERR_PERMISSION_DENIED", DENGINE_ERR_PERMISSION_DENIED},
      {"LOG_DEBUG", DENGINE_LOG_DEBUG},
      {"LOG_INFO", DENGINE_LOG_INFO},
      {"LOG_WARN", DENGINE_LOG_WARN},
      {"LOG_ERROR", DENGINE_LOG_ERROR},
      {"ENTRY_NORMAL", DENGINE_ENTRY_NORMAL},
      {"ENTRY_NOOP", DENGINE_ENTRY_NOOP},
      {"ENTRY_MEMBERSHIP", DENGINE_ENTRY_MEMBERSHIP},
      {"STORAGE_WAL", DENGINE_STORAGE_WAL},
      {"STORAGE_ROCKSDB", DENGINE_STORAGE_ROCKSDB},
      {"KV_ROCKSDB", DENGINE_KV_ROCKSDB},
      {"KV_FILE", DENGINE_KV_FILE},
      {"READ_DEFAULT", DENGINE_READ_DEFAULT},
      {"READ_LINEARIZABLE", DENGINE_READ_LINEARIZABLE},
      {"READ_LEASE", DENGINE_READ_LEASE},
      {"READ_EVENTUAL", DENGINE_READ_EVENTUAL},
      {"ROLE_FOLLOWER", DENGINE_ROLE_FOLLOWER},
      {"ROLE_PRE_CANDIDATE", DENGINE_ROLE_PRE_CANDIDATE},
      {"ROLE_CANDIDATE", DENGINE_ROLE_CANDIDATE},
      {"ROLE_LEADER", DENGINE_ROLE_LEADER},
      {"EVENT_PUT", DENGINE_EVENT_PUT},
      {"EVENT_DELETE", DENGINE_EVENT_DELETE},
      {"EVENT_EXPIRE", DENGINE_EVENT_EXPIRE},
      {"EVENT_USER", DENGINE_EVENT_USER},
      {"EVENT_MEMBER_ADDED", DENGINE_EVENT_MEMBER_ADDED},
      {"EVENT_MEMBER_PROMOTED", DENGINE_EVENT_MEMBER_PROMOTED},
      {"EVENT_MEMBER_REMOVED", DENGINE_EVENT_MEMBER_REMOVED},
      {"EVENT_LEADER", DENGINE_EVENT_LEADER},
      {"WATCH_KV", DENGINE_WATCH_KV},
      {"WATCH_TOPIC", DENGINE_WATCH_TOPIC},
      {"WATCH_CLUSTER", DENGINE_WATCH_CLUSTER},
      {"METRIC_COUNTER", DENGINE_METRIC_COUNTER},
      {"METRIC_GAUGE", DENGINE_METRIC_GAUGE},
      {"METRIC_HISTOGRAM", DENGINE_METRIC_HISTOGRAM},
  };
  for (const auto& [name, value] : constants) m.attr(name) = value;

  py::class_<Reply>(m, "Reply")
      .def_readonly("result", &Reply::result)
      .def_property_readonly("data",
                             [](const Reply& r) { return py::bytes(r.data); })
      .def_readonly("index", &Reply::index)
      .def_readonly("duplicate", &Reply::duplicate)
      .def_readonly("leader_id", &Reply::leader_id)
      .def_readonly("leader_address", &Reply::leader_address)
      .def_readonly("message", &Reply::message);

  register_events(m);
  register_machine(m);
  register_watch(m);
  register_node(m);
  register_client(m);
  register_testkit(m);
}
