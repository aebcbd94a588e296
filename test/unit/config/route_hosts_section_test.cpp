#include "detour/config/config.hpp"
#include "detour/config/config_yaml.hpp"

#include "config_error_of.hpp"
#include "support/temp_dir.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

using detour::parse_config;
using detour::traffic_direction;
using detour::net::host_pattern;
using kind = detour::net::host_pattern::kind;

namespace {

detour::config parse(const std::string& text) { return parse_config(text, "t.yaml"); }

std::string error_of(const std::string& yaml) { return detour::test::config_error_of(yaml, "t.yaml"); }

}  // namespace

TEST_CASE("routes read host patterns and a direction", "[config]") {
  auto c = parse(R"(
routes:
  - hosts: [Example.COM., "*.corp.example", "keyword:Tracker"]
    action: reject
  - direction: inbound
    action: direct
  - direction: outbound
    ports: [80]
    action: echo
)");
  REQUIRE(c.routes.size() == 3);
  CHECK(c.routes[0].hosts == std::vector<host_pattern>{{kind::exact, "example.com"},
                                                       {kind::suffix, "corp.example"},
                                                       {kind::keyword, "tracker"}});
  CHECK_FALSE(c.routes[0].direction);
  CHECK(c.routes[1].direction == traffic_direction::inbound);
  CHECK(c.routes[2].direction == traffic_direction::outbound);
  CHECK(to_string(traffic_direction::inbound) == "inbound");
  CHECK(to_string(traffic_direction::outbound) == "outbound");
}

TEST_CASE("a bad host pattern or direction is refused with its place, key and value", "[config]") {
  CHECK(error_of("routes:\n  - hosts: [a.example, \"*.\"]\n    action: reject\n") ==
        "t.yaml:2:24: routes[0].hosts[1]: \"*.\": not a host pattern (nothing after \"*.\")");
  CHECK(error_of("routes:\n  - ports: [1]\n    action: direct\n  - hosts:\n      - ok.example\n      - a..b\n"
                 "    action: reject\n") ==
        "t.yaml:6:9: routes[1].hosts[1]: \"a..b\": not a host pattern (an empty label)");
  CHECK(
      error_of("routes:\n  - hosts: []\n    action: reject\n") ==
      "t.yaml:2:12: routes[0].hosts: is empty; leave it out to match every connection, with a server name or without");
  CHECK(error_of("routes:\n  - hosts: [[a]]\n    action: reject\n") ==
        "t.yaml:2:13: routes[0].hosts[0]: expected a string");
  CHECK(error_of("routes:\n  - direction: both\n    action: reject\n") ==
        "t.yaml:2:16: routes[0].direction: expected inbound or outbound, got \"both\"");
  CHECK(error_of("routes:\n  - name: x\n    action: reject\n") ==
        "t.yaml:2:5: routes[0]: needs at least one of destinations, destinations_file, ports, sources, hosts, "
        "hosts_file, direction (a catch-all is default:)");
}

TEST_CASE("hosts_file and destinations_file are read a line each, with comments and blank lines", "[config]") {
  detour::test::temp_dir dir;
  auto hosts = dir.write("hosts.txt",
                         "# ads\n"
                         "ads.example\n"
                         "\n"
                         "  *.Tracker.Example.   # and all below it\r\n"
                         "\t keyword:beacon\n"
                         "   \n"
                         "# the last line has no newline\n"
                         "last.example");
  auto nets = dir.write("nets.txt", "# corporate ranges\n10.0.0.0/8\n\n2001:db8::/32 # lab\n192.0.2.7\n");
  auto c = parse(fmt::format(R"(
routes:
  - hosts: [inline.example]
    hosts_file: {}
    action: reject
  - destinations: [198.51.100.0/24]
    destinations_file: {}
    action: direct
)",
                             hosts.string(), nets.string()));
  REQUIRE(c.routes.size() == 2);
  const auto& h = c.routes[0];
  CHECK(h.hosts == std::vector<host_pattern>{{kind::exact, "inline.example"}});
  CHECK(h.hosts_file.path == hosts.string());
  CHECK(h.hosts_file.entries == std::vector<host_pattern>{{kind::exact, "ads.example"},
                                                          {kind::suffix, "tracker.example"},
                                                          {kind::keyword, "beacon"},
                                                          {kind::exact, "last.example"}});
  const auto& d = c.routes[1];
  CHECK(d.destinations.size() == 1);
  CHECK(d.destinations_file.path == nets.string());
  REQUIRE(d.destinations_file.entries.size() == 3);
  CHECK(d.destinations_file.entries[0].to_string() == "10.0.0.0/8");
  CHECK(d.destinations_file.entries[1].to_string() == "2001:db8::/32");
  CHECK(d.destinations_file.entries[2].to_string() == "192.0.2.7/32");

  SECTION("a list file alone is a condition") {
    auto only =
        parse(fmt::format("routes:\n  - hosts_file: {}\n    action: reject\n  - destinations_file: {}\n"
                          "    action: direct\n",
                          hosts.string(), nets.string()));
    CHECK(only.routes.size() == 2);
  }
}

