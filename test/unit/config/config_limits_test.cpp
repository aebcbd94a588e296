// Hostile and oversized configs are refused with a message naming the limit, before they cost
// unbounded stack, memory or time; configs at the limits still load.
#include "detour/config/config_limits.hpp"
#include "detour/config/bounded_file.hpp"
#include "detour/config/config.hpp"

#include "config_error_of.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace limits = detour::config_limits;
using detour::parse_config;

namespace {

std::string error_of(const std::string& yaml) { return detour::test::config_error_of(yaml, "t.yaml"); }

std::string repeat(std::string_view piece, std::size_t times) {
  std::string out;
  out.reserve(piece.size() * times);
  for (std::size_t i = 0; i < times; ++i) out += piece;
  return out;
}

// `x:` holding `depth` block mappings in all (x's own included).
std::string block_maps(std::size_t depth) {
  std::string out;
  for (std::size_t i = 0; i < depth; ++i) out += std::string(i, ' ') + "x:\n";
  return out;
}

// A top-level x: holding `entries` flow list elements.
std::string flow_list(std::size_t entries, std::string_view element = "1") {
  std::string out = "x: [";
  out.reserve(entries * (element.size() + 1) + 8);
  for (std::size_t i = 0; i < entries; ++i) {
    if (i != 0) out += ',';
    out += element;
  }
  return out + "]\n";
}

const std::string corp_http = "upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:1\n    username: a\n";
const std::string corp_socks = "upstreams:\n  corp:\n    kind: socks5\n    address: 10.0.0.1:1\n    username: a\n";

}  // namespace

TEST_CASE("a document nested deeper than the limit is refused, naming the limit", "[config]") {
  const std::string too_deep = "YAML: nested too deep (limit 64)";
  SECTION("block mappings") {
    // The 65th mapping starts at line 65, indented 64.
    CHECK(error_of(block_maps(65) + std::string(65, ' ') + "x: 1\n") == "t.yaml:65:65: " + too_deep);
    CHECK(error_of(block_maps(5000)) == "t.yaml:65:65: " + too_deep);
  }
  SECTION("block sequences") {
    std::string doc;
    for (std::size_t i = 0; i < 3000; ++i) doc += std::string(2 * i, ' ') + "-\n";
    CHECK(error_of(doc) == "t.yaml:65:129: " + too_deep);
  }
  SECTION("flow sequences inside the top-level mapping") {
    // The mapping is the first level, so the 64th [ is the 65th: column 4 + 63.
    CHECK(error_of("x: " + repeat("[", 64) + repeat("]", 64) + "\n") == "t.yaml:1:67: " + too_deep);
  }
  SECTION("flow collections nested thousands deep, closed or not, are refused before yaml-cpp reads them") {
    // The 65th [ or { is at column 65.
    CHECK(error_of(repeat("[", 100'000) + repeat("]", 100'000)) == "t.yaml:1:65: " + too_deep);
    CHECK(error_of(repeat("{a: [", 1'000'000)) == "t.yaml:1:161: " + too_deep);
    CHECK(error_of(repeat("[", 8u << 20)) == "t.yaml:1:65: " + too_deep);
  }
  SECTION("an alias whose node would end deeper than the limit") {
    // 63 levels under the top mapping fit where they are written, not under b's list.
    const std::string deep = "a: &deep " + repeat("[", 63) + repeat("]", 63) + "\nb: [*deep]\n";
    CHECK(error_of(deep) == "t.yaml:2:5: " + too_deep);
  }
  SECTION("at the limit, the document reaches the config reader") {
    CHECK_THAT(error_of("x: " + repeat("[", 63) + repeat("]", 63) + "\n"),
               Catch::StartsWith("t.yaml:1:1: x: unknown key (known: mode,"));
    CHECK_THAT(error_of(block_maps(64)), Catch::StartsWith("t.yaml:1:1: x: unknown key (known: mode,"));
  }
}

