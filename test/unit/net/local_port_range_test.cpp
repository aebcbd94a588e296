#include "detour/net/local_port_range.hpp"

#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

using detour::net::local_port_range;
using detour::net::parse_local_port_range;
using detour::net::read_local_port_range;

TEST_CASE("the local port range reads as the kernel writes it", "[net]") {
  CHECK(parse_local_port_range("32768\t60999\n") == local_port_range{32768, 60999});
  CHECK(parse_local_port_range("40000 40003") == local_port_range{40000, 40003});
  CHECK(parse_local_port_range("40000\t40003\n")->to_string() == "40000-40003 (4 ports)");
  CHECK(local_port_range{5000, 5000}.to_string() == "5000-5000 (1 port)");
  CHECK(local_port_range{5001, 5000}.size() == 0);
  CHECK_FALSE(parse_local_port_range(""));
  CHECK_FALSE(parse_local_port_range("40000"));
  CHECK_FALSE(parse_local_port_range("40000 x"));
  CHECK_FALSE(parse_local_port_range("1 70000"));
}

TEST_CASE("the local port range is read from the sysctl file, and a missing one is no range", "[net]") {
  detour::test::temp_dir dir;
  CHECK(read_local_port_range(dir.write("ip_local_port_range", "1024\t65535\n")) == local_port_range{1024, 65535});
  CHECK_FALSE(read_local_port_range(dir.path() / "absent"));
  // This namespace's own, as detourd reads it.
  auto real = read_local_port_range();
  REQUIRE(real);
  CHECK(real->size() > 0);
}
