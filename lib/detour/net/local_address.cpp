#include "detour/net/local_address.hpp"

#include "detour/net/sockaddr.hpp"

#include <ifaddrs.h>

#include <cstring>

namespace detour::net {

bool is_local_address(const boost::asio::ip::address& address) {
  auto a = unmap(address);
  if (a.is_loopback() || a.is_unspecified()) return true;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (auto* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) continue;
    sockaddr_storage storage{};
    std::memcpy(&storage, i->ifa_addr, i->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    found = to_endpoint(storage).address() == a;
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace detour::net
