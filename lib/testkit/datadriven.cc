#include "testkit/datadriven.h"

#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dengine::testkit {

namespace {

constexpr const char* kSeparator = "----";

struct Block {
  std::vector<std::string> prefix;         // comments and blank lines
  std::vector<std::string> command_lines;  // command and input, verbatim
  TestData data;
};

struct Script {
  std::vector<Block> blocks;
  std::vector<std::string> trailer;  // comments after the last block
};

bool is_blank(const std::string& line) {
  return line.find_first_not_of(" \t\r") == std::string::npos;
}

bool is_comment_or_blank(const std::string& line) {
  if (is_blank(line)) return true;
  const size_t first = line.find_first_not_of(" \t");
  return line[first] == '#';
}

std::string join(const std::vector<std::string>& lines, size_t begin,
                 size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) out += '\n';
    out += lines[i];
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string location(const std::string& path, size_t line_index) {
  return path + ":" + std::to_string(line_index + 1);
}

Script parse_script(const std::string& path, const std::string& text) {
  const std::vector<std::string> lines = split_lines(text);
  Script script;
  std::vector<std::string> prefix;
  size_t i = 0;
  while (i < lines.size()) {
    if (is_comment_or_blank(lines[i])) {
      prefix.push_back(lines[i++]);
      continue;
    }
    Block block;
    block.prefix = std::move(prefix);
    prefix.clear();
    const size_t command_line = i;
    block.data.pos = location(path, command_line);
    while (i < lines.size() && lines[i] != kSeparator) {
      block.command_lines.push_back(lines[i++]);
    }
    if (i == lines.size()) {
      throw std::invalid_argument(block.data.pos +
                                  ": no \"----\" after command");
    }
    ++i;  // the separator
    parse_command_line(block.command_lines.front(), &block.data.cmd,
                       &block.data.args);
    block.data.input = join(block.command_lines, 1, block.command_lines.size());
    if (i < lines.size() && lines[i] == kSeparator) {
      // Doubled separators: the output runs to the next "----\n----".
      const size_t begin = ++i;
      while (i + 1 < lines.size() &&
             !(lines[i] == kSeparator && lines[i + 1] == kSeparator)) {
        ++i;
      }
      if (i + 1 >= lines.size()) {
        throw std::invalid_argument(block.data.pos +
                                    ": no closing \"----\\n----\"");
      }
      block.data.expected = join(lines, begin, i);
      i += 2;
    } else {
      const size_t begin = i;
      while (i < lines.size() && !is_blank(lines[i])) ++i;
      block.data.expected = join(lines, begin, i);
    }
    // The blank line ending a block belongs to it.
    if (i < lines.size() && is_blank(lines[i])) ++i;
    script.blocks.push_back(std::move(block));
  }
  script.trailer = std::move(prefix);
  return script;
}

std::string trim_trailing_newlines(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

bool needs_doubled_separator(const std::string& output) {
  return output.find("\n\n") != std::string::npos ||
         (!output.empty() && output.front() == '\n');
}

void append_block(const Block& block, const std::string& output,
                  std::string* out) {
  for (const std::string& line : block.prefix) *out += line + '\n';
  for (const std::string& line : block.command_lines) *out += line + '\n';
  *out += std::string(kSeparator) + '\n';
  if (needs_doubled_separator(output)) {
    *out += std::string(kSeparator) + '\n' + output + '\n' + kSeparator + '\n' +
            kSeparator + '\n';
  } else if (!output.empty()) {
    *out += output + '\n';
  }
  *out += '\n';
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

// Splits off one argument starting at `i`: a quoted string, or a run of
// characters where parentheses may enclose spaces.
std::string next_token(const std::string& line, size_t* i) {
  std::string token;
  int depth = 0;
  bool quoted = false;
  for (; *i < line.size(); ++*i) {
    const char c = line[*i];
    if (quoted) {
      // The quotes stay in the token so that parse_arg() can tell them.
      if (c == '\\' && *i + 1 < line.size()) {
        token += line[++*i];
        continue;
      }
      if (c == '"') quoted = false;
      token += c;
      continue;
    }
    if (c == '"') quoted = true;
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) {
      throw std::invalid_argument("unbalanced ')' in: " + line);
    }
    if ((c == ' ' || c == '\t') && depth == 0) break;
    token += c;
  }
  if (quoted) throw std::invalid_argument("unterminated quote in: " + line);
  if (depth != 0) throw std::invalid_argument("unbalanced '(' in: " + line);
  return token;
}

std::string unquote(const std::string& s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    return s.substr(1, s.size() - 2);
  }
  return s;
}

std::vector<std::string> split_values(const std::string& list) {
  std::vector<std::string> vals;
  std::string current;
  for (char c : list) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!current.empty()) vals.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) vals.push_back(current);
  return vals;
}

CmdArg parse_arg(const std::string& token) {
  CmdArg arg;
  if (token.front() == '"') {
    arg.key = unquote(token);
    return arg;
  }
  std::string value;
  if (token.front() == '(') {
    value = token;
  } else {
    const size_t eq = token.find('=');
    if (eq == std::string::npos) {
      arg.key = token;
      return arg;
    }
    arg.key = token.substr(0, eq);
    value = token.substr(eq + 1);
  }
  arg.has_value = true;
  if (!value.empty() && value.front() == '(' && value.back() == ')') {
    arg.vals = split_values(value.substr(1, value.size() - 2));
  } else {
    arg.vals.push_back(unquote(value));
  }
  return arg;
}

}  // namespace

const CmdArg* TestData::find(const std::string& key) const {
  for (const CmdArg& arg : args) {
    if (arg.key == key) return &arg;
  }
  return nullptr;
}

void parse_command_line(const std::string& line, std::string* cmd,
                        std::vector<CmdArg>* args) {
  args->clear();
  cmd->clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) break;
    const std::string token = next_token(line, &i);
    if (cmd->empty()) {
      *cmd = token;
    } else {
      args->push_back(parse_arg(token));
    }
  }
  if (cmd->empty()) throw std::invalid_argument("empty command line");
}

bool rewrite_requested() {
  const char* value = std::getenv("DENGINE_REWRITE");
  return value != nullptr && std::string(value) == "1";
}

std::vector<std::string> run_script(
    const std::string& path,
    const std::function<std::string(const TestData&)>& handler) {
  std::vector<std::string> failures;
  Script script;
  try {
    script = parse_script(path, read_file(path));
  } catch (const std::exception& e) {
    return {e.what()};
  }
  const bool rewrite = rewrite_requested();
  std::string rewritten;
  for (const Block& block : script.blocks) {
    std::string actual;
    try {
      actual = trim_trailing_newlines(handler(block.data));
    } catch (const std::exception& e) {
      failures.push_back(block.data.pos + ": " + block.command_lines.front() +
                         "\nerror: " + e.what());
      return failures;
    }
    if (rewrite) {
      append_block(block, actual, &rewritten);
    } else if (actual != block.data.expected) {
      failures.push_back(block.data.pos + ": " + block.command_lines.front() +
                         "\nexpected:\n" + block.data.expected + "\nactual:\n" +
                         actual);
    }
  }
  if (rewrite) {
    for (const std::string& line : script.trailer) rewritten += line + '\n';
    while (rewritten.size() >= 2 && rewritten[rewritten.size() - 1] == '\n' &&
           rewritten[rewritten.size() - 2] == '\n') {
      rewritten.pop_back();
    }
    write_file(path, rewritten);
  }
  return failures;
}

}  // namespace dengine::testkit
