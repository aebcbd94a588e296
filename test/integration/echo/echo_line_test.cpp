// Echo mode answers with the seed article's line, byte for byte: it is how an operator checks
// whether a rule matched, so its format is a contract.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

using namespace detour::test;

namespace {

// What the echo listener on `port` answers a client at `client` that connected to `original`.
std::string expected_line(const endpoint& client, std::string_view listener_address, std::uint16_t port,
                          const endpoint& original) {
  return fmt::format("source{{ip: {}, port: {}}};  dest{{ip: {}, port: {}}}; original dest{{ip: {}, port: {}}}\n",
                     client.address().to_string(), client.port(), listener_address, port,
                     original.address().to_string(), original.port());
}

// Connects to `original` and checks the echo line that comes back, byte for byte: the client,
// where the redirect landed (`listener_address`:`port`) and `original`.
void check_echo_line(const endpoint& original, std::string_view listener_address, std::uint16_t port) {
  auto got = read_answer_and_close(connect_to(original));
  CHECK(got.reply.end == stream_end::eof);
  CHECK(got.reply.bytes == expected_line(got.client, listener_address, port, original));
}

// detourd in echo mode, in a namespace from enter_redirected_netns().
struct echo_proxy {
  std::uint16_t port = enter_redirected_netns();
  detourd_process detourd{test_config(port, "echo")};
};

}  // namespace

TEST_CASE("echo mode answers an IPv4 connection with the seed line, byte for byte", "[echo]") {
  echo_proxy proxy;

  SECTION("to a loopback destination") { check_echo_line(at("127.0.0.1", 80), "127.0.0.1", proxy.port); }
  SECTION("to another local address") {
    // The redirect target from the output hook is loopback whatever the original destination.
    check_echo_line(at("10.77.0.2", 8080), "127.0.0.1", proxy.port);
  }
  SECTION("to a remote address no host answers") {
    add_route_to_nowhere("192.0.2.0/24");
    check_echo_line(at("192.0.2.9", 443), "127.0.0.1", proxy.port);
  }
  CHECK(proxy.detourd.stop() == 0);
}

TEST_CASE("echo mode answers an IPv6 connection with the seed line, addresses in plain text", "[echo]") {
  echo_proxy proxy;

  SECTION("to ::1") { check_echo_line(at("::1", 80), "::1", proxy.port); }
  SECTION("to another local address") {
    add_local_address("fd77::2/128");
    check_echo_line(at("fd77::2", 8443), "::1", proxy.port);
  }
  CHECK(proxy.detourd.stop() == 0);
}

TEST_CASE("echo mode says why when a connection has no original destination", "[echo]") {
  enter_new_netns();
  auto port = free_port();
  // No nat rule exists in this namespace yet, so conntrack does not track the connection and
  // SO_ORIGINAL_DST fails with ENOENT.
  detourd_process detourd(test_config(port, "echo"));
  auto got = read_answer_and_close(connect_to(at("127.0.0.1", port)));

  CHECK(got.reply.end == stream_end::eof);
  CHECK(got.reply.bytes == fmt::format("source{{ip: 127.0.0.1, port: {}}};  dest{{ip: 127.0.0.1, port: {}}}; "
                                       "original dest{{strerror: No such file or directory, errno: 2}}\n",
                                       got.client.port(), port));
  CHECK(detourd.stop() == 0);
}

TEST_CASE("echo mode answers a connection made to its port directly instead of refusing it", "[echo]") {
  echo_proxy proxy;
  check_echo_line(at("127.0.0.1", proxy.port), "127.0.0.1", proxy.port);
  CHECK(proxy.detourd.stop() == 0);
}
