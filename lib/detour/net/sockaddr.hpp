#pragma once
#include <boost/asio/ip/tcp.hpp>

#include <sys/socket.h>

#include <string>

namespace detour::net {

// v4-mapped IPv6 addresses come back as plain IPv4, so logs and comparisons see one form.
boost::asio::ip::tcp::endpoint to_endpoint(const sockaddr_storage& addr);
boost::asio::ip::address unmap(const boost::asio::ip::address& a);
boost::asio::ip::tcp::endpoint unmap(const boost::asio::ip::tcp::endpoint& e);

// "127.0.0.1:80", "[::1]:80".
std::string to_string(const boost::asio::ip::tcp::endpoint& e);

}  // namespace detour::net
