#include "detour/echo/echo_json.hpp"

#include <catch2/catch.hpp>

namespace {

boost::asio::ip::tcp::endpoint ep(const char* address, std::uint16_t port) {
  return {boost::asio::ip::make_address(address), port};
}

}  // namespace

TEST_CASE("the json echo names the source, where it landed, the original destination and the route", "[echo]") {
  CHECK(detour::echo::echo_json(ep("::ffff:10.0.0.5", 51234), ep("127.0.0.1", 15001), ep("2001:db8::1", 443),
                                "route 3: echo json") ==
        "{\"source\":\"10.0.0.5:51234\",\"destination\":\"127.0.0.1:15001\","
        "\"original_destination\":\"[2001:db8::1]:443\",\"route\":\"route 3: echo json\"}\n");
  CHECK(detour::echo::echo_json(ep("10.0.0.5", 1), ep("10.0.0.1", 2), ep("10.0.0.2", 3), "a\"b\\c\n") ==
        "{\"source\":\"10.0.0.5:1\",\"destination\":\"10.0.0.1:2\",\"original_destination\":\"10.0.0.2:3\","
        "\"route\":\"a\\\"b\\\\c\\u000a\"}\n");
}
