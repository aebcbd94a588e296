#include "detour/net/original_dst.hpp"

#include "detour/net/sockaddr.hpp"

#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

namespace detour::net {

namespace {

std::optional<boost::asio::ip::tcp::endpoint> query(int fd, bool ipv4, std::error_code& ec) {
  sockaddr_storage dst{};
  socklen_t len = sizeof(dst);
  int rc = ipv4 ? ::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len)
                : ::getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len);
  if (rc != 0) {
    ec = std::error_code(errno, std::system_category());
    return std::nullopt;
  }
  ec.clear();
  return to_endpoint(dst);
}

}  // namespace

std::optional<boost::asio::ip::tcp::endpoint> original_destination(int fd, std::error_code& ec) {
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
    ec = std::error_code(errno, std::system_category());
    return std::nullopt;
  }
  return original_destination(fd, to_endpoint(peer), ec);
}

std::optional<boost::asio::ip::tcp::endpoint> original_destination(int fd, const boost::asio::ip::tcp::endpoint& peer,
                                                                   std::error_code& ec) {
  // to_endpoint() and unmap() turn v4-mapped peers into IPv4, which is what selects SOL_IP here.
  return query(fd, unmap(peer).address().is_v4(), ec);
}

}  // namespace detour::net
