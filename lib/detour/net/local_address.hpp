#pragma once
#include <boost/asio/ip/address.hpp>

namespace detour::net {

// Whether `address` is assigned to an interface of this host (network namespace), loopback
// included. Walks getifaddrs(3): meant for rare checks, not for every connection.
bool is_local_address(const boost::asio::ip::address& address);

}  // namespace detour::net
