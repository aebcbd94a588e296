#pragma once
// What a name sniffer says about a connection's first client bytes. The sniffers are pure functions
// of every byte seen since the connection opened, never consuming them: the caller peeks, asks,
// and while the answer is need_more waits until `wanted` bytes are there and asks again with all of
// them. Each sniffer looks at a bounded prefix only and gives up beyond it (too_long), so a client
// can neither grow the caller's buffer nor keep it waiting for more than that.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace detour::sniff {

enum class protocol : std::uint8_t { none, tls, http };

enum class sniff_status : std::uint8_t {
  need_more,       // no verdict yet: call again once `wanted` bytes have arrived
  found,           // `name` holds the server name
  no_name,         // the protocol is known and well formed, but names no usable host (see detail)
  malformed,       // it started as TLS or HTTP/1 and then broke that protocol's framing
  too_long,        // no verdict within the protocol's bound (tls_sniff_bound, http_sniff_bound)
  not_recognized,  // neither a TLS ClientHello nor an HTTP/1 request: decided within the first bytes
};

struct sniff_result {
  sniff_status status = sniff_status::need_more;
  // Set as soon as the first bytes settle it (also while need_more), none when not recognized.
  protocol proto = protocol::none;
  // found: normalized by normalize_host_name (lower-case, no trailing dot, a valid host name).
  std::string name{};
  // TLS: the ClientHello carries encrypted_client_hello (0xfe0d). `name` is then the outer
  // ClientHello's, which for real ECH is the client-facing server's public name, a decoy, and not
  // where the client is going. Chromium sends a GREASE extension of the same shape on every
  // connection without ECH configured, where `name` is the real one: the two cannot be told apart
  // from the outside (that is the point of GREASE), so `ech` says "this name may be a decoy".
  bool ech = false;
  // need_more: the stream length at which another call can next give a different answer (for
  // SO_RCVLOWAT). Always above the bytes given and never above the protocol's bound; exact when
  // a TLS record or handshake length says where the ClientHello ends, else one more byte.
  std::size_t wanted = 0;
  // Every status but found and need_more: why, in a few words for the log ("no server_name
  // extension", "Host is an IP address"). Always a string literal, so the view never dangles.
  std::string_view detail{};
};

// "need_more", "found", "no_name", "malformed", "too_long", "not_recognized".
std::string_view to_string(sniff_status status);
// "none", "tls", "http".
std::string_view to_string(protocol proto);

}  // namespace detour::sniff
