#include "detour/proxy/access_log_entry.hpp"

#include "detour/config/config.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using detour::proxy::outcome;
using detour::proxy::session_record;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

boost::asio::ip::tcp::endpoint ep(const char* address, std::uint16_t port) {
  return {boost::asio::ip::make_address(address), port};
}

// Routes 1 to 4 by destination port: 81 reject, 82 echo json, 83 upstream corp, 84 direct
// (named "web"); everything else the default, echo.
detour::proxy::snapshot_ptr test_snapshot() {
  return detour::proxy::make_snapshot(detour::parse_config(R"(
upstreams:
  corp: {kind: socks5, servers: ["10.1.0.5:1080", "[fd00::5]:1080"]}
routes:
  - {ports: [81], action: reject}
  - {ports: [82], action: {echo: json}}
  - {ports: [83], action: {upstream: corp}}
  - {name: web, ports: [84], action: direct}
  - default: echo
)",
                                                           "t.yaml"));
}

// A record as a session that reached routing has it: source, local, original destination,
// decision, started 250 ms ago.
session_record routed(std::uint16_t port) {
  session_record r;
  r.id = 42;
  r.start = session_record::clock::now() - 250ms;
  r.snapshot = test_snapshot();
  r.source = ep("10.0.0.5", 51234);
  r.local = ep("127.0.0.1", 15001);
  r.original = ep("93.184.216.34", port);
  r.decision = r.snapshot->router.decide({r.source, *r.original});
  return r;
}

// 2026-12-02T01:02:03.456Z
const auto end_time = std::chrono::sys_days{std::chrono::year{2026} / 12 / 2} + 1h + 2min + 3s + 456ms;

json::object entry_of(const session_record& r, outcome how) {
  std::string line = "before\n";
  detour::proxy::append_access_log_entry(line, r, how, end_time);
  REQUIRE(line.starts_with("before\n"));
  REQUIRE(line.ends_with("}\n"));
  line.erase(0, 7);
  // One line: nothing in it may end it early.
  REQUIRE(line.find('\n') == line.size() - 1);
  return json::parse(line).as_object();
}

std::vector<std::string> keys_of(const json::object& o) {
  std::vector<std::string> keys;
  for (const auto& field : o) keys.emplace_back(field.key());
  return keys;
}

}  // namespace

