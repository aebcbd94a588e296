#pragma once
#include <cstdint>
#include <string_view>

namespace detour::upstream {

// Why a connect failed, in a few fixed words: a metric label and an access-log field must not take
// the unbounded text of the failure (which names servers and the proxy's answer), yet "refused" and
// "timeout" call for different fixes, so they stay apart.
enum class failure_kind : std::uint8_t {
  none,
  timeout,         // no answer within the connect timeout
  refused,         // the destination or proxy server refused the TCP connection
  unreachable,     // no route to the network or host
  proxy_refused,   // the proxy answered the handshake with a refusal (a SOCKS reply code, an HTTP status)
  proxy_error,     // the proxy broke the handshake: closed, reset or sent something unparseable
  local,           // detourd could not set up the socket (SO_MARK, memory)
  no_descriptors,  // the process (EMFILE) or the system (ENFILE) is out of file descriptors
  no_ports,        // no free local port towards that destination (EADDRNOTAVAIL, EADDRINUSE)
  conntrack_full,  // a timeout while the conntrack table was full: the kernel dropped the SYN
  cancelled,       // shutdown ended the attempt
  other,           // any other socket error
};

// "timeout", "refused", "unreachable", "proxy refused", "proxy error", "local", "no descriptors",
// "no local ports", "conntrack full", "cancelled", "error".
std::string_view to_string(failure_kind kind);

// What a connect's errno says.
failure_kind kind_of_errno(int error);

}  // namespace detour::upstream
