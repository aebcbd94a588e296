// detourd run as a supervisor: it refuses to start without the capability its mark needs; on
// SIGTERM or SIGINT it drains (running sessions get drain_timeout to finish, then are reset), exits
// 0 and prints its counters.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
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
