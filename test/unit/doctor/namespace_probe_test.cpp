#include "detour/doctor/namespace_probe.hpp"

#include <catch2/catch.hpp>

using namespace detour::doctor;

TEST_CASE("the namespace test's report reads back as it was written, and a cut-off one is refused", "[doctor]") {
  namespace_probe_result r;
  r.sandbox = {probe_outcome::ok, ""};
  r.nat = {probe_outcome::ok, "table made"};
  r.ipv4 = {probe_outcome::failed, "SO_ORIGINAL_DST gave 127.0.0.1:10009\ninstead of 127.0.0.1:9"};
  r.ipv6 = {probe_outcome::unavailable, "[::1]:10009 cannot be bound"};
  auto text = encode(r);
  auto back = decode(text);
  REQUIRE(back);
  r.ipv4.detail = "SO_ORIGINAL_DST gave 127.0.0.1:10009 instead of 127.0.0.1:9";
  CHECK(*back == r);

  CHECK_FALSE(decode(text.substr(0, text.size() - 1)));
  CHECK_FALSE(decode(""));
  CHECK_FALSE(decode("7 nonsense\n0 \n0 \n0 \n"));
}
