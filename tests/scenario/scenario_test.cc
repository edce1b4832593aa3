// Runs each protocol-trace script in testdata/ (see lib/testkit/interaction.h
// for the commands). Regenerate the expected outputs with DENGINE_REWRITE=1,
// then read the diff: a changed trace is a changed protocol.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "testkit/interaction.h"

namespace dengine::testkit {
namespace {

std::vector<std::string> scripts() {
  std::vector<std::string> names;
  for (const auto& entry :
       std::filesystem::directory_iterator(DENGINE_SCENARIO_TESTDATA)) {
    if (entry.path().extension() == ".txt") {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(0, info.param.size() - 4);
  std::replace_if(
      name.begin(), name.end(),
      [](unsigned char c) { return !std::isalnum(c); }, '_');
  return name;
}

class ScenarioTest : public testing::TestWithParam<std::string> {};

TEST_P(ScenarioTest, MatchesTrace) {
  const std::string path =
      std::string(DENGINE_SCENARIO_TESTDATA) + "/" + GetParam();
  for (const std::string& failure : run_interaction_script(path)) {
    ADD_FAILURE() << failure;
  }
}

INSTANTIATE_TEST_SUITE_P(Testdata, ScenarioTest, testing::ValuesIn(scripts()),
                         test_name);

}  // namespace
}  // namespace dengine::testkit
