#include "detour/route/router.hpp"

#include "support/values.hpp"

#include <catch2/catch.hpp>

#include <random>

using detour::route_action;
using detour::route_kind;
using detour::route_rule;
using detour::route::router;

using detour::test::cidrs;
using detour::test::ep;

namespace {
std::vector<detour::net::port_range> ports(std::initializer_list<const char*> texts) {
  std::vector<detour::net::port_range> out;
  for (auto t : texts) out.push_back(*detour::net::parse_port_range(t));
  return out;
}

route_action upstream(std::size_t i) { return {route_kind::upstream, i}; }
constexpr route_action direct{route_kind::direct, 0};
constexpr route_action reject{route_kind::reject, 0};
constexpr route_action echo{route_kind::echo, 0};

const auto client = ep("192.168.1.10", 40000);

}  // namespace

TEST_CASE("without rules every connection gets the default action", "[route]") {
  router r(reject);
  auto d = r.decide({client, ep("1.2.3.4", 80)});
  CHECK(d.action == reject);
  CHECK_FALSE(d.rule);
  CHECK(r.describe(d) == "default: reject");
  CHECK(r.route_name(d) == "default");
  CHECK(r.route_names() == std::vector<std::string>{"default"});
}

TEST_CASE("the first matching rule decides, even when a later one is more specific", "[route]") {
  std::vector<route_rule> rules{
      {cidrs({"10.0.0.0/8"}), {}, {}, reject, ""},
      {cidrs({"10.1.0.0/16"}), {}, {}, direct, "inner"},
      {cidrs({"10.1.2.0/24", "192.0.2.0/24"}), {}, {}, upstream(1), ""},
  };
  router r(rules, echo, {"corp", "office"});
  CHECK(r.decide({client, ep("10.1.2.3", 443)}).rule == 0u);
  CHECK(r.decide({client, ep("192.0.2.77", 443)}).action == upstream(1));
  CHECK(r.describe(r.decide({client, ep("192.0.2.77", 443)})) == "route 3: upstream office");
  // A named rule keeps its name; the others are named by their place.
  CHECK(r.route_names() == std::vector<std::string>{"route 1", "inner", "route 3", "default"});
  CHECK(r.route_action_of(1) == direct);
  CHECK(r.route_action_of(3) == echo);
  CHECK(r.decide({client, ep("11.0.0.1", 443)}).action == echo);
  CHECK_FALSE(r.decide({client, ep("11.0.0.1", 443)}).rule);

  SECTION("and the order, not specificity, is what counts") {
    std::vector<route_rule> reversed{rules[2], rules[1], rules[0]};
    router rr(reversed, echo, {"corp", "office"});
    CHECK(rr.decide({client, ep("10.1.2.3", 443)}).action == upstream(1));
    CHECK(rr.decide({client, ep("10.1.3.3", 443)}).action == direct);
    CHECK(rr.decide({client, ep("10.2.3.3", 443)}).action == reject);
  }
}

TEST_CASE("a rule needs every list it has to match: destination, port and source", "[route]") {
  std::vector<route_rule> rules{
      {cidrs({"10.0.0.0/8"}), ports({"443", "8000-8080"}), cidrs({"192.168.1.0/24"}), reject, ""},
      {{}, ports({"8080"}), {}, upstream(0), ""},
      {{}, {}, cidrs({"192.168.2.0/24"}), echo, ""},
  };
  router r(rules, direct, {"corp"});
  CHECK(r.decide({client, ep("10.0.0.1", 443)}).rule == 0u);
  CHECK(r.decide({client, ep("10.0.0.1", 8000)}).rule == 0u);
  CHECK(r.decide({client, ep("10.0.0.1", 8080)}).rule == 0u);
  CHECK(r.decide({client, ep("10.0.0.1", 8081)}).action == direct);
  CHECK(r.decide({ep("192.168.3.1", 1), ep("10.0.0.1", 8080)}).rule == 1u);
  CHECK(r.decide({ep("192.168.3.1", 1), ep("10.0.0.1", 80)}).action == direct);
  CHECK(r.decide({ep("192.168.2.1", 1), ep("10.0.0.1", 443)}).rule == 2u);
  CHECK(r.decide({ep("192.168.2.1", 1), ep("10.0.0.1", 8080)}).rule == 1u);
}

