#include "detour/upstream/socks5.hpp"

#include "support/values.hpp"

#include <catch2/catch.hpp>

using namespace detour::upstream;
using namespace std::string_literals;

using detour::test::bytes;
using detour::test::ep;

TEST_CASE("socks5 requests are built byte for byte as RFC 1928 and 1929 lay them out", "[upstream]") {
  CHECK(socks5_greeting(false) == bytes({5, 1, 0}));
  CHECK(socks5_greeting(true) == bytes({5, 2, 0, 2}));
  CHECK(socks5_password_request("al", "pwd") == bytes({1, 2, 'a', 'l', 3, 'p', 'w', 'd'}));
  CHECK(socks5_connect_request(ep("93.184.216.34", 443)) == bytes({5, 1, 0, 1, 93, 184, 216, 34, 1, 187}));
  CHECK(socks5_connect_request(ep("::ffff:10.0.0.1", 80)) == bytes({5, 1, 0, 1, 10, 0, 0, 1, 0, 80}));
  CHECK(socks5_connect_request(ep("2001:db8::1", 8080)) ==
        bytes({5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1f, 0x90}));
  CHECK(socks5_connect_request("example.com", 443) == bytes({5, 1, 0, 3, 11}) + "example.com" + bytes({1, 187}));
}

TEST_CASE("the socks5 method reply accepts only a method we offered", "[upstream]") {
  std::uint8_t chosen = 0xaa;
  CHECK(parse_socks5_method_reply("", false, chosen).status == parse_result::state::need_more);
  CHECK(parse_socks5_method_reply(bytes({5}), false, chosen).status == parse_result::state::need_more);
  auto ok = parse_socks5_method_reply(bytes({5, 0}), false, chosen);
  CHECK(ok.is_done());
  CHECK(ok.consumed == 2);
  CHECK(chosen == socks5_method_none);
  CHECK(parse_socks5_method_reply(bytes({5, 2}), true, chosen).is_done());
  CHECK(chosen == socks5_method_password);
  CHECK(parse_socks5_method_reply(bytes({5, 2}), false, chosen).error ==
        "socks5: server chose authentication method 2 we did not offer");
  CHECK(parse_socks5_method_reply(bytes({5, 1}), true, chosen).error ==
        "socks5: server chose authentication method 1 we did not offer");
  CHECK(parse_socks5_method_reply(bytes({5, 0xff}), false, chosen).error ==
        "socks5: server requires authentication, none configured");
  CHECK(parse_socks5_method_reply(bytes({5, 0xff}), true, chosen).error ==
        "socks5: server accepts none of our authentication methods");
  CHECK(parse_socks5_method_reply(bytes({4}), false, chosen).error ==
        "socks5: not a SOCKS5 server (version 4 in method reply)");
  CHECK(parse_socks5_method_reply("HTTP/1.1 400 Bad Request\r\n", false, chosen).error ==
        "socks5: not a SOCKS5 server (version 72 in method reply)");
}

TEST_CASE("the socks5 password reply tells success from a wrong password", "[upstream]") {
  CHECK(parse_socks5_password_reply("").status == parse_result::state::need_more);
  CHECK(parse_socks5_password_reply(bytes({1})).status == parse_result::state::need_more);
  CHECK(parse_socks5_password_reply(bytes({1, 0})).consumed == 2);
  CHECK(parse_socks5_password_reply(bytes({5, 0})).is_done());
  CHECK(parse_socks5_password_reply(bytes({1, 1})).error ==
        "socks5: authentication failed, wrong username or password (status=1)");
  CHECK(parse_socks5_password_reply(bytes({2, 0})).error == "socks5: malformed authentication reply (version 2)");
}

TEST_CASE("the socks5 connect reply is complete with its bound address, whatever its type", "[upstream]") {
  SECTION("IPv4") {
    auto reply = bytes({5, 0, 0, 1, 10, 0, 0, 1, 0x12, 0x34});
    for (std::size_t n = 0; n < reply.size(); ++n) {
      CHECK(parse_socks5_connect_reply(reply.substr(0, n)).status == parse_result::state::need_more);
    }
    CHECK(parse_socks5_connect_reply(reply).consumed == 10);
    CHECK(parse_socks5_connect_reply(reply + "early data").consumed == 10);
  }
  SECTION("IPv6") {
    auto reply = bytes({5, 0, 0, 4}) + std::string(16, '\x01') + bytes({0, 80});
    CHECK(parse_socks5_connect_reply(reply.substr(0, 21)).status == parse_result::state::need_more);
    CHECK(parse_socks5_connect_reply(reply).consumed == 22);
  }
  SECTION("domain") {
    auto reply = bytes({5, 0, 0, 3, 9}) + "localhost" + bytes({0, 80});
    CHECK(parse_socks5_connect_reply(reply.substr(0, 15)).status == parse_result::state::need_more);
    CHECK(parse_socks5_connect_reply(reply).consumed == 16);
    auto longest = bytes({5, 0, 0, 3, 255}) + std::string(255, 'a') + bytes({0, 80});
    CHECK(parse_socks5_connect_reply(longest + "x").consumed == 262);
  }
  SECTION("the reserved byte is ignored") {
    CHECK(parse_socks5_connect_reply(bytes({5, 0, 0x7f, 1, 10, 0, 0, 1, 0, 1})).is_done());
  }
}

TEST_CASE("every socks5 reply code is reported by name as soon as it arrives", "[upstream]") {
  auto error = [](unsigned rep) { return parse_socks5_connect_reply(bytes({5, rep})).error; };
  CHECK(error(1) == "socks5: general SOCKS server failure (rep=1)");
  CHECK(error(2) == "socks5: connection not allowed by ruleset (rep=2)");
  CHECK(error(3) == "socks5: network unreachable (rep=3)");
  CHECK(error(4) == "socks5: host unreachable (rep=4)");
  CHECK(error(5) == "socks5: connection refused by destination (rep=5)");
  CHECK(error(6) == "socks5: TTL expired (rep=6)");
  CHECK(error(7) == "socks5: command not supported (rep=7)");
  CHECK(error(8) == "socks5: address type not supported (rep=8)");
  CHECK(error(9) == "socks5: unassigned reply code (rep=9)");
  CHECK(error(255) == "socks5: unassigned reply code (rep=255)");
}

TEST_CASE("a malformed socks5 connect reply is an error, never a wait", "[upstream]") {
  CHECK(parse_socks5_connect_reply(bytes({4, 0})).error == "socks5: malformed connect reply (version 4)");
  CHECK(parse_socks5_connect_reply(bytes({5, 0, 0, 2, 0})).error == "socks5: malformed connect reply (address type 2)");
  CHECK(parse_socks5_connect_reply(bytes({5, 0, 0, 3, 0, 0, 80})).error ==
        "socks5: malformed connect reply (empty domain name)");
  CHECK(parse_socks5_connect_reply("\0\0\0\0"s).error == "socks5: malformed connect reply (version 0)");
  CHECK(parse_socks5_connect_reply(bytes({5, 0, 0}) + std::string(10000, '\x07')).error ==
        "socks5: malformed connect reply (address type 7)");
}
