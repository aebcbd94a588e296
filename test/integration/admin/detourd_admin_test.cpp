// The admin endpoint of the real detourd, each test in a namespace of its own with real peers: the
// metrics move by exactly the traffic the test made, connections are listed and reset from it, it
// stays out of the capture and answers through a drain, and the commands print what it says.
#include "detour/admin/admin_client.hpp"
#include "detour/admin/admin_error.hpp"
#include "detour/admin/admin_handler.hpp"
#include "detour/net/sockaddr.hpp"
#include "support/broken_requests.hpp"
#include "support/deadline.hpp"
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/prometheus_text.hpp"
#include "support/tcp.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

using namespace detour::test;
namespace http = boost::beast::http;
namespace json = boost::json;
using detour::net::to_string;

namespace {

// Every TCP connection made here goes to detourd's port but those to loopback: the admin endpoint,
// which detourd's own rules leave alone too (exclude_admin), and detourd's port reached directly,
// which is then not redirected. Peers listen on 10.77.0.2; 10.77.1.2 is the "blocked" route's.
std::uint16_t enter_admin_netns() {
  enter_new_netns();
  for (const char* address : {"10.77.0.2/32", "10.77.1.2/32"}) add_local_address(address);
  auto port = free_port();
  redirect_output(port, {.skip_destinations = {"127.0.0.1"}});
  return port;
}

constexpr std::string_view blocked_route = R"(routes:
  - name: blocked
    destinations: [10.77.1.2/32]
    action: reject
)";

// detourd in direct mode, its admin endpoint on 127.0.0.1:admin_port, `more` appended to its config.
struct admin_detourd {
  explicit admin_detourd(std::string_view more = blocked_route)
      : port(enter_admin_netns()),
        admin_port(free_port()),
        detourd(test_config(port, "direct", fmt::format("admin:\n  listen: 127.0.0.1:{}\n{}", admin_port, more))) {}

  endpoint admin() const { return at("127.0.0.1", admin_port); }
  std::string admin_argument() const { return to_string(admin()); }

  detour::admin::response request(http::verb method, std::string_view target) const {
    return detour::admin::http_request(admin(), method, target);
  }
  // The status of GET `target`; 0 when nothing answers.
  unsigned status_of(std::string_view target) const {
    try {
      return request(http::verb::get, target).result_int();
    } catch (const detour::admin::admin_error&) {
      return 0;
    }
  }
  std::string get_ok(std::string_view target) const {
    auto res = request(http::verb::get, target);
    INFO(target << ": " << res.body());
    REQUIRE(res.result() == http::status::ok);
    return res.body();
  }
  metric_samples scrape() const { return metric_samples::parse(get_ok("/metrics")); }
  json::array connections(std::string_view query = "") const {
    return json::parse(get_ok(fmt::format("/connections{}", query))).at("connections").as_array();
  }
  // The one connection listed once `ready` holds for it; fails the test if that takes 5 s.
  json::object only_connection(const std::function<bool(const json::object&)>& ready) const {
    json::object found;
    bool one = poll_until(
        [&] {
          auto all = connections();
          if (all.size() != 1) return false;
          found = all[0].as_object();
          return ready(found);
        },
        5s);
    INFO(json::serialize(found));
    REQUIRE(one);
    return found;
  }

  std::uint16_t port;
  std::uint16_t admin_port;
  detourd_process detourd;
};

std::string closed_key(const char* route, const char* result, const char* reason) {
  return sample_key("detour_connections_closed_total", {{"route", route}, {"result", result}, {"reason", reason}});
}
std::string bytes_key(const char* direction) {
  return sample_key("detour_bytes_total", {{"route", "default"}, {"direction", direction}});
}
const std::string active_default = sample_key("detour_connections_active", {{"route", "default"}});

// A scrape once `done` holds between `before` and it; fails the test if that takes 5 s.
metric_samples scrape_once(const admin_detourd& d, const metric_samples& before,
                           const std::function<bool(const metric_samples& before, const metric_samples& now)>& done) {
  metric_samples now;
  REQUIRE(poll_until(
      [&] {
        now = d.scrape();
        return done(before, now);
      },
      5s));
  return now;
}

