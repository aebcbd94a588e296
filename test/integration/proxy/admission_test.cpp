// Admission limits with real rules: a connection over max_connections or the per-source limit is
// reset at once, counted and logged with reason limit, while the connections already admitted keep
// relaying; IPv6 clients count by their /64; a reload changes the limit for new connections.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/prometheus_text.hpp"
#include "support/tcp.hpp"
#include "support/temp_dir.hpp"

#include "detour/admin/admin_client.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <system_error>
#include <vector>

using namespace detour::test;
namespace json = boost::json;

namespace {

// A redirected namespace with an echo server on 10.77.0.2 and on fd77::2, the admin endpoint and
// an access log, and detourd running with `limits` (the lines under `limits:`).
struct limited_proxy {
  explicit limited_proxy(std::string_view limits) : port(setup()), detourd(config(limits)) {}

  static std::uint16_t setup() {
    // As enter_redirected_netns(), but the admin endpoint on 127.0.0.1 is not redirected: the test
    // reads /metrics while detourd is at its limit, which would refuse the scrape too.
    enter_new_netns();
    add_local_address("10.77.0.2/32");
    const auto p = free_port();
    redirect_output(p, {.skip_destinations = {"127.0.0.1"}});
    for (const auto* a : {"fd77::2/128", "fd77:1:2::10/128", "fd77:1:2::20/128", "fd77:1:3::10/128"})
      add_local_address(a);
    for (const auto* a : {"10.77.0.3/32", "10.77.0.4/32"}) add_local_address(a);
    wait_for_ipv6_addresses({"fd77::2", "fd77:1:2::10", "fd77:1:2::20", "fd77:1:3::10"});
    return p;
  }
  std::string config(std::string_view limits) const {
    return test_config(port, "direct",
                       fmt::format("admin: {{listen: \"127.0.0.1:{}\"}}\naccess_log: {{path: {}}}\nlimits:\n{}",
                                   admin.port(), access_log.string(), limits));
  }
  metric_samples metrics() const {
    return metric_samples::parse(detour::admin::http_request(admin, boost::beast::http::verb::get, "/metrics").body());
  }
  double refused_by_limit() const {
    return metrics().value(sample_key("detour_connections_refused_total", {{"reason", "limit"}}));
  }

  std::uint16_t port;
  temp_dir dir;
  std::filesystem::path access_log = dir.path() / "access.log";
  endpoint admin = at("127.0.0.1", free_port());
  echo_server peer4{at("10.77.0.2", 0)};
  echo_server peer6{at("fd77::2", 0)};
  detourd_process detourd;
};

// True when the connection from `source` (port 0) to `to` is reset without a byte, as an
// admission refusal is; the reset may come before or after connect() has seen the handshake.
bool reset_at_once(const endpoint& source, const endpoint& to) {
  try {
    auto s = connect_from(source, to, 5s);
    send_all(s.get(), "x");
    const auto got = read_until_eof(s.get(), 5s);
    return got.end == stream_end::reset && got.bytes.empty();
  } catch (const std::system_error& e) {
    return e.code().value() == ECONNRESET || e.code().value() == EPIPE;
  }
}

// A held connection from `source` that has relayed once (so it was admitted).
socket_fd held_from(const endpoint& source, const endpoint& to) {
  auto s = connect_from(source, to);
  send_all(s.get(), "hello");
  REQUIRE(read_exactly(s.get(), 5).bytes == "hello");
  return s;
}

bool still_relays(const socket_fd& s) {
  send_all(s.get(), "again");
  return read_exactly(s.get(), 5).bytes == "again";
}

// A connection admitted once detourd has seen an earlier one close: the release is asynchronous,
// so it is tried a bounded number of times.
bool admitted_soon(const endpoint& source, const endpoint& to, std::vector<socket_fd>& keep) {
  for (int i = 0; i < 50; ++i) {
    try {
      auto s = connect_from(source, to, 5s);
      send_all(s.get(), "hello");
      if (read_exactly(s.get(), 5, 2s).bytes == "hello") {
        keep.push_back(std::move(s));
        return true;
      }
    } catch (const std::system_error&) {
    }
  }
  return false;
}

std::vector<json::object> access_log_lines(const std::filesystem::path& file) {
  std::vector<json::object> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line).as_object());
  return out;
}

const auto any4 = at("10.77.0.3", 0);

}  // namespace

