#include "detour/route/router.hpp"

#include "support/values.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <set>

using detour::route_action;
using detour::route_kind;
using detour::route_rule;
using detour::traffic_direction;
using detour::route::route_query;
using detour::route::router;

using detour::test::cidrs;
using detour::test::ep;

namespace {
std::vector<detour::net::host_pattern> hosts(std::initializer_list<const char*> texts) {
  std::vector<detour::net::host_pattern> out;
  for (auto t : texts) out.push_back(*detour::net::parse_host_pattern(t));
  return out;
}

constexpr route_action direct{route_kind::direct, 0};
constexpr route_action reject{route_kind::reject, 0};
constexpr route_action echo{route_kind::echo, 0};
constexpr route_action corp{route_kind::upstream, 0};

const auto client = ep("192.168.1.10", 40000);
const auto server = ep("203.0.113.5", 443);

route_query named(std::string_view name, boost::asio::ip::tcp::endpoint destination = server) {
  return {client, destination, name};
}

}  // namespace

TEST_CASE("a host rule matches its exact names, the names under a *. suffix, and names containing a keyword",
          "[route]") {
  std::vector<route_rule> rules{
      {.action = reject, .hosts = hosts({"example.com"})},
      {.action = corp, .hosts = hosts({"*.corp.example"})},
      {.action = echo, .hosts = hosts({"keyword:tracker"})},
  };
  router r(rules, direct, {"corp"});
  CHECK(r.decide(named("example.com")).rule == 0u);
  CHECK_FALSE(r.decide(named("www.example.com")).rule);
  CHECK_FALSE(r.decide(named("example.co")).rule);
  CHECK_FALSE(r.decide(named("com")).rule);

  // *.corp.example is corp.example itself too, and any depth below it, but not a name that merely
  // ends in the same letters.
  CHECK(r.decide(named("corp.example")).rule == 1u);
  CHECK(r.decide(named("git.corp.example")).rule == 1u);
  CHECK(r.decide(named("a.b.c.corp.example")).rule == 1u);
  CHECK_FALSE(r.decide(named("badcorp.example")).rule);
  CHECK_FALSE(r.decide(named("corp.example.net")).rule);
  CHECK_FALSE(r.decide(named("example")).rule);

  CHECK(r.decide(named("tracker.ads.net")).rule == 2u);
  CHECK(r.decide(named("www.mytrackersite.org")).rule == 2u);
  CHECK(r.decide(named("a.b.tracker")).rule == 2u);
  CHECK_FALSE(r.decide(named("track.er")).rule);
  CHECK(r.describe(r.decide(named("git.corp.example"))) == "route 2: upstream corp");
}

TEST_CASE("patterns from the file and the list of one rule are one list", "[route]") {
  route_rule rule{.action = reject, .hosts = hosts({"a.example"})};
  rule.hosts_file.path = "/etc/detour/hosts.txt";
  rule.hosts_file.entries = hosts({"*.b.example", "keyword:ccc"});
  route_rule addresses{.action = echo};
  addresses.destinations_file.path = "/etc/detour/nets.txt";
  addresses.destinations_file.entries = cidrs({"198.51.100.0/24"});
  addresses.destinations = cidrs({"192.0.2.0/24"});
  router r({rule, addresses}, direct, {});
  CHECK(r.decide(named("a.example")).rule == 0u);
  CHECK(r.decide(named("x.b.example")).rule == 0u);
  CHECK(r.decide(named("xcccx.net")).rule == 0u);
  CHECK(r.decide(named("other.net", ep("198.51.100.9", 80))).rule == 1u);
  CHECK(r.decide(named("other.net", ep("192.0.2.9", 80))).rule == 1u);
  CHECK_FALSE(r.decide(named("other.net", ep("203.0.113.9", 80))).rule);
}

