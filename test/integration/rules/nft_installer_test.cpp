// The nft installer against the kernel: what it installs is exactly what render_nft() prints,
// the whole batch is refused at the first error with a message that names the object and the
// likely cause, and large sets reach the kernel whole.
#include "support/capture.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"

#include "detour/rules/nft_installer.hpp"
#include "detour/rules/owned_table.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_plan.hpp"
#include "detour/rules/rules_commands.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <sstream>

using namespace detour;
using namespace detour::test;

namespace {

std::string tables() { return sh("nft list tables"); }

// A plan with every option set, both chains and every kind of set.
rules::rule_plan every_option_plan() {
  auto cfg = parse_config(R"(
port: 3128
intercept:
  exclude_self_uid: true
  outbound:
    ports: ["80", "443", "8000-8080", "60000-65535"]
    exclude_ports: ["8001"]
    destinations: [10.0.0.0/8, "2001:db8::/32", 0.0.0.0/1]
    exclude_destinations: [10.9.0.0/16, 10.10.0.0/16, "fd00::1", "::1"]
    uids: [1000, 33]
    exclude_uids: [0]
    gids: [100]
    exclude_gids: [5, 4]
    exclude_interfaces: [docker0, br-1]
  inbound:
    enabled: true
    interfaces: [veth0]
    sources: [172.17.0.0/16]
    exclude_sources: [172.17.0.1]
    ports: ["80"]
    destinations: ["::/0"]
    exclude_destinations: [192.168.0.0/16]
)",
                          "test.yaml");
  return rules::make_plan(cfg);
}

}  // namespace

TEST_CASE("an installed plan is exactly what nft lists in the kernel", "[rules]") {
  enter_new_netns();
  auto plan = every_option_plan();
  rules::nft_installer installer;
  installer.install(plan, rules::ownership::none);
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(plan)));
}

TEST_CASE("the rendered plan loaded by nft -f lists exactly as rendered", "[rules]") {
  enter_new_netns();
  auto plan = every_option_plan();
  sh("nft -f - <<'EOF'\n" + rules::render_nft(plan) + "EOF\n");
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(plan)));
}

TEST_CASE("a table owned by another process is refused with a message naming it", "[rules]") {
  enter_new_netns();
  auto plan = rules::make_plan(config_for_port(test::free_port()));
  rules::nft_installer first;
  first.install(plan, rules::ownership::owner);
  rules::nft_installer second;
  CHECK_THROWS_WITH(second.install(plan, rules::ownership::owner),
                    "nftables: cannot take over existing table inet detour: Operation not permitted (EPERM); likely "
                    "cause: the table is owned by another process (a running detourd keeps its table until it exits; "
                    "the kernel removes it then), or this process lacks CAP_NET_ADMIN; 17 later errors follow from it");
  std::ostringstream err;
  CHECK(rules::rules_remove(config_for_port(test::free_port()), err) == 1);
  CHECK(err.str() ==
        "nftables: cannot delete table inet detour: Operation not permitted (EPERM); likely cause: the table is owned "
        "by another process (a running detourd keeps its table until it exits; the kernel removes it then), or this "
        "process lacks CAP_NET_ADMIN\n");
  // The owner's table is untouched.
  CHECK(normalize_whitespace(table_header("detour")).find("flags owner") != std::string::npos);
}

TEST_CASE("a chain priority the kernel refuses aborts the whole batch and names the chain", "[rules]") {
  enter_new_netns();
  std::ostringstream err;
  auto cfg = config_for_port(test::free_port());
  REQUIRE(rules::rules_install(cfg, err) == 0);
  auto before = sh("nft list ruleset");
  // Config validation refuses this priority; a hand-made plan shows what the kernel says.
  auto plan = rules::make_plan(cfg);
  plan.chains[0].priority = -300;
  rules::nft_installer installer;
  CHECK_THROWS_WITH(installer.install(plan, rules::ownership::owner),
                    "nftables: cannot create chain output (type nat hook output priority -300): Operation not "
                    "supported (EOPNOTSUPP); likely cause: the kernel refuses a nat chain at this priority (nat needs "
                    "a priority above -200) or lacks nat support (CONFIG_NFT_NAT); an existing chain's priority cannot "
                    "change in place; 8 later errors follow from it");
  // Nothing of the batch applied: the old un-owned table with its rules is still there.
  CHECK(sh("nft list ruleset") == before);
}

TEST_CASE("without CAP_NET_ADMIN the batch is refused as a whole", "[rules]") {
  enter_new_netns();
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (::setuid(1000) != 0) ::_exit(3);
    try {
      rules::nft_installer installer;
      installer.install(rules::make_plan(config_for_port(test::free_port())), rules::ownership::owner);
    } catch (const rules::rules_error& e) {
      bool expected = std::string(e.what()) ==
                      "nftables: cannot start the batch: Operation not permitted (EPERM); likely cause: this process "
                      "lacks CAP_NET_ADMIN in its network namespace (run as root or grant the capability)";
      if (!expected) std::fprintf(stderr, "%s\n", e.what());
      ::_exit(expected ? 0 : 1);
    }
    ::_exit(2);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(tables() == "");
}

TEST_CASE("5000 excluded prefixes all reach the kernel", "[rules]") {
  enter_new_netns();
  auto cfg = config_for_port(test::free_port());
  // Every other /32, so none merge: 5000 intervals, 10000 set elements.
  for (unsigned i = 0; i < 5000; ++i) {
    auto a = 0x0a000000U + 2 * i;
    cfg.intercept.outbound.exclude_destinations.push_back({boost::asio::ip::address_v4(a), 32});
  }
  for (unsigned i = 0; i < 1000; ++i) {
    cfg.intercept.outbound.exclude_destinations.push_back(*net::parse_cidr(fmt::format("2001:db8:{:x}::/48", 2 * i)));
  }
  auto plan = rules::make_plan(cfg);
  REQUIRE(plan.find_set("out_exclude_destinations4")->prefixes.size() == 5002);
  auto started = std::chrono::steady_clock::now();
  rules::owned_table guard(plan);
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  WARN("installing 5002 IPv4 + 1001 IPv6 prefixes took " << elapsed.count() << " ms");
  auto v4 = normalize_whitespace(sh("nft list set inet detour out_exclude_destinations4"));
  auto v6 = normalize_whitespace(sh("nft list set inet detour out_exclude_destinations6"));
  CHECK(std::count(v4.begin(), v4.end(), ',') == 5001);
  CHECK(std::count(v6.begin(), v6.end(), ',') == 1000);
  CHECK(v4.find(" 10.0.39.14,") != std::string::npos);  // the last one: 10.0.0.0 + 2 * 4999
  CHECK(v6.find(" 2001:db8:7ce::/48,") != std::string::npos);
}
