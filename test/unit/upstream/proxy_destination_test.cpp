// What an upstream proxy is asked for: the address, or with `resolve: remote` the client's name,
// and the bytes each handshake then carries. The connectors themselves are in proxy_connector_test.
#include "detour/upstream/proxy_destination.hpp"

#include "detour/upstream/http_connect.hpp"
#include "detour/upstream/socks5.hpp"

#include "support/values.hpp"

#include <catch2/catch.hpp>

using namespace detour::upstream;
using detour::name_resolution;
using detour::upstream_kind;

using detour::test::bytes;
using detour::test::ep;

namespace {
detour::upstream_config upstream(upstream_kind kind, name_resolution resolve) {
  detour::upstream_config u;
  u.name = "corp";
  u.kind = kind;
  u.resolve = resolve;
  u.servers = {ep("10.0.0.1", 1080)};
  return u;
}

const auto target = ep("192.0.2.10", 443);

}  // namespace

TEST_CASE("an upstream that resolves locally is asked for the address, one that resolves remotely for the name",
          "[upstream]") {
  for (auto kind : {upstream_kind::socks5, upstream_kind::http}) {
    auto local = choose_destination(upstream(kind, name_resolution::local), target, "www.example.com");
    CHECK_FALSE(local.by_name());
    CHECK(local.address == target);
    CHECK(to_string(local) == "192.0.2.10:443");

    auto remote = choose_destination(upstream(kind, name_resolution::remote), target, "www.example.com");
    CHECK(remote.by_name());
    CHECK(remote.name == "www.example.com");
    CHECK(remote.address.port() == 443);
    CHECK(to_string(remote) == "www.example.com:443");
  }
}

TEST_CASE("remote resolution without a sniffed name asks for the address", "[upstream]") {
  auto d = choose_destination(upstream(upstream_kind::socks5, name_resolution::remote), target, "");
  CHECK_FALSE(d.by_name());
  CHECK(d.address == target);
  auto v6 = choose_destination(upstream(upstream_kind::http, name_resolution::remote), ep("2001:db8::1", 8443), "");
  CHECK(to_string(v6) == "[2001:db8::1]:8443");
}

TEST_CASE("a name that cannot travel in a request falls back to the address", "[upstream]") {
  const auto remote = upstream(upstream_kind::http, name_resolution::remote);
  const std::string too_long(256, 'a');
  const std::string with_nul("a\0b.example", 11);
  for (std::string_view name :
       {std::string_view("evil.example\r\nX-Injected: 1"), std::string_view("evil\n.example"),
        std::string_view("www.example.com\r"), std::string_view("www example.com"),
        std::string_view("www.example.com:8080"), std::string_view("[2001:db8::1]"), std::string_view(with_nul),
        std::string_view("caf\xc3\xa9.example"), std::string_view(too_long)}) {
    CAPTURE(name);
    auto d = choose_destination(remote, target, name);
    CHECK_FALSE(d.by_name());
    CHECK(d.address == target);
  }
}

TEST_CASE("the reason a name is unsendable is its length or a byte no host name has", "[upstream]") {
  CHECK(unsendable_name_reason("www.example.com").empty());
  CHECK(unsendable_name_reason("under_score-and.digits123").empty());
  CHECK(unsendable_name_reason(std::string(255, 'a')).empty());
  CHECK(unsendable_name_reason(std::string(256, 'a')) == "is longer than 255 bytes");
  CHECK(unsendable_name_reason("a\r\nb") == "has a byte a host name cannot have");
  CHECK(unsendable_name_reason("a b") == "has a byte a host name cannot have");
  CHECK(unsendable_name_reason("a:1") == "has a byte a host name cannot have");
  // The longest sendable name is still sent, and its length fits SOCKS5's byte.
  const std::string name(255, 'a');
  auto longest = choose_destination(upstream(upstream_kind::socks5, name_resolution::remote), target, name);
  CHECK(longest.name.size() == 255);
}

TEST_CASE("socks5 asks for a name with address type 3, a length byte and the port", "[upstream]") {
  CHECK(socks5_connect_request("only-proxy.test", 80) == bytes({5, 1, 0, 3, 15}) + "only-proxy.test" + bytes({0, 80}));
  CHECK(socks5_connect_request("a.example", 8080) == bytes({5, 1, 0, 3, 9}) + "a.example" + bytes({0x1f, 0x90}));
  const std::string longest(255, 'n');
  auto request = socks5_connect_request(longest, 65535);
  REQUIRE(request.size() == 5 + 255 + 2);
  CHECK(request.substr(0, 5) == bytes({5, 1, 0, 3, 255}));
  CHECK(request.substr(5, 255) == longest);
  CHECK(request.substr(260) == bytes({0xff, 0xff}));
}

TEST_CASE("http asks for a name in the request line and the Host header", "[upstream]") {
  CHECK(http_connect_request("only-proxy.test", 8080, "", "") ==
        "CONNECT only-proxy.test:8080 HTTP/1.1\r\nHost: only-proxy.test:8080\r\n\r\n");
  CHECK(http_connect_request("www.example.com", 443, "alice", "pw") ==
        "CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\n"
        "Proxy-Authorization: Basic YWxpY2U6cHc=\r\n\r\n");
}
