#include "detour/upstream/proxy_header.hpp"

#include "detour/upstream/proxy_protocol.hpp"

#include <fmt/format.h>

#include <sys/socket.h>

#include <cerrno>
#include <system_error>

namespace detour::upstream {

proxy_protocol_version proxy_protocol_of(const config& cfg, const route_action& action) {
  if (action.kind == route_kind::direct) return action.proxy_protocol;
  if (action.kind == route_kind::upstream && action.upstream < cfg.upstreams.size()) {
    const auto& via = cfg.upstreams[action.upstream];
    if (via.kind == upstream_kind::forward) return via.proxy_protocol;
  }
  return proxy_protocol_version::none;
}

attempt_error send_proxy_header(net::socket& upstream, net::socket& client, proxy_protocol_version version,
                                const boost::asio::ip::tcp::endpoint& source,
                                const boost::asio::ip::tcp::endpoint& destination, std::string_view authority,
                                std::uint64_t unique_id) {
  if (version == proxy_protocol_version::none) return {};
  const auto header = proxy_header(version, source, destination, authority, unique_id);
  char first = 0;
  const bool client_spoke = ::recv(client.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  const int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (client_spoke ? MSG_MORE : 0);
  for (;;) {
    const auto n = ::send(upstream.native_handle(), header.data(), header.size(), flags);
    if (n == static_cast<ssize_t>(header.size())) return {};
    if (n < 0 && errno == EINTR) continue;
    if (n >= 0) return {fmt::format("PROXY header: sent {} of {} bytes", n, header.size()), failure_kind::other};
    const int error = errno;
    return {fmt::format("PROXY header: {}", std::system_category().message(error)), kind_of_errno(error)};
  }
}

}  // namespace detour::upstream
