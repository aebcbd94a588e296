// The guard of on_failure: closed against the kernel and the real detourd: an un-owned table that
// outlives a killed detourd and resets what its capture would have taken, while the capture's
// exclusions still connect; lifted by `detourd rules remove`, gone after a clean stop, and never
// in the way of redirected connections or detourd's own.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include "detour/rules/guard_table.hpp"
#include "detour/rules/render_nft.hpp"
#include "detour/rules/rule_plan.hpp"
#include "detour/rules/rules_commands.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <csignal>
#include <sstream>
#include <string>

using namespace detour;
using namespace detour::test;

namespace {

std::string tables() { return sh("nft list tables"); }

constexpr std::string_view hello = "hello from 192.0.2.9\n";

// A "remote" server on 192.0.2.9 (a local address of this namespace) that greets and closes.
struct remote_server : tcp_server {
  remote_server()
      : tcp_server(at("192.0.2.9", 0), [](int fd) {
          send_all(fd, hello);
          return received_digest{};
        }) {}
};

// detourd run with its own rules installed, relaying directly, `excluded_port` never captured.
std::string guarded_config(std::string_view on_failure, std::uint16_t excluded_port) {
  return fmt::format(
      "mode: direct\nport: {}\nworkers: 1\nintercept:\n  on_failure: {}\n  outbound: {{exclude_ports: "
      "[\"{}\"]}}\n",
      free_port(), on_failure, excluded_port);
}

// A namespace with 192.0.2.9 on lo and two servers there: one whose port detourd captures, one
// whose port it excludes.
struct host_with_servers {
  host_with_servers() {
    enter_new_netns();
    sh("ip addr add 192.0.2.9/32 dev lo");
    captured.emplace();
    excluded.emplace();
  }
  std::optional<remote_server> captured;
  std::optional<remote_server> excluded;
};

}  // namespace

TEST_CASE(
    "with on_failure closed a killed detourd leaves a guard: captured connections are reset, excluded "
    "ones connect, and rules remove lifts it",
    "[rules]") {
  host_with_servers host;
  auto yaml = guarded_config("closed", host.excluded->port());
  {
    detourd_process detourd(yaml);
    CHECK(tables() == "table inet detour_guard\ntable inet detour\n");
    CHECK(detourd.stop(20s, SIGKILL) == 128 + SIGKILL);
  }
  CHECK(tables() == "table inet detour_guard\n");
  // The server listens: only the guard can refuse the connection.
  CHECK(read_or_connect_error(host.captured->local_endpoint()) == "connect: Connection refused");
  CHECK(host.captured->connections_accepted() == 0);
  CHECK(read_or_connect_error(host.excluded->local_endpoint()) == hello);

  temp_dir dir;
  auto removed = run_detourd({"rules", "remove", "-c", dir.write("detour.yaml", yaml).string()});
  CHECK(removed.exit_code == 0);
  CHECK(removed.err == "table inet detour is not installed\n");
  CHECK(tables() == "");
  CHECK(read_or_connect_error(host.captured->local_endpoint()) == hello);
}

TEST_CASE("with on_failure open a killed detourd leaves nothing: captured connections go direct", "[rules]") {
  host_with_servers host;
  detourd_process detourd(guarded_config("open", host.excluded->port()));
  CHECK(tables() == "table inet detour\n");
  CHECK(detourd.stop(20s, SIGKILL) == 128 + SIGKILL);
  CHECK(tables() == "");
  CHECK(read_or_connect_error(host.captured->local_endpoint()) == hello);
  CHECK(host.captured->connections_accepted() == 1);
}

TEST_CASE("with on_failure closed a clean stop removes the guard before the capture", "[rules]") {
  host_with_servers host;
  detourd_process detourd(guarded_config("closed", host.excluded->port()));
  CHECK(detourd.stop() == 0);
  CHECK(tables() == "");
  CHECK(read_or_connect_error(host.captured->local_endpoint()) == hello);
  auto log = detourd.log();
  auto guard_removed = log.find("rules: removed guard table inet detour_guard");
  auto capture_removed = log.find("rules: removed table inet detour\n");
  REQUIRE(guard_removed != std::string::npos);
  REQUIRE(capture_removed != std::string::npos);
  CHECK(guard_removed < capture_removed);
}

