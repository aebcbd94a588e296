// Peers that get stuck, thousands at once: a client that never reads, an upstream that never
// reads, a client that sends nothing, a proxy that never answers, a destination that never
// accepts, a half-close never finished. detourd holds their bytes only in the kernel (sockets and
// pipes), never in its own memory, and its timeouts end every one of them with the right reason.
#include "support/stuck_peers.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/proc.hpp"
#include "support/tcp.hpp"
#include "support/temp_dir.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

using namespace detour::test;
namespace json = boost::json;

namespace {

// The kernel memory the stuck bytes take is the machine's, not detourd's: small socket buffers in
// this namespace (per namespace since Linux 4.15) keep it to about 100 MiB for 2000 peers.
void small_socket_buffers() {
  for (const char* name : {"tcp_rmem", "tcp_wmem"}) {
    std::ofstream(fmt::format("/proc/sys/net/ipv4/{}", name)) << "4096 16384 65536\n";
  }
}

// How many access log lines say "RESULT: REASON", by original destination ("10.77.0.2:8080").
// Every kind has a destination of its own, so its lines are found by it; not by the client's
// port, which the redirect may change (a client port used towards two destinations at once would
// make the two redirected connections identical, and conntrack gives one a new port).
using line_counts = std::map<std::string, std::map<std::string, std::size_t>>;

line_counts access_log_by_destination(const std::filesystem::path& file) {
  line_counts counts;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    auto entry = json::parse(line).as_object();
    auto how = fmt::format("{}: {}", std::string_view(entry.at("result").as_string()),
                           std::string_view(entry.at("reason").as_string()));
    ++counts[std::string(entry.at("original_dst").as_string())][how];
  }
  return counts;
}

// One line per destination and way of ending, for a failure message that shows the difference.
std::string to_text(const line_counts& counts) {
  std::string text;
  for (const auto& [destination, ways] : counts) {
    for (const auto& [how, n] : ways) text += fmt::format("{} {} x{}\n", destination, how, n);
  }
  return text;
}

std::string expected_line(stuck_kind kind) {
  switch (kind) {
    case stuck_kind::proxy_silent:
      return "connect_failed: socks5: connect timeout (no answer from the proxy)";
    case stuck_kind::never_accepted:
      return "connect_failed: connect timeout";
    default:
      return "relayed: idle timeout";
  }
}

}  // namespace

TEST_CASE("2000 stuck peers at once cost detourd under 8 MiB and each ends by its timeout with its reason", "[relay]") {
  auto port = enter_redirected_netns();
  add_local_address("10.77.1.2/32");
  // detourd's connects to 10.77.1.2 get no answer; the clients' connections to it are redirected
  // to detourd before this filter sees them.
  blackhole_upstream("10.77.1.2");
  small_socket_buffers();
  // 2000 clients and up to 1600 upstream connections here; detourd has both ends of each, and two
  // pipe descriptors for each direction that has bytes in flight.
  raise_descriptor_limit(10000);
  stuck_peer_load load("10.77.0.2", "127.0.0.1", at("10.77.1.2", 1080), at("10.77.1.2", 9));
  load.add(stuck_kind::client_never_reads, 400);
  load.add(stuck_kind::upstream_never_reads, 400);
  load.add(stuck_kind::client_silent, 400);
  load.add(stuck_kind::proxy_silent, 200);
  load.add(stuck_kind::never_accepted, 200);
  load.add(stuck_kind::client_half_closed, 200);
  load.add(stuck_kind::upstream_half_closed, 200);
  constexpr std::size_t peers = 2000;

  temp_dir dir;
  const auto log_file = dir.path() / "access.log";
  // Timeouts long enough that all 2000 are stuck before the first ends, even on a loaded machine.
  detourd_process detourd(test_config(port, "direct",
                                      fmt::format(R"(connect_timeout: 6s
idle_timeout: 6s
drain_timeout: 200ms
access_log: {{path: {}}}
upstreams:
  silent: {{kind: socks5, address: "127.0.0.1:{}", connect_timeout: 6s}}
routes:
  - {{name: silent, destinations: [10.77.1.2/32], ports: [1080], action: {{upstream: silent}}}}
)",
                                                  log_file.string(), load.proxy_port())));
  const auto pid = detourd.pid();
  const auto rss_before = resident_kib(pid);
  reset_peak_resident(pid);

  auto run = load.run(40s);

  const auto rss_peak = peak_resident_kib(pid);
  const auto rss_after = resident_kib(pid);
  WARN(
      fmt::format("{} stuck peers: detourd RSS {} KiB before, peak {} KiB (+{} KiB), {} KiB after they ended; "
                  "{} stuck at once; {} bytes sent into the stuck connections",
                  peers, rss_before, rss_peak, rss_peak - rss_before, rss_after, run.most_stuck, run.bytes_sent));
  REQUIRE(run.peers.size() == peers);
  CHECK(run.all_stuck_at_once);
  std::map<std::string, std::size_t> ends;
  for (const auto& p : run.peers) ++ends[fmt::format("{}: {}", to_string(p.kind), p.end)];
  std::string how_they_ended;
  for (const auto& [end, count] : ends) how_they_ended += fmt::format("{} x{}; ", end, count);
  INFO(how_they_ended);
  for (const auto& p : run.peers) {
    INFO(to_string(p.kind) << " from port " << p.source_port);
    CHECK(p.end == "reset");
  }
#if !defined(__SANITIZE_ADDRESS__)
  // No user-space buffer per connection: 2000 relay objects, setup coroutines and access log lines
  // are a few MiB; one 16 KiB buffer per stuck direction would be 12 MiB more.
  CHECK(rss_peak - rss_before < 8 * 1024);
#endif

  REQUIRE(detourd.stop() == 0);
  CHECK(detourd.stop_counter("relayed") == 1600);
  CHECK(detourd.stop_counter("upstream_failures") == 400);
  line_counts expected;
  for (const auto& p : run.peers) {
    ++expected[fmt::format("{}:{}", p.destination.address().to_string(), p.destination.port())][expected_line(p.kind)];
  }
  CHECK(to_text(access_log_by_destination(log_file)) == to_text(expected));
}
