// The access log against the real detourd: one JSON line per connection, whichever way it ended,
// matched one to one with the connections the test made; and the file reopened on SIGUSR1.
#include "support/deadline.hpp"
#include "support/detourd_process.hpp"
#include "support/held_socks5_server.hpp"
#include "support/netns.hpp"
#include "support/nft.hpp"
#include "support/tcp.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

using namespace detour::test;
namespace json = boost::json;

namespace {

std::string contents(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every line of the access log, parsed, by the client's source port; fails on a line that is not
// a JSON object or a port that appears twice.
std::map<std::uint16_t, json::object> entries_by_source_port(const std::filesystem::path& file) {
  std::map<std::uint16_t, json::object> entries;
  std::istringstream lines(contents(file));
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    auto entry = json::parse(line).as_object();
    auto source = std::string(entry.at("source").as_string());
    auto port = static_cast<std::uint16_t>(std::stoul(source.substr(source.rfind(':') + 1)));
    REQUIRE(entries.emplace(port, std::move(entry)).second);
  }
  return entries;
}

// What the test expects of one connection's line.
struct expected_entry {
  std::uint16_t source_port;
  const char* result;
  const char* reason;
  std::uint64_t bytes_up;
  std::uint64_t bytes_down;
  json::value route;   // null before routing
  json::value action;  // null before routing
};

std::uint16_t port_of(const socket_fd& client) { return local_endpoint_of(client.get()).port(); }

}  // namespace

TEST_CASE("the access log has one JSON line per connection, whichever way it ended", "[access_log]") {
  enter_new_netns();
  auto port = free_port();
  for (const char* address : {"10.77.0.2/32", "10.77.1.2/32"}) add_local_address(address);
  redirect_output(port);
  // detourd's direct connects to 10.77.1.2 (the "blackhole" route) get no answer.
  blackhole_upstream("10.77.1.2");
  held_socks5_server early(at("127.0.0.1", 0));
  held_socks5_server stalled(at("127.0.0.1", 0));
  echo_server upstream(at("10.77.0.2", 0));
  resetting_server resetting(at("10.77.0.2", 0));
  const auto closed_port = free_port();
  temp_dir dir;
  const auto log_file = dir.path() / "access.log";
  detourd_process detourd(test_config(port, "direct",
                                      fmt::format(R"(connect_timeout: 1s
idle_timeout: 1s
drain_timeout: 200ms
access_log: {{path: {}}}
upstreams:
  held: {{kind: socks5, address: "127.0.0.1:{}", connect_timeout: 30s}}
  stalled: {{kind: socks5, address: "127.0.0.1:{}", connect_timeout: 30s}}
routes:
  - {{destinations: [10.77.1.2/32], ports: [81], action: reject}}
  - {{destinations: [10.77.1.2/32], ports: [82], action: echo}}
  - {{name: json, destinations: [10.77.1.2/32], ports: [85], action: {{echo: json}}}}
  - {{destinations: [10.77.1.2/32], ports: [83], action: {{upstream: held}}}}
  - {{destinations: [10.77.1.2/32], ports: [87], action: {{upstream: stalled}}}}
  - {{name: blackhole, destinations: [10.77.1.2/32], ports: [86], action: direct}}
)",
                                                  log_file.string(), early.port(), stalled.port())));

  std::vector<expected_entry> made;
  auto quick = [&](const endpoint& to, const char* result, const char* reason, json::value route, json::value action) {
    made.push_back({connect_and_read(to).client.port(), result, reason, 0, 0, std::move(route), std::move(action)});
  };
  quick(at("127.0.0.1", port), "refused", "not redirected", nullptr, nullptr);
  quick(at("10.77.0.2", port), "refused", "loop", nullptr, nullptr);
  quick(at("10.77.1.2", 81), "rejected", "rejected", "route 1", "reject");
  quick(at("10.77.1.2", 82), "echoed", "echoed", "route 2", "echo");
  quick(at("10.77.1.2", 85), "echoed", "echoed", "json", "echo");
  quick(at("10.77.0.2", closed_port), "connect_failed", "Connection refused", "default", "direct");
  quick(at("10.77.1.2", 86), "connect_failed", "connect timeout", "blackhole", "direct");
  {
    auto client = connect_to(upstream.local_endpoint());
    send_all(client.get(), "relayed");
    shutdown_write(client.get());
    CHECK(read_until_eof(client.get()).bytes == "relayed");
    made.push_back({port_of(client), "relayed", "eof", 7, 7, "default", "direct"});
  }
  {
    auto client = connect_and_echo(upstream.local_endpoint(), "ping");
    made.push_back({port_of(client), "relayed", "client reset", 4, 4, "default", "direct"});
    reset_connection(client);
  }
  {
    auto client = connect_to(resetting.local_endpoint());
    send_all(client.get(), "x");
    CHECK(read_until_eof(client.get()).end == stream_end::reset);
    made.push_back({port_of(client), "relayed", "upstream reset", 1, 0, "default", "direct"});
  }
  {
    auto client = connect_and_echo(upstream.local_endpoint(), "idle");
    // idle_timeout is 1s: detourd resets both sides.
    CHECK(read_until_eof(client.get(), 10s).end == stream_end::reset);
    made.push_back({port_of(client), "relayed", "idle timeout", 4, 4, "default", "direct"});
  }
  {
    auto client = connect_to(at("10.77.1.2", 83));
    made.push_back({port_of(client), "relayed", "client error", 0, 0, "route 4", "upstream"});
    REQUIRE(early.wait_for_greeting());
    reset_connection(client);
    early.answer();
    CHECK(detourd.wait_for_log("failed before relaying"));
  }
  auto waiting = connect_to(at("10.77.1.2", 87));
  made.push_back({port_of(waiting), "connect_failed", "shutdown", 0, 0, "route 5", "upstream"});
  REQUIRE(stalled.wait_for_greeting());
  REQUIRE(detourd.stop() == 0);

  auto entries = entries_by_source_port(log_file);
  INFO(contents(log_file));
  CHECK(entries.size() == made.size());
  for (const auto& m : made) {
    INFO("source port " << m.source_port << ", " << m.result << ": " << m.reason);
    REQUIRE(entries.contains(m.source_port));
    const auto& e = entries.at(m.source_port);
    CHECK(e.at("result") == m.result);
    CHECK(e.at("reason") == m.reason);
    CHECK(e.at("bytes_up") == m.bytes_up);
    CHECK(e.at("bytes_down") == m.bytes_down);
    CHECK(e.at("route") == m.route);
    CHECK(e.at("action") == m.action);
    CHECK(e.at("duration_ms").as_double() >= 0.0);
    // Connected: the relayed ones; a failed connect and what never connected have null.
    CHECK(e.at("connect_ms").is_null() == (std::string_view(m.result) != "relayed"));
  }
  const auto& early_entry = entries.at(made[made.size() - 2].source_port);
  CHECK(early_entry.at("upstream") ==
        json::object{{"name", "held"}, {"server", fmt::format("127.0.0.1:{}", early.port())}});
  CHECK(entries.at(made.back().source_port).at("upstream").at("name") == "stalled");
  CHECK(entries.at(made[0].source_port).at("original_dst") == json::value(fmt::format("127.0.0.1:{}", port)));
  CHECK(entries.at(made[7].source_port).at("original_dst") ==
        json::value(fmt::format("10.77.0.2:{}", upstream.port())));
  CHECK(entries.at(made[7].source_port).at("upstream").is_null());
}

