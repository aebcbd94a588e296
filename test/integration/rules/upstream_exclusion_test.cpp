// detourd's own capture rules leave its upstream servers alone: the rule plan excludes their
// addresses, so a route that covers a proxy cannot capture the proxy's own traffic.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"
#include "support/upstream_proxies.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

TEST_CASE(
    "socks5: under detourd's own capture rules, traffic goes through the proxy, and the proxy itself is "
    "never captured even when a route covers it",
    "[rules]") {
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
