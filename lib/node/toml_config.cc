#include "node/toml_config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "node/config_keys.h"

namespace dengine::node {
namespace {

using config::Key;
using config::Kind;
using config::quoted;
using config::Value;

const char* type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string position(std::string_view source,
                     const toml::source_region& region) {
  return std::string(source) + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column);
}

std::string upper(std::string_view text) {
  std::string result(text);
  for (char& c : result) {
    c = c == '.' ? '_' : static_cast<char>(std::toupper(c));
  }
  return result;
}

// "DENGINE_RAFT_": every variable of a section starts with it.
std::string section_prefix(std::string_view env_prefix,
                           std::string_view section) {
  return std::string(env_prefix) + upper(section) + "_";
}

// Reads the TOML value of one key. Errors are whole messages: element errors
// point at the element.
class ValueReader {
 public:
  ValueReader(std::string_view source, const Key& key)
      : source_(source), name_(config::full_name(key)), key_(key) {}

  std::string read(const toml::node& node, Value* out) const {
    switch (key_.kind) {
      case Kind::kCount:
        return read_count(node, name_, out);
      case Kind::kString:
        if (!node.is_string()) return wrong_type(node, name_, "a string");
        *out = node.as_string()->get();
        return "";
      case Kind::kSize:
        return read_size(node, out);
      case Kind::kIdList:
        return read_voters(node, out);
      case Kind::kPeerList:
        return read_peers(node, out);
      case Kind::kBool:
        if (!node.is_boolean()) return wrong_type(node, name_, "true or false");
        *out = node.as_boolean()->get();
        return "";
      case Kind::kStringList:
        return read_strings(node, out);
    }
    return fail(node, name_, "unknown kind of value");
  }

 private:
  std::string fail(const toml::node& at, const std::string& what,
                   const std::string& problem) const {
    return position(source_, at.source()) + ": " + what + ": " + problem;
  }

  std::string wrong_type(const toml::node& at, const std::string& what,
                         const char* expected) const {
    return fail(at, what,
                std::string("expected ") + expected + ", got " + type_name(at));
  }

  std::string read_count(const toml::node& node, const std::string& what,
                         Value* out) const {
    if (!node.is_integer()) return wrong_type(node, what, "an integer");
    const int64_t value = node.as_integer()->get();
    if (value < 0) {
      return fail(node, what,
                  "must not be negative, got " + std::to_string(value));
    }
    *out = static_cast<uint64_t>(value);
    return "";
  }

  std::string read_size(const toml::node& node, Value* out) const {
    if (node.is_integer()) return read_count(node, name_, out);
    if (!node.is_string()) {
      return fail(node, name_,
                  std::string("expected a size (an integer, or a string such "
                              "as \"64MiB\"), got ") +
                      type_name(node));
    }
    uint64_t bytes = 0;
    std::string problem = config::parse_size(node.as_string()->get(), &bytes);
    if (!problem.empty()) return fail(node, name_, problem);
    *out = bytes;
    return "";
  }

  std::string read_strings(const toml::node& node, Value* out) const {
    if (!node.is_array()) return wrong_type(node, name_, "an array of strings");
    std::vector<std::string> items;
    const toml::array& array = *node.as_array();
    for (size_t i = 0; i < array.size(); ++i) {
      const toml::node& element = array[i];
      if (!element.is_string()) {
        return wrong_type(element, name_ + "[" + std::to_string(i) + "]",
                          "a string");
      }
      items.push_back(element.as_string()->get());
    }
    *out = std::move(items);
    return "";
  }

  std::string read_voters(const toml::node& node, Value* out) const {
    if (!node.is_array()) return wrong_type(node, name_, "an array of ids");
    std::vector<raft::NodeId> ids;
    const toml::array& array = *node.as_array();
    for (size_t i = 0; i < array.size(); ++i) {
      const toml::node& element = array[i];
      const std::string what = name_ + "[" + std::to_string(i) + "]";
      Value id;
      if (std::string e = read_count(element, what, &id); !e.empty()) return e;
      ids.push_back(std::get<uint64_t>(id));
      // Each element against those before it, so an error points at it.
      std::string problem = NodeOptions::check_initial_voters(ids);
      if (!problem.empty()) return fail(element, what, problem);
    }
    *out = std::move(ids);
    return "";
  }