TEST_CASE("over max_connections a connection is reset at once while the held ones keep relaying", "[admission]") {
  limited_proxy p("  max_connections: 3\n");
  const auto to = p.peer4.local_endpoint();
  CHECK(p.detourd.wait_for_log("detourd: max_connections 3, max_connections_per_source off"));
  std::vector<socket_fd> held;
  for (int i = 0; i < 3; ++i) held.push_back(held_from(any4, to));
  CHECK(reset_at_once(any4, to));
  CHECK(reset_at_once(at("10.77.0.4", 0), to));
  for (const auto& s : held) CHECK(still_relays(s));
  CHECK(p.detourd.wait_for_log("reset: limit: max_connections 3"));
  auto m = p.metrics();
  CHECK(m.value(sample_key("detour_connections_refused_total", {{"reason", "limit"}})) == 2);
  CHECK(m.value(sample_key("detour_connections_closed_total", {{"result", "refused"}, {"reason", "limit"}})) == 2);
  CHECK(m.value(sample_key("detour_connections_open")) == 3);
  CHECK(m.value(sample_key("detour_connections_limit")) == 3);

  // A place that comes free is taken again.
  held.front().close();
  CHECK(admitted_soon(any4, to, held));
  const auto refused = p.refused_by_limit();
  REQUIRE(p.detourd.stop() == 0);
  CHECK(p.detourd.stop_counter("limited") == static_cast<std::uint64_t>(refused));

  std::size_t limit_lines = 0;
  for (const auto& line : access_log_lines(p.access_log)) {
    if (line.at("result").as_string() != "refused") continue;
    CHECK(line.at("reason").as_string() == "limit: max_connections 3");
    CHECK(line.at("route").is_null());
    ++limit_lines;
  }
  CHECK(limit_lines == static_cast<std::size_t>(refused));
}

TEST_CASE("max_connections_per_source refuses a third connection from one IPv4 client, not from another",
          "[admission]") {
  limited_proxy p("  max_connections_per_source: 2\n");
  const auto to = p.peer4.local_endpoint();
  std::vector<socket_fd> held;
  held.push_back(held_from(any4, to));
  held.push_back(held_from(any4, to));
  CHECK(reset_at_once(any4, to));
  held.push_back(held_from(at("10.77.0.4", 0), to));
  held.push_back(held_from(at("10.77.0.4", 0), to));
  for (const auto& s : held) CHECK(still_relays(s));
  CHECK(p.detourd.wait_for_log("reset: limit: max_connections_per_source 2 (10.77.0.3)"));
  CHECK(p.refused_by_limit() == 1);
  CHECK(p.metrics().value(sample_key("detour_connections_open")) == 4);
}

TEST_CASE("IPv6 clients of one /64 share a per-source count, another /64 has its own", "[admission]") {
  limited_proxy p("  max_connections_per_source: 1\n  ipv6_source_prefix: 64\n");
  const auto to = p.peer6.local_endpoint();
  std::vector<socket_fd> held;
  held.push_back(held_from(at("fd77:1:2::10", 0), to));
  CHECK(reset_at_once(at("fd77:1:2::20", 0), to));
  held.push_back(held_from(at("fd77:1:3::10", 0), to));
  for (const auto& s : held) CHECK(still_relays(s));
  CHECK(p.detourd.wait_for_log("reset: limit: max_connections_per_source 1 (fd77:1:2::/64)"));
  CHECK(p.refused_by_limit() == 1);
}

TEST_CASE("a reload that raises max_connections admits more from then on and says so", "[admission]") {
  limited_proxy p("  max_connections: 1\n");
  const auto to = p.peer4.local_endpoint();
  std::vector<socket_fd> held;
  held.push_back(held_from(any4, to));
  CHECK(reset_at_once(any4, to));

  std::ofstream(p.detourd.config_file(), std::ios::trunc) << p.config("  max_connections: 2\n");
  p.detourd.send_signal(SIGHUP);
  REQUIRE(
      p.detourd.wait_for_log("limits now max_connections 2, max_connections_per_source off (were max_connections 1, "
                             "max_connections_per_source off)"));
  // The workers take the new snapshot at their next turn: bounded retries, not a sleep.
  CHECK(admitted_soon(any4, to, held));
  CHECK(reset_at_once(any4, to));
  for (const auto& s : held) CHECK(still_relays(s));
  CHECK(p.metrics().value(sample_key("detour_connections_limit")) == 2);
}
