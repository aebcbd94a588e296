#include "detour/doctor/report.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace detour::doctor;

TEST_CASE("a finding prints as its level, check and text, with the fix only when there is one", "[doctor]") {
  CHECK(format_line({level::ok, "conntrack", "nf_conntrack is loaded", ""}) ==
        "OK    conntrack: nf_conntrack is loaded");
  CHECK(format_line({level::warn, "local ports", "1000 ports", "widen it"}) ==
        "WARN  local ports: 1000 ports; fix: widen it");
  CHECK(format_line({level::fail, "capabilities", "none", "run as root"}) ==
        "FAIL  capabilities: none; fix: run as root");
}

TEST_CASE("the doctor exits 1 when any check fails and 0 when the worst is a warning", "[doctor]") {
  std::vector<finding> findings{{level::ok, "a", "x", ""}, {level::warn, "b", "y", "z"}};
  CHECK(exit_status(findings) == 0);
  CHECK(exit_status({}) == 0);
  findings.push_back({level::fail, "c", "w", "v"});
  CHECK(exit_status(findings) == 1);

  std::ostringstream out;
  print_report(findings, out);
  CHECK(out.str() == "OK    a: x\nWARN  b: y; fix: z\nFAIL  c: w; fix: v\n");
}
