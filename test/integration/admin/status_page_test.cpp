// The status page in a real browser (headless Chromium), against a server whose /stats and
// /connections answers the test fixed: what the page shows is checked in the DOM its scripts
// built, and a screenshot of it is kept under the build tree.
#include "detour/admin/status_page.hpp"
#include "support/browser.hpp"
#include "support/canned_http_server.hpp"
#include "support/netns.hpp"
#include "support/page_dom.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <regex>

using namespace detour::test;
namespace json = boost::json;

namespace {

const std::filesystem::path artifacts = DETOUR_TEST_ARTIFACTS;

// A route name with markup in it: the page must show it as text, never parse it.
constexpr std::string_view corp = "corp <b>&";
// How that name reads in serialised DOM text.
constexpr std::string_view corp_as_text = "corp &lt;b&gt;&amp;";

json::object route_json(std::string_view name, std::string_view action, int active, std::uint64_t up,
                        std::uint64_t down) {
  return {{"name", name}, {"action", action}, {"active", active},
          {"closed", 12}, {"bytes_up", up},   {"bytes_down", down}};
}

// /stats at `uptime`, with the corp route's byte counters at `corp_up` and `corp_down`; the
// totals are those plus what the default route moved (fixed).
canned_response stats(double uptime, std::uint64_t corp_up, std::uint64_t corp_down) {
  json::object s{{"version", "0.1.0"},
                 {"uptime_seconds", uptime},
                 {"ready", true},
                 {"mode", "direct"},
                 {"port", 15001},
                 {"workers", 2},
                 {"rules", {{"table", "detour"}, {"installed", true}}},
                 {"connections", {{"accepted", 100}, {"active", 2}}},
                 {"bytes", {{"up", corp_up + 1000}, {"down", corp_down + 5000}}},
                 {"results", {{"relayed", 90}, {"refused", 5}, {"rejected", 1}, {"echoed", 2}, {"connect_failed", 3}}},
                 {"routes", json::array{route_json(corp, "upstream corp", 1, corp_up, corp_down),
                                        route_json("default", "direct", 1, 1000, 5000)}}};
  return {.body = json::serialize(s)};
}

// Two connections as /connections lists them: one through an upstream, one direct over IPv6.
json::object held_upstream_connection() {
  return json::parse(R"({"id":17,"state":"relaying","source":"10.0.0.2:40000","local":"10.0.0.1:15001",
    "original_dst":"10.77.0.2:8080","route":"corp <b>&","action":"upstream","upstream":"corp",
    "server":"10.0.0.1:1080","bytes_up":10,"bytes_down":20,"age_seconds":75.5,"idle_seconds":0.2})")
      .as_object();
}

json::object held_direct_connection() {
  return json::parse(R"({"id":18,"state":"connecting","source":"[fd00::2]:40001","local":"[fd00::1]:15001",
    "original_dst":"[2001:db8::1]:80","route":"default","action":"direct","upstream":null,
    "server":null,"bytes_up":0,"bytes_down":0,"age_seconds":1.5,"idle_seconds":1.5})")
      .as_object();
}

canned_response connections(json::array list) {
  return {.body = json::serialize(json::object{{"connections", std::move(list)}})};
}

// /stats 2 s apart on the daemon's clock, with corp's traffic varying from one poll to the next,
// down 512 times up, and ending at 2 KiB/s up and 1 MiB/s down.
std::vector<canned_response> growing_stats() {
  constexpr std::array<std::uint64_t, 8> up_steps{1000, 6000, 3000, 9000, 12000, 5000, 7000, 4096};
  std::uint64_t up = 100;
  std::vector<canned_response> polls{stats(10.0, up, 512 * up)};
  for (auto step : up_steps) {
    up += step;
    polls.push_back(stats(10.0 + 2.0 * static_cast<double>(polls.size()), up, 512 * up));
  }
  return polls;
}

// Long enough for the page (which polls every 2 s) to see every one of growing_stats().
constexpr auto whole_growth = 20000ms;

// The page served as detourd serves it, with /stats from growing_stats().
struct status_page_server {
  struct own_netns {
    own_netns() { enter_new_netns(); }
  } netns;
  canned_http_server http{at("127.0.0.1", 0)};

  status_page_server() {
    http.answer("/", {{.content_type = "text/html; charset=utf-8", .body = std::string(detour::admin::status_page())}});
    http.answer("/stats", growing_stats());
    http.answer("/connections", {connections({held_upstream_connection(), held_direct_connection()})});
  }
};

// How many corners the first `direction` ("up", "down") line of a chart in `html` has.
std::size_t step_corners(const std::string& html, std::string_view direction) {
  std::smatch line;
  REQUIRE(
      std::regex_search(html, line, std::regex(fmt::format("<polyline class=\"{}\" points=\"([^\"]*)\"", direction))));
  std::string points = line[1];
  return static_cast<std::size_t>(std::count(points.begin(), points.end(), ','));
}

}  // namespace

