#include "detour/config/config.hpp"
#include "detour/rules/nft_installer.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_plan.hpp"
#include "detour/rules/rules_commands.hpp"
#include "support/netns.hpp"
#include "support/capture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>

using namespace detour;
using detour::test::connect_outcome;
using detour::test::enter_new_netns;
using detour::test::normalize_whitespace;
using detour::test::sh;

namespace {

// Local addresses to aim at: nothing listens on their ports, so a connection that is not
// redirected is refused at once.
void add_test_addresses() {
  sh("ip addr add 192.0.2.9/32 dev lo && ip addr add 198.51.100.7/32 dev lo && "
              "ip addr add 2001:db8::9/128 dev lo nodad && ip addr add fd00::9/128 dev lo nodad");
  test::wait_for_ipv6_addresses({"2001:db8::9", "fd00::9"});
}

config config_for(const test::redirect_listener& listener, std::string_view yaml = "") {
  auto cfg = parse_config(yaml, "test.yaml");
  cfg.port = listener.port();
  return cfg;
}

test::client_options marked(std::uint32_t mark) {
  test::client_options o;
  o.mark = mark;
  return o;
}

test::client_options as_user(std::uint32_t uid, std::optional<std::uint32_t> gid = std::nullopt) {
  test::client_options o;
  o.uid = uid;
  o.gid = gid;
  return o;
}

// `nft -y list ruleset` (numeric priorities) without the two lines an owned table adds
// ("# progname ...", "flags owner"), which the owner tests check separately.
std::string kernel_ruleset() {
  std::istringstream in(sh("nft -y list ruleset"));
  std::string kept, line;
  while (std::getline(in, line)) {
    if (auto comment = line.find(" # progname "); comment != std::string::npos) line.erase(comment);
    if (normalize_whitespace(line) == "flags owner") continue;
    kept += line + "\n";
  }
  return normalize_whitespace(kept);
}

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
)", "test.yaml");
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

TEST_CASE("the default plan installs as rendered and redirects outbound tcp of both families", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  auto cfg = config_for(listener);
  auto plan = rules::make_plan(cfg);
  rules::owned_table table(plan);
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(plan)));
  CHECK(connect_outcome(listener, "192.0.2.9", 80) == "redirected to 192.0.2.9:80");
  CHECK(connect_outcome(listener, "127.0.0.1", 443) == "redirected to 127.0.0.1:443");
  CHECK(connect_outcome(listener, "2001:db8::9", 8080) == "redirected to [2001:db8::9]:8080");
  CHECK(connect_outcome(listener, "::1", 22) == "redirected to [::1]:22");
}

TEST_CASE("connections carrying detourd's mark are not redirected", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  auto cfg = config_for(listener, "mark: 0x1d7\n");
  rules::owned_table table(rules::make_plan(cfg));
  CHECK(connect_outcome(listener, "192.0.2.9", 80, marked(0x1d7)) == "not redirected");
  CHECK(connect_outcome(listener, "192.0.2.9", 80, marked(0x1d8)) == "redirected to 192.0.2.9:80");
  CHECK(connect_outcome(listener, "2001:db8::9", 80, marked(0x1d7)) == "not redirected");
}

TEST_CASE("ports and exclude_ports select which destination ports are captured", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  auto cfg = config_for(listener, R"(
intercept:
  outbound:
    ports: ["80", "8000-8100"]
    exclude_ports: ["8080"]
)");
  rules::owned_table table(rules::make_plan(cfg));
  CHECK(connect_outcome(listener, "192.0.2.9", 80) == "redirected to 192.0.2.9:80");
  CHECK(connect_outcome(listener, "192.0.2.9", 8000) == "redirected to 192.0.2.9:8000");
  CHECK(connect_outcome(listener, "192.0.2.9", 8100) == "redirected to 192.0.2.9:8100");
  CHECK(connect_outcome(listener, "2001:db8::9", 8050) == "redirected to [2001:db8::9]:8050");
  CHECK(connect_outcome(listener, "192.0.2.9", 8080) == "not redirected");
  CHECK(connect_outcome(listener, "192.0.2.9", 81) == "not redirected");
  CHECK(connect_outcome(listener, "192.0.2.9", 8101) == "not redirected");
}

