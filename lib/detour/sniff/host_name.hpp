#pragma once
// The one normal form of a host name, shared by the sniffers (a TLS server_name, an HTTP Host) and
// by whatever compares names with them (route patterns), so that "WWW.Example.COM." sniffed and
// "www.example.com" configured are the same string.
#include <optional>
#include <string>
#include <string_view>

namespace detour::sniff {

// RFC 1035's limit on a name in text form without the trailing dot.
inline constexpr std::size_t max_host_name_length = 253;

// Lower-case, without the trailing dot of a fully qualified name. Empty when the text is not a host
// name: empty, longer than 253 bytes, an empty or over-63-byte label, a byte other than letters,
// digits, '-' and '_' (underscores occur in real names and browsers accept them; IDNs arrive as
// xn-- labels, so no byte above 0x7f is a name), or an IPv4 address in any form a URL parser
// accepts (see is_ip_literal).
std::optional<std::string> normalize_host_name(std::string_view text);

// True for the text of an address rather than a name: anything with a ':' or in brackets (IPv6),
// and a dotted name whose last label is a number, decimal or 0x hex ("10.0.0.1", "127.1",
// "0x7f000001"). The rule is the WHATWG URL standard's "ends in a number": such a host is parsed as
// IPv4 by browsers and curl, so no DNS name can end that way.
bool is_ip_literal(std::string_view text);

}  // namespace detour::sniff
