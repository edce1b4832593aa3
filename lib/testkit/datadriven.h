// Script files whose expected output is written under each command (the
// "datadriven" format of etcd-io/raft's testdata). A file is a sequence of
// blocks:
//
//   # comments and blank lines between blocks are kept as they are
//   command pos1 key=value key=(a,b) (x y) "quoted words"
//   optional input lines
//   ----
//   expected output, ended by a blank line
//
// Output that itself contains blank lines is framed by doubled separators:
//
//   command
//   ----
//   ----
//   first part
//
//   second part
//   ----
//   ----
//
// With DENGINE_REWRITE=1 in the environment, run_script() regenerates the
// expected outputs in place instead of comparing them.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace dengine::testkit {

// One argument of a command line. `word` gives key "word" and no values;
// `k=v` gives key "k" and {"v"}; `k=(a,b)` or `k=(a b)` gives {"a","b"};
// a bare `(a b)` gives an empty key and {"a","b"}; `"x y"` gives key "x y".
struct CmdArg {
  std::string key;
  std::vector<std::string> vals;
  // The argument had `=` or parentheses (so `k=` has one empty value).
  bool has_value = false;
};

struct TestData {
  std::string pos;  // "file:line" of the command
  std::string cmd;
  std::vector<CmdArg> args;
  std::string input;     // lines between the command and "----"
  std::string expected;  // as written in the file

  // The argument with this key, or nullptr.
  const CmdArg* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }
};

// Parses a command line into its command and arguments. Throws
// std::invalid_argument on unbalanced quotes or parentheses.
void parse_command_line(const std::string& line, std::string* cmd,
                        std::vector<CmdArg>* args);

// Whether DENGINE_REWRITE=1 is set.
bool rewrite_requested();

// Runs every block of the file at `path` through `handler`, whose return value
// is the block's actual output. Returns one message per failure, each naming
// file:line with the expected and actual output; an exception thrown by the
// handler is a failure that stops the file. In rewrite mode the file is
// rewritten with the actual outputs (unless the handler threw) and only
// exceptions are reported.
std::vector<std::string> run_script(
    const std::string& path,
    const std::function<std::string(const TestData&)>& handler);

}  // namespace dengine::testkit
