#include "detour/rules/rule_plan.hpp"
#include "detour/config/config.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rules_commands.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

using detour::parse_config;
using detour::rules::make_plan;
using detour::rules::render_nft;

namespace {

// The admin endpoint's exclusion has a test of its own; the others leave it out to stay readable.
std::string rendered(std::string_view yaml) {
  return render_nft(make_plan(parse_config(std::string(yaml) + "\nadmin:\n  listen: off\n", "test.yaml"), 4242));
}

}  // namespace

TEST_CASE("the default config captures all outbound tcp except detourd's own and multicast", "[rules]") {
  CHECK(render_nft(make_plan(detour::config{}, 4242)) == R"(table inet detour {
	set out_exclude_admin {
		type ipv4_addr
		flags interval
		elements = { 127.0.0.1 }
	}

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
		meta mark 0x001d7e57 tcp dport 0 counter redirect to :15001 comment "self_test"
		meta mark 0x000001d7 counter return comment "exclude_self_mark"
		meta l4proto != tcp counter return comment "exclude_non_tcp"
		tcp dport 15001 counter return comment "exclude_listen_port"
		ip daddr @out_exclude_admin tcp dport 15000 counter return comment "exclude_admin"
		ip daddr @out_exclude_destinations4 counter return comment "exclude_destinations4"
		ip6 daddr @out_exclude_destinations6 counter return comment "exclude_destinations6"
		meta l4proto tcp counter redirect to :15001 comment "redirect"
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
		meta mark 0x001d7e57 tcp dport 0 counter redirect to :3128 comment "self_test"
		meta skuid 4242 counter return comment "exclude_self_uid"
		meta l4proto != tcp counter return comment "exclude_non_tcp"
		tcp dport 3128 counter return comment "exclude_listen_port"
		tcp dport != @out_ports counter return comment "ports"
		tcp dport @out_exclude_ports counter return comment "exclude_ports"
		meta skuid != @out_uids counter return comment "uids"
		meta skuid @out_exclude_uids counter return comment "exclude_uids"
		meta skgid != @out_gids counter return comment "gids"
		meta skgid @out_exclude_gids counter return comment "exclude_gids"
		oifname @out_exclude_interfaces counter return comment "exclude_interfaces"
		ip daddr != @out_destinations4 counter return comment "destinations4"
		ip6 daddr != @out_destinations6 counter return comment "destinations6"
		ip daddr @out_exclude_destinations4 counter return comment "exclude_destinations4"
		ip6 daddr @out_exclude_destinations6 counter return comment "exclude_destinations6"
		meta l4proto tcp counter redirect to :3128 comment "redirect"
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
  CHECK(text.find("\t\tmeta nfproto ipv4 counter return comment \"destinations4\"\n"
                  "\t\tip6 daddr != @out_destinations6 counter return comment \"destinations6\"\n") !=
        std::string::npos);
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

	chain output {
		type nat hook output priority -99; policy accept;
		meta mark 0x001d7e57 tcp dport 0 counter redirect to :15001 comment "self_test"
	}

	chain prerouting {
		type nat hook prerouting priority -99; policy accept;
		meta l4proto != tcp counter return comment "exclude_non_tcp"
		tcp dport 15001 counter return comment "exclude_listen_port"
		iifname != @in_interfaces counter return comment "interfaces"
		ip saddr != @in_sources4 counter return comment "sources4"
		meta nfproto ipv6 counter return comment "sources6"
		ip saddr @in_exclude_sources4 counter return comment "exclude_sources4"
		tcp dport != @in_ports counter return comment "ports"
		tcp dport @in_exclude_ports counter return comment "exclude_ports"
		ip daddr != @in_destinations4 counter return comment "destinations4"
		ip6 daddr != @in_destinations6 counter return comment "destinations6"
		ip daddr @in_exclude_destinations4 counter return comment "exclude_destinations4"
		ip6 daddr @in_exclude_destinations6 counter return comment "exclude_destinations6"
		meta l4proto tcp counter redirect to :15001 comment "redirect"
	}
}
)");
}

