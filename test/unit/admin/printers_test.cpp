#include "detour/admin/printers.hpp"

#include <catch2/catch.hpp>

#include <sstream>

namespace {

constexpr const char* stats_json = R"({"version":"0.1.0","uptime_seconds":12.3,"ready":true,"mode":"direct",
 "port":15001,"workers":2,"rules":{"table":"detour","installed":true},
 "connections":{"accepted":100,"active":3},"bytes":{"up":1234,"down":5678},
 "results":{"relayed":90,"refused":5,"rejected":1,"echoed":2,"connect_failed":2},
 "routes":[{"name":"corp","action":"upstream corp","active":1,"closed":12,"bytes_up":100,"bytes_down":200},
           {"name":"default","action":"direct","active":2,"closed":80,"bytes_up":1134,"bytes_down":5478}]})";

constexpr const char* connections_json = R"({"connections":[
 {"id":17,"state":"relaying","source":"10.0.0.2:40000","local":"10.0.0.1:15001","original_dst":"10.0.0.3:80",
  "direction":"outbound","server_name":"www.example.com","name_from":"sni","route":"corp","action":"upstream","upstream":"corp","server":"10.0.0.1:1080","bytes_up":10,"bytes_down":2048,
  "age_seconds":125.5,"idle_seconds":0.25},
 {"id":1234567,"state":"connecting","source":"[2001:db8::2]:50000","local":"[2001:db8::1]:15001",
  "original_dst":"[2001:db8::3]:443","direction":"inbound","server_name":null,"name_from":null,"route":"route 2","action":"direct","upstream":null,"server":null,
  "bytes_up":0,"bytes_down":0,"age_seconds":7384,"idle_seconds":7384}]})";

std::string status_of(const std::string& json) {
  std::ostringstream out;
  detour::admin::print_status(boost::json::parse(json).as_object(), out);
  return out.str();
}

std::string table_of(const std::string& json) {
  std::ostringstream out;
  detour::admin::print_connections(boost::json::parse(json).as_object(), out);
  return out.str();
}

}  // namespace

TEST_CASE("the status summary shows uptime, counts, bytes, results and one aligned line per route", "[admin]") {
  CHECK(status_of(stats_json) ==
        "detourd 0.1.0, up 12.3s, ready\n"
        "mode direct, port 15001, 2 workers, rules table detour installed\n"
        "connections: 100 accepted, 3 active\n"
        "bytes: 1.2 KiB up, 5.5 KiB down\n"
        "results: relayed 90, refused 5, rejected 1, echoed 2, connect_failed 2\n"
        "\n"
        "ROUTE    ACTION         ACTIVE  CLOSED  UP       DOWN\n"
        "corp     upstream corp  1       12      100 B    200 B\n"
        "default  direct         2       80      1.1 KiB  5.3 KiB\n");
}

TEST_CASE("the status summary says when detourd is not ready and its rules are not installed", "[admin]") {
  auto json = boost::json::parse(stats_json).as_object();
  json["ready"] = false;
  json["rules"].as_object()["installed"] = false;
  auto text = status_of(boost::json::serialize(json));
  CHECK(
      text.starts_with("detourd 0.1.0, up 12.3s, not ready\n"
                       "mode direct, port 15001, 2 workers, rules table detour not installed\n"));
}

TEST_CASE("the connections table has one aligned line per connection, a dash for no upstream", "[admin]") {
  CHECK(table_of(connections_json) ==
        "ID       STATE       DIR  SOURCE               ORIGINAL DST       NAME             ROUTE    UPSTREAM  UP    "
        "DOWN   "
        "  AGE    IDLE\n"
        "17       relaying    out  10.0.0.2:40000       10.0.0.3:80        www.example.com  corp     corp      10 B  "
        "2.0 KiB"
        "  2m05s  0.2s\n"
        "1234567  connecting  in   [2001:db8::2]:50000  [2001:db8::3]:443  -                route 2  -         0 B   0 "
        "B    "
        "  2h03m  2h03m\n");
}

TEST_CASE("the connections table of a detourd without direction and name fields shows dashes there", "[admin]") {
  CHECK(table_of(R"({"connections":[{"id":1,"state":"relaying","source":"10.0.0.2:1","original_dst":"10.0.0.3:2",
    "route":"r","upstream":null,"bytes_up":0,"bytes_down":0,"age_seconds":1,"idle_seconds":1}]})") ==
        "ID  STATE     DIR  SOURCE      ORIGINAL DST  NAME  ROUTE  UPSTREAM  UP   DOWN  AGE   IDLE\n"
        "1   relaying  -    10.0.0.2:1  10.0.0.3:2    -     r      -         0 B  0 B   1.0s  1.0s\n");
}

TEST_CASE("the connections table of no connections is its header", "[admin]") {
  CHECK(table_of(R"({"connections":[]})") ==
        "ID  STATE  DIR  SOURCE  ORIGINAL DST  NAME  ROUTE  UPSTREAM  UP  DOWN  AGE  IDLE\n");
}

TEST_CASE("the printers refuse JSON without the fields they show", "[admin]") {
  CHECK_THROWS(table_of(R"({"connections":[{"id":1}]})"));
  CHECK_THROWS(status_of(R"({"version":"0.1.0"})"));
  CHECK_THROWS(table_of(R"({"list":[]})"));
}

TEST_CASE("byte counts and durations are written in the units that fit", "[admin]") {
  using detour::admin::human_bytes;
  using detour::admin::human_duration;
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(3.0 * 1024 * 1024 * 1024) == "3.0 GiB");
  CHECK(human_duration(4.25) == "4.2s");
  CHECK(human_duration(59.94) == "59.9s");
  CHECK(human_duration(125) == "2m05s");
  CHECK(human_duration(7384) == "2h03m");
  CHECK(human_duration(90000) == "1d01h");
}
