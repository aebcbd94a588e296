// Routes chosen per connection by destination CIDR and port, first match first; and hostile
// upstream replies from a scripted fake proxy, which must end in a reset and a logged reason.
#include "support/upstream_proxies.hpp"

#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

namespace {

void prepare_namespace(std::uint16_t detourd_port) {
  enter_new_netns();
  for (const char* address : {"10.77.0.2/32", "10.77.1.2/32", "10.99.0.2/32", "fd77::2/128", "10.77.0.10/32"}) {
    add_local_address(address);
  }
  redirect_except(detourd_port, {nobody_uid, tinyproxy_uid()}, {"10.77.0.10"});
}

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
    "[upstream]") {
  auto port = free_port();
  prepare_namespace(port);
  temp_dir dir;
  microsocks proxy(dir, at("10.77.0.10", free_port()));
  const auto direct_port = free_port();
  const auto echo_port = free_port();
  detourd_process detourd(test_config(port, "direct",
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
  SECTION("a port picks echo json, which names the rule") {
    auto client = connect_to(at("10.77.0.2", echo_port));
    auto got = read_until_eof(client.get());
    CHECK(got.end == stream_end::eof);
    auto source = local_endpoint_of(client.get());
    CHECK(got.bytes == fmt::format("{{\"source\":\"10.77.0.2:{}\",\"destination\":\"127.0.0.1:{}\","
                                   "\"original_destination\":\"10.77.0.2:{}\",\"route\":\"rule 1: echo json\"}}\n",
                                   source.port(), port, echo_port));
  }
  SECTION("an earlier reject wins over a later echo for the same port") {
    expect_reset(at("10.77.1.2", echo_port));
    CHECK(detourd.wait_for_log(fmt::format("-> 10.77.1.2:{}] rejected (rule 0: reject)", echo_port)));
  }
  SECTION("what no rule matches gets the default") {
    expect_reset(at("10.99.0.2", direct_port));
    CHECK(detourd.wait_for_log(fmt::format("-> 10.99.0.2:{}] rejected (default: reject)", direct_port)));
  }
}

TEST_CASE("a malformed or stalled upstream reply resets the client and the log says what was wrong", "[upstream]") {
  auto port = free_port();
  prepare_namespace(port);
  const auto destination_port = free_port();
  std::string kind;
  std::string expected;
  tcp_server::handler script;

  SECTION("socks5: an unknown address type in the connect reply") {
    kind = "socks5";
    expected = "connect failed: socks5: malformed connect reply (address type 9)";
    script = [](int fd) {
      read_exactly(fd, 3);
      send_all(fd, std::string("\x05\x00", 2));
      read_exactly(fd, 10);
      send_all(fd, std::string("\x05\x00\x00\x09garbage", 11));
      read_until_eof(fd, 5s);
      return received_digest{};
    };
  }
  SECTION("socks5: a server that speaks another protocol") {
    kind = "socks5";
    expected = "connect failed: socks5: not a SOCKS5 server (version 72 in method reply)";
    script = [](int fd) {
      send_all(fd, "HTTP/1.1 400 Bad Request\r\n\r\n");
      read_until_eof(fd, 5s);
      return received_digest{};
    };
  }
  SECTION("http: an answer that is not HTTP") {
    kind = "http";
    expected = "connect failed: http: not an HTTP response from the proxy";
    script = [](int fd) {
      send_all(fd, "SSH-2.0-OpenSSH_9.2\r\n");
      read_until_eof(fd, 5s);
      return received_digest{};
    };
  }
  SECTION("http: a status line, then silence") {
    kind = "http";
    expected = "connect failed: http: connect timeout (no answer from the proxy)";
    script = [](int fd) {
      send_all(fd, "HTTP/1.1 200 Connection established\r\n");
      read_until_eof(fd, 5s);
      return received_digest{};
    };
  }

  tcp_server fake(at("10.77.0.10", 0), script);
  detourd_process detourd(
      test_config(port, "direct",
                  fmt::format("upstreams:\n  fake: {{kind: {}, address: \"10.77.0.10:{}\", connect_timeout: 500ms}}\n"
                              "routes:\n  - default: {{upstream: fake}}\n",
                              kind, fake.port())));
  sink_server destination(at("10.77.0.2", destination_port));
  expect_reset(destination.local_endpoint());
  CHECK(detourd.wait_for_log(expected));
  CHECK(destination.connections_accepted() == 0);
}
