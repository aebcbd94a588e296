// Port exhaustion towards one destination: every upstream connection takes a local port from
// net.ipv4.ip_local_port_range, and once none is free towards that address and port, connect()
// fails with EADDRNOTAVAIL. detourd must say so, naming the range, and recover when ports free.
#include "support/deadline.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/prometheus_text.hpp"
#include "support/tcp.hpp"
#include "support/throw_errno.hpp"

#include "detour/admin/admin_client.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

using namespace detour::test;
namespace http = boost::beast::http;

namespace {

// A client socket bound to `source_port` before it connects: the test's clients then take no
// port from the narrow range, which detourd's upstream connections need for themselves.
socket_fd connect_from(std::uint16_t source_port, const endpoint& to) {
  socket_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) throw_errno("socket");
  int on = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  auto from = at("10.77.0.2", source_port);
  if (::bind(s.get(), from.data(), static_cast<socklen_t>(from.size())) != 0) throw_errno("bind");
  if (::connect(s.get(), to.data(), static_cast<socklen_t>(to.size())) != 0) throw_errno("connect");
  return s;
}

std::string echo_through(const socket_fd& client, std::string_view bytes) {
  send_all(client.get(), bytes, 5s);
  return read_exactly(client.get(), bytes.size(), 5s).bytes;
}

}  // namespace

TEST_CASE("with 4 local ports the 5th connection to one destination fails with no local ports, naming the range",
          "[upstream]") {
  const auto port = enter_redirected_netns();
  // Every port the test binds is chosen before the range is narrowed, outside it.
  const auto admin_port = free_port();
  detourd_process detourd(test_config(port, "direct", fmt::format("admin:\n  listen: 127.0.0.1:{}\n", admin_port)));
  // After detourd has bound its port, which the kernel could otherwise hand out here again.
  echo_server upstream(at("10.77.0.2", 0));
  sh("sysctl -q -w net.ipv4.ip_local_port_range='40000 40003'");

  std::vector<socket_fd> held;
  // Below the range detourd's own ports came from (32768-60999), so no bind collides with them.
  std::uint16_t next_client_port = 20001;
  for (int i = 0; i < 4; ++i) {
    held.push_back(connect_from(next_client_port++, upstream.local_endpoint()));
    CHECK(echo_through(held.back(), fmt::format("hello {}", i)) == fmt::format("hello {}", i));
  }
  // Each holds one of the four ports towards 10.77.0.2:PORT.
  auto fifth_end = stream_end::timeout;
  try {
    auto fifth = connect_from(next_client_port++, upstream.local_endpoint());
    fifth_end = read_until_eof(fifth.get(), 5s).end;
  } catch (const std::system_error& e) {
    // detourd's reset came before connect() returned, as it may on a loaded machine.
    CHECK(e.code().value() == ECONNRESET);
    fifth_end = stream_end::reset;
  }
  CHECK(fifth_end == stream_end::reset);
  const auto why =
      "no local ports: Cannot assign requested address (net.ipv4.ip_local_port_range 40000-40003 (4 ports), each "
      "usable once per destination)";
  CHECK(detourd.wait_for_log(fmt::format("direct connect failed: {}", why)));
  CHECK(detourd.wait_for_log(fmt::format("{}: widen net.ipv4.ip_local_port_range", why)));

  auto metrics = metric_samples::parse(
      detour::admin::http_request(at("127.0.0.1", admin_port), http::verb::get, "/metrics").body());
  CHECK(metrics.value(
            sample_key("detour_upstream_failures_total", {{"reason", "no local ports"}, {"upstream", "direct"}})) == 1);
  CHECK(metrics.value("detour_local_ports") == 4);

  // Resets free the ports at once (a FIN would leave detourd's side in TIME_WAIT for a minute).
  for (auto& client : held) reset_connection(client);
  CHECK(poll_until([&] { return detourd.count_log_lines("reason=client reset") == 4; }, 5s));
  auto after = connect_from(next_client_port++, upstream.local_endpoint());
  CHECK(echo_through(after, "ports again") == "ports again");
  reset_connection(after);
  CHECK(detourd.stop() == 0);
}