TEST_CASE("the status page shows the routes, results and live connections that the JSON endpoints report", "[admin]") {
  status_page_server server;
  auto page = browse(server.http.url("/"), {.virtual_time = whole_growth, .screenshot = artifacts / "status_page.png"});

  auto header = part(page.dom, "header");
  CHECK(fields(header, "version") == texts{"0.1.0"});
  CHECK(fields(header, "mode") == texts{"direct"});
  CHECK(fields(header, "port") == texts{"15001"});
  CHECK(fields(header, "workers") == texts{"2"});
  CHECK(fields(header, "ready") == texts{"yes"});
  CHECK(fields(header, "rules_table") == texts{"detour"});

  auto results = part(page.dom, "results");
  CHECK(fields(results, "relayed") == texts{"90"});
  CHECK(fields(results, "connect_failed") == texts{"3"});

  auto routes = part(page.dom, "routes");
  CHECK(fields(routes, "name") == texts{std::string(corp_as_text), "default"});
  CHECK(fields(routes, "action") == texts{"upstream corp", "direct"});
  // Rates come from the last two polls, 2 s apart on the daemon's clock.
  CHECK(fields(routes, "rate_up") == texts{"2.00 KiB/s", "0 B/s"});
  CHECK(fields(routes, "rate_down") == texts{"1.00 MiB/s", "0 B/s"});
  CHECK(fields(part(page.dom, "summary"), "rate_up") == texts{"2.00 KiB/s"});
  // Two corners per rate measured: eight rates from nine polls, for all traffic and for corp's.
  CHECK(step_corners(part(page.dom, "chart-total"), "up") == 16);
  CHECK(step_corners(part(page.dom, "chart-total"), "down") == 16);
  CHECK(step_corners(part(page.dom, "routes"), "up") == 16);

  auto table = part(page.dom, "connections");
  CHECK(fields(table, "original_dst") == texts{"10.77.0.2:8080", "[2001:db8::1]:80"});
  CHECK(fields(table, "route") == texts{std::string(corp_as_text), "default"});
  CHECK(fields(table, "upstream") == texts{"corp via 10.0.0.1:1080", "direct"});
  CHECK(fields(table, "state") == texts{"relaying", "connecting"});
  CHECK(fields(table, "age") == texts{"1m 15s", "1.5s"});
  // The name came in as data: had it been parsed, a <b> element would be in the page.
  CHECK(page.dom.find("<b>&amp;") == std::string::npos);

  CHECK(fields(page.dom, "error").empty());
  // It polled again and again on its own after the first load.
  CHECK(server.http.request_count("/stats") >= growing_stats().size());
  CHECK(is_png(page.screenshot));
}

TEST_CASE("the status page shows an unreachable or failing /stats as an error and keeps the connections table",
          "[admin]") {
  status_page_server server;
  std::string expected;
  std::string picture = "status_page_stats_down.png";
  bool figures_seen = false;
  SECTION("a server that hangs up") {
    server.http.answer("/stats", {dropped_connection()});
    expected = "GET /stats: unreachable (Failed to fetch)";
  }
  SECTION("a server that answers 503") {
    server.http.answer("/stats", {{.status = 503, .body = "starting"}});
    expected = "GET /stats: HTTP 503: starting";
    picture = "status_page_stats_503.png";
  }
  SECTION("a server that went away after the first poll: the last figures stay on the page") {
    server.http.answer("/stats", {stats(10.0, 100, 200), dropped_connection()});
    expected = "GET /stats: unreachable (Failed to fetch)";
    picture = "status_page_stats_lost.png";
    figures_seen = true;
  }
  auto page = browse(server.http.url("/"), {.screenshot = artifacts / picture});

  auto errors = fields(part(page.dom, "errors"), "error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].starts_with(expected));
  CHECK(fields(part(page.dom, "connections"), "original_dst") == texts{"10.77.0.2:8080", "[2001:db8::1]:80"});
  // A failed poll is no reason to stop polling.
  CHECK(server.http.request_count("/stats") >= 2);
  if (figures_seen) CHECK(fields(part(page.dom, "header"), "version") == texts{"0.1.0"});
}

TEST_CASE("the status page filters the connections by the route named in its address", "[admin]") {
  status_page_server server;
  auto filtered = "/connections?route=corp%20%3Cb%3E%26";
  server.http.answer(filtered, {connections({held_upstream_connection()})});

  auto page = browse(server.http.url("/#route=corp%20%3Cb%3E%26"));

  auto table = part(page.dom, "connections");
  CHECK(fields(table, "original_dst") == texts{"10.77.0.2:8080"});
  CHECK(page.dom.find(fmt::format(">1 connection on route {}<", corp_as_text)) != std::string::npos);
  CHECK(server.http.request_count(filtered) >= 2);
  CHECK(server.http.request_count("/connections") == 0);
}
