#include "detour/proxy/capture_direction.hpp"

#include <catch2/catch.hpp>

using detour::traffic_direction;
using detour::proxy::capture_direction;
using detour::proxy::direction_by_hook;

namespace {

boost::asio::ip::tcp::endpoint ep(const char* address, std::uint16_t port) {
  return {boost::asio::ip::make_address(address), port};
}

}  // namespace

TEST_CASE("a connection redirected in output reached a loopback address, one redirected in prerouting did not",
          "[proxy][direction]") {
  CHECK(direction_by_hook(ep("127.0.0.1", 15001)) == traffic_direction::outbound);
  CHECK(direction_by_hook(ep("::1", 15001)) == traffic_direction::outbound);
  CHECK(direction_by_hook(ep("::ffff:127.0.0.1", 15001)) == traffic_direction::outbound);
  CHECK(direction_by_hook(ep("10.0.0.1", 15001)) == traffic_direction::inbound);
  CHECK(direction_by_hook(ep("2001:db8::1", 15001)) == traffic_direction::inbound);
  CHECK(direction_by_hook(ep("::ffff:192.0.2.1", 15001)) == traffic_direction::inbound);
}

TEST_CASE("a listener of one direction decides it, whatever address the connection reached", "[proxy][direction]") {
  CHECK(capture_direction(traffic_direction::inbound, ep("127.0.0.1", 15006)) == traffic_direction::inbound);
  CHECK(capture_direction(traffic_direction::outbound, ep("10.0.0.1", 15001)) == traffic_direction::outbound);
  CHECK(capture_direction(std::nullopt, ep("10.0.0.1", 15001)) == traffic_direction::inbound);
}