TEST_CASE("an access log entry has every field, in order, for a relayed upstream connection", "[proxy][access_log]") {
  auto r = routed(83);
  r.server = ep("fd00::5", 1080);
  r.connected = r.start + 12ms;
  r.bytes_up = 517;
  r.bytes_down = 4087;
  r.reason = "upstream reset";
  auto e = entry_of(r, outcome::relayed);
  CHECK(keys_of(e) == std::vector<std::string>{"time", "id", "source", "local", "original_dst", "direction",
                                               "server_name", "name_from", "route", "action", "upstream", "result",
                                               "reason", "bytes_up", "bytes_down", "duration_ms", "connect_ms"});
  CHECK(e.at("time") == "2026-12-02T01:02:03.456Z");
  CHECK(e.at("id") == 42);
  CHECK(e.at("source") == "10.0.0.5:51234");
  CHECK(e.at("local") == "127.0.0.1:15001");
  CHECK(e.at("original_dst") == "93.184.216.34:83");
  CHECK(e.at("direction") == "outbound");
  CHECK(e.at("server_name").is_null());
  CHECK(e.at("name_from").is_null());
  CHECK(e.at("route") == "route 3");
  CHECK(e.at("action") == "upstream");
  CHECK(e.at("upstream") == json::object{{"name", "corp"}, {"server", "[fd00::5]:1080"}});
  CHECK(e.at("result") == "relayed");
  CHECK(e.at("reason") == "upstream reset");
  CHECK(e.at("bytes_up") == 517);
  CHECK(e.at("bytes_down") == 4087);
  REQUIRE(e.at("duration_ms").is_double());
  CHECK(e.at("duration_ms").as_double() >= 250.0);
  CHECK(e.at("duration_ms").as_double() < 250.0 + 60'000.0);
  CHECK(e.at("connect_ms").as_double() == Approx(12.0));
}

TEST_CASE("an access log entry's reason and result follow the outcome", "[proxy][access_log]") {
  struct expected {
    std::uint16_t port;
    outcome how;
    const char* reason_text;  // record.reason
    const char* action;
    const char* result;
    const char* reason;
  };
  const expected cases[] = {
      {81, outcome::rejected, "", "reject", "rejected", "rejected"},
      {82, outcome::echoed, "", "echo", "echoed", "echoed"},
      {90, outcome::echoed, "", "echo", "echoed", "echoed"},
      {84, outcome::relayed, "", "direct", "relayed", "eof"},
      {84, outcome::relayed, "idle timeout", "direct", "relayed", "idle timeout"},
      {84, outcome::early_data_failed, "Broken pipe", "direct", "relayed", "client error"},
      {84, outcome::connect_failed, "Connection refused", "direct", "connect_failed", "Connection refused"},
      {83, outcome::connect_failed, "shutdown", "upstream", "connect_failed", "shutdown"},
  };
  for (const auto& c : cases) {
    auto r = routed(c.port);
    r.reason = c.reason_text;
    auto e = entry_of(r, c.how);
    INFO(json::serialize(e));
    CHECK(e.at("action") == c.action);
    CHECK(e.at("result") == c.result);
    CHECK(e.at("reason") == c.reason);
    CHECK(e.at("bytes_up") == 0);
    CHECK(e.at("connect_ms").is_null());
    // Only an upstream route has an upstream; a server only when one answered.
    CHECK(e.at("upstream") ==
          (c.port == 83 ? json::value(json::object{{"name", "corp"}, {"server", nullptr}}) : json::value(nullptr)));
  }
  CHECK(entry_of(routed(84), outcome::relayed).at("route") == "web");
  CHECK(entry_of(routed(90), outcome::echoed).at("route") == "default");
  CHECK(entry_of(routed(82), outcome::echoed).at("route") == "route 2");
}

TEST_CASE("an access log entry before routing has null route, action and upstream", "[proxy][access_log]") {
  session_record r;
  r.id = 7;
  r.snapshot = test_snapshot();
  r.source = ep("2001:db8::5", 40000);
  r.local = ep("::1", 15001);
  SECTION("no original destination") {
    auto e = entry_of(r, outcome::not_redirected);
    CHECK(e.at("source") == "[2001:db8::5]:40000");
    CHECK(e.at("local") == "[::1]:15001");
    CHECK(e.at("original_dst").is_null());
    CHECK(e.at("result") == "refused");
    CHECK(e.at("reason") == "not redirected");
  }
  SECTION("a loop") {
    r.original = ep("fd00::1", 15001);
    auto e = entry_of(r, outcome::loop);
    CHECK(e.at("original_dst") == "[fd00::1]:15001");
    CHECK(e.at("result") == "refused");
    CHECK(e.at("reason") == "loop");
  }
  auto e = entry_of(r, outcome::loop);
  CHECK(e.at("route").is_null());
  CHECK(e.at("action").is_null());
  CHECK(e.at("upstream").is_null());
  CHECK(e.at("connect_ms").is_null());
  CHECK(e.at("id") == 7);
}

TEST_CASE("an access log entry's time is UTC with milliseconds, zero-padded", "[proxy][access_log]") {
  auto r = routed(84);
  std::string line;
  detour::proxy::append_access_log_entry(line, r, outcome::relayed,
                                         std::chrono::sys_days{std::chrono::year{2027} / 1 / 9} + 5ms);
  CHECK(json::parse(line).at("time") == "2027-01-09T00:00:00.005Z");
}

TEST_CASE("an access log entry has the direction and the sniffed name with where it came from", "[proxy][access_log]") {
  auto r = routed(84);
  r.direction = detour::traffic_direction::inbound;
  r.server_name = "www.example.com";
  r.name_from = detour::proxy::name_origin::tls_ech_outer;
  auto e = entry_of(r, outcome::relayed);
  CHECK(e.at("direction") == "inbound");
  CHECK(e.at("server_name") == "www.example.com");
  CHECK(e.at("name_from") == "sni_ech_outer");
}
