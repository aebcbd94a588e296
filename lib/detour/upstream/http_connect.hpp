#pragma once
// HTTP/1.1 CONNECT (RFC 9110 section 9.3.6): the request and a bounded, pure response parser. No I/O
// here; proxy_connector.cpp drives them.
#include "detour/upstream/parse_result.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace detour::upstream {

// Proxies send a few hundred bytes; 16 KiB is what nginx and Envoy allow for a whole request head.
inline constexpr std::size_t http_max_response_head = std::size_t{16} * 1024;

// "CONNECT 192.0.2.1:443 HTTP/1.1" with Host, and Proxy-Authorization: Basic when a username is
// given. IPv6 targets in brackets.
std::string http_connect_request(const boost::asio::ip::tcp::endpoint& target, std::string_view username,
                                 std::string_view password);
// "CONNECT www.example.com:443 HTTP/1.1" with the same Host: what an upstream with `resolve: remote`
// sends. The name is sent as given (proxy_destination.hpp checks it first: no CR or LF in it).
std::string http_connect_request(std::string_view host, std::uint16_t port, std::string_view username,
                                 std::string_view password);

// Status line and headers up to the empty line. Any 2xx is success and `consumed` is the head's
// length: bytes after it are the tunnel's first bytes, to be forwarded to the client first. A
// non-2xx status is reported as soon as the status line is complete ("http: 407 proxy
// authentication required").
parse_result parse_http_connect_response(std::string_view received);

std::string base64(std::string_view bytes);

}  // namespace detour::upstream
