#pragma once
// The PROXY protocol header (HAProxy's doc/proxy-protocol.txt, versions 1 and 2) that a direct
// route or a forward upstream sends ahead of the client's bytes, so that the server learns who the
// client was and where it meant to go. Pure encoders, no I/O; proxy_header.cpp sends them.
#include "detour/config/config.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace detour::upstream {

// Longest authority (PP2_TYPE_AUTHORITY) a version 2 header carries; a longer one is left out. No
// DNS name is longer, and it keeps the header within the 536 bytes that the specification counts
// on arriving in one segment.
inline constexpr std::size_t proxy_authority_max_bytes = 255;

// Both take the client's address as `source` and the original destination as `destination`.
// IPv4-mapped IPv6 addresses are written as the IPv4 addresses they are. When the two are still
// of different families (a client on IPv6 whose original destination is IPv4 cannot be seen
// through NAT, but nothing rules it out), both are written as IPv6, the IPv4 one mapped: the
// specification wants one family for both, and UNKNOWN would make receivers fall back to the
// addresses of detourd's own connection, which is the one thing the header is meant to avoid.

// "PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n"; IPv6 addresses in their compressed form
// ("2001:db8::1"), which inet_pton-based receivers (HAProxy, nginx) read.
std::string proxy_header_v1(const boost::asio::ip::tcp::endpoint& source,
                            const boost::asio::ip::tcp::endpoint& destination);

// The binary header: signature, version 2 / command PROXY, TCP over IPv4 or IPv6, the addresses
// and ports, then the TLVs PP2_TYPE_AUTHORITY (`authority`, the name the client asked for, left
// out when empty or longer than proxy_authority_max_bytes) and PP2_TYPE_UNIQUE_ID (`unique_id` in
// decimal, at most 20 bytes of the 128 allowed).
std::string proxy_header_v2(const boost::asio::ip::tcp::endpoint& source,
                            const boost::asio::ip::tcp::endpoint& destination, std::string_view authority,
                            std::uint64_t unique_id);

// By version; empty for proxy_protocol_version::none. `authority` and `unique_id` go only into v2.
std::string proxy_header(proxy_protocol_version version, const boost::asio::ip::tcp::endpoint& source,
                         const boost::asio::ip::tcp::endpoint& destination, std::string_view authority,
                         std::uint64_t unique_id);

}  // namespace detour::upstream
