#include "detour/rules/rule_plan.hpp"

#include <catch2/catch.hpp>

namespace {

std::vector<std::string> texts(const std::vector<detour::net::cidr>& cidrs) {
  std::vector<std::string> out;
  for (const auto& c : cidrs) out.push_back(c.to_string());
  return out;
}

const char* const with_upstreams = R"(
upstreams:
  a: {kind: socks5, servers: ["10.0.0.1:1080", "10.0.0.1:1081", "[2001:db8::5]:1080"]}
  b: {kind: http, address: "[::ffff:10.0.0.2]:3128"}
intercept:
  outbound:
    exclude_destinations: [192.0.2.0/24]
  inbound:
    enabled: true
routes:
  - destinations: [10.0.0.0/8]
    action: {upstream: a}
)";

}  // namespace

TEST_CASE("upstream server addresses become host prefixes, once each", "[upstream]") {
  auto c = detour::parse_config(with_upstreams, "t.yaml");
  CHECK(texts(detour::rules::upstream_server_cidrs(c)) ==
        std::vector<std::string>{"10.0.0.1/32", "10.0.0.2/32", "2001:db8::5/128"});
}

TEST_CASE("the capture rules never redirect a connection to an upstream server, even when a route covers it",
          "[upstream]") {
  auto plan = detour::rules::make_plan(detour::parse_config(with_upstreams, "t.yaml"), 0);
  const auto* out4 = plan.find_set("out_exclude_destinations4");
  const auto* out6 = plan.find_set("out_exclude_destinations6");
  const auto* in4 = plan.find_set("in_exclude_destinations4");
  const auto* in6 = plan.find_set("in_exclude_destinations6");
  REQUIRE(out4);
  REQUIRE(out6);
  REQUIRE(in4);
  REQUIRE(in6);
  CHECK(texts(out4->prefixes) ==
        std::vector<std::string>{"10.0.0.1/32", "10.0.0.2/32", "192.0.2.0/24", "224.0.0.0/4", "255.255.255.255/32"});
  CHECK(texts(out6->prefixes) == std::vector<std::string>{"2001:db8::5/128", "ff00::/8"});
  CHECK(texts(in4->prefixes) == std::vector<std::string>{"10.0.0.1/32", "10.0.0.2/32"});
  CHECK(texts(in6->prefixes) == std::vector<std::string>{"2001:db8::5/128"});
}