TEST_CASE("a connection whose name was not sniffed never matches a rule with hosts", "[route]") {
  std::vector<route_rule> rules{
      {.action = reject, .hosts = hosts({"*.example.com", "keyword:e"})},
      {.destinations = cidrs({"203.0.113.0/24"}), .action = echo, .hosts = hosts({"example.com"})},
      {.destinations = cidrs({"203.0.113.0/24"}), .action = corp},
  };
  router r(rules, direct, {"corp"});
  CHECK(r.decide({client, server}).rule == 2u);
  CHECK(r.decide(named("")).rule == 2u);
  CHECK(r.decide(named("example.com")).rule == 0u);
  // Hosts and addresses in one rule: both must match.
  std::vector<route_rule> both{rules[1]};
  router rb(both, direct, {});
  CHECK(rb.decide(named("example.com")).rule == 0u);
  CHECK_FALSE(rb.decide(named("example.com", ep("198.51.100.1", 443))).rule);
  CHECK_FALSE(rb.decide(named("www.example.com")).rule);
  CHECK_FALSE(rb.decide({client, server}).rule);
}

TEST_CASE("first match holds across host and address conditions, whichever comes first", "[route]") {
  const route_rule by_host{.action = corp, .hosts = hosts({"*.example.com"})};
  const route_rule by_address{.destinations = cidrs({"203.0.113.0/24"}), .action = reject};
  const route_rule by_port{.ports = {{443, 443}}, .action = echo};

  SECTION("a host rule before an address rule") {
    router r({by_host, by_address, by_port}, direct, {"corp"});
    CHECK(r.decide(named("www.example.com")).rule == 0u);
    CHECK(r.decide(named("www.example.net")).rule == 1u);
    CHECK(r.decide({client, server}).rule == 1u);
    CHECK(r.decide(named("www.example.com", ep("198.51.100.1", 443))).rule == 0u);
    CHECK(r.decide(named("www.example.net", ep("198.51.100.1", 443))).rule == 2u);
  }
  SECTION("an address rule before a host rule") {
    router r({by_address, by_host, by_port}, direct, {"corp"});
    CHECK(r.decide(named("www.example.com")).rule == 0u);
    CHECK(r.decide(named("www.example.com", ep("198.51.100.1", 443))).rule == 1u);
    CHECK(r.decide(named("www.example.com", ep("198.51.100.1", 80))).rule == 1u);
    CHECK(r.decide(named("www.example.net", ep("198.51.100.1", 443))).rule == 2u);
  }
  SECTION("two host rules: the earlier wins, the more specific pattern does not") {
    const route_rule specific{.action = reject, .hosts = hosts({"www.example.com", "keyword:www"})};
    router r({by_host, specific}, direct, {"corp"});
    CHECK(r.decide(named("www.example.com")).rule == 0u);
    CHECK(r.decide(named("www.example.net")).rule == 1u);
    router reversed({specific, by_host}, direct, {"corp"});
    CHECK(reversed.decide(named("www.example.com")).rule == 0u);
    CHECK(reversed.decide(named("mail.example.com")).rule == 1u);
  }
}

TEST_CASE("a rule with a direction matches only connections going that way", "[route]") {
  std::vector<route_rule> rules{
      {.ports = {{80, 80}}, .action = reject, .direction = traffic_direction::inbound},
      {.ports = {{80, 80}}, .action = echo, .direction = traffic_direction::outbound},
      {.action = corp, .hosts = hosts({"example.com"}), .direction = traffic_direction::inbound},
      {.ports = {{443, 443}}, .action = direct},
  };
  router r(rules, direct, {"corp"});
  CHECK(r.decide({client, ep("10.0.0.1", 80), "", traffic_direction::inbound}).rule == 0u);
  CHECK(r.decide({client, ep("10.0.0.1", 80), "", traffic_direction::outbound}).rule == 1u);
  CHECK(r.decide({client, ep("10.0.0.1", 80)}).rule == 1u);  // outbound unless said otherwise
  CHECK(r.decide({client, ep("10.0.0.1", 443), "example.com", traffic_direction::inbound}).rule == 2u);
  CHECK(r.decide({client, ep("10.0.0.1", 443), "example.com", traffic_direction::outbound}).rule == 3u);
  CHECK(r.decide({client, ep("10.0.0.1", 443), "", traffic_direction::inbound}).rule == 3u);
}

TEST_CASE("the router says whether any rule looks at names", "[route]") {
  CHECK_FALSE(router(reject).uses_names());
  CHECK_FALSE(router({{.ports = {{80, 80}}, .action = reject}}, direct, {}).uses_names());
  CHECK(router({{.ports = {{80, 80}}, .action = reject}, {.action = echo, .hosts = hosts({"keyword:x"})}}, direct, {})
            .uses_names());
  route_rule from_file{.action = echo};
  from_file.hosts_file.entries = hosts({"example.com"});
  CHECK(router({from_file}, direct, {}).uses_names());
}

