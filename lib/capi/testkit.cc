// dengine_sm_conformance_run and dengine_sm_performance_run: forward to the
// suites in lib/testkit/sm_suite.h.
#include "capi/errors.h"
#include "capi/memory.h"
#include "dengine.h"
#include "testkit/sm_suite.h"

using dengine::capi::fail;
using dengine::capi::guarded;
using dengine::capi::malloc_string;

extern "C" {

int dengine_sm_conformance_run(const dengine_sm_builder* builder,
                               const char* dir, char** report) {
  return guarded("dengine_sm_conformance_run", [&] {
    if (report != nullptr) *report = nullptr;
    dengine_sm_builder read{};
    std::string bad_input =
        dengine::testkit::read_sm_suite_input(builder, dir, &read);
    if (!bad_input.empty()) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_sm_conformance_run: " + bad_input);
    }
    auto outcomes = dengine::testkit::run_sm_conformance(read, dir);
    if (report != nullptr) {
      *report = malloc_string(dengine::testkit::format_sm_report(outcomes));
    }
    for (const auto& outcome : outcomes) {
      if (!outcome.failure.empty()) {
        return fail(DENGINE_ERR_STATE_MACHINE,
                    "dengine_sm_conformance_run: " + outcome.name + ": " +
                        outcome.failure);
      }
    }
    return static_cast<int>(DENGINE_OK);
  });
}

int dengine_sm_performance_run(const dengine_sm_builder* builder,
                               const char* dir, char** report) {
  return guarded("dengine_sm_performance_run", [&] {
    if (report != nullptr) *report = nullptr;
    dengine_sm_builder read{};
    std::string bad_input =
        dengine::testkit::read_sm_suite_input(builder, dir, &read);
    if (!bad_input.empty()) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_sm_performance_run: " + bad_input);
    }
    auto perf = dengine::testkit::run_sm_performance(read, dir);
    if (report != nullptr) *report = malloc_string(perf.report);
    if (!perf.failure.empty()) {
      return fail(DENGINE_ERR_STATE_MACHINE,
                  "dengine_sm_performance_run: " + perf.failure);
    }
    return static_cast<int>(DENGINE_OK);
  });
}

}  // extern "C"
