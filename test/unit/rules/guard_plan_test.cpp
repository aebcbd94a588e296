// The guard of on_failure: closed as a plan: filter chains that accept redirected connections,
// leave alone what the capture excludes, with the capture's own rules and sets, and reset the
// rest; and where `rules show` prints it.
#include "detour/config/config.hpp"
#include "detour/rules/guard_table.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_plan.hpp"
#include "detour/rules/rules_commands.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

using detour::parse_config;
using namespace detour::rules;

namespace {

const chain& chain_named(const rule_plan& plan, const std::string& name) {
  for (const auto& c : plan.chains) {
    if (c.name == name) return c;
  }
  FAIL("no chain " << name);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("the outbound guard accepts what was redirected, returns the exclusions and resets the rest", "[rules]") {
  auto cfg = parse_config(R"(
intercept: {on_failure: closed, outbound: {exclude_ports: ["22"], exclude_destinations: [10.0.0.0/8]}}
admin: {listen: off}
)",
                          "test.yaml");
  CHECK(render_nft(make_guard_plan(cfg, 4242)) == R"(table inet detour_guard {
	set out_exclude_ports {
		type inet_service
		flags interval
		elements = { 22 }
	}

	set out_exclude_destinations4 {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8, 224.0.0.0/4, 255.255.255.255 }
	}

	set out_exclude_destinations6 {
		type ipv6_addr
		flags interval
		elements = { ff00::/8 }
	}

	chain output {
		type filter hook output priority 0; policy accept;
		ct status dnat counter accept comment "redirected"
		meta mark 0x000001d7 counter return comment "exclude_self_mark"
		meta l4proto != tcp counter return comment "exclude_non_tcp"
		tcp dport 15001 counter return comment "exclude_listen_port"
		tcp dport @out_exclude_ports counter return comment "exclude_ports"
		ip daddr @out_exclude_destinations4 counter return comment "exclude_destinations4"
		ip6 daddr @out_exclude_destinations6 counter return comment "exclude_destinations6"
		meta l4proto tcp ct state new counter reject with tcp reset comment "reject"
	}
}
)");
}

TEST_CASE("the inbound guard holds the input and forward hooks, sharing one set per option", "[rules]") {
  auto cfg = parse_config(R"(
intercept:
  on_failure: closed
  outbound: {enabled: false}
  inbound: {enabled: true, interfaces: [veth0], exclude_ports: ["22"]}
admin: {listen: off}
)",
                          "test.yaml");
  CHECK(render_nft(make_guard_plan(cfg, 0)) == R"(table inet detour_guard {
	set in_exclude_loopback {
		type ifname
		elements = { "lo" }
	}

	set in_interfaces {
		type ifname
		elements = { "veth0" }
	}

	set in_exclude_ports {
		type inet_service
		flags interval
		elements = { 22 }
	}

	chain input {
		type filter hook input priority 0; policy accept;
		ct status dnat counter accept comment "redirected"
		iifname @in_exclude_loopback counter return comment "exclude_loopback"
		meta l4proto != tcp counter return comment "exclude_non_tcp"
		tcp dport 15001 counter return comment "exclude_listen_port"
		iifname != @in_interfaces counter return comment "interfaces"
		tcp dport @in_exclude_ports counter return comment "exclude_ports"
		meta l4proto tcp ct state new counter reject with tcp reset comment "reject"
	}

	chain forward {
		type filter hook forward priority 0; policy accept;
		ct status dnat counter accept comment "redirected"
		meta l4proto != tcp counter return comment "exclude_non_tcp"
		tcp dport 15001 counter return comment "exclude_listen_port"
		iifname != @in_interfaces counter return comment "interfaces"
		tcp dport @in_exclude_ports counter return comment "exclude_ports"
		meta l4proto tcp ct state new counter reject with tcp reset comment "reject"
	}
}
)");
}

