#include "detour/config/config.hpp"

#include "config_error_of.hpp"

#include <catch2/catch.hpp>

using detour::access_log_config;
using detour::parse_config;
using target = detour::access_log_config::target;

TEST_CASE("access_log.path is off, stdout or an absolute file", "[config]") {
  CHECK(parse_config("", "t.yaml").access_log.to == target::off);
  CHECK(parse_config("access_log: {path: off}\n", "t.yaml").access_log.to == target::off);
  CHECK(parse_config("access_log: {}\n", "t.yaml").access_log.to == target::off);
  CHECK(parse_config("access_log: {path: stdout}\n", "t.yaml").access_log.to == target::standard_output);
  auto file = parse_config("access_log:\n  path: /var/log/detour/access.log\n", "t.yaml").access_log;
  CHECK(file.to == target::file);
  CHECK(file.path == "/var/log/detour/access.log");
}

TEST_CASE("a bad access_log section names file, line, column and key", "[config]") {
  using detour::test::config_error_of;
  CHECK(config_error_of("access_log:\n  path: access.log\n", "d.yaml") ==
        "d.yaml:2:9: access_log.path: expected stdout, off or an absolute file path, got \"access.log\"");
  CHECK(config_error_of("access_log: {path: /tmp/a, format: json}\n", "d.yaml") ==
        "d.yaml:1:28: access_log.format: unknown key (known: path)");
  CHECK(config_error_of("access_log: stdout\n", "d.yaml") ==
        "d.yaml:1:13: access_log: expected a mapping of keys to values");
}
