// Routes chosen per connection by destination CIDR and port, first match first.
#include "support/upstream_proxies.hpp"

#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

namespace {

// Connects, expects to be reset before any byte arrives.
void expect_reset(const endpoint& destination) {
  auto got = read_after_connect(destination);
  CHECK(got.end == stream_end::reset);
  CHECK(got.bytes.empty());
}

}  // namespace

TEST_CASE(
    "routes send each connection direct, upstream, to echo or to reject by CIDR and port, first match "
    "first",
    "[route]") {
  proxied_workstation ws("socks", {"10.77.0.10"}, {"10.77.1.2", "10.99.0.2"});
  microsocks proxy(ws.dir, at("10.77.0.10", free_port()));
  const auto direct_port = free_port();
  const auto echo_port = free_port();
  detourd_process detourd(test_config(ws.port, "direct",
                                      fmt::format(R"(upstreams:
  socks: {{kind: socks5, address: "10.77.0.10:{}"}}
routes:
  - destinations: [10.77.1.0/24]
    action: reject
  - ports: [{}]
    action: {{echo: json}}
  - destinations: [10.77.0.0/24]
    ports: [{}]
    action: direct
  - destinations: [10.77.0.0/16, "fd77::/16"]
    action: {{upstream: socks}}
  - default: reject
)",
                                                  proxy.address().port(), echo_port, direct_port)));

  SECTION("a destination CIDR and port pick direct") {
    exchange_and_check(at("10.77.0.2", direct_port), 100);
    CHECK(detourd.wait_for_log(fmt::format("-> 10.77.0.2:{}] direct closed up=200000 down=300000", direct_port)));
    CHECK(proxy.process().output().find(fmt::format("connected to 10.77.0.2:{}", direct_port)) == std::string::npos);
  }
  SECTION("a wider CIDR picks the upstream, for IPv4 and IPv6") {
    exchange_and_check(at("10.77.0.2", 0), 110);
    exchange_and_check(at("fd77::2", 0), 120);
    CHECK(proxy.process().wait_for_output("connected to 10.77.0.2:"));
    CHECK(proxy.process().wait_for_output("connected to fd77::2:"));
  }
  SECTION("a port picks echo json, which names the route and its action") {
    auto client = connect_to(at("10.77.0.2", echo_port));
    auto got = read_until_eof(client.get());
    CHECK(got.end == stream_end::eof);
    auto source = local_endpoint_of(client.get());
    CHECK(got.bytes ==
          fmt::format("{{\"source\":\"10.77.0.2:{}\",\"destination\":\"127.0.0.1:{}\","
                      "\"original_destination\":\"10.77.0.2:{}\",\"direction\":\"outbound\",\"server_name\":null,"
                      "\"name_from\":null,\"route\":\"route 2\","
                      "\"action\":\"echo json\"}}\n",
                      source.port(), ws.port, echo_port));
  }
  SECTION("an earlier reject wins over a later echo for the same port") {
    expect_reset(at("10.77.1.2", echo_port));
    CHECK(detourd.wait_for_log(fmt::format("-> 10.77.1.2:{}] rejected (route 1: reject)", echo_port)));
  }
  SECTION("what no rule matches gets the default") {
    expect_reset(at("10.99.0.2", direct_port));
    CHECK(detourd.wait_for_log(fmt::format("-> 10.99.0.2:{}] rejected (default: reject)", direct_port)));
  }
}