TEST_CASE("the guard's chains hold exactly the capture's exclusions, with the same sets", "[rules]") {
  auto cfg = parse_config(R"(
port: 3128
mark: 42
intercept:
  table: edge
  on_failure: closed
  priority: -110
  exclude_self_uid: true
  outbound:
    ports: ["443", "80", "8000-8080"]
    exclude_ports: ["8001"]
    destinations: [10.0.0.0/8, "2001:db8::/32"]
    exclude_destinations: [10.9.0.0/16, "fd00::1"]
    uids: [1000, 33]
    exclude_uids: [0]
    gids: [100]
    exclude_gids: [5]
    exclude_interfaces: [docker0]
  inbound:
    enabled: true
    interfaces: [eth1]
    sources: [10.0.0.0/8]
    exclude_sources: [10.1.2.3]
    ports: ["1-1023"]
    exclude_ports: ["22"]
    destinations: ["0.0.0.0/0"]
    exclude_destinations: ["fe80::/10"]
upstreams:
  corp: {kind: socks5, servers: ["192.0.2.200:1080"]}
)",
                          "test.yaml");
  auto capture = make_plan(cfg, 7);
  auto guard = make_guard_plan(cfg, 7);
  CHECK(guard.table == "edge_guard");
  // Which capture chain each guard chain stands in for, and the rules it has before the shared ones.
  const std::map<std::string, std::pair<std::string, std::vector<std::string>>> stands_for{
      {"output", {"output", {"redirected"}}},
      {"input", {"prerouting", {"redirected", "exclude_loopback"}}},
      {"forward", {"prerouting", {"redirected"}}}};
  REQUIRE(guard.chains.size() == 3);
  for (const auto& g : guard.chains) {
    INFO("guard chain " << g.name);
    CHECK(g.type == chain_type::filter);
    CHECK(g.priority == 0);
    const auto& [capture_name, own_rules] = stands_for.at(g.name);
    const auto& c = chain_named(capture, capture_name);
    // The capture's output chain opens with the self-test's rule, which the guard has no use for.
    const std::ptrdiff_t capture_own = !c.rules.empty() && c.rules.front().name == "self_test" ? 1 : 0;
    REQUIRE(g.rules.size() == own_rules.size() + c.rules.size() - static_cast<std::size_t>(capture_own));
    for (std::size_t i = 0; i < own_rules.size(); ++i) CHECK(g.rules[i].name == own_rules[i]);
    std::vector<rule> shared(g.rules.begin() + static_cast<std::ptrdiff_t>(own_rules.size()), g.rules.end() - 1);
    CHECK(shared == std::vector<rule>(c.rules.begin() + capture_own, c.rules.end() - 1));
    CHECK(c.rules.back().action == verdict::redirect);
    CHECK(g.rules.back().action == verdict::reject);
    CHECK(render_rule(g.rules.back()) ==
          "meta l4proto tcp ct state new counter reject with tcp reset comment \"reject\"");
    for (const auto& r : shared) {
      for (const auto& m : r.matches) {
        if (m.set.empty()) continue;
        INFO("set " << m.set);
        REQUIRE(guard.find_set(m.set) != nullptr);
        REQUIRE(capture.find_set(m.set) != nullptr);
        CHECK(*guard.find_set(m.set) == *capture.find_set(m.set));
      }
    }
  }
}

TEST_CASE("rules show prints the guard table after the capture's only with on_failure: closed", "[rules]") {
  auto open = parse_config("admin: {listen: off}\n", "test.yaml");
  auto closed = parse_config("admin: {listen: off}\nintercept: {on_failure: closed}\n", "test.yaml");
  std::ostringstream open_out;
  std::ostringstream closed_out;
  CHECK(rules_show(open, open_out) == 0);
  CHECK(rules_show(closed, closed_out) == 0);
  CHECK(open_out.str() == render_nft(make_plan(open)));
  CHECK(closed_out.str() == render_nft(make_plan(closed)) + "\n" + render_nft(make_guard_plan(closed)));
  CHECK(open_out.str().find("detour_guard") == std::string::npos);
}

TEST_CASE("no guard is installed with on_failure: open or with intercept disabled", "[rules]") {
  CHECK(install_guard(parse_config("", "test.yaml")) == nullptr);
  CHECK(install_guard(parse_config("intercept: {enabled: false, on_failure: closed}\n", "test.yaml")) == nullptr);
}