  std::string read_peers(const toml::node& node, Value* out) const {
    if (!node.is_array()) {
      return wrong_type(node, name_, "an array of { id, address } tables");
    }
    config::PeerList list;
    const toml::array& array = *node.as_array();
    for (size_t i = 0; i < array.size(); ++i) {
      const toml::node& element = array[i];
      const std::string what = name_ + "[" + std::to_string(i) + "]";
      if (!element.is_table()) {
        return wrong_type(element, what, "a table { id, address }");
      }
      const toml::table& table = *element.as_table();
      const std::vector<std::string> fields = {"id", "address",
                                               "client_address"};
      for (const auto& [field, field_value] : table) {
        if (std::find(fields.begin(), fields.end(), field.str()) ==
            fields.end()) {
          return position(source_, field.source()) + ": " + what + "." +
                 std::string(field.str()) + ": unknown key" +
                 config::hint(field.str(), fields);
        }
        const bool is_id = field.str() == "id";
        if (is_id ? !field_value.is_integer() : !field_value.is_string()) {
          return wrong_type(field_value, what + "." + std::string(field.str()),
                            is_id ? "an integer" : "a string");
        }
      }
      const toml::node* id = table.get("id");
      const toml::node* address = table.get("address");
      const toml::node* client_address = table.get("client_address");
      if (id == nullptr) return fail(element, what, "missing id");
      if (address == nullptr) return fail(element, what, "missing address");
      Value peer_id;
      if (std::string e = read_count(*id, what + ".id", &peer_id); !e.empty()) {
        return e;
      }
      const raft::NodeId peer = std::get<uint64_t>(peer_id);
      list.peers.push_back({peer, address->as_string()->get(), true});
      if (client_address != nullptr) {
        list.client_addresses[peer] = client_address->as_string()->get();
      }
      // Each element against those before it, so an error points at it.
      std::string problem =
          NodeOptions::check_peers(list.peers, list.client_addresses);
      if (!problem.empty()) return fail(element, what, problem);
    }
    *out = std::move(list);
    return "";
  }

  std::string_view source_;
  std::string name_;
  const Key& key_;
};

// One configuration being read: the options and settings it changes, and
// the keys each source (the file, then the environment) set.
class Reading {
 public:
  Reading(const NodeOptions& options, const TomlSettings& settings)
      : options_(options), settings_(settings) {}

  // Stores a value read from `where`: "" or the whole message.
  std::string store(const Key& key, const Value& value,
                    const std::string& where) {
    const std::string name = config::full_name(key);
    if (!set_by_this_source_.insert(name).second) {
      // Only the old and the new name of one key can meet here.
      return where + ": " + name + ": set twice, as " + name + " and as " +
             std::string(key.section) + "." + std::string(key.old_name) +
             " (its old name)";
    }
    std::string problem = key.store(value, &options_, &settings_);
    if (!problem.empty()) return where + ": " + name + ": " + problem;
    settings_.origins[name] = where;
    return "";
  }

  void next_source() { set_by_this_source_.clear(); }

  NodeOptions& options() { return options_; }
  TomlSettings& settings() { return settings_; }

