#include "detour/config/config.hpp"
#include "detour/rules/nft_installer.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_plan.hpp"
#include "detour/rules/rules_commands.hpp"
#include "support/netns.hpp"
#include "support/capture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

using namespace detour;
using detour::test::connect_outcome;
using detour::test::enter_new_netns;
using detour::test::normalize_whitespace;
using detour::test::sh;

namespace {

std::string tables() { return sh("nft list tables"); }

std::string table_header(const std::string& name) {
  auto text = sh("nft list table inet " + name);
  return text.substr(0, text.find("\n\tset"));
}

config config_for_port(std::uint16_t port, std::string_view yaml = "") {
  auto cfg = parse_config(yaml, "test.yaml");
  cfg.port = port;
  return cfg;
}

// Forks a child that installs an owned table, reports through a pipe, and waits to be killed.
pid_t child_owning_table(const rules::rule_plan& plan) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    // The installer must outlive the pause: its socket is what keeps the table.
    std::optional<rules::nft_installer> installer;
    try {
      installer.emplace();
      installer->install(plan, rules::ownership::owner);
    } catch (...) {
      ::_exit(1);
    }
    char ok = 'y';
    if (::write(fds[1], &ok, 1) != 1) ::_exit(2);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char ok = 0;
  REQUIRE(::read(fds[0], &ok, 1) == 1);
  ::close(fds[0]);
  return child;
}

}  // namespace

TEST_CASE("an owned table disappears when its owner is killed with SIGKILL", "[rules]") {
  enter_new_netns();
  auto plan = rules::make_plan(config_for_port(15001));
  pid_t child = child_owning_table(plan);
  CHECK(tables() == "table inet detour\n");
  CHECK(table_header("detour").find("\n\tflags owner\n") != std::string::npos);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(tables() == "");
}

TEST_CASE("an owned table is removed when its guard is destroyed", "[rules]") {
  enter_new_netns();
  {
    auto guard = rules::install_owned_rules(config_for_port(15001));
    REQUIRE(guard);
    CHECK(tables() == "table inet detour\n");
  }
  CHECK(tables() == "");
}

TEST_CASE("with intercept disabled the guard installs nothing", "[rules]") {
  enter_new_netns();
  auto guard = rules::install_owned_rules(config_for_port(15001, "intercept: {enabled: false}\n"));
  CHECK_FALSE(guard);
  CHECK(tables() == "");
}

TEST_CASE("rules install leaves an un-owned table and rules remove deletes it", "[rules]") {
  enter_new_netns();
  auto cfg = config_for_port(15001, "intercept: {table: sidecar}\n");
  std::ostringstream err;
  CHECK(rules::rules_install(cfg, err) == 0);
  CHECK(tables() == "table inet sidecar\n");
  CHECK(table_header("sidecar").find("flags") == std::string::npos);
  // A second install replaces the table rather than adding a second copy of each rule.
  CHECK(rules::rules_install(cfg, err) == 0);
  CHECK(normalize_whitespace(sh("nft -y list ruleset")) == normalize_whitespace(rules::render_nft(rules::make_plan(cfg))));
  CHECK(rules::rules_remove(cfg, err) == 0);
  CHECK(tables() == "");
  CHECK(err.str() == "");
  CHECK(rules::rules_remove(cfg, err) == 0);
  CHECK(err.str() == "table inet sidecar is not installed\n");
}

TEST_CASE("a stale un-owned table left by rules install is replaced by the owned one", "[rules]") {
  enter_new_netns();
  auto cfg = config_for_port(15001);
  sh("nft 'add table inet detour; add chain inet detour stale { type nat hook output priority -99; }; "
              "add rule inet detour stale tcp dport 80 redirect to :9'");
  {
    rules::owned_table guard(rules::make_plan(cfg));
    auto listing = sh("nft list table inet detour");
    CHECK(listing.find("flags owner") != std::string::npos);
    CHECK(listing.find("stale") == std::string::npos);
    CHECK(tables() == "table inet detour\n");
  }
  CHECK(tables() == "");
}

TEST_CASE("a table owned by another process is refused with a message naming it", "[rules]") {
  enter_new_netns();
  auto plan = rules::make_plan(config_for_port(15001));
  rules::nft_installer first;
  first.install(plan, rules::ownership::owner);
  rules::nft_installer second;
  CHECK_THROWS_WITH(second.install(plan, rules::ownership::owner),
                    "nftables: cannot take over existing table inet detour: Operation not permitted (EPERM); likely "
                    "cause: the table is owned by another process (a running detourd keeps its table until it exits; "
                    "the kernel removes it then), or this process lacks CAP_NET_ADMIN; 13 later errors follow from it");
  std::ostringstream err;
  CHECK(rules::rules_remove(config_for_port(15001), err) == 1);
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
  auto cfg = config_for_port(15001);
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
                    "change in place; 6 later errors follow from it");
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
      installer.install(rules::make_plan(config_for_port(15001)), rules::ownership::owner);
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
  auto cfg = config_for_port(15001);
  // Every other /32, so none merge: 5000 intervals, 10000 set elements.
  for (unsigned i = 0; i < 5000; ++i) {
    auto a = 0x0a000000U + 2 * i;
    cfg.intercept.outbound.exclude_destinations.push_back(
        {boost::asio::ip::address_v4(a), 32});
  }
  for (unsigned i = 0; i < 1000; ++i) {
    cfg.intercept.outbound.exclude_destinations.push_back(
        *net::parse_cidr(fmt::format("2001:db8:{:x}::/48", 2 * i)));
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
