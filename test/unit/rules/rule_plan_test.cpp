#include "detour/rules/rule_plan.hpp"
#include "detour/config/config.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rules_commands.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using detour::parse_config;
using detour::rules::make_plan;
using detour::rules::render_nft;

namespace {

std::string rendered(std::string_view yaml) { return render_nft(make_plan(parse_config(yaml, "test.yaml"), 4242)); }

}  // namespace

TEST_CASE("the default config captures all outbound tcp except detourd's own and multicast", "[rules]") {
  CHECK(render_nft(make_plan(detour::config{}, 4242)) == R"(table inet detour {
	set out_exclude_destinations4 {
		type ipv4_addr
		flags interval
		elements = { 224.0.0.0/4, 255.255.255.255 }
	}

	set out_exclude_destinations6 {
		type ipv6_addr
		flags interval
		elements = { ff00::/8 }
	}

	chain output {
		type nat hook output priority -99; policy accept;
		meta mark 0x000001d7 return
		meta l4proto != tcp return
		tcp dport 15001 return
		ip daddr @out_exclude_destinations4 return
		ip6 daddr @out_exclude_destinations6 return
		meta l4proto tcp redirect to :15001
	}
}
)");
}

TEST_CASE("the embedded default config plans the same rules as the built-in defaults", "[rules]") {
  CHECK(make_plan(detour::default_config(), 7) == make_plan(detour::config{}, 7));
}

TEST_CASE("every outbound option becomes its own rule with a merged set", "[rules]") {
  auto text = rendered(R"(
port: 3128
mark: 0
intercept:
  table: proxy_rules
  priority: -110
  exclude_self_uid: true
  outbound:
    ports: ["443", "80", "8000-8080", "8080-8090", "81"]
    exclude_ports: ["8001"]
    destinations: [10.0.0.0/8, 10.1.0.0/16, 192.0.2.0/25, 192.0.2.128/25, "2001:db8::/32"]
    exclude_destinations: [10.9.0.0/16, "fd00::1"]
    uids: [1000, 33, 1000]
    exclude_uids: [0]
    gids: [100]
    exclude_gids: [5, 4]
    exclude_interfaces: [docker0, br-1]
)");
  CHECK(text == R"(table inet proxy_rules {
	set out_ports {
		type inet_service
		flags interval
		elements = { 80-81, 443, 8000-8090 }
	}

	set out_exclude_ports {
		type inet_service
		flags interval
		elements = { 8001 }
	}

	set out_uids {
		type uid
		elements = { 33, 1000 }
	}

	set out_exclude_uids {
		type uid
		elements = { 0 }
	}

	set out_gids {
		type gid
		elements = { 100 }
	}

	set out_exclude_gids {
		type gid
		elements = { 4, 5 }
	}

	set out_exclude_interfaces {
		type ifname
		elements = { "br-1", "docker0" }
	}

	set out_destinations4 {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8, 192.0.2.0/24 }
	}

	set out_destinations6 {
		type ipv6_addr
		flags interval
		elements = { 2001:db8::/32 }
	}

	set out_exclude_destinations4 {
		type ipv4_addr
		flags interval
		elements = { 10.9.0.0/16, 224.0.0.0/4, 255.255.255.255 }
	}

	set out_exclude_destinations6 {
		type ipv6_addr
		flags interval
		elements = { fd00::1, ff00::/8 }
	}

	chain output {
		type nat hook output priority -110; policy accept;
		meta skuid 4242 return
		meta l4proto != tcp return
		tcp dport 3128 return
		tcp dport != @out_ports return
		tcp dport @out_exclude_ports return
		meta skuid != @out_uids return
		meta skuid @out_exclude_uids return
		meta skgid != @out_gids return
		meta skgid @out_exclude_gids return
		oifname @out_exclude_interfaces return
		ip daddr != @out_destinations4 return
		ip6 daddr != @out_destinations6 return
		ip daddr @out_exclude_destinations4 return
		ip6 daddr @out_exclude_destinations6 return
		meta l4proto tcp redirect to :3128
	}
}
)");
}

TEST_CASE("capturing only some destinations of one family leaves the other family alone", "[rules]") {
  auto plan = make_plan(parse_config(R"(
intercept:
  outbound:
    destinations: ["2001:db8::/32"]
)",
                                     "test.yaml"),
                        0);
  auto text = render_nft(plan);
  CHECK(text.find("\t\tmeta nfproto ipv4 return\n\t\tip6 daddr != @out_destinations6 return\n") != std::string::npos);
  CHECK(plan.find_set("out_destinations4") == nullptr);
}

