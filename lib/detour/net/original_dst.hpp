#pragma once
#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <system_error>

namespace detour::net {

// The destination a connection had before the kernel's NAT redirected it to us, read from
// conntrack: SOL_IP/SO_ORIGINAL_DST for IPv4 (including v4-mapped peers on an IPv6 socket, where
// only the IPv4 query works and it answers with an AF_INET address) and
// SOL_IPV6/IP6T_SO_ORIGINAL_DST for native IPv6. A connection that was not NATed answers with its
// own local address, or ENOENT when conntrack does not track it; ENOPROTOOPT means conntrack/NAT
// is not available for that family at all.
std::optional<boost::asio::ip::tcp::endpoint> original_destination(int fd, std::error_code& ec);
// The same when the caller already knows the peer (as the session does from accept): saves the
// getpeername(2) that only serves to choose between the IPv4 and IPv6 queries.
std::optional<boost::asio::ip::tcp::endpoint> original_destination(int fd, const boost::asio::ip::tcp::endpoint& peer,
                                                                   std::error_code& ec);

}  // namespace detour::net