TEST_CASE("both directions together give two chains in one table", "[rules]") {
  auto plan = make_plan(parse_config("intercept: {inbound: {enabled: true}}\n", "test.yaml"), 0);
  REQUIRE(plan.chains.size() == 2);
  CHECK(plan.chains[0].name == "output");
  CHECK(plan.chains[1].name == "prerouting");
  CHECK(render_nft(plan).find(
            "\tchain prerouting {\n\t\ttype nat hook prerouting priority -99; policy accept;\n"
            "\t\tmeta l4proto != tcp counter return comment \"exclude_non_tcp\"\n"
            "\t\ttcp dport 15001 counter return comment \"exclude_listen_port\"\n"
            "\t\tip daddr @in_exclude_admin tcp dport 15000 counter return comment \"exclude_admin\"\n"
            "\t\tmeta l4proto tcp counter redirect to :15001 comment \"redirect\"\n\t}\n}\n") != std::string::npos);
}

TEST_CASE(
    "an inbound port of its own gets the prerouting redirect, and both listener ports are excluded in both "
    "chains",
    "[rules]") {
  auto plan = make_plan(
      parse_config("intercept: {inbound: {enabled: true, port: 15006}}\nadmin: {listen: off}\n", "test.yaml"), 0);
  auto text = render_nft(plan);
  INFO(text);
  CHECK(text.find("\tchain prerouting {\n\t\ttype nat hook prerouting priority -99; policy accept;\n"
                  "\t\tmeta l4proto != tcp counter return comment \"exclude_non_tcp\"\n"
                  "\t\ttcp dport 15001 counter return comment \"exclude_listen_port\"\n"
                  "\t\ttcp dport 15006 counter return comment \"exclude_inbound_port\"\n"
                  "\t\tmeta l4proto tcp counter redirect to :15006 comment \"redirect\"\n\t}\n") != std::string::npos);
  CHECK(text.find("\t\ttcp dport 15006 counter return comment \"exclude_inbound_port\"\n"
                  "\t\tip daddr @out_exclude_destinations4") != std::string::npos);
  CHECK(text.find("meta l4proto tcp counter redirect to :15001 comment \"redirect\"") != std::string::npos);
}

TEST_CASE("an inbound port equal to the main port is the same as none", "[rules]") {
  CHECK(rendered("intercept: {inbound: {enabled: true, port: 15001}}") ==
        rendered("intercept: {inbound: {enabled: true}}"));
}

TEST_CASE("the self-test rule comes first, matches only its mark and port 0, and goes with self_test: false",
          "[rules]") {
  auto first_output_rule = [](std::string_view yaml) {
    auto plan = make_plan(parse_config(yaml, "test.yaml"), 0);
    REQUIRE(!plan.chains.empty());
    REQUIRE(plan.chains[0].name == "output");
    return plan.chains[0].rules.at(0);
  };
  auto rule = first_output_rule("port: 4000\nmark: 0x1d7e57\nintercept: {exclude_self_uid: true}\n");
  CHECK(rule.name == "self_test");
  CHECK(rule.action == detour::rules::verdict::redirect);
  CHECK(rule.redirect_port == 4000);
  CHECK(detour::rules::render_rule(rule, "counter") ==
        "meta mark 0x001d7e57 tcp dport 0 counter redirect to :4000 comment \"self_test\"");
  // A `mark` equal to the self-test's changes nothing: the exclusion of detourd's own sockets
  // follows, and only connections to port 0 are taken by the self-test rule.
  CHECK(first_output_rule("intercept: {self_test: false}\n").name == "exclude_self_mark");
}

