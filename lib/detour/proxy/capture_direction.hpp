#pragma once
#include "detour/config/config.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <optional>

namespace detour::proxy {

// Which hook captured a connection, when one port serves both. A redirect in nat output rewrites
// the destination to the loopback address of the family (127.0.0.1, ::1); one in prerouting to
// the primary address of the incoming interface, which is never loopback: a packet arriving on
// lo was made on this host and got its nat binding in output already. So the address the
// connection reached tells the two apart.
traffic_direction direction_by_hook(const boost::asio::ip::tcp::endpoint& local);

// The listener's direction when it has one of its own (intercept.inbound.port), else the hook's.
inline traffic_direction capture_direction(std::optional<traffic_direction> listener,
                                           const boost::asio::ip::tcp::endpoint& local) {
  return listener ? *listener : direction_by_hook(local);
}

}  // namespace detour::proxy