TEST_CASE("a document of more nodes than the limit is refused, an alias counting what it names", "[config]") {
  const std::string too_many = "YAML: too many nodes (limit 2000000; an alias counts the nodes it names)";
  SECTION("a flat list") {
    // The top mapping, x and the list are 3 nodes, so element 1999998 (0-based) is one too many,
    // at column 5 + 2 * 1999997.
    CHECK(error_of(flow_list(limits::yaml_nodes)) == "t.yaml:1:3999999: " + too_many);
    CHECK(error_of(flow_list(30'000'000)) == "t.yaml:1:3999999: " + too_many);
  }
  SECTION("an alias bomb") {
    // a0 names 11 nodes, a1 111, ... a5 1111111: with a6's first alias the count passes 2M.
    std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i <= 8; ++i) {
      bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
      for (int j = 0; j < 10; ++j) bomb += (j ? ", *a" : "*a") + std::to_string(i - 1);
      bomb += "]\n";
    }
    CHECK(error_of(bomb) == "t.yaml:7:10: " + too_many);
  }
  SECTION("an alias inside the node it names") {
    CHECK(error_of("a: &loop [1, *loop]\n") == "t.yaml:1:14: YAML: alias *loop is inside the node it names");
  }
  SECTION("at the limit, the document reaches the config reader") {
    CHECK_THAT(error_of(flow_list(limits::yaml_nodes - 3)), Catch::StartsWith("t.yaml:1:1: x: unknown key"));
  }
}

