// A reload (SIGHUP) under load: no connection lost or reset, new connections follow the new
// route at once, running ones finish on the upstream they started with; a bad file or a key that
// needs a restart changes nothing and says why.
#include "support/deadline.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/prometheus_text.hpp"
#include "support/tcp.hpp"
#include "support/upstream_proxies.hpp"

#include "detour/admin/admin_client.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

using namespace detour::test;
namespace json = boost::json;

namespace {

// A workstation whose connections to 10.77.0.2 detourd captures with its own rules and sends
// through one of two microsocks upstreams, `a` or `b`, by the route `web`.
struct two_upstreams {
  // `extra` goes under intercept.outbound (indented four spaces).
  std::string config(std::string_view upstream, std::string_view extra = "") const {
    return fmt::format(R"(mode: direct
port: {}
workers: 2
drain_timeout: 20s
admin: {{listen: "127.0.0.1:{}"}}
access_log: {{path: {}}}
intercept:
  enabled: true
  outbound:
    destinations: [10.77.0.2/32]
    exclude_uids: [{}]
{}upstreams:
  a: {{kind: socks5, address: "127.0.0.1:{}"}}
  b: {{kind: socks5, address: "127.0.0.1:{}"}}
routes:
  - name: web
    destinations: [10.77.0.2/32]
    action: {{upstream: {}}}
)",
                       port, admin.port(), access_log.string(), nobody_uid, extra, a.address().port(),
                       b.address().port(), upstream);
  }

  // First, so that everything after it (addresses, proxies, detourd) is made in the namespace.
  struct fresh_namespace {
    fresh_namespace() {
      enter_new_netns();
      add_local_address("10.77.0.2/32");
    }
  } namespace_;
  temp_dir dir;
  std::filesystem::path access_log = dir.path() / "access.log";
  std::uint16_t port = free_port();
  endpoint admin = at("127.0.0.1", free_port());
  microsocks a{dir, at("127.0.0.1", free_port())};
  microsocks b{dir, at("127.0.0.1", free_port())};
  echo_server peer{at("10.77.0.2", 0)};
};

// Rewrites detourd's config file, sends SIGHUP and waits for the reload's log line.
bool reload_with(const detourd_process& d, const std::string& yaml, std::string_view expect) {
  std::ofstream(d.config_file(), std::ios::trunc) << yaml;
  d.send_signal(SIGHUP);
  return d.wait_for_log(expect, 10s);
}

// Every access log line, by the client's source port.
std::map<std::uint16_t, json::object> access_log_by_port(const std::filesystem::path& file) {
  std::map<std::uint16_t, json::object> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    auto entry = json::parse(line).as_object();
    const std::string source(entry.at("source").as_string());
    out[static_cast<std::uint16_t>(std::stoul(source.substr(source.rfind(':') + 1)))] = std::move(entry);
  }
  return out;
}

std::string upstream_of(const json::object& entry) {
  const auto& u = entry.at("upstream");
  return u.is_null() ? "none" : std::string(u.as_object().at("name").as_string());
}

// One connection's round trip: `bytes` there and back, whole.
bool echoes(const endpoint& to, const std::string& bytes, std::uint16_t& source_port) {
  auto s = connect_to(to);
  source_port = local_endpoint_of(s.get()).port();
  send_all(s.get(), bytes);
  auto back = read_exactly(s.get(), bytes.size());
  return back.bytes == bytes;
}

struct attempt {
  std::uint16_t port = 0;
  bool ok = false;
  bool after_reload = false;  // begun once the reload had been applied
};

}  // namespace