// The access log's line for the connection from `source`, once the writer has flushed it.
json::object access_log_line(const std::filesystem::path& file, const std::string& source) {
  json::object found;
  auto written = poll_until(
      [&] {
        std::ifstream in(file);
        for (std::string line; std::getline(in, line);) {
          auto entry = json::parse(line).as_object();
          if (entry.at("source").as_string() != source) continue;
          found = std::move(entry);
          return true;
        }
        return false;
      },
      5s);
  INFO(source);
  REQUIRE(written);
  return found;
}

std::string source_of(const socket_fd& client) { return to_string(local_endpoint_of(client.get())); }

}  // namespace

TEST_CASE("/metrics moves by exactly the connections made and the bytes they carried", "[admin]") {
  admin_detourd d;
  sink_server peer(at("10.77.0.2", 0));
  const auto closed_port = free_port();
  const auto before = d.scrape();

  std::uint64_t sent = 0;
  for (std::uint64_t size : {1000U, 20000U, 300000U}) {
    payload p(size, size);
    CHECK(send_and_read_answer(connect_to(peer.local_endpoint()), p).reply.bytes == p.sha1() + "\n");
    sent += size;
  }
  CHECK(read_after_connect(at("10.77.0.2", closed_port)).end == stream_end::reset);
  CHECK(read_after_connect(at("127.0.0.1", d.port)).end != stream_end::timeout);
  CHECK(read_after_connect(at("10.77.1.2", 80)).end == stream_end::reset);

  const auto after = scrape_once(d, before, [](const auto& b, const auto& now) {
    return delta(b, now, "detour_connection_duration_seconds_count") == 6;
  });
  CHECK(delta(before, after, "detour_connections_accepted_total") == 6);
  CHECK(delta(before, after, closed_key("default", "relayed", "eof")) == 3);
  CHECK(delta(before, after, closed_key("default", "connect_failed", "refused")) == 1);
  CHECK(delta(before, after, sample_key("detour_connections_refused_total", {{"reason", "not redirected"}})) == 1);
  CHECK(delta(before, after, closed_key("blocked", "rejected", "rejected")) == 1);
  CHECK(delta(before, after, bytes_key("up")) == static_cast<double>(sent));
  // The sink answers each connection with the SHA-1 of what it read and a newline.
  CHECK(delta(before, after, bytes_key("down")) == 3 * 41);
  CHECK(delta(before, after, sample_key("detour_upstream_connect_seconds_count", {{"upstream", "direct"}})) == 3);
  REQUIRE(after.contains(active_default));
  CHECK(after.value(active_default) == 0);
}

TEST_CASE("/metrics counts bytes as they move, while the connection is still open", "[admin]") {
  admin_detourd d;
  echo_server peer(at("10.77.0.2", 0));
  const auto before = d.scrape();
  const std::string bytes(5000, 'b');
  auto client = connect_and_echo(peer.local_endpoint(), bytes);

  const auto now =
      scrape_once(d, before, [](const auto& b, const auto& n) { return delta(b, n, bytes_key("down")) == 5000; });
  CHECK(delta(before, now, bytes_key("up")) == 5000);
  CHECK(now.value(active_default) == 1);
  CHECK(delta(before, now, "detour_connection_duration_seconds_count") == 0);
  CHECK(now.contains("detour_pipes_in_use"));
}

TEST_CASE("promtool accepts a scrape of detourd taken after traffic", "[admin]") {
  admin_detourd d;
  echo_server peer(at("10.77.0.2", 0));
  auto held = connect_and_echo(peer.local_endpoint(), "held");
  CHECK(read_after_connect(at("10.77.1.2", 80)).end == stream_end::reset);
  const auto before = d.scrape();
  scrape_once(d, before, [](const auto&, const auto& now) {
    return now.value(closed_key("blocked", "rejected", "rejected")) == 1;
  });

  temp_dir dir;
  auto file = dir.write("metrics.txt", d.get_ok("/metrics"));
  auto check =
      run_to_completion({"/bin/sh", "-c", fmt::format("/usr/bin/promtool check metrics < {}", file.string())}, 20s);
  INFO(check.out << check.err);
  CHECK(check.exit_code == 0);
  CHECK(check.out + check.err == "");
}

