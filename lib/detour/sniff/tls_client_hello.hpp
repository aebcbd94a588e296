#pragma once
// The server name in a TLS ClientHello (RFC 8446 section 4.1.2, RFC 6066 section 3), read from the
// first bytes of a stream. Pure and bounded: no I/O, nothing kept between calls.
#include "detour/sniff/sniff_result.hpp"

#include <cstddef>
#include <string_view>

namespace detour::sniff {

// Real ClientHellos take 200 B to 2 KB (Chromium's post-quantum key share makes about 1.9 KB); the
// largest plaintext record is 16 KiB. The whole ClientHello, record headers included, must end
// within this many stream bytes, else too_long.
inline constexpr std::size_t tls_sniff_bound = std::size_t{16} * 1024;

// `stream` is the connection's bytes from its first one. The ClientHello may be split over several
// handshake records (each record header is checked: type 22, version 3.x, a length from 1 to
// 16 KiB) and over any number of calls. not_recognized when the first three bytes are not a TLS
// handshake record header; malformed when a record or the ClientHello's own lengths do not add up,
// an extension appears twice, or server_name holds more than one name; no_name without a
// server_name of type host_name or when it is not a valid host name (an IP address, say). Bytes
// after the ClientHello are never looked at.
sniff_result sniff_tls_client_hello(std::string_view stream);

}  // namespace detour::sniff