TEST_CASE("a reload under 2000 connections loses none, new ones take the new route, running ones keep theirs",
          "[reload]") {
  two_upstreams ws;
  detourd_process d(ws.config("a"));
  const auto to = ws.peer.local_endpoint();

  // The long transfer: opened on upstream a before the reload, finished after it.
  auto long_one = connect_to(to);
  const auto long_port = local_endpoint_of(long_one.get()).port();
  const std::string first_half(1 << 20, 'x');
  send_all(long_one.get(), first_half);
  REQUIRE(read_exactly(long_one.get(), first_half.size()).bytes == first_half);

  constexpr int per_thread = 1000;
  std::atomic<bool> reloaded{false};
  std::atomic<int> done{0};
  std::vector<std::vector<attempt>> attempts(2);
  std::vector<std::thread> clients;
  for (int t = 0; t < 2; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        attempt a;
        a.after_reload = reloaded.load();
        try {
          a.ok = echoes(to, fmt::format("{:0>300}", t * per_thread + i), a.port);
        } catch (const std::exception&) {
          a.ok = false;
        }
        attempts[static_cast<std::size_t>(t)].push_back(a);
        ++done;
      }
    });
  }
  REQUIRE(poll_until([&] { return done.load() >= 400; }, 60s));
  // The new file changes the route's upstream and the rules (a port exclusion), so the reload
  // replaces rules while connections arrive.
  const bool applied = reload_with(d, ws.config("b", "    exclude_ports: [\"9\"]\n"), "rules replaced");
  reloaded = true;
  for (auto& c : clients) c.join();
  REQUIRE(applied);
  CHECK(d.wait_for_log("reload (SIGHUP): config 2 applied: 1 route, 2 upstreams, rules replaced"));

  const std::string second_half(1 << 20, 'y');
  send_all(long_one.get(), second_half);
  CHECK(read_exactly(long_one.get(), second_half.size()).bytes == second_half);
  long_one.close();

  auto metrics =
      metric_samples::parse(detour::admin::http_request(ws.admin, boost::beast::http::verb::get, "/metrics").body());
  CHECK(metrics.value(sample_key("detour_config_reloads_total", {{"result", "success"}})) == 1);
  CHECK(metrics.value(sample_key("detour_config_reloads_total", {{"result", "error"}})) == 0);
  REQUIRE(d.stop() == 0);

  auto lines = access_log_by_port(ws.access_log);
  int failed = 0;
  int after = 0;
  for (const auto& list : attempts) {
    for (const auto& a : list) {
      INFO("source port " << a.port);
      failed += a.ok ? 0 : 1;
      auto it = lines.find(a.port);
      REQUIRE(it != lines.end());
      CHECK(it->second.at("result").as_string() == "relayed");
      CHECK(it->second.at("bytes_up").as_int64() == 300);
      if (a.after_reload) {
        ++after;
        CHECK(upstream_of(it->second) == "b");
      }
    }
  }
  CHECK(failed == 0);
  CHECK(after > 100);
  REQUIRE(lines.contains(long_port));
  CHECK(upstream_of(lines.at(long_port)) == "a");
  CHECK(lines.at(long_port).at("bytes_up").as_int64() == 2 << 20);
  CHECK(lines.size() == 2 * per_thread + 1);
}

TEST_CASE("a reload of a bad file keeps the running config and says where the file is wrong", "[reload]") {
  two_upstreams ws;
  detourd_process d(ws.config("a"));
  const auto to = ws.peer.local_endpoint();

  REQUIRE(reload_with(d, ws.config("a") + "routes_typo: 1\n", "failed, still running the previous config"));
  CHECK(d.log().find("detour.yaml:") != std::string::npos);
  CHECK(d.log().find("routes_typo") != std::string::npos);
  // An unknown upstream: the whole file is refused, not the one route.
  REQUIRE(reload_with(d, ws.config("nowhere"), "nowhere"));

  std::uint16_t port = 0;
  CHECK(echoes(to, "still serving", port));
  // POST /reload answers with the same reason, as a 400.
  const auto& admin = ws.admin;
  auto refused = detour::admin::http_request(admin, boost::beast::http::verb::post, "/reload");
  CHECK(refused.result_int() == 400);
  CHECK_THAT(refused.body(), Catch::Contains("\"result\":\"error\"") && Catch::Contains("nowhere"));
  auto metrics =
      metric_samples::parse(detour::admin::http_request(admin, boost::beast::http::verb::get, "/metrics").body());
  CHECK(metrics.value(sample_key("detour_config_reloads_total", {{"result", "error"}})) == 3);
  CHECK(metrics.value(sample_key("detour_config_reloads_total", {{"result", "success"}})) == 0);

  // Fixed, the same request applies it.
  std::ofstream(d.config_file(), std::ios::trunc) << ws.config("b");
  auto applied = detour::admin::http_request(admin, boost::beast::http::verb::post, "/reload");
  CHECK(applied.result_int() == 200);
  CHECK_THAT(applied.body(), Catch::Contains("config 2 applied"));
  std::uint16_t after = 0;
  CHECK(echoes(to, "new route", after));
  REQUIRE(d.stop() == 0);
  const auto lines = access_log_by_port(ws.access_log);
  CHECK(upstream_of(lines.at(port)) == "a");
  CHECK(upstream_of(lines.at(after)) == "b");
}

TEST_CASE("a reload that changes a key only a restart can change is refused whole", "[reload]") {
  two_upstreams ws;
  detourd_process d(ws.config("a"));
  const auto to = ws.peer.local_endpoint();
  auto next = ws.config("b");
  const auto port_line = fmt::format("port: {}\n", ws.port);
  next.replace(next.find(port_line), port_line.size(), fmt::format("port: {}\n", ws.port + 1));

  REQUIRE(reload_with(d, next, "need a restart"));
  CHECK(d.log().find(fmt::format("`port` changes need a restart (running: {}, file: {}); nothing was changed", ws.port,
                                 ws.port + 1)) != std::string::npos);
  // The route change in the same file did not happen either.
  std::uint16_t source = 0;
  CHECK(echoes(to, "old route", source));
  REQUIRE(d.stop() == 0);
  CHECK(upstream_of(access_log_by_port(ws.access_log).at(source)) == "a");
}
