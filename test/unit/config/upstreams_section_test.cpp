#include "detour/config/upstreams_section.hpp"
#include "detour/config/config.hpp"

#include "config_error_of.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using detour::config_error;
using detour::parse_config;
using detour::upstream_kind;

namespace {

detour::config parse(const std::string& text) { return parse_config(text, "t.yaml"); }

std::string error_of(const std::string& yaml) { return detour::test::config_error_of(yaml, "t.yaml"); }

// A file removed when the test ends, whatever its outcome.
struct temp_file {
  explicit temp_file(const std::string& content) {
    path = std::filesystem::temp_directory_path() / ("detour-pw-" + std::to_string(::getpid()));
    std::ofstream(path) << content;
  }
  ~temp_file() { std::filesystem::remove(path); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  std::filesystem::path path;
};

}  // namespace

TEST_CASE("upstreams keep file order, servers in order, and inherit connect_timeout", "[config]") {
  auto c = parse(R"(
connect_timeout: 3s
upstreams:
  corp:
    kind: socks5
    servers: ["10.1.0.5:1080", "[2001:db8::1]:1081"]
    username: alice
    password: s3cret
  office:
    kind: http
    address: 192.0.2.8:3128
    connect_timeout: 250ms
)");
  REQUIRE(c.upstreams.size() == 2);
  const auto& corp = c.upstreams[0];
  CHECK(corp.name == "corp");
  CHECK(corp.kind == upstream_kind::socks5);
  REQUIRE(corp.servers.size() == 2);
  CHECK(corp.servers[0].address().to_string() == "10.1.0.5");
  CHECK(corp.servers[0].port() == 1080);
  CHECK(corp.servers[1].address().to_string() == "2001:db8::1");
  CHECK(corp.servers[1].port() == 1081);
  CHECK(corp.username == "alice");
  CHECK(corp.password == "s3cret");
  CHECK(corp.connect_timeout == std::chrono::seconds(3));
  const auto& office = c.upstreams[1];
  CHECK(office.name == "office");
  CHECK(office.kind == upstream_kind::http);
  REQUIRE(office.servers.size() == 1);
  CHECK(office.servers[0].port() == 3128);
  CHECK(office.username.empty());
  CHECK(office.connect_timeout == std::chrono::milliseconds(250));
}

TEST_CASE("an upstream password can come from a file or an environment variable", "[config]") {
  SECTION("file, final newline dropped") {
    temp_file f("from-file\n");
    auto c = parse(
        "upstreams:\n  u:\n    kind: socks5\n    address: 10.0.0.1:1080\n    username: bob\n"
        "    password_file: " +
        f.path.string() + "\n");
    CHECK(c.upstreams.at(0).password == "from-file");
  }
  SECTION("environment") {
    ::setenv("DETOUR_TEST_PW", "from-env", 1);
    auto c = parse(
        "upstreams:\n  u:\n    kind: http\n    address: 10.0.0.1:3128\n    username: bob\n"
        "    password_env: DETOUR_TEST_PW\n");
    ::unsetenv("DETOUR_TEST_PW");
    CHECK(c.upstreams.at(0).password == "from-env");
  }
}

TEST_CASE("a bad upstream is refused with its place, key and value, never the password", "[config]") {
  CHECK(error_of("upstreams:\n  corp:\n    kind: socks4\n    address: 10.0.0.1:1080\n") ==
        "t.yaml:3:11: upstreams.corp.kind: expected socks5, http or forward, got \"socks4\"");
  CHECK(error_of("upstreams:\n  corp:\n    address: 10.0.0.1:1080\n") ==
        "t.yaml:3:5: upstreams.corp: needs kind: socks5, http or forward");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n") ==
        "t.yaml:3:5: upstreams.corp: needs address or servers (at least one)");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    servers: [\"10.0.0.1:80\", \"2001:db8::1:80\"]\n") ==
        "t.yaml:4:30: upstreams.corp.servers[1]: \"2001:db8::1:80\" is not an address with a port, such as "
        "192.0.2.1:1080 or [2001:db8::1]:1080");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: proxy.example:3128\n") ==
        "t.yaml:4:14: upstreams.corp.address: \"proxy.example:3128\" is not an address with a port, such as "
        "192.0.2.1:1080 or [2001:db8::1]:1080");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:0\n") ==
        "t.yaml:4:14: upstreams.corp.address: \"10.0.0.1:0\" is not an address with a port, such as "
        "192.0.2.1:1080 or [2001:db8::1]:1080");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:1\n    servers: [\"10.0.0.2:1\"]\n") ==
        "t.yaml:5:14: upstreams.corp.servers: set address or servers, not both");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:1\n    password: hunter2\n") ==
        "t.yaml:5:15: upstreams.corp.password: needs a username");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:1\n    username: a\n"
                 "    password: hunter2\n    password_env: X\n") ==
        "t.yaml:7:19: upstreams.corp.password_env: set only one of password, password_file and password_env");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:1\n    username: a:b\n") ==
        "t.yaml:5:15: upstreams.corp.username: must not contain ':' (HTTP Basic authentication)");
  CHECK(error_of(
            "upstreams:\n  corp:\n    kind: socks5\n    address: 10.0.0.1:1\n    username: " + std::string(256, 'u') +
            "\n") == "t.yaml:5:15: upstreams.corp.username: is 256 bytes long; SOCKS5 allows at most 255");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:1\n    username: a\n"
                 "    password_env: DETOUR_TEST_UNSET_VARIABLE\n") ==
        "t.yaml:6:19: upstreams.corp.password_env: environment variable DETOUR_TEST_UNSET_VARIABLE is not set");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:1\n    username: a\n"
                 "    password_file: secret.txt\n") ==
        "t.yaml:6:20: upstreams.corp.password_file: \"secret.txt\" is not an absolute path");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:1\n    username: a\n"
                 "    password_file: /nonexistent/detour-pw\n") ==
        "t.yaml:6:20: upstreams.corp.password_file: /nonexistent/detour-pw: cannot open: No such file or directory");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:1\n    connect_timeout: 0s\n") ==
        "t.yaml:5:22: upstreams.corp.connect_timeout: must be longer than 0ms");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:1\n    proxy: x\n") ==
        "t.yaml:5:5: upstreams.corp.proxy: unknown key (known: kind, address, servers, username, password, "
        "password_file, password_env, proxy_protocol, resolve, connect_timeout)");
  CHECK(error_of("upstreams:\n  \"a b\":\n    kind: http\n") ==
        "t.yaml:2:3: upstreams: \"a b\" is not a valid upstream name (letters, digits, _, - or ., at most 64)");
  CHECK(error_of("upstreams: [a]\n") == "t.yaml:1:12: upstreams: expected a mapping of names to upstreams");
}