TEST_CASE("/connections lists a held connection, filters by route, and DELETE resets it at both ends", "[admin]") {
  temp_dir dir;
  const auto log_file = dir.path() / "access.log";
  admin_detourd d(fmt::format("access_log: {{path: {}}}\n{}", log_file.string(), blocked_route));
  echo_server peer(at("10.77.0.2", 0));
  const auto before = d.scrape();
  auto client = connect_and_echo(peer.local_endpoint(), "hello");

  auto listed = d.only_connection([](const json::object& c) { return c.at("bytes_down").to_number<int>() == 5; });
  CHECK(listed.at("state").as_string() == "relaying");
  CHECK(listed.at("original_dst").as_string() == to_string(peer.local_endpoint()));
  CHECK(listed.at("route").as_string() == "default");
  CHECK(listed.at("source").as_string() == source_of(client));
  CHECK(listed.at("bytes_up").to_number<int>() == 5);
  CHECK(d.connections("?route=default").size() == 1);
  CHECK(d.connections("?route=blocked").empty());

  const auto target = fmt::format("/connections/{}", listed.at("id").to_number<std::uint64_t>());
  auto reset = d.request(http::verb::delete_, target);
  CHECK(reset.result() == http::status::ok);
  CHECK(read_until_eof(client.get(), 5s).end == stream_end::reset);
  CHECK(peer.wait_for_report(5s).received.end == stream_end::reset);

  auto line = access_log_line(log_file, source_of(client));
  CHECK(line.at("result").as_string() == "relayed");
  CHECK(line.at("reason").as_string() == "admin");
  scrape_once(d, before, [](const auto& b, const auto& now) {
    return delta(b, now, closed_key("default", "relayed", "admin")) == 1;
  });
  CHECK(d.request(http::verb::delete_, target).result() == http::status::not_found);
  CHECK(d.connections().empty());
}

TEST_CASE("a connection still connecting is listed so, and DELETE ends it as connect_failed for admin", "[admin]") {
  temp_dir dir;
  const auto log_file = dir.path() / "access.log";
  admin_detourd d(fmt::format("access_log: {{path: {}}}\n", log_file.string()));
  add_local_address("10.77.2.2/32");
  blackhole_upstream("10.77.2.2");
  const auto before = d.scrape();
  auto client = connect_to(at("10.77.2.2", 80));

  auto listed = d.only_connection([](const json::object&) { return true; });
  CHECK(listed.at("state").as_string() == "connecting");
  CHECK(listed.at("original_dst").as_string() == "10.77.2.2:80");
  CHECK(listed.at("source").as_string() == source_of(client));

  auto reset =
      d.request(http::verb::delete_, fmt::format("/connections/{}", listed.at("id").to_number<std::uint64_t>()));
  CHECK(reset.result() == http::status::ok);
  CHECK(read_until_eof(client.get(), 5s).end == stream_end::reset);
  auto line = access_log_line(log_file, source_of(client));
  CHECK(line.at("result").as_string() == "connect_failed");
  CHECK(line.at("reason").as_string() == "admin");
  scrape_once(d, before, [](const auto& b, const auto& now) {
    return delta(b, now, closed_key("default", "connect_failed", "admin")) == 1;
  });
}