TEST_CASE("SIGUSR1 reopens the access log: after a rename, new lines go to a new file", "[access_log]") {
  auto port = enter_redirected_netns();
  echo_server upstream(at("10.77.0.2", 0));
  temp_dir dir;
  const auto log_file = dir.path() / "access.log";
  const auto rotated = dir.path() / "access.log.1";
  detourd_process detourd(test_config(port, "direct", fmt::format("access_log: {{path: {}}}\n", log_file.string())));

  auto before = port_of(connect_and_echo(upstream.local_endpoint(), "before"));
  // The line is written within the batch interval (100 ms); only the file can tell when.
  REQUIRE(poll_until([&] { return entries_by_source_port(log_file).contains(before); }, 10s));
  std::filesystem::rename(log_file, rotated);
  detourd.send_signal(SIGUSR1);
  REQUIRE(detourd.wait_for_log("detourd: SIGUSR1: reopened access log " + log_file.string()));
  auto after = port_of(connect_and_echo(upstream.local_endpoint(), "after"));
  REQUIRE(detourd.stop() == 0);

  auto old_entries = entries_by_source_port(rotated);
  auto new_entries = entries_by_source_port(log_file);
  CHECK(old_entries.size() == 1);
  CHECK(old_entries.contains(before));
  CHECK(new_entries.size() == 1);
  CHECK(new_entries.contains(after));
}

TEST_CASE("an access log path detourd cannot open stops it at startup, naming the path", "[access_log]") {
  auto port = enter_redirected_netns();
  temp_dir dir;
  auto config = dir.write("detour.yaml", test_config(port, "direct", "access_log: {path: /nonexistent/access.log}\n"));
  auto run = run_detourd({"run", "-c", config.string()});
  CHECK(run.exit_code == 1);
  CHECK(run.err ==
        "detourd: access log /nonexistent/access.log: cannot open for appending: No such file or "
        "directory\n");
}
