#include "detour/upstream/proxy_protocol.hpp"

#include "support/values.hpp"

#include <catch2/catch.hpp>

using namespace detour::upstream;
using detour::proxy_protocol_version;

using detour::test::bytes;
using detour::test::ep;

namespace {
// The 12-byte signature of doc/proxy-protocol.txt section 2.2, then version 2 / command PROXY.
const std::string v2_start = bytes({0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21});

}  // namespace

TEST_CASE("a PROXY v1 line names the client and the original destination in the family they share",
          "[upstream][proxy_protocol]") {
  SECTION("IPv4") {
    CHECK(proxy_header_v1(ep("192.0.2.1", 51234), ep("198.51.100.7", 443)) ==
          "PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n");
  }
  SECTION("IPv6, compressed as inet_ntop writes it") {
    CHECK(proxy_header_v1(ep("2001:db8::1", 40000), ep("2001:db8:0:1::80", 8080)) ==
          "PROXY TCP6 2001:db8::1 2001:db8:0:1::80 40000 8080\r\n");
  }
  SECTION("IPv4-mapped addresses as the IPv4 addresses they are") {
    CHECK(proxy_header_v1(ep("::ffff:192.0.2.1", 1), ep("::ffff:198.51.100.7", 65535)) ==
          "PROXY TCP4 192.0.2.1 198.51.100.7 1 65535\r\n");
    CHECK(proxy_header_v1(ep("::ffff:192.0.2.1", 1), ep("198.51.100.7", 80)) ==
          "PROXY TCP4 192.0.2.1 198.51.100.7 1 80\r\n");
  }
  SECTION("mixed families as IPv6, the IPv4 address mapped") {
    CHECK(proxy_header_v1(ep("192.0.2.1", 1), ep("2001:db8::2", 443)) ==
          "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1 443\r\n");
    CHECK(proxy_header_v1(ep("2001:db8::2", 443), ep("192.0.2.1", 1)) ==
          "PROXY TCP6 2001:db8::2 ::ffff:192.0.2.1 443 1\r\n");
  }
  SECTION("without the scope of a link-local address, which means nothing to the receiver") {
    boost::asio::ip::address_v6 scoped = boost::asio::ip::make_address_v6("fe80::1");
    scoped.scope_id(2);
    CHECK(proxy_header_v1({scoped, 5000}, ep("fe80::2", 22)) == "PROXY TCP6 fe80::1 fe80::2 5000 22\r\n");
  }
  SECTION("the longest line fits the 107 characters receivers must read") {
    CHECK(proxy_header_v1(ep("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
                          ep("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535))
              .size() == 104);
  }
}

TEST_CASE("a PROXY v2 header is laid out byte for byte as the specification's section 2.2",
          "[upstream][proxy_protocol]") {
  SECTION("IPv4 with the authority and the unique id") {
    CHECK(proxy_header_v2(ep("192.0.2.1", 51234), ep("198.51.100.7", 443), "example.com", 42) ==
          v2_start +
              bytes({0x11, 0x00, 31,                 // TCP over IPv4, 12 + 14 + 5 bytes follow
                     192, 0, 2, 1, 198, 51, 100, 7,  // source, destination
                     0xc8, 0x22, 0x01, 0xbb,         // 51234, 443
                     0x02, 0x00, 11}) +              // PP2_TYPE_AUTHORITY
              "example.com" +
              bytes({0x05, 0x00, 2}) + "42");  // PP2_TYPE_UNIQUE_ID
  }
  SECTION("IPv6 without an authority") {
    CHECK(proxy_header_v2(ep("2001:db8::1", 40000), ep("2001:db8:0:1::80", 8080), "", 7) ==
          v2_start + bytes({0x21, 0x00, 40,  // TCP over IPv6, 36 + 4 bytes follow
                            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,    0, 0, 0, 0, 0, 0, 0, 0x01,  // source
                            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x80,  // destination
                            0x9c, 0x40, 0x1f, 0x90,                                            // 40000, 8080
                            0x05, 0x00, 1}) +
              "7");
  }
  SECTION("IPv4-mapped addresses as IPv4") {
    CHECK(proxy_header_v2(ep("::ffff:10.0.0.5", 1), ep("10.0.0.6", 2), "", 18446744073709551615ULL) ==
          v2_start + bytes({0x11, 0x00, 35, 10, 0, 0, 5, 10, 0, 0, 6, 0, 1, 0, 2, 0x05, 0x00, 20}) +
              "18446744073709551615");
  }
  SECTION("mixed families as IPv6, the IPv4 address mapped") {
    CHECK(proxy_header_v2(ep("10.0.0.5", 1), ep("2001:db8::2", 2), "", 0) ==
          v2_start + bytes({0x21, 0x00, 40,   0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10,   0, 0, 5,     // source
                            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    0,    0x02, 0, 1, 0, 2,  // dest
                            0x05, 0x00, 1}) +
              "0");
  }
  SECTION("an authority longer than any DNS name is left out") {
    const std::string longest(proxy_authority_max_bytes, 'a');
    auto kept = proxy_header_v2(ep("10.0.0.5", 1), ep("10.0.0.6", 2), longest, 1);
    CHECK(kept.size() == 16 + 12 + 3 + 255 + 3 + 1);
    CHECK(kept.substr(28, 3) == bytes({0x02, 0x00, 0xff}));
    CHECK(proxy_header_v2(ep("10.0.0.5", 1), ep("10.0.0.6", 2), longest + "a", 1) ==
          proxy_header_v2(ep("10.0.0.5", 1), ep("10.0.0.6", 2), "", 1));
  }
}

TEST_CASE("proxy_header picks the encoder by version and sends nothing for none", "[upstream][proxy_protocol]") {
  const auto source = ep("192.0.2.1", 1000);
  const auto destination = ep("198.51.100.7", 80);
  CHECK(proxy_header(proxy_protocol_version::none, source, destination, "example.com", 1).empty());
  CHECK(proxy_header(proxy_protocol_version::v1, source, destination, "example.com", 1) ==
        "PROXY TCP4 192.0.2.1 198.51.100.7 1000 80\r\n");
  CHECK(proxy_header(proxy_protocol_version::v2, source, destination, "example.com", 1) ==
        proxy_header_v2(source, destination, "example.com", 1));
}
