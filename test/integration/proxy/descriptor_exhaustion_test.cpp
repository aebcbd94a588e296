// detourd out of descriptors: RLIMIT_NOFILE reached on accept and on the upstream socket. It must
// stay cheap while the limit holds (no accept spin), keep relaying what it already has, name the
// limit in one warning a second, count the failures, and serve new connections once descriptors
// free up.
#include "support/deadline.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/proc.hpp"
#include "support/prometheus_text.hpp"
#include "support/tcp.hpp"

#include "detour/admin/admin_client.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

using namespace detour::test;
namespace http = boost::beast::http;

namespace {

// detourd in direct mode with one worker, its admin endpoint and an access log, started by
// `launcher` (prlimit, for a descriptor limit of its own). max_connections is set far above what
// the descriptors allow: `auto` would refuse connections before the descriptors run out, and these
// tests are about what happens when they do.
struct limited_detourd {
  explicit limited_detourd(const std::vector<std::string>& launcher = {})
      : port(enter_redirected_netns()),
        admin_port(free_port()),
        detourd(test_config(port, "direct",
                            fmt::format("admin:\n  listen: 127.0.0.1:{}\naccess_log: {{path: {}}}\n"
                                        "limits: {{max_connections: 1000000}}\n",
                                        admin_port, (dir.path() / "access.log").string())),
                {"--workers", "1"}, 20s, launcher) {}

  metric_samples scrape() const {
    auto res = detour::admin::http_request(at("127.0.0.1", admin_port), http::verb::get, "/metrics");
    REQUIRE(res.result() == http::status::ok);
    return metric_samples::parse(res.body());
  }
  std::string access_log() const { return file_contents(dir.path() / "access.log"); }
  // Sets detourd's soft RLIMIT_NOFILE, as the kernel enforces it from the next descriptor on.
  void limit_descriptors(std::size_t soft) const {
    sh(fmt::format("prlimit --pid {} --nofile={}:", detourd.pid(), soft));
  }

  std::uint16_t port;
  std::uint16_t admin_port;
  temp_dir dir;
  detourd_process detourd;
};

// Whether a new connection through detourd comes back with its bytes within about a second.
bool echoes(const endpoint& upstream, std::string_view bytes) {
  try {
    auto client = connect_to(upstream, 1s);
    send_all(client.get(), bytes, 1s);
    return read_exactly(client.get(), bytes.size(), 1s).bytes == bytes;
  } catch (const std::exception&) {
    return false;
  }
}

std::set<std::size_t> descriptor_numbers(pid_t pid) {
  std::set<std::size_t> used;
  for (const auto& entry : std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid))) {
    used.insert(std::stoul(entry.path().filename().string()));
  }
  return used;
}

// The RLIMIT_NOFILE that leaves `pid` exactly `spare` descriptors: the kernel hands out the lowest
// free number, and only below the limit, so the limit is the number after the first `spare` gaps
// in its descriptor table (descriptors above it stay open and usable). detourd holds some
// descriptors for a moment only (sd_notify's socket): the table counts once two reads agree.
std::size_t limit_leaving(pid_t pid, std::size_t spare) {
  std::set<std::size_t> used;
  REQUIRE(poll_until(
      [&] {
        auto now = descriptor_numbers(pid);
        const bool same = now == used;
        used = std::move(now);
        return same;
      },
      2s));
  std::size_t gaps = 0;
  for (std::size_t n = 0;; ++n) {
    if (used.contains(n)) continue;
    if (gaps == spare) return n;
    ++gaps;
  }
}

const std::string no_descriptors_key =
    sample_key("detour_upstream_failures_total", {{"reason", "no descriptors"}, {"upstream", "direct"}});
const std::string accept_emfile_key = sample_key("detour_accept_errors_total", {{"errno", "EMFILE"}});

}  // namespace