TEST_CASE("the compiled host matching agrees with a linear first-match scan on random rules", "[route]") {
  std::mt19937 random(2024);
  auto pick = [&](std::uint32_t n) { return std::uniform_int_distribution<std::uint32_t>(0, n - 1)(random); };
  // A small vocabulary, so that names and patterns share labels, suffixes and substrings.
  const std::vector<std::string> labels{"a", "b",  "ab", "ba",  "aab", "com", "net", "x-y", "bab", "abab",
                                        "c", "cd", "dc", "org", "io",  "q",   "qq",  "zq",  "m0",  "ab-c"};
  auto random_name = [&] {
    std::string name = labels[pick(static_cast<std::uint32_t>(labels.size()))];
    for (auto n = pick(4); n > 0; --n) name = labels[pick(static_cast<std::uint32_t>(labels.size()))] + "." + name;
    return name;
  };
  // Not "a" or "b" alone: a keyword that short would match nearly every name and leave the later
  // rules untested.
  const std::vector<std::string> rare_keywords{"aab", "x-y", "bab", "abab", "b.ab", "a.com"};
  std::vector<route_rule> rules;
  for (int i = 0; i < 150; ++i) {  // more than 64 rules: several bitset words
    route_rule rule;
    for (auto n = pick(3) + 1; n > 0; --n) {
      switch (pick(5)) {
        case 0:
        case 1:
          rule.hosts.push_back({detour::net::host_pattern::kind::exact, random_name()});
          break;
        case 2:
        case 3:
          rule.hosts_file.entries.push_back({detour::net::host_pattern::kind::suffix, random_name()});
          break;
        default:
          // Keywords that overlap and nest ("ab", "bab", "a.b"), the cases failure links are for.
          rule.hosts.push_back(
              {detour::net::host_pattern::kind::keyword,
               pick(2) == 0 ? rare_keywords[pick(static_cast<std::uint32_t>(rare_keywords.size()))] : random_name()});
      }
    }
    if (pick(4) == 0) rule.ports.push_back({443, 443});
    if (pick(6) == 0) rule.direction = pick(2) == 0 ? traffic_direction::inbound : traffic_direction::outbound;
    if (pick(10) == 0) rule.hosts.clear(), rule.hosts_file.entries.clear(), rule.ports = {{80, 80}};
    rule.action = {route_kind::upstream, static_cast<std::size_t>(i)};
    rules.push_back(rule);
  }
  router r(rules, reject, {});
  auto matches = [](const route_rule& rule, const route_query& q) {
    auto any = [](const auto& list, auto pred) { return std::any_of(list.begin(), list.end(), pred); };
    auto by_name = [&](const detour::net::host_pattern& p) { return p.matches(q.name); };
    const bool has_hosts = !rule.hosts.empty() || !rule.hosts_file.entries.empty();
    return (!has_hosts || (!q.name.empty() && (any(rule.hosts, by_name) || any(rule.hosts_file.entries, by_name)))) &&
           (rule.ports.empty() || any(rule.ports, [&](const auto& p) { return p.contains(q.destination.port()); })) &&
           (!rule.direction || *rule.direction == q.direction);
  };
  int matched = 0;
  std::set<std::size_t> deciding;  // the rules that decided at least once
  for (int i = 0; i < 20000; ++i) {
    const auto name = pick(20) == 0 ? std::string() : random_name();
    const route_query q{client, ep("10.0.0.1", pick(2) == 0 ? 443 : 80), name,
                        pick(2) == 0 ? traffic_direction::inbound : traffic_direction::outbound};
    std::optional<std::size_t> expected;
    for (std::size_t k = 0; k < rules.size() && !expected; ++k) {
      if (matches(rules[k], q)) expected = k;
    }
    INFO("name " << name);
    REQUIRE(r.decide(q).rule == expected);
    matched += expected ? 1 : 0;
    if (expected) deciding.insert(*expected);
  }
  INFO("matched " << matched << ", by " << deciding.size() << " rules");
  CHECK(matched > 2000);
  // Not only the first few rules: the comparison must reach deep into the list.
  CHECK(deciding.size() > 30);
}