TEST_CASE("a bad list file is refused with its line and the place of its key", "[config]") {
  detour::test::temp_dir dir;
  const auto hosts = dir.write("hosts.txt", "# list\nok.example\n\nbad..example\n").string();
  CHECK(error_of("routes:\n  - hosts_file: " + hosts + "\n    action: reject\n") ==
        "t.yaml:2:17: routes[0].hosts_file: " + hosts + ":4: \"bad..example\": not a host pattern (an empty label)");

  const auto nets = dir.write("nets.txt", "10.0.0.0/8\n10.0.0.0/33 # typo\n").string();
  CHECK(error_of("routes:\n  - destinations_file: " + nets + "\n    action: reject\n") ==
        "t.yaml:2:24: routes[0].destinations_file: " + nets +
            ":2: \"10.0.0.0/33\": \"33\" is not a prefix length from 0 to 32");

  const auto empty = dir.write("empty.txt", "# nothing yet\n\n").string();
  CHECK(error_of("routes:\n  - hosts_file: " + empty + "\n    action: reject\n") ==
        "t.yaml:2:17: routes[0].hosts_file: " + empty + ": no host patterns in it (only comments and blank lines)");
  CHECK(error_of("routes:\n  - destinations_file: " + empty + "\n    action: reject\n") ==
        "t.yaml:2:24: routes[0].destinations_file: " + empty +
            ": no address prefixes in it (only comments and blank lines)");

  const auto missing = (dir.path() / "missing.txt").string();
  CHECK(error_of("routes:\n  - hosts_file: " + missing + "\n    action: reject\n") ==
        "t.yaml:2:17: routes[0].hosts_file: " + missing + ": cannot open: No such file or directory");
  CHECK(error_of("routes:\n  - hosts_file: " + dir.path().string() + "\n    action: reject\n") ==
        "t.yaml:2:17: routes[0].hosts_file: " + dir.path().string() + ": cannot read: Is a directory");
  if (::geteuid() != 0) {  // root reads a file of mode 0 all the same
    ::chmod(hosts.c_str(), 0);
    CHECK(error_of("routes:\n  - hosts_file: " + hosts + "\n    action: reject\n") ==
          "t.yaml:2:17: routes[0].hosts_file: " + hosts + ": cannot open: Permission denied");
  }

  CHECK(error_of("routes:\n  - hosts_file: lists/ads.txt\n    action: reject\n") ==
        "t.yaml:2:17: routes[0].hosts_file: \"lists/ads.txt\" is not an absolute path");
  CHECK(error_of("routes:\n  - destinations_file: \"\"\n    action: reject\n") ==
        "t.yaml:2:24: routes[0].destinations_file: \"\" is not an absolute path");
}

TEST_CASE("a list file as long as a real domain list loads", "[config]") {
  detour::test::temp_dir dir;
  std::string text;
  for (int i = 0; i < 300'000; ++i) text += fmt::format("{}host{}.example.com\n", i % 2 == 0 ? "*." : "", i);
  const auto hosts = dir.write("hosts.txt", text).string();
  auto c = parse("routes:\n  - hosts_file: " + hosts + "\n    action: reject\n");
  REQUIRE(c.routes.at(0).hosts_file.entries.size() == 300'000);
  CHECK(c.routes[0].hosts_file.entries.back() == host_pattern{kind::exact, "host299999.example.com"});
}

TEST_CASE("the config YAML keeps host patterns, directions and list files by their path", "[config]") {
  detour::test::temp_dir dir;
  const auto hosts = dir.write("hosts.txt", "a.example\n*.b.example\nkeyword:c\n").string();
  const auto nets = dir.write("nets.txt", "10.0.0.0/8\n2001:db8::/32\n").string();
  auto original = parse(fmt::format(R"(
upstreams:
  corp: {{kind: socks5, address: "10.1.0.5:1080"}}
routes:
  - name: names
    hosts: [Inline.Example, "*.corp.example", "keyword:tracker"]
    hosts_file: {}
    direction: outbound
    action: {{upstream: corp}}
  - destinations: [192.0.2.0/24]
    destinations_file: {}
    direction: inbound
    ports: [443]
    action: direct
  - default: reject
)",
                                    hosts, nets));
  auto text = detour::to_yaml(original);
  INFO(text);
  CHECK(text.find("hosts_file: " + hosts) != std::string::npos);
  CHECK(text.find("destinations_file: " + nets) != std::string::npos);
  CHECK(text.find("direction: inbound") != std::string::npos);
  // The file's entries are not written out: reading the YAML back reads the file.
  CHECK(text.find("b.example") == std::string::npos);
  CHECK(text.find("2001:db8::/32") == std::string::npos);
  CHECK(parse_config(text, "to_yaml") == original);
}
