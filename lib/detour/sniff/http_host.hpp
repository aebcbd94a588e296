#pragma once
// The Host header of an HTTP/1.x request (RFC 9112 sections 3 and 5, RFC 9110 section 7.2), read
// from the first bytes of a stream. Pure and bounded: no I/O, nothing kept between calls.
#include "detour/sniff/sniff_result.hpp"

#include <cstddef>
#include <string_view>

namespace detour::sniff {

// What nginx allows for one request header line by default; a request whose Host comes later than
// this is routed by address (too_long).
inline constexpr std::size_t http_sniff_bound = std::size_t{8} * 1024;

// `stream` is the connection's bytes from its first one: a request line with one of GET, POST,
// HEAD, PUT, DELETE, OPTIONS, PATCH, CONNECT, TRACE and HTTP/1.x, then header lines. Anything else
// is not_recognized as soon as a byte leaves every method name (one to three bytes for other
// protocols). The verdict comes at the first Host line, once the byte after it shows the line is
// not folded, so lines after it (a large Cookie, say) never count towards the bound or delay the
// answer. The name is the Host value without optional whitespace and port, normalized; no_name
// for an IP address ("10.0.0.1:80", "[2001:db8::1]:80"), an empty or invalid Host, or a head with
// no Host at all (HTTP/1.0). malformed for a folded line (obs-fold), a control byte, a header name
// that is not a token or followed by whitespace before the colon, a CR without LF. Bare LF line
// ends are accepted, as RFC 9112 section 2.2 allows.
sniff_result sniff_http_host(std::string_view stream);

}  // namespace detour::sniff