TEST_CASE("/config hides the upstream's password, and /stats lists the routes in config order, then default",
          "[admin]") {
  admin_detourd d(R"(upstreams:
  corp: {kind: socks5, address: "127.0.0.1:1080", username: someone, password: s3cr3t-value}
routes:
  - name: first
    destinations: [10.77.1.2/32]
    action: reject
  - name: second
    destinations: [10.77.3.0/24]
    action: {upstream: corp}
)");
  auto config = d.get_ok("/config");
  CHECK(config.find("s3cr3t-value") == std::string::npos);
  CHECK(config.find("<redacted>") != std::string::npos);
  CHECK(config.find("someone") != std::string::npos);

  CHECK(read_after_connect(at("10.77.1.2", 80)).end == stream_end::reset);
  json::object stats;
  REQUIRE(poll_until(
      [&] {
        stats = json::parse(d.get_ok("/stats")).as_object();
        return stats.at("routes").as_array()[0].at("closed").to_number<int>() == 1;
      },
      5s));
  INFO(json::serialize(stats));
  CHECK(stats.at("connections").at("accepted").to_number<int>() == 1);
  CHECK(stats.at("connections").at("active").to_number<int>() == 0);
  CHECK(stats.at("ready").as_bool());
  CHECK(stats.at("mode").as_string() == "direct");
  CHECK(stats.at("port").to_number<int>() == d.port);
  CHECK(stats.at("workers").to_number<int>() == 2);
  CHECK_FALSE(stats.at("rules").at("installed").as_bool());
  CHECK(stats.at("results").at("rejected").to_number<int>() == 1);
  std::vector<std::string> names;
  std::vector<std::string> actions;
  for (const auto& r : stats.at("routes").as_array()) {
    names.emplace_back(r.at("name").as_string());
    actions.emplace_back(r.at("action").as_string());
  }
  CHECK(names == std::vector<std::string>{"first", "second", "default"});
  CHECK(actions == std::vector<std::string>{"reject", "upstream corp", "direct"});
}

TEST_CASE("under detourd's own rules the admin endpoint is not captured, while other connections are", "[admin]") {
  enter_new_netns();
  add_local_address("10.77.0.2/32");
  const auto port = free_port();
  const auto admin_port = free_port();
  echo_server peer(at("10.77.0.2", 0));
  detourd_process detourd(
      fmt::format("mode: direct\nport: {}\nworkers: 1\nadmin:\n  listen: 127.0.0.1:{}\n", port, admin_port));
  REQUIRE(detourd.wait_for_log("rules: installed table inet detour"));
  const auto admin = at("127.0.0.1", admin_port);

  CHECK(answers_healthz(admin));
  { auto client = connect_and_echo(peer.local_endpoint(), "captured"); }
  CHECK(detourd.wait_for_log(fmt::format("-> {}] direct closed", to_string(peer.local_endpoint()))));

  auto rules = detour::admin::http_request(admin, http::verb::get, "/rules");
  INFO(rules.body());
  CHECK(rules.result() == http::status::ok);
  CHECK_THAT(rules.body(), Catch::Contains("comment \"exclude_admin\"\n"));
  // One connection captured: its SYN, 60 bytes, is the one packet the nat chain saw of it.
  CHECK_THAT(rules.body(),
             Catch::Contains(fmt::format(
                 "meta l4proto tcp counter packets 1 bytes 60 redirect to :{} comment \"redirect\"\n", port)));
  auto metrics = metric_samples::parse(detour::admin::http_request(admin, http::verb::get, "/metrics").body());
  auto rule_packets = [&](const char* rule) {
    return metrics.value(sample_key("detour_rule_packets_total", {{"chain", "output"}, {"rule", rule}}));
  };
  CHECK(rule_packets("redirect") == 1);
  // Each request to the endpoint passed the rule that lets it by: /healthz, /rules and this one.
  CHECK(rule_packets("exclude_admin") == 3);
  CHECK(metrics.value("detour_connections_accepted_total") == 1);
  CHECK(detourd.stop() == 0);
}