 private:
  NodeOptions options_;
  TomlSettings settings_;
  std::set<std::string, std::less<>> set_by_this_source_;
};

std::string apply_file(const toml::table& root, std::string_view source,
                       Reading* reading) {
  const std::vector<std::string> section_names = config::sections();
  for (const auto& [section_key, section] : root) {
    const std::string section_name(section_key.str());
    const std::string at = position(source, section_key.source());
    const bool known = std::find(section_names.begin(), section_names.end(),
                                 section_name) != section_names.end();
    if (!known && !section.is_table()) {
      return at + ": " + section_name +
             ": unknown key at the top level (every key belongs in a "
             "section such as [node])";
    }
    if (!known) {
      return at + ": [" + section_name + "]: unknown section" +
             config::hint(section_name, section_names);
    }
    if (!section.is_table()) {
      return position(source, section.source()) + ": " + section_name +
             ": expected a table ([" + section_name + "]), got " +
             type_name(section);
    }
    for (const auto& [name_key, value] : *section.as_table()) {
      const std::string_view name = name_key.str();
      const Key* key = config::find_key(section_name, name);
      if (key == nullptr) {
        std::vector<std::string> names;
        for (const Key& k : config::keys()) {
          if (k.section == section_name) names.emplace_back(k.name);
        }
        return position(source, name_key.source()) + ": " + section_name + "." +
               std::string(name) + ": unknown key" + config::hint(name, names);
      }
      Value parsed;
      std::string problem = ValueReader(source, *key).read(value, &parsed);
      if (!problem.empty()) return problem;
      problem = reading->store(*key, parsed, position(source, value.source()));
      if (!problem.empty()) return problem;
    }
  }
  return "";
}

std::string apply_env(const Environment& env, std::string_view env_prefix,
                      Reading* reading) {
  for (const auto& [variable, text] : env) {
    const Key* key = nullptr;
    std::vector<std::string> section_variables;  // of the section it names
    for (const Key& candidate : config::keys()) {
      const std::string full = config::full_name(candidate);
      std::string name = env_variable(env_prefix, full);
      if (name == variable ||
          (!candidate.old_name.empty() &&
           variable ==
               env_variable(env_prefix, std::string(candidate.section) + "." +
                                            std::string(candidate.old_name)))) {
        key = &candidate;
      }
      if (variable.starts_with(section_prefix(env_prefix, candidate.section))) {
        section_variables.push_back(std::move(name));
      }
    }
    if (section_variables.empty()) continue;  // not a configuration variable
    const std::string where = "environment variable " + variable;
    if (key == nullptr) {
      return where + ": unknown variable" +
             config::hint(variable, section_variables);
    }
    Value parsed;
    std::string problem = config::parse_variable(text, *key, &parsed);
    if (!problem.empty()) {
      return where + ": " + config::full_name(*key) + ": " + problem;
    }
    problem = reading->store(*key, parsed, where);
    if (!problem.empty()) return problem;
  }
  return "";
}

}  // namespace

Environment process_environment(std::string_view prefix) {
  Environment env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t equals = text.find('=');
    if (equals == std::string_view::npos || !text.starts_with(prefix)) {
      continue;
    }
    env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

std::string apply_toml(std::string_view text, std::string_view source,
                       const Environment& env, std::string_view env_prefix,
                       NodeOptions* options, TomlSettings* settings) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return position(source, e.source()) + ": " + std::string(e.description());
  }
  Reading reading(*options, *settings);
  std::string problem = apply_file(root, source, &reading);
  reading.next_source();
  if (problem.empty()) problem = apply_env(env, env_prefix, &reading);
  if (!problem.empty()) return problem;
  *options = std::move(reading.options());
  *settings = std::move(reading.settings());
  return "";
}

std::string read_text_file(const std::string& path, std::string* text) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return "cannot open " + path + ": " + std::strerror(errno);
  }
  std::string contents;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    contents.append(buffer, n);
  }
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (failed) return "cannot read " + path + ": " + std::strerror(read_errno);
  *text = std::move(contents);
  return "";
}

int load_toml_file(const std::string& path, const Environment& env,
                   std::string_view env_prefix, NodeOptions* options,
                   TomlSettings* settings, std::string* error) {
  std::string text;
  if (std::string e = read_text_file(path, &text); !e.empty()) {
    *error = std::move(e);
    return DENGINE_ERR_IO;
  }
  if (std::string e =
          apply_toml(text, path, env, env_prefix, options, settings);
      !e.empty()) {
    *error = std::move(e);
    return DENGINE_ERR_INVALID_ARGUMENT;
  }
  return DENGINE_OK;
}

std::string validate_at(const NodeOptions& options,
                        const TomlSettings& settings, std::string_view source) {
  const std::optional<OptionError> error = options.check();
  if (!error) return "";
  const Key* key = config::key_of_option(error->option);
  if (key == nullptr) return std::string(source) + ": " + error->to_string();
  const std::string name = config::full_name(*key);
  const auto origin = settings.origins.find(name);
  return (origin == settings.origins.end() ? std::string(source)
                                           : origin->second) +
         ": " + name + ": " + error->problem;
}

std::string env_variable(std::string_view env_prefix,
                         std::string_view full_key) {
  return std::string(env_prefix) + upper(full_key);
}

}  // namespace dengine::node