TEST_CASE("a connection to the listen port itself is not redirected again", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener)));
  // It still reaches the listener, directly: its original destination is the listener itself.
  CHECK(connect_outcome(listener, "192.0.2.9", listener.port()) ==
        fmt::format("redirected to 192.0.2.9:{}", listener.port()));
  auto ruleset = kernel_ruleset();
  CHECK(ruleset.find(fmt::format("tcp dport {} return", listener.port())) != std::string::npos);
}

TEST_CASE("exclude_destinations of both families are not captured", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, R"(
intercept: {outbound: {exclude_destinations: [192.0.2.0/24, "fd00::/8", 127.0.0.0/8]}}
)")));
  CHECK(connect_outcome(listener, "192.0.2.9", 80) == "not redirected");
  CHECK(connect_outcome(listener, "127.0.0.1", 80) == "not redirected");
  CHECK(connect_outcome(listener, "fd00::9", 80) == "not redirected");
  CHECK(connect_outcome(listener, "198.51.100.7", 80) == "redirected to 198.51.100.7:80");
  CHECK(connect_outcome(listener, "2001:db8::9", 80) == "redirected to [2001:db8::9]:80");
}

TEST_CASE("destinations of one family only leave the other family uncaptured", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, R"(
intercept: {outbound: {destinations: [198.51.100.0/24]}}
)")));
  CHECK(connect_outcome(listener, "198.51.100.7", 80) == "redirected to 198.51.100.7:80");
  CHECK(connect_outcome(listener, "192.0.2.9", 80) == "not redirected");
  CHECK(connect_outcome(listener, "2001:db8::9", 80) == "not redirected");
}

TEST_CASE("destinations of both families are the only ones captured", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, R"(
intercept: {outbound: {destinations: [192.0.2.9, "2001:db8::/64"]}}
)")));
  CHECK(connect_outcome(listener, "192.0.2.9", 80) == "redirected to 192.0.2.9:80");
  CHECK(connect_outcome(listener, "2001:db8::9", 80) == "redirected to [2001:db8::9]:80");
  CHECK(connect_outcome(listener, "198.51.100.7", 80) == "not redirected");
  CHECK(connect_outcome(listener, "fd00::9", 80) == "not redirected");
}

TEST_CASE("exclude_uids leaves those users' connections alone", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, "intercept: {outbound: {exclude_uids: [1000]}}\n")));
  CHECK(connect_outcome(listener, "192.0.2.9", 80, as_user(1000)) == "not redirected");
  CHECK(connect_outcome(listener, "192.0.2.9", 80, as_user(1001)) == "redirected to 192.0.2.9:80");
}

TEST_CASE("uids captures only those users' connections", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, "intercept: {outbound: {uids: [1000]}}\n")));
  CHECK(connect_outcome(listener, "192.0.2.9", 80, as_user(1000)) == "redirected to 192.0.2.9:80");
  CHECK(connect_outcome(listener, "192.0.2.9", 80, as_user(1001)) == "not redirected");
  CHECK(connect_outcome(listener, "192.0.2.9", 80) == "not redirected");
}

TEST_CASE("exclude_self_uid leaves connections of detourd's own user alone", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, "intercept: {exclude_self_uid: true}\n")));
  CHECK(connect_outcome(listener, "192.0.2.9", 80) == "not redirected");
  CHECK(connect_outcome(listener, "192.0.2.9", 80, as_user(1001)) == "redirected to 192.0.2.9:80");
}

TEST_CASE("gids and exclude_gids select groups", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  rules::owned_table table(
      rules::make_plan(config_for(listener, "intercept: {outbound: {gids: [2000, 2001], exclude_gids: [2001]}}\n")));
  CHECK(connect_outcome(listener, "192.0.2.9", 80, as_user(1000, 2000)) == "redirected to 192.0.2.9:80");
  CHECK(connect_outcome(listener, "192.0.2.9", 80, as_user(1000, 2001)) == "not redirected");
  CHECK(connect_outcome(listener, "192.0.2.9", 80, as_user(1000, 2002)) == "not redirected");
}

TEST_CASE("exclude_interfaces leaves connections through that interface alone", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, "intercept: {outbound: {exclude_interfaces: [lo]}}\n")));
  CHECK(connect_outcome(listener, "192.0.2.9", 80) == "not redirected");
}

TEST_CASE("exclude_interfaces naming another interface changes nothing", "[rules]") {
  enter_new_netns();
  add_test_addresses();
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, "intercept: {outbound: {exclude_interfaces: [eth9]}}\n")));
  CHECK(connect_outcome(listener, "192.0.2.9", 80) == "redirected to 192.0.2.9:80");
}