TEST_CASE("inbound capture alone keeps an output chain for the self-test only, unless it is off", "[rules]") {
  auto plan =
      make_plan(parse_config("intercept: {outbound: {enabled: false}, inbound: {enabled: true}}\n", "t.yaml"), 0);
  REQUIRE(plan.chains.size() == 2);
  CHECK(plan.chains[0].name == "output");
  REQUIRE(plan.chains[0].rules.size() == 1);
  CHECK(plan.chains[0].rules[0].name == "self_test");
  CHECK(plan.chains[1].name == "prerouting");
  auto off = make_plan(
      parse_config("intercept: {self_test: false, outbound: {enabled: false}, inbound: {enabled: true}}\n", "t.yaml"),
      0);
  REQUIRE(off.chains.size() == 1);
  CHECK(off.chains[0].name == "prerouting");
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

TEST_CASE("every rule is named after its option, uniquely in its chain, in plain words", "[rules]") {
  auto plan = make_plan(parse_config(R"(
mark: 7
intercept:
  exclude_self_uid: true
  outbound:
    ports: ["80"]
    exclude_ports: ["22"]
    destinations: ["2001:db8::/32"]
    exclude_destinations: [10.0.0.0/8]
    uids: [1]
    exclude_uids: [2]
    gids: [3]
    exclude_gids: [4]
    exclude_interfaces: [eth9]
  inbound:
    enabled: true
    interfaces: [veth0]
    sources: [10.0.0.0/8]
    exclude_sources: ["fd00::/8"]
    ports: ["443"]
    exclude_ports: ["23"]
    destinations: [192.0.2.0/24]
    exclude_destinations: ["2001:db8::1"]
)",
                                     "test.yaml"),
                        0);
  std::map<std::string, std::vector<std::string>> names;
  for (const auto& c : plan.chains) {
    for (const auto& r : c.rules) {
      names[c.name].push_back(r.name);
      CHECK(r.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos);
    }
  }
  CHECK(names["output"] == std::vector<std::string>{"self_test", "exclude_self_mark", "exclude_self_uid",
                                                    "exclude_non_tcp", "exclude_listen_port", "exclude_admin", "ports",
                                                    "exclude_ports", "uids", "exclude_uids", "gids", "exclude_gids",
                                                    "exclude_interfaces", "destinations4", "destinations6",
                                                    "exclude_destinations4", "exclude_destinations6", "redirect"});
  CHECK(names["prerouting"] == std::vector<std::string>{"exclude_non_tcp", "exclude_listen_port", "exclude_admin",
                                                        "interfaces", "sources4", "sources6", "exclude_sources6",
                                                        "ports", "exclude_ports", "destinations4", "destinations6",
                                                        "exclude_destinations6", "redirect"});
}

TEST_CASE("the admin endpoint is never captured: its address and port, or its port on every address", "[rules]") {
  auto rules_of = [](std::string_view listen) {
    return render_nft(make_plan(
        parse_config(fmt::format("admin: {{listen: \"{}\", allow_remote: true}}\n", listen), "test.yaml"), 4242));
  };
  CHECK_THAT(
      rules_of("127.0.0.1:9901"),
      Catch::Contains("set out_exclude_admin {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { "
                      "127.0.0.1 }\n\t}") &&
          Catch::Contains("ip daddr @out_exclude_admin tcp dport 9901 counter return comment \"exclude_admin\""));
  CHECK_THAT(rules_of("[::1]:9901"), Catch::Contains("type ipv6_addr\n\t\tflags interval\n\t\telements = { ::1 }") &&
                                         Catch::Contains("ip6 daddr @out_exclude_admin tcp dport 9901 counter return"));
  CHECK_THAT(rules_of("0.0.0.0:9901"), Catch::Contains("\t\ttcp dport 9901 counter return comment \"exclude_admin\"") &&
                                           !Catch::Contains("set out_exclude_admin"));
  CHECK_THAT(render_nft(make_plan(parse_config("admin: {listen: off}\n", "test.yaml"), 4242)),
             !Catch::Contains("exclude_admin"));
}

TEST_CASE("with user: set, that user's connections are left alone right after detourd's own uid", "[rules]") {
  auto text = rendered("mark: 0\nuser: nobody\nintercept: {exclude_self_uid: true}\n");
  CHECK_THAT(text, Catch::Contains("\t\tmeta skuid 4242 counter return comment \"exclude_self_uid\"\n"
                                   "\t\tmeta skuid 65534 counter return comment \"exclude_run_user\"\n"
                                   "\t\tmeta l4proto != tcp counter return comment \"exclude_non_tcp\"\n"));
  CHECK_THAT(rendered("user: nobody\n"),
             Catch::Contains("\t\tmeta mark 0x000001d7 counter return comment \"exclude_self_mark\"\n"
                             "\t\tmeta skuid 65534 counter return comment \"exclude_run_user\"\n"));
  CHECK_THAT(rendered(""), !Catch::Contains("exclude_run_user"));
  // Only sockets made on this host have an owner: the prerouting chain has no such rule.
  CHECK_THAT(rendered("user: nobody\nintercept: {outbound: {enabled: false}, inbound: {enabled: true}}\n"),
             !Catch::Contains("skuid"));
}
