// Connections through a real SOCKS5 server (microsocks), started inside the test's namespace: the
// "workstation" whose outbound TCP is captured reaches its destinations only through the proxy.
#include "support/upstream_proxies.hpp"

#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

namespace {

// Destinations on 10.77.0.2 and fd77::2, proxies on 10.77.0.10, detourd's redirect rule in place.
struct workstation {
  std::uint16_t port;
  temp_dir dir;

  workstation() : port(prepare()) {}

  static std::uint16_t prepare() {
    enter_new_netns();
    add_local_address("10.77.0.2/32");
    add_local_address("fd77::2/128");
    add_local_address("10.77.0.10/32");
    add_local_address("fd77::10/128");
    auto p = free_port();
    redirect_except(p, {nobody_uid, tinyproxy_uid()}, {"10.77.0.10", "fd77::10"});
    return p;
  }

  std::string upstream_config(std::string_view upstream_yaml) const {
    return test_config(
        port, "direct",
        fmt::format("upstreams:\n  socks:\n{}routes:\n  - default: {{upstream: socks}}\n", upstream_yaml));
  }
};

}  // namespace

TEST_CASE("socks5: IPv4 and IPv6 destinations are reached through microsocks, bytes intact both ways", "[upstream]") {
  workstation ws;
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
  workstation ws;
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
    sink_server server(at("10.77.0.2", 0));
    auto got = read_after_connect(server.local_endpoint());
    CHECK(got.end == stream_end::reset);
    CHECK(got.bytes.empty());
    CHECK(detourd.wait_for_log("connect failed: socks5: authentication failed, wrong username or password"));
    CHECK(detourd.log().find("wrong-pw") == std::string::npos);
    CHECK(server.connections_accepted() == 0);
  }
}

TEST_CASE("socks5: when a server is down the next one carries the connection, on IPv4 or IPv6", "[upstream]") {
  workstation ws;
  auto down_port = free_port();  // nothing listens there: refused at once
  microsocks proxy(ws.dir, at("fd77::10", free_port()));
  detourd_process detourd(ws.upstream_config(fmt::format(
      "    kind: socks5\n    servers: [\"10.77.0.10:{}\", \"[fd77::10]:{}\"]\n", down_port, proxy.address().port())));
  exchange_and_check(at("10.77.0.2", 0), 50);
  CHECK(detourd.wait_for_log(fmt::format("socks5 socks ([fd77::10]:{}) closed", proxy.address().port())));
  CHECK(proxy.process().wait_for_output(": connected to 10.77.0.2:"));
}

TEST_CASE("socks5: when every server is down the client is reset within the connect timeout", "[upstream]") {
  workstation ws;
  auto refused_port = free_port();
  auto silent_port = free_port();
  blackhole_port(silent_port);  // SYNs dropped: only the timeout ends the attempt
  detourd_process detourd(ws.upstream_config(fmt::format(
      "    kind: socks5\n    servers: [\"10.77.0.10:{}\", \"10.77.0.10:{}\"]\n    connect_timeout: 1500ms\n",
      silent_port, refused_port)));
  sink_server server(at("10.77.0.2", 0));

  auto started = std::chrono::steady_clock::now();
  auto got = read_after_connect(server.local_endpoint());
  auto elapsed = std::chrono::steady_clock::now() - started;

  CHECK(got.end == stream_end::reset);
  // The bound under test is 1.5 s for both servers together (the default would be 10 s); the
  // silent one gets half of it, so the refused one is still tried.
  CHECK(elapsed < std::chrono::milliseconds(4000));
  CHECK(
      detourd.wait_for_log(fmt::format("connect failed: all 2 servers failed: 10.77.0.10:{}: connect timeout; "
                                       "10.77.0.10:{}: Connection refused",
                                       silent_port, refused_port)));
  CHECK(server.connections_accepted() == 0);
}

TEST_CASE(
    "socks5: under detourd's own capture rules, traffic goes through the proxy, and the proxy itself is "
    "never captured even when a route covers it",
    "[upstream]") {
  enter_new_netns();
  for (const char* address : {"10.77.0.2/32", "10.77.1.2/32", "10.77.0.10/32"}) add_local_address(address);
  temp_dir dir;
  microsocks proxy(dir, at("10.77.0.10", free_port()));
  auto port = free_port();
  // The built-in installer this time (intercept enabled); microsocks' own connections are skipped
  // by its user id, as a deployment would skip a local proxy's.
  detourd_process detourd(fmt::format(R"(mode: direct
port: {}
workers: 2
intercept:
  outbound:
    exclude_uids: [{}]
upstreams:
  socks: {{kind: socks5, address: "10.77.0.10:{}"}}
routes:
  - destinations: [10.77.0.10/32, 10.77.1.0/24]
    action: reject
  - default: {{upstream: socks}}
)",
                                      port, nobody_uid, proxy.address().port()));

  exchange_and_check(at("10.77.0.2", 0), 130);
  CHECK(proxy.process().wait_for_output(": connected to 10.77.0.2:"));

  CHECK(read_after_connect(at("10.77.1.2", 9)).end == stream_end::reset);

  // A program that talks SOCKS to the proxy itself reaches it, not detourd's reject route.
  auto client = connect_to(proxy.address());
  send_all(client.get(), std::string("\x05\x01\x00", 3));
  auto reply = read_exactly(client.get(), 2);
  CHECK(reply.bytes == std::string("\x05\x00", 2));
  CHECK(detourd.log().find(fmt::format("-> 10.77.0.10:{}]", proxy.address().port())) == std::string::npos);
}
