#include "detour/net/conntrack_usage.hpp"

#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

using detour::net::conntrack_usage;
using detour::net::read_conntrack_usage;

TEST_CASE("a conntrack table within 1 percent of its max counts as full", "[net]") {
  CHECK(conntrack_usage{262144, 262144}.nearly_full());
  CHECK(conntrack_usage{259523, 262144}.nearly_full());  // 99.0003 %
  CHECK_FALSE(conntrack_usage{259522, 262144}.nearly_full());
  CHECK_FALSE(conntrack_usage{10, 262144}.nearly_full());
  CHECK(conntrack_usage{100, 100}.nearly_full());
  CHECK_FALSE(conntrack_usage{98, 100}.nearly_full());
  // A max of 0 is no table to fill, not a full one.
  CHECK_FALSE(conntrack_usage{0, 0}.nearly_full());
  CHECK(conntrack_usage{262100, 262144}.to_string() == "262100 of 262144 entries");
}

TEST_CASE("conntrack usage is read from nf_conntrack_count and nf_conntrack_max", "[net]") {
  detour::test::temp_dir dir;
  dir.write("nf_conntrack_count", "1234\n");
  SECTION("both present") {
    dir.write("nf_conntrack_max", "65536\n");
    auto usage = read_conntrack_usage(dir.path());
    REQUIRE(usage);
    CHECK(usage->count == 1234);
    CHECK(usage->max == 65536);
  }
  SECTION("conntrack not loaded: no max file, no usage") { CHECK_FALSE(read_conntrack_usage(dir.path())); }
  SECTION("a file that is not a number") {
    dir.write("nf_conntrack_max", "lots\n");
    CHECK_FALSE(read_conntrack_usage(dir.path()));
  }
}
