#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

#include <cstring>

namespace detour::net {

namespace ip = boost::asio::ip;

ip::address unmap(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

ip::tcp::endpoint unmap(const ip::tcp::endpoint& e) { return {unmap(e.address()), e.port()}; }

ip::tcp::endpoint to_endpoint(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, &addr, sizeof(in));
    return {ip::address_v4(ntohl(in.sin_addr.s_addr)), ntohs(in.sin_port)};
  }
  sockaddr_in6 in6{};
  std::memcpy(&in6, &addr, sizeof(in6));
  ip::address_v6::bytes_type bytes;
  std::memcpy(bytes.data(), &in6.sin6_addr, bytes.size());
  return unmap(ip::tcp::endpoint(ip::address_v6(bytes, in6.sin6_scope_id), ntohs(in6.sin6_port)));
}

std::string to_string(const ip::tcp::endpoint& e) {
  auto a = unmap(e.address());
  if (a.is_v6()) return fmt::format("[{}]:{}", a.to_string(), e.port());
  return fmt::format("{}:{}", a.to_string(), e.port());
}

}  // namespace detour::net
