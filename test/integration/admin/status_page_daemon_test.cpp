// The status page served by the real detourd, in headless Chromium: the page compiled into the
// binary, detourd's own /stats and /connections, and traffic the test made and so knows exactly.
#include "detour/admin/admin_client.hpp"
#include "support/browser.hpp"
#include "support/deadline.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/page_dom.hpp"
#include "support/tcp.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <regex>

using namespace detour::test;
namespace http = boost::beast::http;

namespace {

const std::filesystem::path artifacts = DETOUR_TEST_ARTIFACTS;

// One connection relayed to `to` from start to end: `text` there and back, then both halves closed.
void relay_and_finish(const endpoint& to, std::string_view text) {
  auto client = connect_to(to);
  send_all(client.get(), text);
  shutdown_write(client.get());
  REQUIRE(read_until_eof(client.get()).bytes == text);
}

// How many connections /stats counts as relayed and closed.
std::uint64_t relayed_count(const endpoint& admin) {
  auto res = detour::admin::http_request(admin, http::verb::get, "/stats");
  return boost::json::parse(res.body()).at("results").at("relayed").to_number<std::uint64_t>();
}

// The labels of a chart's rate axis in `html`, bottom to top.
texts axis_labels(const std::string& html) {
  std::regex label(">([^<]* B/s)</text>");
  texts out;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), label); it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

}  // namespace

TEST_CASE("the status page of a running detourd shows its routes, counts and the held connection", "[admin]") {
  enter_new_netns();
  add_local_address("10.77.0.2/32");
  const auto port = free_port();
  // The browser's requests to the admin endpoint are not traffic for detourd to proxy.
  redirect_output(port, {.skip_destinations = {"127.0.0.1"}});
  echo_server web(at("10.77.0.2", 0));
  echo_server other(at("10.77.0.2", 0));
  auto admin_port = free_port();
  for (int i = 0; i < 10 && admin_port == port; ++i) admin_port = free_port();
  const auto admin = at("127.0.0.1", admin_port);
  detourd_process detourd(test_config(port, "direct",
                                      fmt::format("admin:\n  listen: 127.0.0.1:{}\nroutes:\n  - {{name: web, "
                                                  "destinations: [10.77.0.2/32], ports: [{}], action: direct}}\n",
                                                  admin_port, web.port())));

  relay_and_finish(web.local_endpoint(), "finished");
  relay_and_finish(other.local_endpoint(), "to the default route");
  auto held = connect_and_echo(web.local_endpoint(), "held");
  // The client sees its end before detourd has counted the connection closed.
  REQUIRE(poll_until([&] { return relayed_count(admin) == 2; }, 10s));

  // What the page was given, for a failure to show.
  const auto get = [&](std::string_view target) {
    return detour::admin::http_request(admin, http::verb::get, target).body();
  };
  INFO("/stats: " << get("/stats") << "/connections: " << get("/connections"));
  auto page =
      browse(fmt::format("http://127.0.0.1:{}/", admin_port), {.screenshot = artifacts / "status_page_daemon.png"});

  auto header = part(page.dom, "header");
  CHECK(fields(header, "mode") == texts{"direct"});
  CHECK(fields(header, "port") == texts{std::to_string(port)});
  CHECK(fields(header, "workers") == texts{"2"});
  CHECK(fields(header, "ready") == texts{"yes"});

  auto summary = part(page.dom, "summary");
  CHECK(fields(summary, "accepted") == texts{"3"});
  CHECK(fields(summary, "active") == texts{"1"});
  CHECK(fields(summary, "bytes_up") == texts{"32 B"});
  CHECK(fields(part(page.dom, "results"), "relayed") == texts{"2"});
  // Nothing moved while the page polled: the axis of an idle daemon, each label its own value.
  CHECK(axis_labels(part(page.dom, "chart-total")) == texts{"0 B/s", "1 B/s", "2 B/s"});

  auto routes = part(page.dom, "routes");
  CHECK(fields(routes, "name") == texts{"web", "default"});
  CHECK(fields(routes, "action") == texts{"direct", "direct"});
  CHECK(fields(routes, "active") == texts{"1", "0"});
  CHECK(fields(routes, "closed") == texts{"1", "1"});
  CHECK(fields(routes, "bytes_down") == texts{"12 B", "20 B"});

  auto table = part(page.dom, "connections");
  CHECK(fields(table, "original_dst") == texts{fmt::format("10.77.0.2:{}", web.port())});
  CHECK(fields(table, "route") == texts{"web"});
  CHECK(fields(table, "upstream") == texts{"direct"});
  CHECK(fields(table, "state") == texts{"relaying"});
  CHECK(fields(table, "bytes_up") == texts{"4 B"});
  CHECK(fields(table, "bytes_down") == texts{"4 B"});

  CHECK(fields(page.dom, "error").empty());
  CHECK(is_png(page.screenshot));
}
