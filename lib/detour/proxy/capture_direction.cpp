#include "detour/proxy/capture_direction.hpp"

#include "detour/net/sockaddr.hpp"

namespace detour::proxy {

traffic_direction direction_by_hook(const boost::asio::ip::tcp::endpoint& local) {
  return net::unmap(local.address()).is_loopback() ? traffic_direction::outbound : traffic_direction::inbound;
}

}  // namespace detour::proxy
