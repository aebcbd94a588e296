#pragma once
// SOCKS5 CONNECT (RFC 1928) with optional username/password authentication (RFC 1929): request
// builders and bounded, pure reply parsers. No I/O here; proxy_connector.cpp drives them.
#include "detour/upstream/parse_result.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace detour::upstream {

inline constexpr std::uint8_t socks5_method_none = 0x00;
inline constexpr std::uint8_t socks5_method_password = 0x02;

// The greeting: offers "no authentication", plus username/password when we have credentials.
std::string socks5_greeting(bool offer_password);

// The 2-byte method selection reply. `chosen` is set when done. A method we did not offer is an
// error, so a server cannot talk us into skipping authentication steps it did not ask for.
parse_result parse_socks5_method_reply(std::string_view received, bool offered_password, std::uint8_t& chosen);

// RFC 1929 request. Both fields are at most 255 bytes (the config refuses longer ones).
std::string socks5_password_request(std::string_view username, std::string_view password);
parse_result parse_socks5_password_reply(std::string_view received);

// CONNECT to an address (ATYP 1 or 4) or to a host name (ATYP 3, at most 255 bytes).
std::string socks5_connect_request(const boost::asio::ip::tcp::endpoint& target);
// By name: what an upstream with `resolve: remote` sends (proxy_destination.hpp checks the name
// first; a longer one would be cut here to what the length byte can say).
std::string socks5_connect_request(std::string_view host, std::uint16_t port);

// The CONNECT reply: VER REP RSV ATYP BND.ADDR BND.PORT, at most 262 bytes. A failure code is
// reported as soon as REP arrives, since some servers close right after it.
parse_result parse_socks5_connect_reply(std::string_view received);

// "connection refused by destination" for REP 5, ...
std::string_view socks5_reply_text(std::uint8_t rep);

}  // namespace detour::upstream
