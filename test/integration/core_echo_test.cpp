// Echo mode answers with the seed article's line, byte for byte: it is how an operator checks
// whether a rule matched, so its format is a contract.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
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

received echo_answer_to(const endpoint& original, socket_fd& client) {
  client = connect_to(original);
  return read_until_eof(client.get());
}

}  // namespace

TEST_CASE("echo mode answers an IPv4 connection with the seed line, byte for byte", "[core]") {
  enter_new_netns();
  auto port = free_port();
  redirect_outgoing_tcp_to(port);
  detourd_process detourd(test_config(port, "echo"));
  socket_fd client;

  SECTION("to a loopback destination") {
    auto original = at("127.0.0.1", 80);
    auto answer = echo_answer_to(original, client);
    CHECK(answer.end == stream_end::eof);
    CHECK(answer.bytes == expected_line(local_endpoint_of(client.get()), "127.0.0.1", port, original));
  }
  SECTION("to another local address") {
    add_local_address("10.77.0.2/32");
    auto original = at("10.77.0.2", 8080);
    auto answer = echo_answer_to(original, client);
    CHECK(answer.end == stream_end::eof);
    // The redirect target from the output hook is loopback whatever the original destination.
    CHECK(answer.bytes == expected_line(local_endpoint_of(client.get()), "127.0.0.1", port, original));
  }
  SECTION("to a remote address no host answers") {
    add_local_address("10.77.0.2/32");
    add_route_to_nowhere("192.0.2.0/24");
    auto original = at("192.0.2.9", 443);
    auto answer = echo_answer_to(original, client);
    CHECK(answer.end == stream_end::eof);
    CHECK(answer.bytes == expected_line(local_endpoint_of(client.get()), "127.0.0.1", port, original));
  }
  CHECK(detourd.stop() == 0);
}

TEST_CASE("echo mode answers an IPv6 connection with the seed line, addresses in plain text", "[core]") {
  enter_new_netns();
  auto port = free_port();
  redirect_outgoing_tcp_to(port);
  detourd_process detourd(test_config(port, "echo"));
  socket_fd client;

  SECTION("to ::1") {
    auto original = at("::1", 80);
    auto answer = echo_answer_to(original, client);
    CHECK(answer.end == stream_end::eof);
    CHECK(answer.bytes == expected_line(local_endpoint_of(client.get()), "::1", port, original));
  }
  SECTION("to another local address") {
    add_local_address("fd77::2/128");
    auto original = at("fd77::2", 8443);
    auto answer = echo_answer_to(original, client);
    CHECK(answer.end == stream_end::eof);
    CHECK(answer.bytes == expected_line(local_endpoint_of(client.get()), "::1", port, original));
  }
  CHECK(detourd.stop() == 0);
}

TEST_CASE("echo mode says why when a connection has no original destination", "[core]") {
  enter_new_netns();
  auto port = free_port();
  // No nat rule exists in this namespace yet, so conntrack does not track the connection and
  // SO_ORIGINAL_DST fails with ENOENT.
  detourd_process detourd(test_config(port, "echo"));
  auto client = connect_to(at("127.0.0.1", port));
  auto answer = read_until_eof(client.get());

  CHECK(answer.end == stream_end::eof);
  CHECK(answer.bytes == fmt::format("source{{ip: 127.0.0.1, port: {}}};  dest{{ip: 127.0.0.1, port: {}}}; "
                                    "original dest{{strerror: No such file or directory, errno: 2}}\n",
                                    local_endpoint_of(client.get()).port(), port));
  CHECK(detourd.stop() == 0);
}

TEST_CASE("echo mode answers a connection made to its port directly instead of refusing it", "[core]") {
  enter_new_netns();
  auto port = free_port();
  redirect_outgoing_tcp_to(port);
  detourd_process detourd(test_config(port, "echo"));
  auto client = connect_to(at("127.0.0.1", port));
  auto answer = read_until_eof(client.get());

  CHECK(answer.end == stream_end::eof);
  CHECK(answer.bytes == expected_line(local_endpoint_of(client.get()), "127.0.0.1", port, at("127.0.0.1", port)));
  CHECK(detourd.stop() == 0);
}
