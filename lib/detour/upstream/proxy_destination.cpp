#include "detour/upstream/proxy_destination.hpp"

#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace detour::upstream {

std::string to_string(const proxy_destination& d) {
  if (!d.by_name()) return net::to_string(d.address);
  return fmt::format("{}:{}", d.name, d.address.port());
}

std::string_view unsendable_name_reason(std::string_view name) {
  if (name.size() > max_proxy_host_name) return "is longer than 255 bytes";
  auto host_name_byte = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
  };
  if (!std::all_of(name.begin(), name.end(), host_name_byte)) return "has a byte a host name cannot have";
  return {};
}

proxy_destination choose_destination(const upstream_config& upstream, const boost::asio::ip::tcp::endpoint& target,
                                     std::string_view server_name) {
  if (upstream.resolve != name_resolution::remote || server_name.empty()) return {target, {}};
  if (auto why = unsendable_name_reason(server_name); !why.empty()) {
    // The name is the client's, possibly hostile: its length, never its bytes, goes in the line.
    spdlog::debug("upstream: {} {}: asking for {} by address: the server name ({} bytes) {}", to_string(upstream.kind),
                  upstream.name, net::to_string(target), server_name.size(), why);
    return {target, {}};
  }
  return {target, server_name};
}

}  // namespace detour::upstream
