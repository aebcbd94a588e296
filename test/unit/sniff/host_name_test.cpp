#include "detour/sniff/host_name.hpp"

#include <catch2/catch.hpp>

using detour::sniff::is_ip_literal;
using detour::sniff::normalize_host_name;

TEST_CASE("a host name is normalized to lower case without its trailing dot", "[sniff]") {
  CHECK(normalize_host_name("WWW.Example.COM") == "www.example.com");
  CHECK(normalize_host_name("example.com.") == "example.com");
  CHECK(normalize_host_name("localhost") == "localhost");
  CHECK(normalize_host_name("xn--bcher-kva.example") == "xn--bcher-kva.example");
  CHECK(normalize_host_name("_dmarc.my_host-1.example") == "_dmarc.my_host-1.example");
  CHECK(normalize_host_name("1.example.com") == "1.example.com");
  CHECK(normalize_host_name("3com.com") == "3com.com");
}

TEST_CASE("text that is not a host name normalizes to nothing", "[sniff]") {
  for (const char* text : {"", ".", "..", ".example.com", "example..com", "example.com..", "exa mple.com",
                           "*.example.com", "user@example.com", "example.com:80", "ex%41mple.com", "exämple.com",
                           "[::1]", "10.0.0.1", "10.0.0.1.", "127.1", "2130706433", "0x7f000001", "a.0X1F"}) {
    INFO(text);
    CHECK_FALSE(normalize_host_name(text));
  }
  CHECK_FALSE(normalize_host_name(std::string_view("a\0b", 3)));
}

TEST_CASE("a host name may have 253 bytes and labels of 63, no more", "[sniff]") {
  std::string label(63, 'a');
  CHECK(normalize_host_name(label + ".example"));
  CHECK_FALSE(normalize_host_name(label + "a.example"));
  // 4 labels of 62 and one of 1: 4 * 63 + 1 = 253 bytes with the dots.
  std::string longest = std::string(62, 'a') + "." + std::string(62, 'b') + "." + std::string(62, 'c') + "." +
                        std::string(62, 'd') + ".e";
  REQUIRE(longest.size() == 253);
  CHECK(normalize_host_name(longest) == longest);
  CHECK(normalize_host_name(longest + ".") == longest);
  CHECK_FALSE(normalize_host_name(longest + "e"));
}

TEST_CASE("an address in any of the forms a URL parser reads as one is an IP literal", "[sniff]") {
  for (const char* text : {"192.0.2.1", "192.0.2.1.", "127.1", "2130706433", "0x7f000001", "a.0x", "::1",
                           "[2001:db8::1]", "2001:db8::1"}) {
    INFO(text);
    CHECK(is_ip_literal(text));
  }
  for (const char* text : {"example.com", "1.example", "0x7f.example", "a.0xg", "", "com."}) {
    INFO(text);
    CHECK_FALSE(is_ip_literal(text));
  }
}
