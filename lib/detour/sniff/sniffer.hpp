#pragma once
// Which server name a connection's client asks for, from its first bytes: the TLS ClientHello's
// server_name or the HTTP/1 Host header. The caller peeks (never consumes, so the relay still
// carries every byte), calls sniff_name with everything peeked so far, and while the answer is
// need_more waits for `wanted` bytes (SO_RCVLOWAT) and calls again; any other status is final.
#include "detour/sniff/http_host.hpp"
#include "detour/sniff/sniff_result.hpp"
#include "detour/sniff/tls_client_hello.hpp"

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace detour::sniff {

// No sniff reads past this many bytes, and `wanted` never exceeds it: the peek buffer's size.
inline constexpr std::size_t sniff_bound = std::max(tls_sniff_bound, http_sniff_bound);

// A first byte of 0x16 (a TLS handshake record) goes to sniff_tls_client_hello, anything else to
// sniff_http_host; bytes that are neither are not_recognized within the first one to three.
sniff_result sniff_name(std::string_view first_bytes);

}  // namespace detour::sniff