TEST_CASE("with on_failure closed a running detourd relays captured connections, its own not reset", "[rules]") {
  host_with_servers host;
  auto yaml = guarded_config("closed", host.excluded->port());
  detourd_process detourd(yaml);
  // detourd's connection to the server carries its mark: were it not left alone, the guard would
  // reset it and the client would read nothing.
  CHECK(read_or_connect_error(host.captured->local_endpoint()) == hello);
  CHECK(detourd.wait_for_log(fmt::format("-> 192.0.2.9:{}]", host.captured->port())));
  CHECK(read_or_connect_error(host.excluded->local_endpoint()) == hello);
  auto guard = normalize_whitespace(sh("nft list table inet detour_guard"));
  CHECK(guard.find("counter packets 0 bytes 0 reject with tcp reset") != std::string::npos);
  CHECK(guard.find("ct status dnat counter packets 0 bytes 0 accept") == std::string::npos);
  CHECK(guard.find("meta mark 0x000001d7 counter packets 0 bytes 0 return") == std::string::npos);
  // rules remove cannot take the running detourd's capture, and so leaves its guard alone too.
  temp_dir dir;
  CHECK(run_detourd({"rules", "remove", "-c", dir.write("detour.yaml", yaml).string()}).exit_code == 1);
  CHECK(tables() == "table inet detour_guard\ntable inet detour\n");
}

TEST_CASE("a guard table is installed un-owned as planned, replacing a stale one, and removed when destroyed",
          "[rules]") {
  enter_new_netns();
  auto cfg = parse_config(R"(
intercept:
  on_failure: closed
  exclude_self_uid: true
  outbound: {ports: ["80", "443"], exclude_uids: [0], exclude_destinations: ["fd00::/8"]}
  inbound: {enabled: true, interfaces: [eth1], exclude_sources: [10.0.0.0/8], exclude_ports: ["22"]}
)",
                          "test.yaml");
  sh("nft 'add table inet detour_guard; add chain inet detour_guard stale { type filter hook output priority 0; }'");
  {
    auto guard = rules::install_guard(cfg);
    REQUIRE(guard);
    CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(guard->plan())));
    CHECK(table_header("detour_guard").find("flags") == std::string::npos);
  }
  CHECK(tables() == "");
}

TEST_CASE("a guard table's rules are replaced in place for a reload's new config", "[rules]") {
  enter_new_netns();
  auto before = parse_config("intercept: {on_failure: closed}\n", "test.yaml");
  auto after = parse_config(
      "intercept: {on_failure: closed, outbound: {exclude_ports: [\"22\"]}, inbound: {enabled: "
      "true}}\n",
      "test.yaml");
  rules::guard_table guard(rules::make_guard_plan(before));
  guard.replace(rules::make_guard_plan(after));
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(guard.plan())));
  CHECK(guard.plan().chains.size() == 3);
  CHECK(guard.plan().find_set("out_exclude_ports_g1") != nullptr);
}

TEST_CASE("rules install with on_failure closed installs the guard too, and rules remove both", "[rules]") {
  enter_new_netns();
  auto cfg = parse_config("intercept: {on_failure: closed}\n", "test.yaml");
  std::ostringstream err;
  CHECK(rules::rules_install(cfg, err) == 0);
  CHECK(tables() == "table inet detour_guard\ntable inet detour\n");
  CHECK(kernel_ruleset() == normalize_whitespace(rules::render_nft(rules::make_guard_plan(cfg)) +
                                                 rules::render_nft(rules::make_plan(cfg))));
  CHECK(rules::rules_remove(cfg, err) == 0);
  CHECK(tables() == "");
  CHECK(err.str() == "");
}

TEST_CASE("the inbound guard resets connections from another host that the capture would take", "[rules]") {
  enter_new_netns();
  peer_netns peer;
  link_by_veth(peer, "veth0", "10.77.0", "fd77");
  add_local_address("203.0.113.5/32");
  auto greeter = [](int fd) {
    send_all(fd, "hi\n");
    return received_digest{};
  };
  tcp_server captured(at("203.0.113.5", 0), greeter);
  tcp_server excluded(at("203.0.113.5", 0), greeter);
  // No capture: what a dead detourd leaves behind.
  auto cfg = parse_config(fmt::format("intercept: {{on_failure: closed, outbound: {{enabled: false}}, inbound: "
                                      "{{enabled: true, exclude_ports: [\"{}\"]}}}}\n",
                                      excluded.port()),
                          "test.yaml");
  rules::guard_table guard(rules::make_guard_plan(cfg));
  auto from_peer = [&](const tcp_server& s) {
    return peer.inside([&] { return read_or_connect_error(s.local_endpoint()); });
  };
  CHECK(from_peer(captured) == "connect: Connection refused");
  CHECK(from_peer(excluded) == "hi\n");
  // A connection made on this host never passes prerouting's capture, so its guard leaves it alone.
  CHECK(read_or_connect_error(captured.local_endpoint()) == "hi\n");
  CHECK(captured.connections_accepted() == 1);
}
