#pragma once
// What an upstream proxy is asked to connect to: the original destination's address, or with
// `resolve: remote` the server name the client asked for, with the original destination's port,
// so that the proxy resolves it. The proxy may see names this host cannot (a corporate resolver,
// split-horizon DNS), and may reach a name's other addresses when the one the client chose is down.
#include "detour/config/config.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace detour::upstream {

// SOCKS5 carries a domain name behind a one-byte length (RFC 1928 section 5). HTTP has no such
// bound, but no DNS name is longer (253 bytes), so both kinds share it.
inline constexpr std::size_t max_proxy_host_name = 255;

struct proxy_destination {
  boost::asio::ip::tcp::endpoint address;  // the original destination; its port is asked for either way
  std::string_view name;                   // empty: the address is asked for
  bool by_name() const { return !name.empty(); }
};

// "www.example.com:443", or the address as net::to_string writes it ("[2001:db8::1]:443").
std::string to_string(const proxy_destination& d);

// Why `name` cannot be sent to a proxy, or empty when it can: longer than max_proxy_host_name, or
// holding a byte outside letters, digits, '-', '.' and '_'. The name comes from the client's
// first bytes, so it is checked here, where it would become part of a request line: a CR or LF in
// it would let the client write headers of its own into the CONNECT request.
std::string_view unsendable_name_reason(std::string_view name);

// The destination `upstream` is asked for: by `server_name` when the upstream resolves remotely and
// the name is known and sendable, else by `target`'s address. A name that is dropped for being
// unsendable is logged at debug with the reason.
proxy_destination choose_destination(const upstream_config& upstream, const boost::asio::ip::tcp::endpoint& target,
                                     std::string_view server_name);

}  // namespace detour::upstream
