// The script format and runner the scenario traces rely on.
#include "testkit/datadriven.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace dengine::testkit {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path;
}

std::string read_back(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Echoes the command's arguments, one per line, as key:val|val.
std::string echo(const TestData& data) {
  std::string out;
  for (const CmdArg& arg : data.args) {
    out += arg.key + ":";
    for (size_t i = 0; i < arg.vals.size(); ++i) {
      out += (i > 0 ? "|" : "") + arg.vals[i];
    }
    out += '\n';
  }
  return out;
}

TEST(ParseCommandLine, SplitsKeysValuesListsAndQuotes) {
  std::string cmd;
  std::vector<CmdArg> args;
  parse_command_line("add-nodes 3 voters=(1,2, 3) (4 5) k= \"a b\" x=\"c d\"",
                     &cmd, &args);
  EXPECT_EQ(cmd, "add-nodes");
  ASSERT_EQ(args.size(), 6u);
  EXPECT_EQ(args[0].key, "3");
  EXPECT_FALSE(args[0].has_value);
  EXPECT_EQ(args[1].key, "voters");
  EXPECT_EQ(args[1].vals, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(args[2].key, "");
  EXPECT_EQ(args[2].vals, (std::vector<std::string>{"4", "5"}));
  EXPECT_EQ(args[3].key, "k");
  EXPECT_EQ(args[3].vals, (std::vector<std::string>{""}));
  EXPECT_EQ(args[4].key, "a b");
  EXPECT_FALSE(args[4].has_value);
  EXPECT_EQ(args[5].vals, (std::vector<std::string>{"c d"}));
}

TEST(ParseCommandLine, RejectsUnbalancedInput) {
  std::string cmd;
  std::vector<CmdArg> args;
  EXPECT_THROW(parse_command_line("cmd k=(1,2", &cmd, &args),
               std::invalid_argument);
  EXPECT_THROW(parse_command_line("cmd k=1)", &cmd, &args),
               std::invalid_argument);
  EXPECT_THROW(parse_command_line("cmd \"open", &cmd, &args),
               std::invalid_argument);
}

TEST(RunScript, ComparesEveryBlockAndNamesTheLine) {
  const std::string path = write_temp("dd_compare.txt",
                                      "# a comment\n"
                                      "cmd a=1\n"
                                      "----\n"
                                      "a:1\n"
                                      "\n"
                                      "cmd b=2\n"
                                      "----\n"
                                      "b:3\n");
  const std::vector<std::string> failures = run_script(path, echo);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find(path + ":6: cmd b=2"), std::string::npos);
  EXPECT_NE(failures[0].find("expected:\nb:3\nactual:\nb:2"),
            std::string::npos);
}

TEST(RunScript, ReadsInputAndDoubledSeparators) {
  const std::string path = write_temp("dd_doubled.txt",
                                      "cmd\n"
                                      "first input\n"
                                      "second input\n"
                                      "----\n"
                                      "----\n"
                                      "first input\n"
                                      "\n"
                                      "second input\n"
                                      "----\n"
                                      "----\n");
  const auto handler = [](const TestData& data) {
    std::string out = data.input;
    out.insert(out.find('\n') + 1, "\n");
    return out;
  };
  EXPECT_TRUE(run_script(path, handler).empty());
}

TEST(RunScript, HandlerErrorStopsTheFile) {
  const std::string path =
      write_temp("dd_error.txt", "bad\n----\n\nnever\n----\nx\n");
  int calls = 0;
  const std::vector<std::string> failures =
      run_script(path, [&](const TestData& data) -> std::string {
        ++calls;
        throw std::invalid_argument("unknown command: " + data.cmd);
      });
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find(path + ":1: bad\nerror: unknown command: bad"),
            std::string::npos);
}

TEST(RunScript, RewriteRegeneratesExpectedOutputs) {
  const std::string path = write_temp("dd_rewrite.txt",
                                      "# keep me\n"
                                      "cmd a=1\n"
                                      "----\n"
                                      "stale\n"
                                      "\n"
                                      "cmd a=(x,y)\n"
                                      "----\n");
  setenv("DENGINE_REWRITE", "1", 1);
  const std::vector<std::string> failures = run_script(path, echo);
  unsetenv("DENGINE_REWRITE");
  EXPECT_TRUE(failures.empty());
  EXPECT_EQ(read_back(path),
            "# keep me\n"
            "cmd a=1\n"
            "----\n"
            "a:1\n"
            "\n"
            "cmd a=(x,y)\n"
            "----\n"
            "a:x|y\n");
  EXPECT_TRUE(run_script(path, echo).empty());
}

TEST(RunScript, RewriteFramesOutputWithBlankLines) {
  const std::string path = write_temp("dd_rewrite_blank.txt", "cmd\n----\n");
  setenv("DENGINE_REWRITE", "1", 1);
  run_script(path, [](const TestData&) { return "one\n\ntwo\n"; });
  unsetenv("DENGINE_REWRITE");
  EXPECT_EQ(read_back(path), "cmd\n----\n----\none\n\ntwo\n----\n----\n");
  EXPECT_TRUE(
      run_script(path, [](const TestData&) { return "one\n\ntwo"; }).empty());
}

}  // namespace
}  // namespace dengine::testkit
