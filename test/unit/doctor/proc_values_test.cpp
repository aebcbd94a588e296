#include "detour/doctor/proc_values.hpp"

#include <catch2/catch.hpp>

using namespace detour::doctor;

TEST_CASE("the effective capability mask is read from the CapEff line of a status text", "[doctor]") {
  const char* status =
      "Name:\tdetourd\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n"
      "CapEff:\t0000000000001400\nCapBnd:\t000001ffffffffff\n";
  auto mask = parse_effective_capabilities(status);
  CHECK(mask == 0x1400);
  CHECK(has_capability(mask, cap_net_admin));
  CHECK(has_capability(mask, cap_net_bind_service));
  CHECK_FALSE(has_capability(mask, cap_sys_admin));
  CHECK(parse_effective_capabilities("Name:\tx\nCapPrm:\tffff\n") == 0);
}
