#pragma once
#include "detour/config/config.hpp"

#include <boost/asio/awaitable.hpp>
#include "detour/net/socket.hpp"

#include <memory>

namespace detour::proxy {

class worker;

// One accepted connection, start to end: recover the original destination, refuse what was not
// redirected, then echo, reject or connect upstream and relay; always one log line at the end.
// The session keeps the config snapshot it started with, whatever reloads happen meanwhile.
boost::asio::awaitable<void> run_session(net::socket client, worker& owner,
                                         std::shared_ptr<const config> cfg);

}  // namespace detour::proxy