TEST_CASE("/ready turns 503 while detourd drains, /healthz still answers, and it exits once the client closes",
          "[admin]") {
  admin_detourd d("drain_timeout: 5s\n");
  echo_server peer(at("10.77.0.2", 0));
  auto client = connect_and_echo(peer.local_endpoint(), "held");
  CHECK(d.status_of("/ready") == 200);

  d.detourd.send_signal(SIGTERM);
  auto draining = test_clock::now();
  CHECK(poll_until([&] { return d.status_of("/ready") == 503; }, 3s));
  CHECK(answers_healthz(d.admin()));
  client.close();
  CHECK(d.detourd.wait_for_exit(10s) == 0);
  // The client's close ended the drain, not its timeout.
  CHECK(test_clock::now() - draining < 4s);
}

TEST_CASE("detourd check refuses a non-loopback admin.listen without allow_remote, naming where", "[admin]") {
  enter_new_netns();
  temp_dir dir;
  auto file = dir.write("d.yaml", "port: 15001\nadmin:\n  listen: 10.77.0.2:15000\n");
  auto run = run_detourd({"check", "-c", file.string()});
  CHECK(run.exit_code == 1);
  CHECK(run.err == fmt::format("detourd: {}:3:11: admin.listen: 10.77.0.2:15000 is not a loopback address, and the "
                               "admin endpoint can reset connections and show the config; set admin.allow_remote: "
                               "true to listen there\n",
                               file.string()));
  auto allowed = dir.write("allowed.yaml", "port: 15001\nadmin:\n  listen: 10.77.0.2:15000\n  allow_remote: true\n");
  CHECK(run_detourd({"check", "-c", allowed.string()}).exit_code == 0);
}

TEST_CASE("1000 garbage and oversized requests leave the real detourd relaying and answering", "[admin]") {
  admin_detourd d;
  echo_server peer(at("10.77.0.2", 0));
  auto outcome = send_broken_requests(d.admin(), 1000);
  CHECK(outcome.hung == 0);
  CHECK(outcome.answered_4xx >= 800);
  CHECK(answers_healthz(d.admin()));

  { auto client = connect_and_echo(peer.local_endpoint(), "after the flood"); }
  const auto after = scrape_once(d, metric_samples{}, [](const auto&, const auto& now) {
    return now.value(closed_key("default", "relayed", "eof")) == 1;
  });
  CHECK(after.value("detour_connections_accepted_total") == 1);
  CHECK(after.value(bytes_key("up")) == 15);
  REQUIRE(d.detourd.stop() == 0);
  INFO(d.detourd.last_log_line());
  CHECK(d.detourd.stop_counter("accepted") == 1u);
  CHECK(d.detourd.stop_counter("relayed") == 1u);
}

TEST_CASE("detourd status and connections print what the running detourd says of a held connection", "[admin]") {
  admin_detourd d;
  echo_server peer(at("10.77.0.2", 0));
  auto client = connect_and_echo(peer.local_endpoint(), "held");
  d.only_connection([](const json::object& c) { return c.at("state").as_string() == "relaying"; });

  auto status = run_detourd({"status", "--admin", d.admin_argument()});
  INFO(status.out << status.err);
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("connections: 1 accepted, 1 active\n") != std::string::npos);

  auto table = run_detourd({"connections", "--admin", d.admin_argument()});
  INFO(table.out << table.err);
  CHECK(table.exit_code == 0);
  std::istringstream lines(table.out);
  std::string header;
  std::string row;
  std::getline(lines, header);
  std::getline(lines, row);
  CHECK(header.starts_with("ID  STATE"));
  CHECK(row.find(to_string(peer.local_endpoint())) != std::string::npos);
  CHECK(row.find(source_of(client)) != std::string::npos);
  CHECK(row.find("relaying") != std::string::npos);
  CHECK(lines.peek() == std::char_traits<char>::eof());

  auto listed = run_detourd({"connections", "--admin", d.admin_argument(), "--json"});
  CHECK(listed.exit_code == 0);
  auto parsed = json::parse(listed.out);
  REQUIRE(parsed.at("connections").as_array().size() == 1);
  CHECK(parsed.at("connections").as_array()[0].at("original_dst").as_string() == to_string(peer.local_endpoint()));
}
