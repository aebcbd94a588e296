#pragma once
// Sending the PROXY protocol header (proxy_protocol.hpp) on a connection that has just been made
// to a direct route's destination or a forward upstream's server, before the relay starts.
#include "detour/config/config.hpp"
#include "detour/net/socket.hpp"
#include "detour/upstream/connector.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string_view>

namespace detour::upstream {

// The header a connection's upstream gets: the direct route's `proxy_protocol`, or that of the
// forward upstream the route names; none for every other action.
proxy_protocol_version proxy_protocol_of(const config& cfg, const route_action& action);

// Sends the `version` header for the connection from `source` to `destination` on `upstream`,
// which has just connected; nothing for none. `authority` is the name the client asked for
// (empty: unknown), `unique_id` the connection's id.
//
// When the client's first bytes are waiting already (a peek without waiting finds some), the
// header goes with MSG_MORE: the kernel holds it until the relay's first splice of those bytes
// pushes both out in one segment, so a receiver that reads the header and the request in one
// recv() (nginx, HAProxy) is spared a round trip through its event loop. Otherwise it goes out
// alone at once: a server that speaks first (SMTP, SSH) must not wait for a client that waits
// for it. A socket just connected has an empty send buffer, far larger than any header (at most
// 536 bytes by the specification's design), so one non-blocking send takes it whole or fails.
attempt_error send_proxy_header(net::socket& upstream, net::socket& client, proxy_protocol_version version,
                                const boost::asio::ip::tcp::endpoint& source,
                                const boost::asio::ip::tcp::endpoint& destination, std::string_view authority,
                                std::uint64_t unique_id);

}  // namespace detour::upstream
