#pragma once
// Connections through an upstream proxy: SOCKS5 or HTTP CONNECT, or straight to a forward
// upstream's server, with the upstream's servers tried in order. Same outcome shape as connect_direct, so the session
// treats every route alike.
#include "detour/config/config.hpp"
#include "detour/upstream/connector.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace detour::upstream {

// Coroutines: `target` and `options` are taken by value so a caller may co_spawn them; `upstream`
// must outlive the attempt (it lives in the config snapshot the session holds).
// `options.timeout` bounds the whole attempt: every server's TCP connect and the handshake. Each
// server's connect gets at most an equal share of what remains, so one that drops SYNs cannot use
// up the time of the servers after it. The next server is tried when one cannot be reached or closes
// before answering; a definite answer (a SOCKS reply code, an HTTP status, a failed login) is final.
// With `upstream.resolve` remote and `options.server_name` set, the proxy is asked for that name
// and `target`'s port (SOCKS5 ATYP 3, HTTP `CONNECT name:port`), and `via` ends in " as name:port";
// otherwise, or when the name cannot be sent (proxy_destination.hpp), for `target`'s address.
boost::asio::awaitable<connect_outcome> connect_socks5(boost::asio::ip::tcp::endpoint target,
                                                       const upstream_config& upstream, connect_options options);
boost::asio::awaitable<connect_outcome> connect_http(boost::asio::ip::tcp::endpoint target,
                                                     const upstream_config& upstream, connect_options options);

// kind forward: the servers are tried in order as above, and the first that accepts the TCP
// connection carries it; nothing is sent, and `target` is not used (a PROXY header, which the
// session sends, is the only place the original destination travels).
boost::asio::awaitable<connect_outcome> connect_forward(boost::asio::ip::tcp::endpoint target,
                                                        const upstream_config& upstream, connect_options options);

// By upstream.kind.
boost::asio::awaitable<connect_outcome> connect_upstream(boost::asio::ip::tcp::endpoint target,
                                                         const upstream_config& upstream, connect_options options);

}  // namespace detour::upstream
