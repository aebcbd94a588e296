#include "detour/config/config.hpp"
#include "detour/net/sockaddr.hpp"

#include "config_error_of.hpp"

#include <catch2/catch.hpp>

namespace {

detour::config parse(const std::string& text) { return detour::parse_config(text, "a.yaml"); }

std::string error_of(const std::string& yaml) { return detour::test::config_error_of(yaml, "a.yaml"); }

std::string listen_of(const std::string& yaml) {
  auto c = parse(yaml);
  return c.admin.listen ? detour::net::to_string(*c.admin.listen) : "off";
}

}  // namespace

TEST_CASE("admin listens on 127.0.0.1:15000 unless told otherwise", "[config]") {
  CHECK(listen_of("") == "127.0.0.1:15000");
  CHECK(listen_of("admin: {}\n") == "127.0.0.1:15000");
  CHECK_FALSE(parse("").admin.allow_remote);
}

TEST_CASE("admin.listen takes a loopback address of either family, or off", "[config]") {
  CHECK(listen_of("admin:\n  listen: 127.0.0.2:9000\n") == "127.0.0.2:9000");
  CHECK(listen_of("admin:\n  listen: \"[::1]:15000\"\n") == "[::1]:15000");
  CHECK(listen_of("admin:\n  listen: off\n") == "off");
}

TEST_CASE("a non-loopback admin address is accepted only with allow_remote", "[config]") {
  CHECK(listen_of("admin:\n  listen: \"[::ffff:127.0.0.1]:15000\"\n") == "127.0.0.1:15000");
  CHECK(parse("admin:\n  allow_remote: true\n  listen: 10.0.0.1:15000\n").admin.allow_remote);
  CHECK(listen_of("admin:\n  listen: 10.0.0.1:15000\n  allow_remote: true\n") == "10.0.0.1:15000");
}

TEST_CASE("a bad admin section names file, line, column, key and reason", "[config]") {
  const std::string remote =
      " is not a loopback address, and the admin endpoint can reset connections and show the config; set "
      "admin.allow_remote: true to listen there";
  const std::string not_address =
      "a.yaml:2:11: admin.listen: expected ADDRESS:PORT (127.0.0.1:15000, [::1]:15000) "
      "or off, got ";
  struct bad {
    const char* yaml;
    std::string error;
  };
  for (const auto& b : std::vector<bad>{
           {"admin:\n  listen: 0.0.0.0:15000\n", "a.yaml:2:11: admin.listen: 0.0.0.0:15000" + remote},
           {"admin:\n  listen: \"[2001:db8::1]:15000\"\n  allow_remote: false\n",
            "a.yaml:2:11: admin.listen: [2001:db8::1]:15000" + remote},
           {"admin:\n  listen: localhost:15000\n", not_address + "\"localhost:15000\""},
           {"admin:\n  listen: 127.0.0.1\n", not_address + "\"127.0.0.1\""},
           {"admin:\n  allow_remote: yes\n", "a.yaml:2:17: admin.allow_remote: expected true or false, got \"yes\""},
           {"admin:\n  port: 1\n", "a.yaml:2:3: admin.port: unknown key (known: listen, allow_remote)"},
           {"admin: 127.0.0.1:15000\n", "a.yaml:1:8: admin: expected a mapping of keys to values"},
       }) {
    INFO(b.yaml);
    CHECK(error_of(b.yaml) == b.error);
  }
}
