// Conversions of dengine's result structs, shared by nodes and clients.
#include <string>

#include "bindings.h"

namespace dengine_py {

Reply copy_reply(const dengine_reply& reply) {
  Reply out;
  out.result = reply.result;
  if (reply.data != nullptr && reply.len > 0) {
    out.data.assign(reinterpret_cast<const char*>(reply.data), reply.len);
  }
  out.index = reply.index;
  out.duplicate = reply.duplicate != 0;
  out.leader_id = reply.leader_id;
  if (reply.leader_address != nullptr) {
    out.leader_address = reply.leader_address;
  }
  if (reply.message != nullptr) out.message = reply.message;
  return out;
}

KeyList::KeyList(const py::list& keys) {
  for (py::handle key : keys) owned.push_back(copy_bytes(key, "a key"));
  for (const auto& key : owned) {
    pointers.push_back(key.data());
    lengths.push_back(key.size());
  }
}

py::list found_values(const dengine_kv_items& items) {
  py::list out;
  for (size_t i = 0; i < items.count; ++i) {
    const dengine_kv_item& item = items.items[i];
    if (item.found) {
      out.append(
          py::bytes(reinterpret_cast<const char*>(item.value), item.value_len));
    } else {
      out.append(py::none());
    }
  }
  return out;
}

py::list key_values(const dengine_kv_items& items) {
  py::list out;
  for (size_t i = 0; i < items.count; ++i) {
    const dengine_kv_item& item = items.items[i];
    out.append(py::make_tuple(
        py::bytes(reinterpret_cast<const char*>(item.key), item.key_len),
        py::bytes(reinterpret_cast<const char*>(item.value), item.value_len)));
  }
  return out;
}

py::list metric_samples(const dengine_metrics& metrics) {
  py::list out;
  const size_t count = dengine_metrics_count(&metrics);
  for (size_t i = 0; i < count; ++i) {
    const dengine_metric& m = *dengine_metrics_at(&metrics, i);
    py::list buckets;
    for (size_t b = 0; b < m.bucket_count; ++b) {
      buckets.append(py::make_tuple(m.upper_bounds[b], m.bucket_counts[b]));
    }
    out.append(py::make_tuple(std::string(m.name), std::string(m.help), m.type,
                              std::string(m.label_name),
                              std::string(m.label_value), m.value, m.count,
                              buckets));
  }
  return out;
}

py::dict status_to_dict(const dengine_status& s) {
  py::list members;
  for (size_t i = 0; i < s.member_count; ++i) {
    members.append(py::make_tuple(s.members[i].id, s.members[i].voter != 0,
                                  std::string(s.members[i].address)));
  }
  py::dict out;
  out["id"] = s.id;
  out["role"] = s.role;
  out["term"] = s.term;
  out["leader_id"] = s.leader_id;
  out["leader_address"] = std::string(s.leader_address);
  out["commit_index"] = s.commit_index;
  out["applied_index"] = s.applied_index;
  out["last_log_index"] = s.last_log_index;
  out["snapshot_index"] = s.snapshot_index;
  out["fatal_status"] = s.fatal_status;
  out["members"] = members;
  return out;
}

}  // namespace dengine_py
