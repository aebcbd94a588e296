// Connections through a real SOCKS5 server (microsocks), started inside the test's namespace: the
// "workstation" whose outbound TCP is captured reaches its destinations only through the proxy.
#include "support/upstream_proxies.hpp"

#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

TEST_CASE("socks5: IPv4 and IPv6 destinations are reached through microsocks, bytes intact both ways", "[upstream]") {
  proxied_workstation ws("socks", {"10.77.0.10", "fd77::10"});
  microsocks proxy(ws.dir, at("10.77.0.10", free_port()));
  detourd_process detourd(
      ws.upstream_config(fmt::format("    kind: socks5\n    address: \"10.77.0.10:{}\"\n", proxy.address().port())));
  SECTION("IPv4") {
    exchange_and_check(at("10.77.0.2", 0), 20);
    CHECK(proxy.process().wait_for_output(": connected to 10.77.0.2:"));
  }
  SECTION("IPv6") {
    exchange_and_check(at("fd77::2", 0), 30);
    CHECK(proxy.process().wait_for_output(": connected to fd77::2:"));
  }
  CHECK(detourd.wait_for_log(
      fmt::format("socks5 socks (10.77.0.10:{}) closed up=200000 down=300000", proxy.address().port())));
}

TEST_CASE(
    "socks5: microsocks relays with the right password, and with a wrong one the client is reset and the "
    "reason logged",
    "[upstream]") {
  proxied_workstation ws("socks", {"10.77.0.10", "fd77::10"});
  microsocks proxy(ws.dir, at("10.77.0.10", free_port()), "alice", "s3cret");
  auto upstream = [&](std::string_view password) {
    return fmt::format("    kind: socks5\n    address: \"10.77.0.10:{}\"\n    username: alice\n    password: {}\n",
                       proxy.address().port(), password);
  };
  SECTION("right password") {
    detourd_process detourd(ws.upstream_config(upstream("s3cret")));
    exchange_and_check(at("10.77.0.2", 0), 40);
  }
  SECTION("wrong password") {
    detourd_process detourd(ws.upstream_config(upstream("wrong-pw")));
    check_upstream_failure(detourd, "connect failed: socks5: authentication failed, wrong username or password");
    CHECK(detourd.log().find("wrong-pw") == std::string::npos);
  }
}

TEST_CASE("socks5: when a server is down the next one carries the connection, on IPv4 or IPv6", "[upstream]") {
  proxied_workstation ws("socks", {"10.77.0.10", "fd77::10"});
  auto down_port = free_port();  // nothing listens there: refused at once
  microsocks proxy(ws.dir, at("fd77::10", free_port()));
  detourd_process detourd(ws.upstream_config(fmt::format(
      "    kind: socks5\n    servers: [\"10.77.0.10:{}\", \"[fd77::10]:{}\"]\n", down_port, proxy.address().port())));
  exchange_and_check(at("10.77.0.2", 0), 50);
  CHECK(detourd.wait_for_log(fmt::format("socks5 socks ([fd77::10]:{}) closed", proxy.address().port())));
  CHECK(proxy.process().wait_for_output(": connected to 10.77.0.2:"));
}

TEST_CASE("socks5: when every server is down the client is reset within the connect timeout", "[upstream]") {
  proxied_workstation ws("socks", {"10.77.0.10", "fd77::10"});
  auto refused_port = free_port();
  auto silent_port = free_port();
  blackhole_port(silent_port);  // SYNs dropped: only the timeout ends the attempt
  detourd_process detourd(ws.upstream_config(fmt::format(
      "    kind: socks5\n    servers: [\"10.77.0.10:{}\", \"10.77.0.10:{}\"]\n    connect_timeout: 1500ms\n",
      silent_port, refused_port)));

  auto elapsed = check_upstream_failure(
      detourd, fmt::format("connect failed: all 2 servers failed: 10.77.0.10:{}: connect timeout; "
                           "10.77.0.10:{}: Connection refused",
                           silent_port, refused_port));
  // The bound under test is 1.5 s for both servers together (the default would be 10 s); the
  // silent one gets half of it, so the refused one is still tried.
  CHECK(elapsed < std::chrono::milliseconds(4000));
}
