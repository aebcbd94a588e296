#pragma once
// For the packaging tests, which run many tools whose failure ends the test: the tool's output, or
// a failed REQUIRE that shows its stderr.
#include "support/process.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace detour::test {

// Runs a program found on PATH (through env: run_to_completion takes a path) and returns its output.
inline std::string must(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 60s) {
  std::vector<std::string> command{"/usr/bin/env"};
  command.insert(command.end(), argv.begin(), argv.end());
  auto run = run_to_completion(command, timeout);
  INFO(argv.front() << ": " << run.err);
  REQUIRE(run.exit_code == 0);
  return run.out;
}

}  // namespace detour::test