TEST_CASE("inbound capture gets a prerouting chain with no mark or uid rules", "[rules]") {
  auto text = rendered(R"(
intercept:
  outbound:
    enabled: false
  inbound:
    enabled: true
    interfaces: [veth0, br0]
    sources: [172.17.0.0/16]
    exclude_sources: [172.17.0.1]
    ports: ["80", "443"]
    exclude_ports: ["22"]
    destinations: ["0.0.0.0/0", "::/0"]
    exclude_destinations: [192.168.0.0/16, 192.168.1.0/24, "fe80::/10"]
)");
  CHECK(text == R"(table inet detour {
	set in_interfaces {
		type ifname
		elements = { "br0", "veth0" }
	}

	set in_sources4 {
		type ipv4_addr
		flags interval
		elements = { 172.17.0.0/16 }
	}

	set in_exclude_sources4 {
		type ipv4_addr
		flags interval
		elements = { 172.17.0.1 }
	}

	set in_ports {
		type inet_service
		flags interval
		elements = { 80, 443 }
	}

	set in_exclude_ports {
		type inet_service
		flags interval
		elements = { 22 }
	}

	set in_destinations4 {
		type ipv4_addr
		flags interval
		elements = { 0.0.0.0/0 }
	}

	set in_destinations6 {
		type ipv6_addr
		flags interval
		elements = { ::/0 }
	}

	set in_exclude_destinations4 {
		type ipv4_addr
		flags interval
		elements = { 192.168.0.0/16 }
	}

	set in_exclude_destinations6 {
		type ipv6_addr
		flags interval
		elements = { fe80::/10 }
	}

	chain prerouting {
		type nat hook prerouting priority -99; policy accept;
		meta l4proto != tcp return
		tcp dport 15001 return
		iifname != @in_interfaces return
		ip saddr != @in_sources4 return
		meta nfproto ipv6 return
		ip saddr @in_exclude_sources4 return
		tcp dport != @in_ports return
		tcp dport @in_exclude_ports return
		ip daddr != @in_destinations4 return
		ip6 daddr != @in_destinations6 return
		ip daddr @in_exclude_destinations4 return
		ip6 daddr @in_exclude_destinations6 return
		meta l4proto tcp redirect to :15001
	}
}
)");
}

TEST_CASE("both directions together give two chains in one table", "[rules]") {
  auto plan = make_plan(parse_config("intercept: {inbound: {enabled: true}}\n", "test.yaml"), 0);
  REQUIRE(plan.chains.size() == 2);
  CHECK(plan.chains[0].name == "output");
  CHECK(plan.chains[1].name == "prerouting");
  CHECK(render_nft(plan).find("\tchain prerouting {\n\t\ttype nat hook prerouting priority -99; policy accept;\n"
                              "\t\tmeta l4proto != tcp return\n\t\ttcp dport 15001 return\n"
                              "\t\tmeta l4proto tcp redirect to :15001\n\t}\n}\n") != std::string::npos);
}

TEST_CASE("with both directions disabled the table is empty", "[rules]") {
  CHECK(rendered("intercept: {outbound: {enabled: false}}\n") == "table inet detour {\n}\n");
}

TEST_CASE("a port range reaching 65535 and thousands of prefixes merge into few elements", "[rules]") {
  detour::config cfg;
  cfg.intercept.outbound.ports = {{60000, 65535}, {1, 1}, {2, 9}};
  for (unsigned i = 0; i < 256; ++i) {
    for (unsigned j = 0; j < 20; ++j) {
      cfg.intercept.outbound.exclude_destinations.push_back(
          *detour::net::parse_cidr(fmt::format("10.{}.{}.0/24", i, j)));
    }
  }
  auto plan = make_plan(cfg, 0);
  REQUIRE(plan.find_set("out_ports"));
  CHECK(render_nft(plan).find("elements = { 1-9, 60000-65535 }") != std::string::npos);
  // 20 /24s per /16 merge into one /20 and one /22 each.
  CHECK(plan.find_set("out_exclude_destinations4")->prefixes.size() == 256 * 2 + 2);
}

TEST_CASE("a nat priority the kernel would refuse is rejected by config validation", "[rules]") {
  CHECK_THROWS_WITH(
      parse_config("intercept: {priority: -300}\n", "test.yaml"),
      "test.yaml:1:23: intercept.priority: -300 is too low: the kernel accepts nat chains only above -200 "
      "(conntrack runs at -200)");
  CHECK(parse_config("intercept: {priority: -199}\n", "test.yaml").intercept.priority == -199);
}

TEST_CASE("an interface name nft could not match exactly is rejected", "[rules]") {
  CHECK_THROWS_WITH(parse_config("intercept: {outbound: {exclude_interfaces: [eth0, \"veth*\"]}}\n", "test.yaml"),
                    "test.yaml:1:51: intercept.outbound.exclude_interfaces[1]: \"veth*\" is not an interface name "
                    "(1 to 15 characters, no wildcards, spaces, / or :)");
  CHECK_THROWS_WITH(parse_config("intercept: {inbound: {interfaces: [a-very-long-name0]}}\n", "test.yaml"),
                    "test.yaml:1:36: intercept.inbound.interfaces[0]: \"a-very-long-name0\" is not an interface name "
                    "(1 to 15 characters, no wildcards, spaces, / or :)");
}

TEST_CASE("rules show prints the plan and says when intercept is disabled", "[rules]") {
  auto cfg = parse_config("intercept: {enabled: false, outbound: {enabled: false}}\n", "test.yaml");
  std::ostringstream out;
  CHECK(detour::rules::rules_show(cfg, out) == 0);
  CHECK(out.str() == "# intercept.enabled is false: detourd installs no rules\ntable inet detour {\n}\n");
}