TEST_CASE("detourd at RLIMIT_NOFILE 128 stays idle while connections queue, keeps relaying and recovers",
          "[descriptors]") {
  // The test's own ends of every connection; detourd gets 128 from prlimit.
  raise_descriptor_limit(1200);
  limited_detourd d({"/usr/bin/prlimit", "--nofile=128:128", "--"});
  auto& detourd = d.detourd;
  CHECK(detourd.wait_for_log("detourd: descriptors: RLIMIT_NOFILE soft 128 = hard"));
  echo_server upstream(at("10.77.0.2", 0));

  std::vector<socket_fd> relaying;
  for (int i = 0; i < 40; ++i)
    relaying.push_back(connect_and_echo(upstream.local_endpoint(), fmt::format("hello {}", i)));

  // More than its descriptors allow: detourd takes what fits, the rest waits in the backlog, or
  // is accepted and reset for want of an upstream socket; neither may spin.
  const double cpu_before = cpu_seconds(detourd.pid());
  const auto began = test_clock::now();
  std::vector<socket_fd> queued;
  for (int i = 0; i < 180; ++i) {
    try {
      queued.push_back(connect_to(upstream.local_endpoint(), 2s));
    } catch (const std::exception&) {
      // Reset before the handshake was seen complete: detourd answered it, as it may.
    }
  }
  // The measurement window the issue asks for: 3 s of exhaustion.
  std::this_thread::sleep_until(began + 3s);
  const double cpu = cpu_seconds(detourd.pid()) - cpu_before;
  WARN(fmt::format("detourd used {:.3f}s of CPU in 3s at its descriptor limit, {} connections queued", cpu,
                   queued.size()));
  CHECK(cpu < 0.3);

  // Those relaying before keep relaying, bytes intact, while the limit still holds.
  for (std::size_t i = 0; i < relaying.size(); ++i) {
    auto bytes = fmt::format("still there {}", i);
    INFO("connection " << i);
    send_all(relaying[i].get(), bytes, 5s);
    CHECK(read_exactly(relaying[i].get(), bytes.size(), 5s).bytes == bytes);
  }
  const auto exhausted_for = std::chrono::duration<double>(test_clock::now() - began).count();

  // The queue drains: its clients give up.
  for (auto& client : queued) reset_connection(client);
  queued.clear();
  CHECK(poll_until([&] { return echoes(upstream.local_endpoint(), "back again"); }, 3s));

  // One warning a second at most, naming the limit and the remedy.
  const auto warnings = detourd.count_log_lines("raise LimitNOFILE=");
  INFO(detourd.log());
  CHECK(warnings >= 1);
  CHECK(warnings <= static_cast<std::size_t>(exhausted_for) + 2);
  CHECK(detourd.count_log_lines("(RLIMIT_NOFILE 128)") >= 1);
  auto metrics = d.scrape();
  CHECK(metrics.value(accept_emfile_key) + metrics.value(no_descriptors_key) >= 1);
  // Closed first, so that the stop does not wait out the drain for them.
  for (auto& client : relaying) reset_connection(client);
  CHECK(detourd.stop() == 0);
}

TEST_CASE("an upstream socket that hits RLIMIT_NOFILE fails its connection with reason no descriptors",
          "[descriptors]") {
  limited_detourd d;
  echo_server upstream(at("10.77.0.2", 0));
  auto held = connect_and_echo(upstream.local_endpoint(), "held");
  // One descriptor left: the accept takes it, the upstream socket finds none.
  const auto limit = limit_leaving(d.detourd.pid(), 1);
  d.limit_descriptors(limit);

  CHECK(read_after_connect(upstream.local_endpoint()).end == stream_end::reset);
  const auto limit_text = fmt::format("no descriptors: socket: Too many open files (RLIMIT_NOFILE {})", limit);
  CHECK(d.detourd.wait_for_log(fmt::format("connect failed: {}", limit_text)));
  CHECK(d.detourd.wait_for_log(
      fmt::format("{}: raise LimitNOFILE= (ulimit -n) or lower limits.max_connections", limit_text)));
  CHECK(d.detourd.count_log_lines("listener: accept") == 0);

  d.limit_descriptors(1024);
  CHECK(echoes(upstream.local_endpoint(), "works again"));
  CHECK(d.scrape().value(no_descriptors_key) == 1);
  reset_connection(held);
  CHECK(d.detourd.stop() == 0);
  auto log = d.access_log();
  INFO(log);
  CHECK_THAT(log, Catch::Contains(fmt::format(R"("result":"connect_failed","reason":"{}")", limit_text)));
}

TEST_CASE("an accept that hits RLIMIT_NOFILE leaves the connection in the backlog until a descriptor frees",
          "[descriptors]") {
  limited_detourd d;
  echo_server upstream(at("10.77.0.2", 0));
  auto held = connect_and_echo(upstream.local_endpoint(), "held");
  // No descriptor left at all: the accept itself fails.
  const auto limit = limit_leaving(d.detourd.pid(), 0);
  d.limit_descriptors(limit);

  auto waiting = connect_to(upstream.local_endpoint());
  CHECK(
      d.detourd.wait_for_log(fmt::format("listener: accept: Too many open files (RLIMIT_NOFILE {}): raise "
                                         "LimitNOFILE= (ulimit -n) or lower limits.max_connections; backing off",
                                         limit)));
  // Still waiting, not reset: it is relayed once the limit allows.
  d.limit_descriptors(1024);
  send_all(waiting.get(), "waited", 5s);
  CHECK(read_exactly(waiting.get(), 6, 5s).bytes == "waited");
  auto metrics = d.scrape();
  CHECK(metrics.value(accept_emfile_key) >= 1);
  CHECK(metrics.value(no_descriptors_key) == 0);
  reset_connection(held);
  reset_connection(waiting);
  CHECK(d.detourd.stop() == 0);
}