TEST_CASE("IPv4 and IPv6 are matched in their own family, v4-mapped as IPv4", "[route]") {
  std::vector<route_rule> rules{
      {cidrs({"2001:db8::/32"}), {}, {}, reject, ""},
      {cidrs({"0.0.0.0/0"}), {}, {}, upstream(0), ""},
      {cidrs({"::/0"}), ports({"65535"}), {}, echo, ""},
      {{}, {}, cidrs({"fd00::/8"}), direct, ""},
  };
  router r(rules, reject, {"corp"});
  CHECK(r.decide({client, ep("2001:db8::1", 80)}).rule == 0u);
  CHECK(r.decide({client, ep("2001:db9::1", 80)}).action == reject);
  CHECK_FALSE(r.decide({client, ep("2001:db9::1", 80)}).rule);
  CHECK(r.decide({client, ep("::ffff:10.0.0.1", 80)}).rule == 1u);
  CHECK(r.decide({client, ep("255.255.255.255", 80)}).rule == 1u);
  CHECK(r.decide({client, ep("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535)}).rule == 2u);
  CHECK(r.decide({ep("fd00::5", 1), ep("2001:db9::1", 80)}).rule == 3u);
  CHECK(r.decide({ep("::ffff:192.168.1.1", 1), ep("2001:db9::1", 80)}).action == reject);
}

TEST_CASE("the compiled router agrees with a linear first-match scan on random rules", "[route]") {
  std::mt19937 random(12345);
  auto pick = [&](std::uint32_t n) { return std::uniform_int_distribution<std::uint32_t>(0, n - 1)(random); };
  auto random_v4 = [&](unsigned prefix) {
    // Few distinct high octets, so prefixes nest and overlap across rules.
    auto a = boost::asio::ip::address_v4((pick(4) << 24) | (pick(4) << 16) | (pick(256) << 8) | pick(256));
    return *detour::net::parse_cidr(a.to_string() + "/" + std::to_string(prefix));
  };
  std::vector<route_rule> rules;
  for (int i = 0; i < 150; ++i) {  // more than 64 rules: several bitset words
    route_rule rule;
    // Rules without destinations are rare and narrow, or they would match nearly everything.
    bool no_destinations = pick(10) == 0;
    if (!no_destinations) {
      for (std::uint32_t n = pick(2) + 1; n > 0; --n) rule.destinations.push_back(random_v4(16 + pick(17)));
    }
    if (no_destinations || pick(2) == 0) {
      auto first = static_cast<std::uint16_t>(pick(100) + 1);
      rule.ports.push_back({first, static_cast<std::uint16_t>(first + pick(20))});
    }
    if (no_destinations || pick(3) == 0) rule.sources.push_back(random_v4(14 + pick(11)));
    rule.action = {route_kind::upstream, static_cast<std::size_t>(i)};
    rules.push_back(rule);
  }
  router r(rules, reject, {});
  auto matches = [](const route_rule& rule, const boost::asio::ip::tcp::endpoint& src,
                    const boost::asio::ip::tcp::endpoint& dst) {
    auto any = [](const auto& list, auto pred) { return list.empty() || std::any_of(list.begin(), list.end(), pred); };
    return any(rule.destinations, [&](const auto& c) { return c.contains(dst.address()); }) &&
           any(rule.ports, [&](const auto& p) { return p.contains(dst.port()); }) &&
           any(rule.sources, [&](const auto& c) { return c.contains(src.address()); });
  };
  int matched = 0;
  for (int i = 0; i < 20000; ++i) {
    auto dst = boost::asio::ip::tcp::endpoint(random_v4(32).address, static_cast<std::uint16_t>(pick(130) + 1));
    auto src = boost::asio::ip::tcp::endpoint(random_v4(32).address, 5555);
    std::optional<std::size_t> expected;
    for (std::size_t k = 0; k < rules.size() && !expected; ++k) {
      if (matches(rules[k], src, dst)) expected = k;
    }
    auto got = r.decide({src, dst});
    REQUIRE(got.rule == expected);
    matched += expected ? 1 : 0;
  }
  // Both outcomes must be common, or the comparison proves little.
  INFO("matched " << matched);
  CHECK(matched > 2000);
  CHECK(matched < 18000);
}
