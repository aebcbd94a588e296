// What detourd does when it cannot or must not relay: the client learns at once (a reset, never a
// hang), and connections that were not redirected are never forwarded.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace detour::test;

namespace {

using std::chrono::steady_clock;

// Connects through the proxy to `original` and waits for the connection to end; returns how it
// ended and how long that took from the start of connect().
std::pair<stream_end, steady_clock::duration> time_until_closed(const endpoint& original,
                                                                std::chrono::milliseconds timeout = 10s) {
  auto started = steady_clock::now();
  auto got = read_after_connect(original, timeout);
  return {got.end, steady_clock::now() - started};
}

double ms(steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

TEST_CASE("a client whose upstream refuses the connection is reset within 100ms", "[session]") {
  enter_new_netns();
  auto port = free_port();
  redirect_output(port);
  detourd_process detourd(test_config(port, "direct"));
  auto closed_port = free_port();

  // The fastest of a few tries: a loaded machine can delay any one of them, but a proxy that does
  // not reset promptly is slow every time.
  std::vector<double> times;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto [end, took] = time_until_closed(at("127.0.0.1", closed_port));
    REQUIRE(end == stream_end::reset);
    times.push_back(ms(took));
  }
  WARN(fmt::format("refused upstream: client reset after {:.2f}ms at best, {:.2f}ms at worst",
                   *std::min_element(times.begin(), times.end()), *std::max_element(times.begin(), times.end())));
  CHECK(*std::min_element(times.begin(), times.end()) < 100.0);
  CHECK(*std::max_element(times.begin(), times.end()) < 2000.0);
  CHECK(detourd.wait_for_log("connect failed: Connection refused"));
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("upstream_failures") == 5u);
}

TEST_CASE("a client whose upstream does not answer within connect_timeout is reset", "[session]") {
  auto port = enter_redirected_netns();
  add_route_to_nowhere("192.0.2.0/24");
  // detourd's own SYNs (marked) to 192.0.2.9 vanish; the client's were redirected before this
  // filter chain runs, so they never match it.
  blackhole_upstream("192.0.2.9");
  detourd_process detourd(test_config(port, "direct", "connect_timeout: 300ms\n"));

  auto [end, took] = time_until_closed(at("192.0.2.9", 80));
  CHECK(end == stream_end::reset);
  CHECK(ms(took) >= 250.0);
  CHECK(ms(took) < 5000.0);
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("upstream_failures") == 1u);
}

TEST_CASE("a connection made to the proxy port directly is closed, counted and never forwarded", "[session]") {
  enter_new_netns();
  auto port = free_port();
  redirect_output(port);
  detourd_process detourd(test_config(port, "direct"));

  auto [end, took] = time_until_closed(at("127.0.0.1", port));
  CHECK(end != stream_end::timeout);
  CHECK(ms(took) < 2000.0);
  CHECK(detourd.wait_for_log("refused: not redirected"));
  CHECK(detourd.stop() == 0);
  CHECK(detourd.last_log_line().find("detourd: stopped: ") != std::string::npos);
  CHECK(detourd.stop_counter("accepted") == 1u);
  CHECK(detourd.stop_counter("not_redirected") == 1u);
  CHECK(detourd.stop_counter("relayed") == 0u);
}

TEST_CASE("a connection redirected to one of detourd's own listeners is refused as a loop", "[session]") {
  auto port = enter_redirected_netns();
  detourd_process detourd(test_config(port, "direct"));

  // The original destination 10.77.0.2:port is detourd's own 0.0.0.0 listener: relaying it would
  // connect detourd to itself.
  auto [end, took] = time_until_closed(at("10.77.0.2", port));
  CHECK(end != stream_end::timeout);
  CHECK(ms(took) < 2000.0);
  CHECK(detourd.stop() == 0);
  CHECK(detourd.stop_counter("loops") == 1u);
  CHECK(detourd.stop_counter("relayed") == 0u);
}

TEST_CASE("reject mode resets every redirected connection at once", "[session]") {
  enter_new_netns();
  auto port = free_port();
  redirect_output(port);
  sink_server upstream(at("127.0.0.1", 0));
  detourd_process detourd(test_config(port, "reject"));

  auto [end, took] = time_until_closed(upstream.local_endpoint());
  CHECK(end == stream_end::reset);
  CHECK(ms(took) < 2000.0);
  CHECK(upstream.connections_accepted() == 0);
  CHECK(detourd.stop() == 0);
}
