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

answer echo_answer_to(const endpoint& original) { return read_answer_and_close(connect_to(original)); }

}  // namespace

TEST_CASE("echo mode answers an IPv4 connection with the seed line, byte for byte", "[core]") {
  enter_new_netns();
  auto port = free_port();
  redirect_outgoing_tcp_to(port);
  detourd_process detourd(test_config(port, "echo"));

  SECTION("to a loopback destination") {
    auto original = at("127.0.0.1", 80);
    auto got = echo_answer_to(original);
    CHECK(got.reply.end == stream_end::eof);
    CHECK(got.reply.bytes == expected_line(got.client, "127.0.0.1", port, original));
  }
  SECTION("to another local address") {
    add_local_address("10.77.0.2/32");
    auto original = at("10.77.0.2", 8080);
    auto got = echo_answer_to(original);
    CHECK(got.reply.end == stream_end::eof);
    // The redirect target from the output hook is loopback whatever the original destination.
    CHECK(got.reply.bytes == expected_line(got.client, "127.0.0.1", port, original));
  }
  SECTION("to a remote address no host answers") {
    add_local_address("10.77.0.2/32");
    add_route_to_nowhere("192.0.2.0/24");
    auto original = at("192.0.2.9", 443);
    auto got = echo_answer_to(original);
    CHECK(got.reply.end == stream_end::eof);
    CHECK(got.reply.bytes == expected_line(got.client, "127.0.0.1", port, original));
  }
  CHECK(detourd.stop() == 0);
}

TEST_CASE("echo mode answers an IPv6 connection with the seed line, addresses in plain text", "[core]") {
  enter_new_netns();
  auto port = free_port();
  redirect_outgoing_tcp_to(port);
  detourd_process detourd(test_config(port, "echo"));

  SECTION("to ::1") {
    auto original = at("::1", 80);
    auto got = echo_answer_to(original);
    CHECK(got.reply.end == stream_end::eof);
    CHECK(got.reply.bytes == expected_line(got.client, "::1", port, original));
  }
  SECTION("to another local address") {
    add_local_address("fd77::2/128");
    auto original = at("fd77::2", 8443);
    auto got = echo_answer_to(original);
    CHECK(got.reply.end == stream_end::eof);
    CHECK(got.reply.bytes == expected_line(got.client, "::1", port, original));
  }
  CHECK(detourd.stop() == 0);
}

TEST_CASE("echo mode says why when a connection has no original destination", "[core]") {
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

TEST_CASE("echo mode answers a connection made to its port directly instead of refusing it", "[core]") {
  enter_new_netns();
  auto port = free_port();
  redirect_outgoing_tcp_to(port);
  detourd_process detourd(test_config(port, "echo"));
  auto got = read_answer_and_close(connect_to(at("127.0.0.1", port)));

  CHECK(got.reply.end == stream_end::eof);
  CHECK(got.reply.bytes == expected_line(got.client, "127.0.0.1", port, at("127.0.0.1", port)));
  CHECK(detourd.stop() == 0);
}