TEST_CASE("server addresses take a port and bracket IPv6", "[config]") {
  using detour::config_detail::parse_server_address;
  std::string why;
  CHECK(parse_server_address("[::1]:1080", &why)->address().to_string() == "::1");
  CHECK(parse_server_address("127.0.0.1:65535", &why)->port() == 65535);
  CHECK_FALSE(parse_server_address("127.0.0.1", &why));
  CHECK_FALSE(parse_server_address("[127.0.0.1]:80", &why));
  CHECK_FALSE(parse_server_address("[::1]80", &why));
  CHECK_FALSE(parse_server_address("127.0.0.1:65536", &why));
  CHECK_FALSE(parse_server_address("127.0.0.1:8x", &why));
  CHECK(why == "\"127.0.0.1:8x\" is not an address with a port, such as 192.0.2.1:1080 or [2001:db8::1]:1080");
}

TEST_CASE("a forward upstream has fixed servers and an optional PROXY version, and every kind a resolve",
          "[config][proxy_protocol]") {
  auto c = parse(R"(
upstreams:
  backend:
    kind: forward
    servers: ["10.1.0.7:8443", "[2001:db8::7]:8443"]
    proxy_protocol: v2
  plain:
    kind: forward
    address: 10.1.0.8:80
    resolve: local
  corp:
    kind: socks5
    address: 10.1.0.5:1080
    resolve: remote
  office:
    kind: http
    address: 10.1.0.6:3128
)");
  REQUIRE(c.upstreams.size() == 4);
  CHECK(c.upstreams[0].kind == upstream_kind::forward);
  CHECK(c.upstreams[0].servers.size() == 2);
  CHECK(c.upstreams[0].proxy_protocol == detour::proxy_protocol_version::v2);
  CHECK(c.upstreams[1].proxy_protocol == detour::proxy_protocol_version::none);
  CHECK(c.upstreams[1].resolve == detour::name_resolution::local);
  CHECK(c.upstreams[2].resolve == detour::name_resolution::remote);
  CHECK(c.upstreams[2].proxy_protocol == detour::proxy_protocol_version::none);
  CHECK(c.upstreams[3].resolve == detour::name_resolution::local);
}

TEST_CASE("proxy_protocol, resolve and credentials are refused where the kind cannot use them",
          "[config][proxy_protocol]") {
  const std::string forward = "upstreams:\n  be:\n    kind: forward\n    address: 10.0.0.1:80\n";
  CHECK(error_of(forward + "    proxy_protocol: v3\n") ==
        "t.yaml:5:21: upstreams.be.proxy_protocol: expected v1 or v2, got \"v3\"");
  CHECK(error_of(forward + "    proxy_protocol: 2\n") ==
        "t.yaml:5:21: upstreams.be.proxy_protocol: expected v1 or v2, got \"2\"");
  CHECK(error_of(forward + "    resolve: remote\n") ==
        "t.yaml:5:14: upstreams.be.resolve: remote needs a proxy that connects by name (socks5 or http), not forward");
  CHECK(error_of(forward + "    username: alice\n") ==
        "t.yaml:5:15: upstreams.be.username: kind forward has no authentication (it relays the stream as is)");
  CHECK(error_of(forward + "    password_env: X\n") ==
        "t.yaml:5:19: upstreams.be.password_env: kind forward has no authentication (it relays the stream as is)");
  CHECK(error_of("upstreams:\n  corp:\n    kind: socks5\n    address: 10.0.0.1:1080\n    proxy_protocol: v1\n") ==
        "t.yaml:5:21: upstreams.corp.proxy_protocol: is for kind forward only, not socks5");
  CHECK(error_of("upstreams:\n  corp:\n    kind: http\n    address: 10.0.0.1:3128\n    resolve: dns\n") ==
        "t.yaml:5:14: upstreams.corp.resolve: expected local or remote, got \"dns\"");
}
