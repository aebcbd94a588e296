// Connections through a real HTTP CONNECT proxy (tinyproxy), started inside the test's namespace.
#include "support/upstream_proxies.hpp"

#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

TEST_CASE("http: IPv4 and IPv6 destinations are reached through tinyproxy, bytes intact both ways", "[upstream]") {
  proxied_workstation ws("web", {"10.77.0.12"});
  tinyproxy proxy(ws.dir, at("10.77.0.12", free_port()));
  detourd_process detourd(
      ws.upstream_config(fmt::format("    kind: http\n    address: \"10.77.0.12:{}\"\n", proxy.address().port())));
  SECTION("IPv4") {
    exchange_and_check(at("10.77.0.2", 0), 60);
    CHECK(proxy.process().wait_for_output("CONNECT 10.77.0.2:"));
  }
  SECTION("IPv6") {
    exchange_and_check(at("fd77::2", 0), 70);
    CHECK(proxy.process().wait_for_output("CONNECT [fd77::2]:"));
  }
  CHECK(detourd.wait_for_log(
      fmt::format("http web (10.77.0.12:{}) closed up=200000 down=300000", proxy.address().port())));
}

TEST_CASE(
    "http: tinyproxy relays with the right Basic auth, and with a wrong password the client is reset and the status "
    "logged",
    "[upstream]") {
  proxied_workstation ws("web", {"10.77.0.12"});
  tinyproxy proxy(ws.dir, at("10.77.0.12", free_port()), "alice", "s3cret");
  auto upstream = [&](std::string_view password) {
    return fmt::format("    kind: http\n    address: \"10.77.0.12:{}\"\n    username: alice\n    password: {}\n",
                       proxy.address().port(), password);
  };
  SECTION("right password") {
    detourd_process detourd(ws.upstream_config(upstream("s3cret")));
    exchange_and_check(at("10.77.0.2", 0), 80);
  }
  SECTION("wrong password") {
    detourd_process detourd(ws.upstream_config(upstream("wrong-pw")));
    // tinyproxy answers a wrong Basic password with 401, not 407.
    check_upstream_failure(detourd, "connect failed: http: 401 unauthorized");
    CHECK(detourd.log().find("wrong-pw") == std::string::npos);
  }
}
