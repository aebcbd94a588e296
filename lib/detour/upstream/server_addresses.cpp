#include "detour/upstream/server_addresses.hpp"

#include "detour/net/sockaddr.hpp"

namespace detour::upstream {

std::vector<net::cidr> upstream_server_cidrs(const config& cfg) {
  std::vector<net::cidr> out;
  for (const auto& u : cfg.upstreams) {
    for (const auto& server : u.servers) {
      auto address = net::unmap(server.address());
      out.push_back({address, address.is_v4() ? 32U : 128U});
    }
  }
  return net::merge_cidrs(std::move(out));
}

}  // namespace detour::upstream
