// The counters on detourd's rules, read back from the kernel: each connection counted once, on the
// rule that decided it (nat chains see only a connection's first packet), the same numbers nft
// lists beside each rule's comment, and `detourd rules show --counters` printing them from another
// process.
#include "support/capture.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"

#include "detour/rules/owned_table.hpp"
#include "detour/rules/rule_counters.hpp"
#include "detour/rules/rules_error.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <cerrno>
#include <map>
#include <string>

using namespace detour;
using namespace detour::test;

namespace {

// Port 81 is excluded; 80 is captured. Nothing listens on either, so a connection that is not
// redirected is refused at once.
constexpr std::string_view excluding_81 = "intercept: {outbound: {exclude_ports: [\"81\"]}}\n";

struct counting : capture_namespace {
  counting() : capture_namespace({"192.0.2.9", "2001:db8::9"}), plan(plan_for(excluding_81)), table(plan) {}

  // `count` connections to `address`:`port`, each with the outcome `expected`.
  void connect(const std::string& address, std::uint16_t port, int count, const std::string& expected) {
    for (int i = 0; i < count; ++i) REQUIRE(outcome(address, port) == expected);
  }

  rules::rule_plan plan;
  rules::owned_table table;
};

// "output/redirect" -> its counter, for every rule read back.
std::map<std::string, rules::rule_counter> by_name(const std::vector<rules::rule_counter>& counters) {
  std::map<std::string, rules::rule_counter> out;
  for (const auto& c : counters) REQUIRE(out.emplace(c.chain + "/" + c.rule, c).second);
  return out;
}

}  // namespace

TEST_CASE("every installed rule has a counter, read back under its name, at zero", "[rules]") {
  counting ns;
  auto counters = rules::read_rule_counters(ns.plan.table);
  std::vector<rules::rule_counter> expected;
  for (const auto& c : ns.plan.chains) {
    for (const auto& r : c.rules) expected.push_back({c.name, r.name, 0, 0});
  }
  CHECK(expected.size() == 9);
  CHECK(counters == expected);
}

TEST_CASE("each connection counts one packet on the rule that decided it", "[rules]") {
  counting ns;
  ns.connect("192.0.2.9", 81, 3, "not redirected");
  ns.connect("192.0.2.9", 80, 5, "redirected to 192.0.2.9:80");
  ns.connect("2001:db8::9", 80, 2, "redirected to [2001:db8::9]:80");
  auto counters = by_name(rules::read_rule_counters(ns.plan.table));
  REQUIRE(counters.size() == 9);
  // Only the SYN of each connection passes the nat chain: 3 and 5 + 2 packets, nothing else.
  CHECK(counters.at("output/exclude_ports").packets == 3);
  CHECK(counters.at("output/redirect").packets == 7);
  for (const auto& [name, c] : counters) {
    INFO(name);
    if (c.packets == 0) CHECK(c.bytes == 0);
    if (name != "output/exclude_ports" && name != "output/redirect") CHECK(c.packets == 0);
  }
  // An IPv4 SYN is 60 bytes (20 of IP, 20 of TCP, 20 of options: MSS, SACK, timestamps, window
  // scale); an IPv6 one 80.
  CHECK(counters.at("output/exclude_ports").bytes == 3 * 60);
  CHECK(counters.at("output/redirect").bytes == 5 * 60 + 2 * 80);
}

TEST_CASE("a replace starts every counter again from zero", "[rules]") {
  counting ns;
  ns.connect("192.0.2.9", 80, 2, "redirected to 192.0.2.9:80");
  REQUIRE(by_name(rules::read_rule_counters(ns.plan.table)).at("output/redirect").packets == 2);
  // The chain is flushed and refilled: new rules, new counters. A metric built on them sees a
  // counter reset.
  ns.table.replace(ns.plan);
  for (const auto& c : rules::read_rule_counters(ns.plan.table)) {
    INFO(c.chain << "/" << c.rule);
    CHECK(c.packets == 0);
  }
}

TEST_CASE("nft lists each rule's comment and counter as read_rule_counters reads them", "[rules]") {
  counting ns;
  ns.connect("192.0.2.9", 81, 2, "not redirected");
  ns.connect("192.0.2.9", 80, 1, "redirected to 192.0.2.9:80");
  auto counters = rules::read_rule_counters(ns.plan.table);
  auto listed = sh("nft list table inet detour");
  CHECK_THAT(listed, Catch::Contains("tcp dport @out_exclude_ports counter packets 2 bytes 120 return comment "
                                     "\"exclude_ports\"\n"));
  CHECK_THAT(listed, Catch::Contains(fmt::format("meta l4proto tcp counter packets 1 bytes 60 redirect to :{} "
                                                 "comment \"redirect\"\n",
                                                 ns.listener.port())));
  // The whole table with live counters, rendered from the plan, is what nft lists.
  CHECK(kernel_ruleset(counter_display::values) ==
        normalize_whitespace(rules::render_with_counters(ns.plan, counters)));
}

TEST_CASE("reading the counters of a missing table fails with ENOENT", "[rules]") {
  enter_new_netns();
  try {
    rules::read_rule_counters("detour");
    FAIL("no error for a missing table");
  } catch (const rules::rules_error& e) {
    CHECK(e.error_number() == ENOENT);
    CHECK_THAT(e.what(), Catch::StartsWith("nftables: cannot read table inet detour: No such file or directory "
                                           "(ENOENT)"));
  }
}

TEST_CASE("detourd rules show --counters prints the installed table's counters", "[rules]") {
  counting ns;
  temp_dir dir;
  auto config = dir.write("detour.yaml", fmt::format("port: {}\n{}", ns.listener.port(), excluding_81)).string();
  ns.connect("192.0.2.9", 80, 4, "redirected to 192.0.2.9:80");
  // Another process reads the table this one owns: ownership restricts changes, not reading.
  auto shown = run_detourd({"rules", "show", "--counters", "-c", config});
  CHECK(shown.exit_code == 0);
  CHECK(shown.err == "");
  CHECK(shown.out == rules::render_with_counters(ns.plan, rules::read_rule_counters(ns.plan.table)));
  CHECK_THAT(shown.out, Catch::Contains(fmt::format("\t\tmeta l4proto tcp counter packets 4 bytes 240 redirect to "
                                                    ":{} comment \"redirect\"\n",
                                                    ns.listener.port())));
}

TEST_CASE("detourd rules show --counters without an installed table says so and exits 1", "[rules]") {
  enter_new_netns();
  auto shown = run_detourd({"rules", "show", "--counters"});
  CHECK(shown.exit_code == 1);
  CHECK(shown.out == "");
  CHECK(shown.err == "table inet detour is not installed (is detourd running in this network namespace?)\n");
}
