#include "detour/echo/echo_line.hpp"

#include <catch2/catch.hpp>

namespace ip = boost::asio::ip;

namespace {
ip::tcp::endpoint ep(const char* a, unsigned short p) { return {ip::make_address(a), p}; }
}  // namespace

TEST_CASE("the echo line is the seed test server's line, byte for byte", "[echo]") {
  CHECK(
      detour::echo::echo_line(ep("127.0.0.1", 55958), ep("127.0.0.1", 1234), ep("10.0.0.1", 80), {}) ==
      "source{ip: 127.0.0.1, port: 55958};  dest{ip: 127.0.0.1, port: 1234}; original dest{ip: 10.0.0.1, port: 80}\n");
}

TEST_CASE("the echo line shows strerror and errno when there is no original destination", "[echo]") {
  CHECK(detour::echo::echo_line(ep("127.0.0.1", 55958), ep("127.0.0.1", 1234), std::nullopt,
                                std::error_code(92, std::system_category())) ==
        "source{ip: 127.0.0.1, port: 55958};  dest{ip: 127.0.0.1, port: 1234}; original dest{strerror: Protocol not "
        "available, errno: 92}\n");
}

TEST_CASE("the echo line prints IPv6 in its usual text form and v4-mapped as IPv4", "[echo]") {
  CHECK(detour::echo::echo_line(ep("::1", 40000), ep("::1", 15001), ep("2001:db8::9", 443), {}) ==
        "source{ip: ::1, port: 40000};  dest{ip: ::1, port: 15001}; original dest{ip: 2001:db8::9, port: 443}\n");
  CHECK(detour::echo::echo_line(ep("::ffff:10.1.2.3", 1), ep("::ffff:10.1.2.4", 2), ep("10.1.2.5", 3), {}) ==
        "source{ip: 10.1.2.3, port: 1};  dest{ip: 10.1.2.4, port: 2}; original dest{ip: 10.1.2.5, port: 3}\n");
}
