#include "detour/net/port_range.hpp"

#include <catch2/catch.hpp>

using detour::net::merge_port_ranges;
using detour::net::parse_port_range;
using detour::net::port_range;

TEST_CASE("ports and port ranges parse, and bad ones say why", "[net]") {
  CHECK(*parse_port_range("80") == port_range{80, 80});
  CHECK(*parse_port_range("8000-8080") == port_range{8000, 8080});
  std::string why;
  CHECK_FALSE(parse_port_range("0", &why));
  CHECK(why == "port 0 is out of range 1-65535");
  CHECK_FALSE(parse_port_range("80-", &why));
  CHECK(why == "\"\" is not a port number");
  CHECK_FALSE(parse_port_range("http", &why));
  CHECK(why == "\"http\" is not a port number");
}

TEST_CASE("overlapping and adjacent port ranges merge", "[net]") {
  auto merged = merge_port_ranges({{443, 443}, {80, 80}, {81, 90}, {85, 100}, {8080, 8080}});
  CHECK(merged == std::vector<port_range>{{80, 100}, {443, 443}, {8080, 8080}});
  CHECK(merge_port_ranges({{1, 65535}, {22, 22}}) == std::vector<port_range>{{1, 65535}});
}
