#include "detour/net/sockaddr.hpp"

#include <catch2/catch.hpp>

namespace ip = boost::asio::ip;

namespace {
ip::tcp::endpoint ep(const char* a, unsigned short p) { return {ip::make_address(a), p}; }
}  // namespace

TEST_CASE("endpoints print with brackets around IPv6", "[net]") {
  CHECK(detour::net::to_string(ep("192.0.2.1", 80)) == "192.0.2.1:80");
  CHECK(detour::net::to_string(ep("2001:db8::1", 443)) == "[2001:db8::1]:443");
  CHECK(detour::net::to_string(ep("::ffff:192.0.2.1", 80)) == "192.0.2.1:80");
}
