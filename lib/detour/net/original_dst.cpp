#include "detour/net/original_dst.hpp"

#include "detour/net/sockaddr.hpp"

#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

namespace detour::net {

std::optional<boost::asio::ip::tcp::endpoint> original_destination(int fd, std::error_code& ec) {
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
    ec = std::error_code(errno, std::system_category());
    return std::nullopt;
  }
  bool ipv4 = peer.ss_family == AF_INET ||
              (peer.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr));
  sockaddr_storage dst{};
  len = sizeof(dst);
  int rc = ipv4 ? ::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len)
                : ::getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len);
  if (rc != 0) {
    ec = std::error_code(errno, std::system_category());
    return std::nullopt;
  }
  ec.clear();
  return to_endpoint(dst);
}

}  // namespace detour::net
