// detourd run as a supervisor: it refuses to start without the capability its mark needs; on
// SIGTERM or SIGINT it drains (running sessions get drain_timeout to finish, then are reset, and
// sessions still connecting are cancelled), exits 0 and prints its counters.
#include "support/deadline.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/proc.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

using namespace detour::test;

TEST_CASE("detourd run without CAP_NET_ADMIN exits non-zero and says the mark needs it", "[run]") {
  enter_new_netns();
  temp_dir dir;
  auto file = dir.write("detour.yaml", test_config(free_port(), "direct"));
  // Root without these in its bounding set gets neither after exec. SO_MARK accepts CAP_NET_RAW
  // as well since Linux 5.17, so both go.
  auto run =
      run_detourd({"run", "-c", file.string()}, 5s,
                  {"/usr/bin/setpriv", "--bounding-set=-net_admin,-net_raw", "--inh-caps=-net_admin,-net_raw", "--"});

  CHECK(run.exit_code == 1);
  CHECK(run.err ==
        "detourd: mark 0x1d7: setting SO_MARK failed: Operation not permitted (needs CAP_NET_ADMIN: run as root or "
        "grant the capability, or set mark: 0 and exclude detourd's user with intercept.exclude_self_uid)\n");
}

TEST_CASE("detourd stops on SIGTERM or SIGINT with exit 0 and a line of counters", "[run]") {
  enter_new_netns();
  auto port = free_port();
  redirect_output(port);
  detourd_process detourd(test_config(port, "echo"));
  int signal = GENERATE(SIGTERM, SIGINT);

  CHECK(detourd.stop(20s, signal) == 0);
  CHECK(detourd.last_log_line().find(
            "detourd: stopped: accepted=0 relayed=0 not_redirected=0 loops=0 upstream_failures=0") !=
        std::string::npos);
}

TEST_CASE("a session running when SIGTERM arrives may finish within drain_timeout", "[run]") {
  direct_proxy proxy("drain_timeout: 20s\n");
  auto& detourd = proxy.detourd;
  echo_server upstream(at("10.77.0.2", 0));
  auto client = connect_and_echo(upstream.local_endpoint(), "before");

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

TEST_CASE("a session still open when drain_timeout runs out is reset and detourd exits", "[run]") {
  direct_proxy proxy("drain_timeout: 300ms\n");
  auto& detourd = proxy.detourd;
  echo_server upstream(at("10.77.0.2", 0));
  auto client = connect_and_echo(upstream.local_endpoint(), "ping");

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

TEST_CASE("sessions still connecting when drain_timeout runs out are reset and detourd exits in time", "[run]") {
  auto port = enter_redirected_netns();
  add_route_to_nowhere("192.0.2.0/24");
  // detourd's own SYNs to 192.0.2.9 vanish: every connect would wait out connect_timeout.
  blackhole_upstream("192.0.2.9");
  detourd_process detourd(test_config(port, "direct", "connect_timeout: 30s\ndrain_timeout: 1s\n"));

  constexpr std::size_t clients = 20;
  std::vector<socket_fd> connected;
  for (std::size_t i = 0; i < clients; ++i) connected.push_back(connect_to(at("192.0.2.9", 80)));
  // The kernel's own view of detourd's connects: all of them sent their SYN.
  REQUIRE(poll_until([&] { return connects_in_flight() == clients; }, default_timeout));

  auto signalled = std::chrono::steady_clock::now();
  detourd.send_signal(SIGTERM);
  REQUIRE(detourd.wait_for_exit(20s) == 0);
  auto took = std::chrono::steady_clock::now() - signalled;
  WARN(fmt::format("exited {:.3f}s after SIGTERM", std::chrono::duration<double>(took).count()));
  CHECK(took >= 900ms);
  CHECK(took < 2s);
  for (auto& client : connected) CHECK(read_until_eof(client.get(), 1s).end == stream_end::reset);
  CHECK(detourd.count_log_lines("direct connect failed: shutdown") == clients);
  CHECK(detourd.stop_counter("upstream_failures") == clients);
}
