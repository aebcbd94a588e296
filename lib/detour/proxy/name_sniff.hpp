#pragma once
// The session's wait for its client's first bytes, to read the server name from them (see
// sniff/sniffer.hpp) before the connection is routed. The bytes are peeked, never read: the
// relay still carries every one of them to the destination.
#include "detour/net/socket.hpp"
#include "detour/sniff/sniff_result.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace detour::proxy {

// How the wait ended: the sniffer's verdict, or the wait's own end before one.
enum class sniff_outcome : std::uint8_t {
  found,
  no_name,
  malformed,
  too_long,
  not_recognized,
  timeout,    // no verdict within sniff.timeout: the client sent nothing, or too little
  closed,     // the client ended its stream (or it failed) before a verdict
  cancelled,  // the session was ended meanwhile (shutdown, admin)
};

// The `result` label of detour_sniff_total, in enum order.
inline constexpr std::string_view sniff_outcome_words[] = {"found",          "no_name", "malformed", "too_long",
                                                           "not_recognized", "timeout", "closed",    "cancelled"};

inline std::string_view to_string(sniff_outcome o) { return sniff_outcome_words[static_cast<std::size_t>(o)]; }

struct sniffed {
  sniff_outcome how = sniff_outcome::timeout;
  sniff::protocol proto = sniff::protocol::none;
  std::string name;  // found only
  bool ech = false;  // found in a ClientHello that carries encrypted_client_hello: maybe a decoy
  // Why there is no name, in a few words for the log (a string literal).
  std::string_view detail;
  std::size_t seen = 0;  // client bytes looked at
};

// Peeks at `client`'s first bytes until the sniffer gives a verdict, the client ends its stream,
// or `timeout` passes. Between peeks it sleeps in the reactor with SO_RCVLOWAT at the length the
// sniffer next needs, so a client trickling its ClientHello costs a wake-up per useful segment at
// most, and one that stalls costs none; SO_RCVLOWAT is back at 1 when this returns. `stopped` is
// set, and client.cancel() called, by whoever ends the session meanwhile.
boost::asio::awaitable<sniffed> sniff_server_name(net::socket& client, std::chrono::milliseconds timeout,
                                                  const bool& stopped);

}  // namespace detour::proxy
