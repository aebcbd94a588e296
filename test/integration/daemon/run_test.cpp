// SIGTERM drains: running sessions get drain_timeout to finish, then are reset, and detourd exits.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

using namespace detour::test;

namespace {

std::uint16_t prepare_namespace() {
  enter_new_netns();
  add_local_address("10.77.0.2/32");
  auto port = free_port();
  redirect_outgoing_tcp_to(port);
  return port;
}

}  // namespace

TEST_CASE("a session running when SIGTERM arrives may finish within drain_timeout", "[core]") {
  auto port = prepare_namespace();
  echo_server upstream(at("10.77.0.2", 0));
  detourd_process detourd(test_config(port, "direct", "drain_timeout: 20s\n"));
  auto client = connect_to(upstream.local_endpoint());
  send_all(client.get(), "before");
  REQUIRE(read_exactly(client.get(), 6).bytes == "before");

  detourd.send_signal(SIGTERM);
  REQUIRE(detourd.wait_for_log("SIGTERM received"));
  send_all(client.get(), "during");
  CHECK(read_exactly(client.get(), 6).bytes == "during");
  shutdown_write(client.get());
  CHECK(read_until_eof(client.get()).end == stream_end::eof);

  // The last session ended, so detourd exits without waiting out the 20s.
  CHECK(detourd.wait_for_exit(10s) == 0);
  CHECK(detourd.stop_counter("relayed") == 1u);
}

TEST_CASE("a session still open when drain_timeout runs out is reset and detourd exits", "[core]") {
  auto port = prepare_namespace();
  echo_server upstream(at("10.77.0.2", 0));
  detourd_process detourd(test_config(port, "direct", "drain_timeout: 300ms\n"));
  auto client = connect_to(upstream.local_endpoint());
  send_all(client.get(), "ping");
  REQUIRE(read_exactly(client.get(), 4).bytes == "ping");

  auto signalled = std::chrono::steady_clock::now();
  detourd.send_signal(SIGTERM);
  auto got = read_until_eof(client.get(), 10s);
  auto drained = std::chrono::steady_clock::now() - signalled;

  CHECK(got.end == stream_end::reset);
  CHECK(drained >= 250ms);
  CHECK(upstream.wait_for_report().received.end == stream_end::reset);
  CHECK(detourd.wait_for_exit(10s) == 0);
  CHECK(detourd.wait_for_log("reason=shutdown"));
}
