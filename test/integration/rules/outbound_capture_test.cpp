// detourd's outbound capture rules in the kernel: which local connections the rule plan
// redirects and which it leaves alone, by destination, port, mark, user, group and interface.
#include "support/capture.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"

#include "detour/rules/owned_table.hpp"
#include "detour/rules/render_nft.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

using namespace detour;

namespace {

// The capture rules of a config (`yaml`, its port the listener's) installed in a namespace with
// addresses of both families to aim at.
struct capturing : test::capture_namespace {
  explicit capturing(std::string_view yaml = "")
      : test::capture_namespace({"192.0.2.9", "198.51.100.7", "2001:db8::9", "fd00::9"}),
        plan(plan_for(yaml)),
        table(plan) {}

  rules::rule_plan plan;
  rules::owned_table table;
};

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

}  // namespace

TEST_CASE("the default plan installs as rendered and redirects outbound tcp of both families", "[rules]") {
  capturing ws;
  CHECK(test::kernel_ruleset() == test::normalize_whitespace(rules::render_nft(ws.plan)));
  CHECK(ws.outcome("192.0.2.9", 80) == "redirected to 192.0.2.9:80");
  CHECK(ws.outcome("127.0.0.1", 443) == "redirected to 127.0.0.1:443");
  CHECK(ws.outcome("2001:db8::9", 8080) == "redirected to [2001:db8::9]:8080");
  CHECK(ws.outcome("::1", 22) == "redirected to [::1]:22");
}

TEST_CASE("connections carrying detourd's mark are not redirected", "[rules]") {
  capturing ws("mark: 0x1d7\n");
  CHECK(ws.outcome("192.0.2.9", 80, marked(0x1d7)) == "not redirected");
  CHECK(ws.outcome("192.0.2.9", 80, marked(0x1d8)) == "redirected to 192.0.2.9:80");
  CHECK(ws.outcome("2001:db8::9", 80, marked(0x1d7)) == "not redirected");
}

TEST_CASE("ports and exclude_ports select which destination ports are captured", "[rules]") {
  capturing ws(R"(
intercept:
  outbound:
    ports: ["80", "8000-8100"]
    exclude_ports: ["8080"]
)");
  CHECK(ws.outcome("192.0.2.9", 80) == "redirected to 192.0.2.9:80");
  CHECK(ws.outcome("192.0.2.9", 8000) == "redirected to 192.0.2.9:8000");
  CHECK(ws.outcome("192.0.2.9", 8100) == "redirected to 192.0.2.9:8100");
  CHECK(ws.outcome("2001:db8::9", 8050) == "redirected to [2001:db8::9]:8050");
  CHECK(ws.outcome("192.0.2.9", 8080) == "not redirected");
  CHECK(ws.outcome("192.0.2.9", 81) == "not redirected");
  CHECK(ws.outcome("192.0.2.9", 8101) == "not redirected");
}

TEST_CASE("a connection to the listen port itself is not redirected again", "[rules]") {
  capturing ws;
  // It still reaches the listener, directly: its original destination is the listener itself.
  CHECK(ws.outcome("192.0.2.9", ws.listener.port()) == fmt::format("redirected to 192.0.2.9:{}", ws.listener.port()));
  auto ruleset = test::kernel_ruleset();
  CHECK(ruleset.find(fmt::format("tcp dport {} counter return", ws.listener.port())) != std::string::npos);
}

TEST_CASE("exclude_destinations of both families are not captured", "[rules]") {
  capturing ws(R"(
intercept: {outbound: {exclude_destinations: [192.0.2.0/24, "fd00::/8", 127.0.0.0/8]}}
)");
  CHECK(ws.outcome("192.0.2.9", 80) == "not redirected");
  CHECK(ws.outcome("127.0.0.1", 80) == "not redirected");
  CHECK(ws.outcome("fd00::9", 80) == "not redirected");
  CHECK(ws.outcome("198.51.100.7", 80) == "redirected to 198.51.100.7:80");
  CHECK(ws.outcome("2001:db8::9", 80) == "redirected to [2001:db8::9]:80");
}

TEST_CASE("destinations of one family only leave the other family uncaptured", "[rules]") {
  capturing ws(R"(
intercept: {outbound: {destinations: [198.51.100.0/24]}}
)");
  CHECK(ws.outcome("198.51.100.7", 80) == "redirected to 198.51.100.7:80");
  CHECK(ws.outcome("192.0.2.9", 80) == "not redirected");
  CHECK(ws.outcome("2001:db8::9", 80) == "not redirected");
}

TEST_CASE("destinations of both families are the only ones captured", "[rules]") {
  capturing ws(R"(
intercept: {outbound: {destinations: [192.0.2.9, "2001:db8::/64"]}}
)");
  CHECK(ws.outcome("192.0.2.9", 80) == "redirected to 192.0.2.9:80");
  CHECK(ws.outcome("2001:db8::9", 80) == "redirected to [2001:db8::9]:80");
  CHECK(ws.outcome("198.51.100.7", 80) == "not redirected");
  CHECK(ws.outcome("fd00::9", 80) == "not redirected");
}

TEST_CASE("exclude_uids leaves those users' connections alone", "[rules]") {
  capturing ws("intercept: {outbound: {exclude_uids: [1000]}}\n");
  CHECK(ws.outcome("192.0.2.9", 80, as_user(1000)) == "not redirected");
  CHECK(ws.outcome("192.0.2.9", 80, as_user(1001)) == "redirected to 192.0.2.9:80");
}

TEST_CASE("uids captures only those users' connections", "[rules]") {
  capturing ws("intercept: {outbound: {uids: [1000]}}\n");
  CHECK(ws.outcome("192.0.2.9", 80, as_user(1000)) == "redirected to 192.0.2.9:80");
  CHECK(ws.outcome("192.0.2.9", 80, as_user(1001)) == "not redirected");
  CHECK(ws.outcome("192.0.2.9", 80) == "not redirected");
}

TEST_CASE("exclude_self_uid leaves connections of detourd's own user alone", "[rules]") {
  capturing ws("intercept: {exclude_self_uid: true}\n");
  CHECK(ws.outcome("192.0.2.9", 80) == "not redirected");
  CHECK(ws.outcome("192.0.2.9", 80, as_user(1001)) == "redirected to 192.0.2.9:80");
}

TEST_CASE("gids and exclude_gids select groups", "[rules]") {
  capturing ws("intercept: {outbound: {gids: [2000, 2001], exclude_gids: [2001]}}\n");
  CHECK(ws.outcome("192.0.2.9", 80, as_user(1000, 2000)) == "redirected to 192.0.2.9:80");
  CHECK(ws.outcome("192.0.2.9", 80, as_user(1000, 2001)) == "not redirected");
  CHECK(ws.outcome("192.0.2.9", 80, as_user(1000, 2002)) == "not redirected");
}

TEST_CASE("exclude_interfaces leaves connections through that interface alone", "[rules]") {
  capturing ws("intercept: {outbound: {exclude_interfaces: [lo]}}\n");
  CHECK(ws.outcome("192.0.2.9", 80) == "not redirected");
}

TEST_CASE("exclude_interfaces naming another interface changes nothing", "[rules]") {
  capturing ws("intercept: {outbound: {exclude_interfaces: [eth9]}}\n");
  CHECK(ws.outcome("192.0.2.9", 80) == "redirected to 192.0.2.9:80");
}