TEST_CASE("a flow collection yaml-cpp would read ahead is bounded in bytes", "[config]") {
  const std::string over =
      "YAML: [...] or {...} longer than 1048576 bytes (the limit) where a mapping key could be; "
      "only one that follows `key:` is read as it goes, so write `key: [...]` or a block list";
  SECTION("one inside another") {
    CHECK(error_of("x: [" + flow_list(100'000, "1000000000").substr(3) + "]") == "t.yaml:1:5: " + over);
  }
  SECTION("one as a block list element") {
    CHECK(error_of("- " + flow_list(100'000, "1000000000").substr(3)) == "t.yaml:1:3: " + over);
  }
  SECTION("the document itself") {
    CHECK(error_of(flow_list(100'000, "1000000000").substr(3)) == "t.yaml:1:1: " + over);
  }
  SECTION("one on the line after its key") {
    CHECK(error_of("x:\n  " + flow_list(100'000, "1000000000").substr(3)) == "t.yaml:2:3: " + over);
  }
  SECTION("quoted scalars and comments do not open or close collections") {
    CHECK(error_of("- [\"]\", '[', ']''', # ]\n  " + flow_list(100'000, "1000000000").substr(3) + "]") ==
          "t.yaml:1:3: " + over);
  }
  SECTION("one after key: is read as it goes, however long, up to the node limit") {
    CHECK_THAT(error_of(flow_list(100'000, "1000000000")), Catch::StartsWith("t.yaml:1:1: x: unknown key"));
    CHECK_THAT(error_of("x: {a: " + flow_list(100'000, "1000000000").substr(3) + "}"),
               Catch::StartsWith("t.yaml:1:1: x: unknown key"));
    CHECK_THAT(error_of("x: &list " + flow_list(100'000, "1000000000").substr(3)),
               Catch::StartsWith("t.yaml:1:1: x: unknown key"));
  }
  SECTION("brackets in block scalars and plain scalars are text") {
    CHECK(error_of("mode: |\n  " + repeat("[", 100) + "\nport: a[b\n") ==
          "t.yaml:1:7: mode: expected direct, echo or reject, got \"" + repeat("[", 100) + "\n\"");
  }
}

TEST_CASE("a scalar longer than the limit is refused with its key path", "[config]") {
  const std::string long_value(limits::string_bytes + 1, 'a');
  CHECK(error_of("mode: " + long_value + "\n") == "t.yaml:1:7: mode: 4097 bytes, over the limit of 4096");
  CHECK(error_of("routes:\n  - destinations: [10.0.0.0/8, \"" + long_value + "\"]\n") ==
        "t.yaml:2:32: routes[0].destinations[1]: 4097 bytes, over the limit of 4096");
  // yaml-cpp refuses an implicit key over 1024 bytes itself; an explicit one (? KEY) has no bound.
  CHECK(error_of("intercept:\n  ? " + long_value + "\n  : 1\n") ==
        "t.yaml:2:5: intercept: a key of 4097 bytes, over the limit of 4096");
  CHECK(error_of("? " + long_value + "\n: 1\n") ==
        "t.yaml:1:3: (top level): a key of 4097 bytes, over the limit of 4096");
  // One far over the limit is refused before yaml-cpp spends seconds scanning it, plain, quoted or
  // as a block scalar.
  const std::string huge(limits::lookahead_bytes + 1, 'a');
  const std::string early = "YAML: a scalar longer than 1048576 bytes; the limit is 4096";
  CHECK(error_of("mode: " + huge + "\n") == "t.yaml:1:7: " + early);
  CHECK(error_of("mode: \"a " + huge + "\"\n") == "t.yaml:1:7: " + early);
  CHECK(error_of("mode: |\n" + repeat("  aaaa aaaa\n", 100'000)) == "t.yaml:1:7: " + early);
  CHECK(error_of("mode: &" + huge + " echo\n") == "t.yaml:1:7: " + early);
  CHECK(error_of("mode: " + repeat("aaaa ", 300'000) + "\n") == "t.yaml:1:7: " + early);
  CHECK(error_of("x: [" + repeat("aaaa ", 300'000) + "]\n") == "t.yaml:1:5: " + early);
  CHECK(error_of("mode: echo # " + huge + "\n") == "t.yaml:1:12: YAML: a comment longer than 1048576 bytes");
  // At the limit, the reader has its say.
  CHECK(error_of("mode: " + std::string(limits::string_bytes, 'a') + "\n") ==
        "t.yaml:1:7: mode: expected direct, echo or reject, got \"" + std::string(limits::string_bytes, 'a') + "\"");
}

TEST_CASE("each kind of string is bounded by its own limit", "[config]") {
  SECTION("names") {
    CHECK(error_of("routes:\n  - name: " + std::string(65, 'r') + "\n    ports: [1]\n    action: direct\n") ==
          "t.yaml:2:11: routes[0].name: must be 1 to 64 characters");
    CHECK(
        parse_config("routes:\n  - name: " + std::string(64, 'r') + "\n    ports: [1]\n    action: direct\n", "t.yaml")
            .routes.at(0)
            .name.size() == 64);
    CHECK(error_of("upstreams:\n  " + std::string(65, 'u') + ":\n    kind: http\n    address: 10.0.0.1:1\n") ==
          "t.yaml:2:3: upstreams: \"" + std::string(65, 'u') +
              "\" is not a valid upstream name (letters, digits, _, - or ., at most 64)");
    CHECK(
        parse_config("upstreams:\n  " + std::string(64, 'u') + ":\n    kind: http\n    address: 10.0.0.1:1\n", "t.yaml")
            .upstreams.at(0)
            .name.size() == 64);
    CHECK_THAT(error_of("intercept:\n  table: " + std::string(65, 't') + "\n"),
               Catch::StartsWith("t.yaml:2:10: intercept.table: \"tttt"));
    CHECK(parse_config("intercept:\n  table: " + std::string(64, 't') + "\n", "t.yaml").intercept.table.size() == 64);
  }
  SECTION("interface names") {
    CHECK_THAT(error_of("intercept:\n  inbound:\n    interfaces: [" + std::string(16, 'i') + "]\n"),
               Catch::Contains("is not an interface name (1 to 15 characters"));
    CHECK(parse_config("intercept:\n  inbound:\n    interfaces: [" + std::string(15, 'i') + "]\n", "t.yaml")
              .intercept.inbound.interfaces.at(0)
              .size() == 15);
  }
  SECTION("SOCKS5 credentials") {
    CHECK(error_of(corp_socks + "    password: " + std::string(256, 'p') + "\n") ==
          "t.yaml:6:15: upstreams.corp.password: is 256 bytes long; SOCKS5 allows at most 255");
    CHECK(parse_config(corp_socks + "    password: " + std::string(255, 'p') + "\n", "t.yaml")
              .upstreams.at(0)
              .password.size() == 255);
  }
  SECTION("paths") {
    const std::string too_long = "/" + std::string(limits::path_bytes, 'p');
    CHECK(error_of("access_log:\n  path: " + too_long + "\n") ==
          "t.yaml:2:9: access_log.path: 4096 bytes, over the limit of 4095");
    const std::string fits = "/" + std::string(limits::path_bytes - 1, 'p');
    CHECK(parse_config("access_log:\n  path: " + fits + "\n", "t.yaml").access_log.path == fits);
    CHECK(error_of(corp_http + "    password_file: " + too_long + "\n") ==
          "t.yaml:6:20: upstreams.corp.password_file: 4096 bytes, over the limit of 4095");
  }
  SECTION("a password file") {
    detour::test::temp_dir dir;
    auto big = dir.write("big", std::string(limits::password_file_bytes + 1, 'p'));
    CHECK(error_of(corp_http + "    password_file: " + big.string() + "\n") ==
          "t.yaml:6:20: upstreams.corp.password_file: " + big.string() + ": 4099 bytes, over the limit of 4098");
    auto fits = dir.write("fits", std::string(limits::string_bytes, 'p') + "\r\n");
    CHECK(parse_config(corp_http + "    password_file: " + fits.string() + "\n", "t.yaml").upstreams.at(0).password ==
          std::string(limits::string_bytes, 'p'));
    CHECK(error_of(corp_http + "    password_file: /dev/zero\n") ==
          "t.yaml:6:20: upstreams.corp.password_file: /dev/zero: more than 4098 bytes, over the limit of 4098");
  }
  SECTION("a password from the environment") {
    // Config is read before any thread exists; the variable is this test's own.
    ::setenv("DETOUR_TEST_LONG_PASSWORD", std::string(limits::string_bytes + 1, 'p').c_str(), 1);
    CHECK(error_of(corp_http + "    password_env: DETOUR_TEST_LONG_PASSWORD\n") ==
          "t.yaml:6:19: upstreams.corp.password_env: environment variable DETOUR_TEST_LONG_PASSWORD is 4097 bytes, "
          "over the limit of 4096");
    ::setenv("DETOUR_TEST_LONG_PASSWORD", std::string(limits::string_bytes, 'p').c_str(), 1);
    CHECK(parse_config(corp_http + "    password_env: DETOUR_TEST_LONG_PASSWORD\n", "t.yaml")
              .upstreams.at(0)
              .password.size() == limits::string_bytes);
    ::unsetenv("DETOUR_TEST_LONG_PASSWORD");
  }
}

TEST_CASE("a list of more entries than its limit is refused, naming the limit", "[config]") {
  auto routes = [](std::size_t n) {
    std::string out = "routes:\n";
    for (std::size_t i = 0; i < n; ++i) out += "  - {ports: [1], action: direct}\n";
    return out;
  };
  CHECK(error_of(routes(limits::routes + 1)) == "t.yaml:2:3: routes: 10001 entries, over the limit of 10000");
  CHECK(parse_config(routes(limits::routes), "t.yaml").routes.size() == limits::routes);

  auto upstreams = [](std::size_t n) {
    std::string out = "upstreams:\n";
    for (std::size_t i = 0; i < n; ++i) out += "  u" + std::to_string(i) + ": {kind: http, address: 10.0.0.1:1}\n";
    return out;
  };
  CHECK(error_of(upstreams(limits::upstreams + 1)) == "t.yaml:2:3: upstreams: 1001 entries, over the limit of 1000");
  CHECK(parse_config(upstreams(limits::upstreams), "t.yaml").upstreams.size() == limits::upstreams);

  auto ports = [](std::size_t n) { return "intercept:\n  outbound:\n    ports: " + flow_list(n).substr(3); };
  CHECK(error_of(ports(limits::list_entries + 1)) ==
        "t.yaml:3:12: intercept.outbound.ports: 65537 entries, over the limit of 65536");
  CHECK(parse_config(ports(limits::list_entries), "t.yaml").intercept.outbound.ports.size() == limits::list_entries);

  auto destinations = [](std::size_t n) {
    return "routes:\n  - action: direct\n    destinations: " + flow_list(n, "10.0.0.0/8").substr(3);
  };
  CHECK(error_of(destinations(limits::address_entries + 1)) ==
        "t.yaml:3:19: routes[0].destinations: 1000001 entries, over the limit of 1000000");
  CHECK(parse_config(destinations(limits::address_entries), "t.yaml").routes.at(0).destinations.size() ==
        limits::address_entries);
}

TEST_CASE("a file over its size limit is refused before it is read", "[config]") {
  detour::test::temp_dir dir;
  auto huge = dir.path() / "huge.yaml";
  dir.write("huge.yaml", "");
  // Sparse: the size is what is refused, so the test writes nothing.
  std::filesystem::resize_file(huge, limits::file_bytes + 1);
  try {
    detour::load_config_file(huge);
    FAIL("a file over the limit loaded");
  } catch (const detour::config_error& e) {
    CHECK(std::string(e.what()) == huge.string() + ": 67108865 bytes, over the limit of 67108864");
  }

  auto small = dir.write("small", "0123456789");
  CHECK(detour::config_detail::read_bounded_file(small, 10) == "0123456789");
  try {
    detour::config_detail::read_bounded_file(small, 9);
    FAIL("a file over the limit was read");
  } catch (const detour::config_error& e) {
    CHECK(std::string(e.what()) == small.string() + ": 10 bytes, over the limit of 9");
  }
}
